// The signing page's API and page routes over HTTP (fastify inject) against a real kube-apiserver:
// every answer of POST /sign/api/sessions/:session/signature (the controller manager's part is
// played by ControllerStandIn, which annotates the stored request as the controller would), the
// headers, the body limits, the rate limit, and the page for good and malformed links.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import {
  LOGIN_SIGNATURE_LABEL,
  loginMessage,
  loginSignatureName,
  MAX_SIGNATURE_BODY_BYTES,
} from '../../../lib/login-signature/request.js';
import { createWebApp } from '../../../web/server.js';
import { createSignFace } from '../../../web/sign/face.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';
import {
  ControllerStandIn,
  createOwnedVm,
  loginRequests,
  newSession,
  type RequestConfigMap,
} from './sign-fixtures.js';

const OWNER = 3;
const OTHER = 5;
const MACHINE = 'blockhost-007';
const CODE = '042917';

/** Quiet when green; LOG_LEVEL=info shows the server's request lines. */
const log = createLogger('sign-http-test', { level: process.env.LOG_LEVEL ?? 'error' });
let kube: KubeClient;
let namespace: string;
let controller: ControllerStandIn;
const apps: FastifyInstance[] = [];

/** A web app with only the signing face; `windowMs` is how long it waits for the controller. */
async function signApp(windowMs = 5_000, loginMax = 1000): Promise<FastifyInstance> {
  const app = await createWebApp({
    kube,
    namespace,
    faces: [createSignFace({ windowMs, intervalMs: 20 })],
    log,
    processMetrics: false,
    loginRateLimit: { max: loginMax, timeWindowMs: 60_000 },
  });
  apps.push(app);
  return app;
}

const signed = (account = OWNER, code = CODE, machine = MACHINE) =>
  signMessage(anvilPrivateKey(account), loginMessage(machine, code));

const post = (app: FastifyInstance, session: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url: `/sign/api/sessions/${session}/signature`,
    headers: { 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

let app: FastifyInstance;

beforeAll(async () => {
  kube = testClient();
  namespace = await createTestNamespace(kube, 'sign-http');
  // Stored lower-case: the owner check must not depend on the checksum.
  await createOwnedVm(kube, namespace, MACHINE, anvilAccount(OWNER).address.toLowerCase());
  controller = new ControllerStandIn(kube, namespace);
  app = await signApp();
}, 60_000);

afterAll(async () => {
  controller?.stop();
  for (const created of apps) await created.close();
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
});

describe('POST /sign/api/sessions/:session/signature', () => {
  it('stores the normalized request, waits for the controller and answers 200 when it delivered', async () => {
    const session = newSession();
    controller.answer(session, { phase: 'Delivered' });
    // As pasted from some tools: no 0x, upper case, surrounding blanks.
    const pasted = ` ${signed().slice(2).toUpperCase()} `;
    const response = await post(app, session, { machine: MACHINE, code: CODE, signature: pasted });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ delivered: true });
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    const stored = await kube.get<RequestConfigMap>(
      coreTypes.configMap,
      loginSignatureName(MACHINE, session),
      namespace,
    );
    expect(stored.metadata.labels).toEqual({ [LOGIN_SIGNATURE_LABEL]: 'true' });
    expect(stored.data).toEqual({ machine: MACHINE, code: CODE, session, signature: signed() });
  });

  it('answers 409 to a second answer of the same session, delivered or not', async () => {
    const session = newSession();
    controller.answer(session, { phase: 'Delivered' });
    expect((await post(app, session, { machine: MACHINE, code: CODE, signature: signed() })).statusCode).toBe(
      200,
    );
    const again = await post(app, session, { machine: MACHINE, code: CODE, signature: signed() });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ error: 'this login was already answered' });
  });

  it('answers 400 with a message per malformed field, and for a signature that recovers to nothing', async () => {
    const fields = await post(app, 'not-a-session', { machine: 'Bad_Name', code: '12', signature: '0x12' });
    expect(fields.statusCode).toBe(400);
    expect(fields.json()).toEqual({
      error: 'invalid request params: 1 field to fix',
      fields: { session: expect.stringMatching(/32 lowercase hex/) },
    });
    const body = await post(app, newSession(), {
      machine: 'Bad_Name',
      code: '12',
      signature: '0x12',
      extra: 1,
    });
    expect(body.statusCode).toBe(400);
    expect(body.json().fields).toEqual({
      machine: 'must be a VM name (a DNS label)',
      code: 'must be the code the login prompt shows (4 to 10 digits)',
      signature: 'must be a 65-byte signature: 0x and 130 hex digits',
      '': expect.stringMatching(/extra/),
    });
    const missing = await post(app, newSession(), {});
    expect(Object.keys(missing.json().fields).sort()).toEqual(['code', 'machine', 'signature']);
    // v = 0x05 is no recovery id.
    const badV = await post(app, newSession(), {
      machine: MACHINE,
      code: CODE,
      signature: `${signed().slice(0, -2)}05`,
    });
    expect(badV.statusCode).toBe(400);
    expect(badV.json().fields).toEqual({
      signature: expect.stringMatching(/^not a valid signature: .*v must be/),
    });
    expect(await loginRequests(kube, namespace)).toHaveLength(2);
  });

  it('answers 404 for a VM this host does not have', async () => {
    const response = await post(app, newSession(), {
      machine: 'blockhost-999',
      code: CODE,
      signature: signed(OWNER, CODE, 'blockhost-999'),
    });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'there is no VM named blockhost-999 on this host' });
  });

  it('answers with the status of the refusal the controller wrote: 404 for an unknown session', async () => {
    const session = newSession();
    controller.answer(session, {
      phase: 'Refused',
      kind: 'UnknownSession',
      text: `no login is waiting for this session on ${MACHINE}`,
    });
    const response = await post(app, session, { machine: MACHINE, code: CODE, signature: signed() });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: `no login is waiting for this session on ${MACHINE}` });
  });

  it('answers 403 naming the signer when another wallet signed, and stores nothing', async () => {
    const session = newSession();
    const response = await post(app, session, { machine: MACHINE, code: CODE, signature: signed(OTHER) });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({
      error: `signed by ${anvilAccount(OTHER).address}, which is not the wallet of this VM`,
    });
    expect((await loginRequests(kube, namespace)).map((r) => r.data.session)).not.toContain(session);
  });

  it('answers 413 for a signature over the limit and for a body over the route limit, before validating', async () => {
    const longSignature = await post(app, 'x', { signature: 'a'.repeat(MAX_SIGNATURE_BODY_BYTES + 1) });
    expect(longSignature.statusCode).toBe(413);
    expect(longSignature.json()).toEqual({ error: 'the signature is too large' });
    expect(longSignature.headers['cache-control']).toBe('no-store');
    const longBody = await post(app, newSession(), {
      machine: MACHINE,
      code: CODE,
      signature: signed(),
      pad: ' '.repeat(400),
    });
    expect(longBody.statusCode).toBe(413);
    expect(longBody.headers['cache-control']).toBe('no-store');
    // Right at the limit is still read (and then judged on its fields).
    const atLimit = await post(app, 'x', { signature: 'a'.repeat(MAX_SIGNATURE_BODY_BYTES) });
    expect(atLimit.statusCode).toBe(400);
  });

  it('answers 504 when the controller does not decide within the window', async () => {
    const quick = await signApp(300);
    const started = performance.now();
    const response = await post(quick, newSession(), { machine: MACHINE, code: CODE, signature: signed() });
    expect(response.statusCode).toBe(504);
    expect(response.json()).toEqual({ error: 'the host did not deliver the signature in time' });
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('is rate limited like a login', async () => {
    const limited = await signApp(5_000, 2);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post(limited, 'x', {})).statusCode);
    expect(statuses).toEqual([400, 400, 429]);
  });
});

describe('GET /sign', () => {
  it('renders the machine, the code and the exact message, and passes the session to the script', async () => {
    const session = newSession();
    const response = await app.inject({ url: `/sign?machine=${MACHINE}&code=${CODE}&session=${session}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toContain(`<pre class="command" id="message">${loginMessage(MACHINE, CODE)}</pre>`);
    expect(response.body).toContain(`<meta name="bh-session" content="${session}" />`);
    const paste = await app.inject({ url: `/sign?machine=${MACHINE}&code=${CODE}` });
    expect(paste.statusCode).toBe(200);
    expect(paste.body).not.toContain('bh-session');
  });

  it('says which part of a malformed link is wrong', async () => {
    const response = await app.inject({ url: `/sign?machine=${MACHINE}&code=12%3Cb%3E&session=abc` });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain(
      '<span class="mono">code</span>: must be the code the login prompt shows',
    );
    expect(response.body).toContain('<span class="mono">session</span>: must be the session id');
    expect(response.body).not.toContain('<b>');
    expect(response.body).not.toContain('<span class="mono">machine</span>');
  });
});
