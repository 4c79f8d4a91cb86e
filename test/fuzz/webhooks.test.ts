// Fuzzing the admission webhook server (in-process, over TLS, reading a real API server):
// FUZZ_CASES malformed AdmissionReviews to each of /validate and /mutate. Broken envelopes and
// broken bodies (truncated, deeply nested, bad UTF-8, wrong content type, too large) must get an
// HTTP 400/413/415 with a message; a well-formed review whose object breaks its kind's schema must
// be denied with a 4xx admission status and a message; nothing may be a 5xx, an internal error
// or a crash. BLOCKHOST_FUZZ_SEED replays a run.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  exampleHostConfig,
  examplePlan,
  exampleSubscription,
  exampleVM,
} from '../../lib/api/v1alpha1/examples.js';
import { hostConfigSchema, planSchema, subscriptionSchema, vmSchema } from '../../lib/api/v1alpha1/index.js';
import { createLogger } from '../../lib/log.js';
import { startWebhookServer, type WebhookServer } from '../../webhooks/server.js';
import { testClient } from '../harness/kube.js';
import { generateWebhookTls, type WebhookTls } from '../harness/webhooks/webhook-cluster.js';
import { fuzzCases, Fuzz, fuzzSeed, malformedBody, type RawBody } from './malformed.js';

const seed = fuzzSeed();
const FUZZ_CASES = fuzzCases(10_000);
const CONCURRENCY = 16;

const kinds: Record<string, { example: unknown; schema: z.ZodType; resource: string }> = {
  HostConfig: { example: exampleHostConfig, schema: hostConfigSchema, resource: 'hostconfigs' },
  Plan: { example: examplePlan, schema: planSchema, resource: 'plans' },
  Subscription: { example: exampleSubscription, schema: subscriptionSchema, resource: 'subscriptions' },
  VM: { example: exampleVM, schema: vmSchema, resource: 'vms' },
};

let dir: string;
let tls: WebhookTls;
let server: WebhookServer;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(path: string, body: RawBody): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body.payload) };
    if (body.contentType) headers['content-type'] = body.contentType;
    const req = request(`${server.url}${path}`, { ca: tls.caPem, agent, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject).end(body.payload);
  });
}

function review(kind: string, object: unknown, operation = 'CREATE'): Record<string, unknown> {
  const { resource } = kinds[kind]!;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'fuzz-uid',
      kind: { group: 'blockhost.io', version: 'v1alpha1', kind },
      resource: { group: 'blockhost.io', version: 'v1alpha1', resource },
      name: 'fuzz',
      namespace: kind === 'HostConfig' || kind === 'Plan' ? undefined : 'blockhost',
      operation,
      userInfo: { username: 'fuzz' },
      object,
      oldObject: operation === 'UPDATE' ? kinds[kind]!.example : null,
    },
  };
}

interface Case {
  path: '/validate' | '/mutate';
  body: RawBody;
  /** The object is well-formed in the envelope but breaks its kind's schema: must be denied. */
  schemaInvalid: boolean;
  /** The envelope itself is broken: HTTP 4xx. */
  envelopeBroken: boolean;
}

function nextCase(fuzz: Fuzz, path: Case['path']): Case {
  const kind = fuzz.pick(Object.keys(kinds));
  const { example, schema } = kinds[kind]!;
  const operation = fuzz.chance(0.8) ? 'CREATE' : 'UPDATE';
  const shape = fuzz.int(3);
  if (shape === 0) {
    // A broken body or envelope: HTTP-level refusal expected.
    const raw = malformedBody(fuzz, review(kind, example, operation));
    const envelope = raw.shape === 'mutated JSON' || raw.shape === 'random JSON';
    // Mutating the envelope may touch only the object (then the review is still well-formed).
    return { path, body: raw, schemaInvalid: false, envelopeBroken: !envelope };
  }
  const object = fuzz.mutate(example);
  const body = {
    contentType: 'application/json',
    payload: JSON.stringify(review(kind, object, operation)),
    shape: `${kind} object`,
  };
  return { path, body, schemaInvalid: !schema.safeParse(object).success, envelopeBroken: false };
}

interface AdmissionAnswer {
  response?: { allowed?: boolean; status?: { code?: number; message?: string } };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'blockhost-fuzz-webhook-'));
  tls = await generateWebhookTls(dir);
  server = await startWebhookServer({
    kube: testClient(),
    tls: { cert: tls.cert, key: tls.key },
    host: '127.0.0.1',
    port: 0,
    releaseNamespace: 'blockhost',
    log: createLogger('webhooks', { level: 'fatal' }),
  });
}, 60_000);

afterAll(async () => {
  agent.destroy();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('admission webhook regressions the fuzz found', () => {
  const send = async (path: string, body: unknown) => {
    const answer = await post(path, {
      contentType: 'application/json',
      payload: JSON.stringify(body),
      shape: '',
    });
    expect(answer.status).toBe(200);
    return (JSON.parse(answer.body) as AdmissionAnswer).response!;
  };

  it('never finds Object.prototype for a kind named "constructor"', async () => {
    const body = review('VM', {});
    (body.request as { kind: { kind: string } }).kind.kind = 'constructor';
    expect((await send('/validate', body)).status?.code).not.toBe(500);
  });

  it('denies a Subscription whose id is not a number (a CEL check that throws is a failed check)', async () => {
    const object = structuredClone(exampleSubscription) as { spec: { subscriptionId: string } };
    object.spec.subscriptionId = 'https://x';
    const response = await send('/validate', review('Subscription', object));
    expect(response).toMatchObject({ allowed: false, status: { code: 422 } });
  });

  it('judges an update of a stored object the schema refuses as if the old one were absent', async () => {
    const body = review('Plan', examplePlan, 'UPDATE');
    (body.request as { oldObject: unknown }).oldObject = { metadata: { name: 'x' } };
    expect((await send('/validate', body)).status?.code).not.toBe(500);
  });

  it('looks up no object by a name that cannot be one (a lone surrogate broke the URL)', async () => {
    const object = structuredClone(exampleVM) as { metadata: { namespace: string } };
    object.metadata.namespace = 'ns-\ud800';
    for (const path of ['/validate', '/mutate'])
      expect((await send(path, review('VM', object))).status?.code).not.toBe(500);
  });

  it('gives no defaults to VMs of the wrong shape instead of failing', async () => {
    for (const [object, old] of [
      [null, null],
      [{ metadata: { name: 'x' }, spec: 'backend' }, null],
      [exampleVM, { metadata: { name: 'x' } }],
    ] as const) {
      const body = review('VM', object, old ? 'UPDATE' : 'CREATE');
      if (old) (body.request as { oldObject: unknown }).oldObject = old;
      const response = await send('/mutate', body);
      expect(response.status?.code).not.toBe(500);
    }
  });
});

describe(`admission webhook fuzz (seed ${seed}; replay: BLOCKHOST_FUZZ_SEED=${seed})`, () => {
  it.each(['/validate', '/mutate'] as const)(
    'answers malformed AdmissionReviews on %s with a clear 4xx, never a 5xx',
    async (path) => {
      const started = performance.now();
      const fuzz = new Fuzz(seed + (path === '/mutate' ? 1 : 0));
      const failures: Record<string, unknown>[] = [];
      const tally = { httpRefused: 0, denied: 0, allowed: 0 };
      const fail = (c: Case, why: string, answer: { status: number; body: string }) => {
        if (failures.length < 10)
          failures.push({
            why,
            shape: c.body.shape,
            status: answer.status,
            body: answer.body.slice(0, 300),
            sent: String(c.body.payload).slice(0, 300),
          });
      };
      for (let done = 0; done < FUZZ_CASES; done += CONCURRENCY) {
        const batch = Array.from({ length: Math.min(CONCURRENCY, FUZZ_CASES - done) }, () =>
          nextCase(fuzz, path),
        );
        await Promise.all(
          batch.map(async (c) => {
            const answer = await post(c.path, c.body);
            if (answer.status >= 400) {
              tally.httpRefused++;
              let message = '';
              try {
                message =
                  (JSON.parse(answer.body) as { error?: string; message?: string }).error ??
                  (JSON.parse(answer.body) as { message?: string }).message ??
                  '';
              } catch {
                // judged below: a refusal without a JSON message is a failure
              }
              if (answer.status >= 500) fail(c, 'HTTP 5xx', answer);
              else if (!message) fail(c, 'refusal without a message', answer);
              return;
            }
            if (c.envelopeBroken) return fail(c, 'broken body accepted', answer);
            const { response } = JSON.parse(answer.body) as AdmissionAnswer;
            if (!response) return fail(c, 'no AdmissionReview response', answer);
            if (response.allowed) {
              tally.allowed++;
              if (c.schemaInvalid && path === '/validate') fail(c, 'schema-invalid object allowed', answer);
              return;
            }
            tally.denied++;
            const code = response.status?.code ?? 0;
            if (code < 400 || code >= 500) fail(c, `denied with code ${code}`, answer);
            else if (!response.status?.message) fail(c, 'denied without a message', answer);
          }),
        );
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `webhook fuzz ${path}: seed ${seed}, ${FUZZ_CASES} cases in ${seconds.toFixed(1)} s; ${JSON.stringify(tally)}`,
      );
      expect({ seed, failures }).toEqual({ seed, failures: [] });
    },
    600_000,
  );
});
