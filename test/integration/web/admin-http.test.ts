// The admin dashboard's HTTP API against a real control plane and a real anvil (no controllers: the
// admin credential NFT is minted here with the server key, as setup would): challenge login gated on
// ownerOf, code replay and expiry, CSRF, body limits, session expiry, NFT transfer, and every
// validation rule of every action, with the Kubernetes Events the actions leave.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { examplePlan, exampleVM } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { CODE_ALPHABET } from '../../../lib/crypto/auth-code.js';
import { createBackup, type BackupEnvelope } from '../../../lib/config-backup/index.js';
import { encryptWithSignature, signMessage } from '../../../lib/crypto/index.js';
import { utf8Encode } from '../../../lib/crypto/utf8.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { adminFace } from '../../../web/admin/face.js';
import { DEFAULT_MACHINE_NAME, machineName } from '../../../web/admin/host.js';
import { CSRF_HEADER } from '../../../web/http/sessions.js';
import { createWebApp } from '../../../web/server.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { LOCAL_HOSTNAME, useLocalChain } from '../../harness/chain/host-config.js';
import { adminMadeVm } from './admin-fixtures.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';

/** exampleHostConfig's admin wallet is anvil account 1. */
const ADMIN = 1;
const OTHER = 2;

let kube: KubeClient;
let namespace: string;
let chain: LocalChain;
let app: FastifyInstance;
let release: () => Promise<void>;
let now = Date.parse('2026-01-01T00:00:00Z');

interface EventObject extends KubeObject {
  reason: string;
  note: string;
  regarding: { name: string; kind: string };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `/admin${url}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
const get = (url: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: `/admin${url}`, headers });

interface Challenge {
  code: string;
  machine: string;
  message: string;
  expiresAt: string;
}

async function challenge(): Promise<Challenge> {
  const response = await post('/api/challenge', {});
  expect(response.statusCode).toBe(200);
  return response.json<Challenge>();
}

const cookieOf = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  const value = (Array.isArray(header) ? header : [header]).find((c) => c?.startsWith('bh_admin='));
  if (!value) throw new Error('no session cookie');
  return value.split(';')[0]!;
};

interface Signed {
  cookie: string;
  csrf: string;
  headers: Record<string, string>;
}

async function signIn(account = ADMIN): Promise<Signed> {
  const { code, message } = await challenge();
  const response = await post('/api/login', {
    code,
    signature: signMessage(anvilPrivateKey(account), message),
  });
  expect(response.statusCode).toBe(200);
  const cookie = cookieOf(response);
  const csrf = response.json<{ csrfToken: string }>().csrfToken;
  return { cookie, csrf, headers: { cookie, [CSRF_HEADER]: csrf } };
}

const events = async (name: string) =>
  (await kube.list<EventObject>(coreTypes.event, { namespace })).items.filter(
    (e) => e.regarding.name === name,
  );

async function createVm(name: string): Promise<VM> {
  return kube.create<VM>(blockhostTypes.vm, adminMadeVm(name, namespace));
}

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'admin-http');
  chain = await startLocalChain({ plans: [] });
  await useLocalChain(
    kube,
    namespace,
    chain,
    { confirmations: 1 },
    { ipv6: { mode: 'none', allocationSize: 64 } },
  );
  // Setup's AdminCredentialMinted step, done by hand: token 0 to the admin, minted by the server key.
  const hash = await chain.deployer.writeContract({
    address: chain.deployment.nft,
    abi: AccessCredentialNFTAbi,
    functionName: 'mint',
    args: [anvilAccount(ADMIN).address, '0x'],
  });
  await chain.publicClient.waitForTransactionReceipt({ hash });
  // The login reads the holder a confirmation deep: the first login must not race the next block.
  await chain.anvil.mine(1);
  // Many logins follow each other here; the login rate limit has its own test in the foundation.
  app = await createWebApp({
    kube,
    namespace,
    faces: [adminFace],
    now: () => now,
    processMetrics: false,
    loginRateLimit: { max: 1000, timeWindowMs: 60_000 },
  });
}, withHostConfigClaimWait(180_000));

afterAll(async () => {
  await app?.close();
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
  // Plans are cluster-wide: one left behind would be put on the next test's chain.
  await kube.delete(blockhostTypes.plan, examplePlan.metadata.name).catch(() => undefined);
  await chain?.stop();
  await release?.();
}, 60_000);

describe('admin login', () => {
  it('issues a one-time 6-character code in the INTEROP message for the host name, valid 300 s', async () => {
    const issued = await challenge();
    expect(issued.code).toMatch(new RegExp(`^[${CODE_ALPHABET}]{6}$`));
    expect(issued.machine).toBe(LOCAL_HOSTNAME);
    expect(issued.message).toBe(`Authenticate to ${LOCAL_HOSTNAME} with code: ${issued.code}`);
    expect(Date.parse(issued.expiresAt) - now).toBe(300_000);
  });

  it('names the machine from the HostConfig: a forged Host header does not change the message', async () => {
    for (const host of ['evil.example', 'attacker.test:8443', LOCAL_HOSTNAME.toUpperCase()]) {
      const response = await app.inject({
        method: 'POST',
        url: '/admin/api/challenge',
        headers: { 'content-type': 'application/json', host, 'x-forwarded-host': 'evil.example' },
        payload: '{}',
      });
      expect(response.statusCode).toBe(200);
      const issued = response.json<Challenge>();
      expect(issued.machine).toBe(LOCAL_HOSTNAME);
      expect(issued.message).toBe(`Authenticate to ${LOCAL_HOSTNAME} with code: ${issued.code}`);
    }
  });

  it('takes the machine name from signup.hostname, then the signup URLs, never the request', () => {
    const host = (signup?: object, signupUrl?: string) =>
      ({ spec: { signup }, ...(signupUrl && { status: { signupUrl } }) }) as unknown as HostConfig;
    const cases: [HostConfig, string][] = [
      [host({ hostname: 'vms.example.com', url: 'https://other.example/' }), 'vms.example.com'],
      [host({ url: 'http://signup.example:8080/shop' }, 'https://192.0.2.7/'), 'signup.example'],
      [host(undefined, 'https://192.0.2.7/'), '192.0.2.7'],
      [host(), DEFAULT_MACHINE_NAME],
    ];
    for (const [config, expected] of cases) expect(machineName(config)).toBe(expected);
  });

  it('signs in the holder of the admin NFT, and refuses another wallet with a clear message', async () => {
    const { headers } = await signIn(ADMIN);
    expect((await get('/api/session', headers)).json()).toEqual({ wallet: anvilAccount(ADMIN).address });

    const { code, message } = await challenge();
    const refused = await post('/api/login', {
      code,
      signature: signMessage(anvilPrivateKey(OTHER), message),
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({
      error: `Wallet ${anvilAccount(OTHER).address} does not hold the admin credential NFT #0; only its current holder can sign in.`,
    });
    expect(refused.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a replayed code and signature, even after a successful login', async () => {
    const { code, message } = await challenge();
    const body = { code, signature: signMessage(anvilPrivateKey(ADMIN), message) };
    expect((await post('/api/login', body)).statusCode).toBe(200);
    const replay = await post('/api/login', body);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toMatch(/unknown or was already used/);
  });

  it('refuses an expired code (after 300 s), and burns a code whose signature is wrong', async () => {
    const late = await challenge();
    now += 300_000;
    const expired = await post('/api/login', {
      code: late.code,
      signature: signMessage(anvilPrivateKey(ADMIN), late.message),
    });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error).toMatch(/expired/);

    // Signed for another code: recovers to some other address, so it is not the admin.
    const first = await challenge();
    const second = await challenge();
    const crossed = await post('/api/login', {
      code: first.code,
      signature: signMessage(anvilPrivateKey(ADMIN), second.message),
    });
    expect(crossed.statusCode).toBe(403);
    const retry = await post('/api/login', {
      code: first.code,
      signature: signMessage(anvilPrivateKey(ADMIN), first.message),
    });
    expect(retry.statusCode).toBe(401);

    const garbage = await challenge();
    const invalid = await post('/api/login', { code: garbage.code, signature: `0x${'00'.repeat(65)}` });
    expect(invalid.statusCode).toBe(401);
    expect(invalid.json().error).toMatch(/signature is not valid/);
  });

  it('signs in with a signature made elsewhere and pasted, checked exactly as the injected wallet signature', async () => {
    // The paste path posts the same challenge and signature: as a CLI prints it (`cast wallet sign`),
    // or without 0x and in capitals.
    const cli = await challenge();
    const pasted = await post('/api/login', {
      code: cli.code,
      signature: signMessage(anvilPrivateKey(ADMIN), cli.message),
    });
    expect(pasted.statusCode).toBe(200);
    const bare = await challenge();
    const upper = signMessage(anvilPrivateKey(ADMIN), bare.message).slice(2).toUpperCase();
    expect((await post('/api/login', { code: bare.code, signature: upper })).statusCode).toBe(200);

    const other = await challenge();
    const wrong = await post('/api/login', {
      code: other.code,
      signature: signMessage(anvilPrivateKey(OTHER), other.message),
    });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    // The malleated twin of a valid admin signature (s → n − s, v flipped) recovers to the admin
    // too, but is refused as non-canonical, whichever way it arrives.
    const twin = await challenge();
    const valid = signMessage(anvilPrivateKey(ADMIN), twin.message);
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const highS = (n - BigInt(`0x${valid.slice(66, 130)}`)).toString(16).padStart(64, '0');
    const malleated = `${valid.slice(0, 66)}${highS}${valid.endsWith('1b') ? '1c' : '1b'}`;
    const refused = await post('/api/login', { code: twin.code, signature: malleated });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error).toMatch(/high s/);
  });

  it('validates the login body', async () => {
    const cases: [unknown, Record<string, string>][] = [
      [
        {},
        { code: expect.any(String) as unknown as string, signature: expect.any(String) as unknown as string },
      ],
      [
        { code: 'ABC', signature: `0x${'1b'.repeat(65)}` },
        { code: expect.stringMatching(/6-character/) as unknown as string },
      ],
      [
        { code: 'ABCDE0', signature: `0x${'1b'.repeat(65)}` },
        { code: expect.stringMatching(/letters and digits/) as unknown as string },
      ],
      [
        { code: 'ABCDEF', signature: '0x1234' },
        { signature: expect.stringMatching(/65-byte/) as unknown as string },
      ],
      [
        { code: 'ABCDEF', signature: `0x${'1b'.repeat(65)}`, wallet: '0x0' },
        { '': expect.stringMatching(/wallet/) as unknown as string },
      ],
    ];
    for (const [body, fields] of cases) {
      const response = await post('/api/login', body);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({ error: expect.stringMatching(/^invalid request body/), fields });
    }
    const challengeBody = await post('/api/challenge', { machine: 'evil' });
    expect(challengeBody.statusCode).toBe(400);
    const notJson = await app.inject({
      method: 'POST',
      url: '/admin/api/login',
      headers: { 'content-type': 'text/plain' },
      payload: 'x',
    });
    expect(notJson.statusCode).toBe(415);
  });

  it('refuses oversized bodies with 413', async () => {
    const { headers } = await signIn();
    const big = { code: 'ABCDEF', signature: 'x'.repeat(65 * 1024) };
    expect((await post('/api/login', big)).statusCode).toBe(413);
    expect(
      (await post('/api/vms/blockhost-001/stop', { padding: 'x'.repeat(65 * 1024) }, headers)).statusCode,
    ).toBe(413);
  });

  it('ends sessions after 1 hour, and on logout', async () => {
    const { headers } = await signIn();
    now += 59 * 60_000;
    expect((await get('/api/session', headers)).statusCode).toBe(200);
    now += 60_000;
    const expired = await get('/api/session', headers);
    expect(expired.statusCode).toBe(401);

    const fresh = await signIn();
    expect((await post('/api/logout', {}, fresh.headers)).json()).toEqual({ done: true });
    expect((await get('/api/session', fresh.headers)).statusCode).toBe(401);
  });

  it('keeps every page and API behind the login', async () => {
    for (const path of [
      '/api/overview',
      '/api/charts',
      '/api/vms',
      '/api/subscriptions',
      '/api/wallet',
      '/api/network',
      '/api/system',
    ])
      expect((await get(path)).statusCode).toBe(401);
    for (const path of ['/', '/vms', '/subscriptions', '/wallet', '/network', '/system']) {
      const page = await get(path);
      expect(page.statusCode).toBe(302);
      expect(page.headers.location).toBe('/admin/login');
    }
    expect((await get('/login')).statusCode).toBe(200);
  });
});

describe('VM actions', () => {
  it('rejects state changes without the CSRF token of the session', async () => {
    await createVm('csrf-vm');
    const { cookie, csrf } = await signIn();
    expect((await post('/api/vms/csrf-vm/stop', {}, { cookie })).statusCode).toBe(403);
    expect((await post('/api/vms/csrf-vm/stop', {}, { cookie, [CSRF_HEADER]: `${csrf}x` })).statusCode).toBe(
      403,
    );
    const other = await signIn();
    // Another live session's token does not fit this session.
    expect((await post('/api/vms/csrf-vm/stop', {}, { cookie, [CSRF_HEADER]: other.csrf })).statusCode).toBe(
      403,
    );
    expect((await kube.get<VM>(blockhostTypes.vm, 'csrf-vm', namespace)).spec.runStrategy).toBe('Always');
    expect((await post('/api/vms/csrf-vm/stop', {}, { cookie, [CSRF_HEADER]: csrf })).statusCode).toBe(200);
  });

  it('stops and starts a VM by patching runStrategy, with an Event naming the admin', async () => {
    await createVm('power-vm');
    const { headers } = await signIn();
    const wallet = anvilAccount(ADMIN).address;
    const stop = await post('/api/vms/power-vm/stop', {}, headers);
    expect(stop.json()).toEqual({ name: 'power-vm', action: 'stop', changed: true });
    // No subscription would start it again: no hold.
    const stopped = (await kube.get<VM>(blockhostTypes.vm, 'power-vm', namespace)).spec;
    expect([stopped.runStrategy, stopped.hold]).toEqual(['Halted', undefined]);
    expect((await post('/api/vms/power-vm/stop', {}, headers)).json()).toMatchObject({ changed: false });
    const start = await post('/api/vms/power-vm/start', {}, headers);
    expect(start.json()).toEqual({ name: 'power-vm', action: 'start', changed: true });
    expect((await kube.get<VM>(blockhostTypes.vm, 'power-vm', namespace)).spec.runStrategy).toBe('Always');
    await eventually('admin events recorded', async () => (await events('power-vm')).length === 2);
    const recorded = await events('power-vm');
    expect(recorded.map((e) => e.reason).sort()).toEqual(['AdminStart', 'AdminStop']);
    for (const event of recorded) expect(event.note).toContain(`admin ${wallet}`);
  });

  it('kills a VM: one patch to Halted with a grace of 0, an AdminKill Event; start makes stops graceful again', async () => {
    await createVm('kill-vm');
    const { headers } = await signIn();
    const wallet = anvilAccount(ADMIN).address;
    const kill = await post('/api/vms/kill-vm/kill', {}, headers);
    expect(kill.json()).toEqual({ name: 'kill-vm', action: 'kill', changed: true });
    const killed = await kube.get<VM>(blockhostTypes.vm, 'kill-vm', namespace);
    expect(killed.spec).toMatchObject({ runStrategy: 'Halted', shutdownGracePeriodSeconds: 0 });
    expect((await post('/api/vms/kill-vm/kill', {}, headers)).json()).toMatchObject({ changed: false });
    expect((await get('/api/vms', headers)).json().vms).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'kill-vm', runStrategy: 'Halted', shutdownGracePeriodSeconds: 0 }),
      ]),
    );
    await eventually('kill event', async () =>
      (await events('kill-vm')).some((e) => e.reason === 'AdminKill'),
    );
    const event = (await events('kill-vm')).find((e) => e.reason === 'AdminKill')!;
    expect(event.note).toContain('shutdownGracePeriodSeconds 0');
    expect(event.note).toContain(`admin ${wallet}`);

    expect((await post('/api/vms/kill-vm/start', {}, headers)).json()).toMatchObject({ changed: true });
    const started = await kube.get<VM>(blockhostTypes.vm, 'kill-vm', namespace);
    expect(started.spec.runStrategy).toBe('Always');
    expect(started.spec.shutdownGracePeriodSeconds).toBeUndefined();

    // A kill escalates a graceful stop still in progress; stop then drops the 0 again.
    expect((await post('/api/vms/kill-vm/stop', {}, headers)).json()).toMatchObject({ changed: true });
    expect((await post('/api/vms/kill-vm/kill', {}, headers)).json()).toMatchObject({ changed: true });
    expect(
      (await kube.get<VM>(blockhostTypes.vm, 'kill-vm', namespace)).spec.shutdownGracePeriodSeconds,
    ).toBe(0);
    expect((await post('/api/vms/kill-vm/stop', {}, headers)).json()).toMatchObject({ changed: true });
    expect(
      (await kube.get<VM>(blockhostTypes.vm, 'kill-vm', namespace)).spec.shutdownGracePeriodSeconds,
    ).toBeUndefined();

    // An operator's own grace (not 0) survives start and stop.
    await kube.patch(
      blockhostTypes.vm,
      'kill-vm',
      namespace,
      { spec: { shutdownGracePeriodSeconds: 600 } },
      'merge',
    );
    expect((await post('/api/vms/kill-vm/start', {}, headers)).json()).toMatchObject({ changed: true });
    expect(
      (await kube.get<VM>(blockhostTypes.vm, 'kill-vm', namespace)).spec.shutdownGracePeriodSeconds,
    ).toBe(600);
  });

  it("holds a subscription's VM on stop and kill, keeps an operator's own hold, and lifts the hold on start", async () => {
    const vm = adminMadeVm('held-vm', namespace);
    await kube.create<VM>(blockhostTypes.vm, {
      ...vm,
      spec: { ...vm.spec, subscriptionRef: { name: 'sub-42' } },
    });
    const { headers } = await signIn();
    const spec = async () => (await kube.get<VM>(blockhostTypes.vm, 'held-vm', namespace)).spec;
    const act = async (action: string) => (await post(`/api/vms/held-vm/${action}`, {}, headers)).json();

    expect(await act('stop')).toMatchObject({ changed: true });
    expect(await spec()).toMatchObject({ runStrategy: 'Halted', hold: 'stopped from the admin dashboard' });
    expect((await get('/api/vms', headers)).json().vms).toContainEqual(
      expect.objectContaining({ name: 'held-vm', hold: 'stopped from the admin dashboard' }),
    );
    expect(await act('start')).toMatchObject({ changed: true });
    expect(await spec()).toMatchObject({ runStrategy: 'Always' });
    expect((await spec()).hold).toBeUndefined();
    expect(await act('kill')).toMatchObject({ changed: true });
    expect(await spec()).toMatchObject({
      runStrategy: 'Halted',
      shutdownGracePeriodSeconds: 0,
      hold: 'killed from the admin dashboard',
    });
    expect(await act('start')).toMatchObject({ changed: true });

    // Halted by the subscription itself (expiry), not held: stop adds the hold so it sticks.
    await kube.patch(blockhostTypes.vm, 'held-vm', namespace, { spec: { runStrategy: 'Halted' } }, 'merge');
    expect(await act('stop')).toMatchObject({ changed: true });
    expect((await spec()).hold).toBe('stopped from the admin dashboard');

    // An operator's hold set with kubectl: stop keeps its reason, start lifts it.
    await kube.patch(
      blockhostTypes.vm,
      'held-vm',
      namespace,
      { spec: { hold: 'abuse report #12' } },
      'merge',
    );
    expect(await act('stop')).toMatchObject({ changed: false });
    expect((await spec()).hold).toBe('abuse report #12');
    expect(await act('start')).toMatchObject({ changed: true });
    expect((await spec()).hold).toBeUndefined();

    // Repeated Events are counted in one series: look for each note once.
    const noted = async (text: string) => (await events('held-vm')).some((e) => e.note?.includes(text));
    await eventually('hold set in an Event', () => noted('Halted and spec.hold set'));
    await eventually('hold lifted in an Event', () => noted('Always and its hold lifted'));
  });

  it('destroys a VM only with its name typed as confirmation', async () => {
    const vm = await createVm('doomed-vm');
    const { headers } = await signIn();
    const wrong = await post('/api/vms/doomed-vm/destroy', { confirm: 'other-vm' }, headers);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().fields).toEqual({ confirm: 'type the VM name "doomed-vm" exactly to confirm' });
    expect((await post('/api/vms/doomed-vm/destroy', {}, headers)).json().fields).toEqual({
      confirm: expect.any(String),
    });
    expect((await kube.get<VM>(blockhostTypes.vm, 'doomed-vm', namespace)).metadata.uid).toBe(
      vm.metadata.uid,
    );

    const done = await post('/api/vms/doomed-vm/destroy', { confirm: 'doomed-vm' }, headers);
    expect(done.json()).toEqual({ name: 'doomed-vm', action: 'destroy', changed: true });
    await expect(kube.get(blockhostTypes.vm, 'doomed-vm', namespace)).rejects.toThrow(/not found/);
    await eventually('destroy event', async () =>
      (await events('doomed-vm')).some((e) => e.reason === 'AdminDestroy'),
    );
  });

  it('validates names, actions and bodies, and answers 404 for a missing VM', async () => {
    await createVm('valid-vm');
    const { headers } = await signIn();
    const cases: [string, unknown, number, Record<string, string>?][] = [
      ['/api/vms/Bad_Name/stop', {}, 400, { name: 'must be a VM name: lowercase letters, digits and "-"' }],
      ['/api/vms/valid-vm/reboot', {}, 400, { action: 'must be start, stop, kill or destroy' }],
      [
        '/api/vms/valid-vm/kill',
        { gracePeriodSeconds: 5 },
        400,
        { '': expect.stringMatching(/gracePeriodSeconds/) as unknown as string },
      ],
      [
        '/api/vms/valid-vm/start',
        { force: true },
        400,
        { '': expect.stringMatching(/force/) as unknown as string },
      ],
      [
        '/api/vms/valid-vm/destroy',
        { confirm: 'valid-vm', now: true },
        400,
        { '': expect.stringMatching(/now/) as unknown as string },
      ],
      [
        '/api/vms/valid-vm/destroy',
        { confirm: 7 },
        400,
        { confirm: expect.any(String) as unknown as string },
      ],
      ['/api/vms/missing-vm/stop', {}, 404],
    ];
    for (const [url, body, status, fields] of cases) {
      const response = await post(url, body, headers);
      expect([url, response.statusCode]).toEqual([url, status]);
      if (fields) expect(response.json().fields).toEqual(fields);
    }
    expect((await kube.get<VM>(blockhostTypes.vm, 'valid-vm', namespace)).spec.runStrategy).toBe('Always');
    expect(await events('valid-vm')).toEqual([]);
  });

  it('lists VMs with state, owner and addresses', async () => {
    const { headers } = await signIn();
    const { vms } = (await get('/api/vms', headers)).json<{
      vms: { name: string; ownerWallet: string; runStrategy: string }[];
    }>();
    expect(vms.find((vm) => vm.name === 'power-vm')).toMatchObject({
      ownerWallet: exampleVM.spec.ownerWallet,
      runStrategy: 'Always',
    });
  });
});

describe('network and security', () => {
  const commands = {
    enabled: true,
    commandName: 'knock-knock',
    ports: [22, 2222],
    durationSeconds: 600,
    maxCommandAgeSeconds: 120,
  };

  it('shows what the server reported after applying the network, and nothing it cannot parse', async () => {
    const { headers } = await signIn();
    const applied = async () => (await get('/api/network', headers)).json<{ applied?: unknown }>().applied;
    expect(await applied()).toBeUndefined();
    const status = {
      metadata: { name: 'blockhost-network-status', namespace },
      data: { phase: 'RolledBack', message: 'gateway 10.0.0.1 did not answer', appliedGeneration: '3' },
    };
    await kube.create(coreTypes.configMap, status);
    expect(await applied()).toEqual({
      phase: 'RolledBack',
      message: 'gateway 10.0.0.1 did not answer',
      appliedGeneration: 3,
    });
    await kube.patch(
      coreTypes.configMap,
      status.metadata.name,
      namespace,
      { data: { phase: 'Sideways' } },
      'merge',
    );
    expect(await applied()).toBeUndefined();
    await kube.delete(coreTypes.configMap, status.metadata.name, namespace);
  });

  it('updates the admin-command settings on the HostConfig, with an Event', async () => {
    const { headers } = await signIn();
    const network = (await get('/api/network', headers)).json<{
      generation: number;
      ipv4Pool: unknown;
    }>();
    expect(network.ipv4Pool).toEqual(
      (await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).spec.ipv4Pool,
    );
    const saved = await post('/api/security', { commands, generation: network.generation }, headers);
    expect(saved.statusCode).toBe(200);
    const host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    expect(host.spec.admin.commands).toEqual(commands);

    // Disabling without a name removes the old name.
    const off = await post(
      '/api/security',
      {
        commands: { enabled: false, ports: [22], durationSeconds: 300, maxCommandAgeSeconds: 300 },
        generation: host.metadata.generation,
      },
      headers,
    );
    expect(off.statusCode).toBe(200);
    expect(
      (await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).spec.admin.commands
        .commandName,
    ).toBeUndefined();

    const stale = await post('/api/security', { commands, generation: network.generation }, headers);
    expect(stale.statusCode).toBe(409);
    await eventually('HostConfig events', async () => {
      const recorded = (await kube.list<EventObject>(coreTypes.event, { namespace: 'default' })).items.filter(
        (e) =>
          e.regarding.kind === 'HostConfig' &&
          e.reason === 'AdminCommandsUpdated' &&
          e.note.includes(anvilAccount(ADMIN).address),
      );
      return recorded.length >= 2;
    });
  });

  it('validates every admin-command field with the HostConfig schema', async () => {
    const { headers } = await signIn();
    const { generation } = (await get('/api/network', headers)).json<{ generation: number }>();
    const before = (await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).spec.admin
      .commands;
    const cases: [Record<string, unknown>, string][] = [
      [{ enabled: true, commandName: undefined }, 'commands.commandName'],
      [{ commandName: 'no spaces' }, 'commands.commandName'],
      [{ commandName: 'x'.repeat(65) }, 'commands.commandName'],
      [{ ports: [70000] }, 'commands.ports.0'],
      [{ ports: [] }, 'commands.ports'],
      [{ ports: [22, 22] }, 'commands.ports.1'],
      [{ durationSeconds: 0 }, 'commands.durationSeconds'],
      [{ durationSeconds: 3601 }, 'commands.durationSeconds'],
      [{ maxCommandAgeSeconds: 1.5 }, 'commands.maxCommandAgeSeconds'],
      [{ enabled: 'yes' }, 'commands.enabled'],
    ];
    for (const [change, field] of cases) {
      const response = await post(
        '/api/security',
        { commands: { ...commands, ...change }, generation },
        headers,
      );
      expect([change, response.statusCode]).toEqual([change, 400]);
      expect([change, Object.keys(response.json().fields)]).toEqual([
        change,
        expect.arrayContaining([field]),
      ]);
    }
    expect((await post('/api/security', { commands }, headers)).json().fields).toEqual({
      generation: expect.any(String),
    });
    expect((await post('/api/security', { commands, generation, extra: 1 }, headers)).statusCode).toBe(400);
    expect(
      (await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).spec.admin.commands,
    ).toEqual(before);
  });
});

describe('configuration backup', () => {
  const readHost = () => kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
  const secretSignature = async (account: number) =>
    signMessage(anvilPrivateKey(account), (await readHost()).spec.publicSecret);
  const hostEvents = async (reason: string) =>
    (await kube.list<EventObject>(coreTypes.event, { namespace: 'default' })).items.filter(
      (e) => e.regarding.name === HOST_CONFIG_NAME && e.reason === reason,
    );

  it('exports, previews without writing, and imports after confirmation, with Events', async () => {
    const { headers } = await signIn();
    await kube.create(blockhostTypes.plan, { ...examplePlan, status: undefined });
    const signature = await secretSignature(ADMIN);
    const info = await get('/api/backup', headers);
    expect(info.json()).toEqual({ wallet: anvilAccount(ADMIN).address, publicSecret: 'blockhost-access' });

    const exported = await post('/api/backup/export', { signature }, headers);
    expect(exported.statusCode).toBe(200);
    const { filename, backup } = exported.json<{ filename: string; backup: BackupEnvelope }>();
    expect(filename).toMatch(/^blockhost-config-\d{4}-\d{2}-\d{2}\.json$/);
    expect(backup).toMatchObject({ format: 'blockhost-config-backup', wallet: anvilAccount(ADMIN).address });
    // Encrypted: no configuration value in the clear.
    expect(JSON.stringify(backup)).not.toContain('Basic VM');
    await eventually('export event', async () => (await hostEvents('ConfigurationExported')).length > 0);

    const before = await readHost();
    await kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { spec: { gcGraceDays: 30 } },
      'merge',
    );
    await kube.patch(blockhostTypes.plan, 'basic', undefined, { spec: { priceUsdCentsPerDay: 99 } }, 'merge');
    const changed = await readHost();

    const preview = await post('/api/backup/import', { backup, signature }, headers);
    expect(preview.statusCode).toBe(200);
    expect(preview.json()).toMatchObject({
      applied: false,
      preview: {
        wallet: anvilAccount(ADMIN).address,
        generation: changed.metadata.generation,
        hostConfig: { changes: [{ path: 'gcGraceDays', from: 30, to: before.spec.gcGraceDays }] },
        plans: { added: [], changed: ['basic'], unchanged: [], notInBackup: [] },
      },
    });
    expect((await readHost()).spec.gcGraceDays).toBe(30);

    // The preview's spec generation guards the apply against a change made meanwhile.
    const stale = await post(
      '/api/backup/import',
      { backup, signature, confirm: true, generation: before.metadata.generation },
      headers,
    );
    expect(stale.statusCode).toBe(409);
    expect((await readHost()).spec.gcGraceDays).toBe(30);

    const applied = await post(
      '/api/backup/import',
      { backup, signature, confirm: true, generation: changed.metadata.generation },
      headers,
    );
    expect(applied.statusCode).toBe(200);
    expect(applied.json()).toMatchObject({ applied: true });
    expect((await readHost()).spec.gcGraceDays).toBe(before.spec.gcGraceDays);
    expect(
      (await kube.get<KubeObject & { spec: { priceUsdCentsPerDay: number } }>(blockhostTypes.plan, 'basic'))
        .spec.priceUsdCentsPerDay,
    ).toBe(50);
    await eventually('import event', async () => (await hostEvents('ConfigurationImported')).length > 0);
    expect((await hostEvents('ConfigurationImported'))[0]!.note).toContain(
      `admin ${anvilAccount(ADMIN).address}`,
    );
  });

  it("refuses another wallet's backup, a tampered file and invalid content, changing nothing", async () => {
    const { headers } = await signIn();
    const host = await readHost();
    const signature = await secretSignature(ADMIN);
    const expectRefused = async (body: unknown, pattern: RegExp) => {
      const response = await post('/api/backup/import', body, headers);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatch(pattern);
    };

    const other = createBackup(
      { hostConfig: host.spec, plans: [] },
      {
        wallet: anvilAccount(OTHER).address,
        signature: await secretSignature(OTHER),
        publicSecret: host.spec.publicSecret,
      },
    );
    await expectRefused({ backup: other, signature }, /belongs to wallet .*, not to the signed-in admin/);

    const { backup } = (await post('/api/backup/export', { signature }, headers)).json<{
      backup: BackupEnvelope;
    }>();
    const flipped = backup.ciphertext.slice(0, -2) + (backup.ciphertext.endsWith('00') ? '01' : '00');
    await expectRefused(
      { backup: { ...backup, ciphertext: flipped }, signature },
      /does not decrypt.*changed after export/,
    );
    // A signature of the wrong message (or by another wallet) keys nothing.
    await expectRefused(
      { backup, signature: signMessage(anvilPrivateKey(ADMIN), 'something else') },
      /signature is from .*sign "blockhost-access"/,
    );

    const invalid = {
      ...backup,
      ciphertext: encryptWithSignature(
        signature,
        utf8Encode(JSON.stringify({ hostConfig: { ...host.spec, gcGraceDays: -1 }, plans: [] })),
      ),
    };
    const response = await post('/api/backup/import', { backup: invalid, signature }, headers);
    expect(response.statusCode).toBe(400);
    expect(response.json().fields).toHaveProperty(['hostConfig.gcGraceDays']);
    await expectRefused({ backup: { hello: 'world' }, signature }, /not a BlockHost configuration backup/);
    expect((await readHost()).metadata.resourceVersion).toBe(host.metadata.resourceVersion);
  });

  it('needs the CSRF token and validates bodies', async () => {
    const { cookie, headers } = await signIn();
    const signature = await secretSignature(ADMIN);
    expect((await post('/api/backup/export', { signature }, { cookie })).statusCode).toBe(403);
    expect((await post('/api/backup/import', { backup: {}, signature }, { cookie })).statusCode).toBe(403);
    expect((await get('/api/backup')).statusCode).toBe(401);
    const cases: [string, unknown, Record<string, unknown>][] = [
      ['/api/backup/export', {}, { signature: expect.any(String) }],
      [
        '/api/backup/export',
        { signature: '0x12' },
        { signature: 'must be a 65-byte signature (0x + 130 hex)' },
      ],
      ['/api/backup/export', { signature, extra: 1 }, { '': expect.stringMatching(/extra/) }],
      [
        '/api/backup/import',
        { backup: {}, signature, confirm: 'yes' },
        { confirm: 'must be true to apply the configuration' },
      ],
    ];
    for (const [url, body, fields] of cases) {
      const response = await post(url, body, headers);
      expect(response.statusCode).toBe(400);
      expect(response.json().fields).toEqual(fields);
    }
    // Another wallet's signature cannot make an export for the signed-in admin.
    const wrong = await post('/api/backup/export', { signature: await secretSignature(OTHER) }, headers);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatch(/signature is from/);
  });
});

describe('read-only pages', () => {
  it('serves overview, charts, wallet balances, subscriptions and system info', async () => {
    const { headers } = await signIn();
    const overview = (await get('/api/overview', headers)).json<{
      host: unknown;
      vms: Record<string, number>;
      chain: { head?: string; error?: string };
      revenue: { revenue?: unknown };
    }>();
    expect(overview.host).toMatchObject({ hostname: LOCAL_HOSTNAME, chainId: chain.anvil.chainId });
    expect(overview.vms.Pending!).toBeGreaterThanOrEqual(2);
    expect(overview.chain.head).toMatch(/^\d+$/);
    // No chain watcher runs here, so there is no checkpoint, and the page says so.
    expect(overview.chain.error).toMatch(/checkpoint/);
    expect(overview.revenue.revenue).toMatchObject({ purchases: 0, byToken: {} });

    const charts = (await get('/api/charts', headers)).json<{
      vms: { total: number }[];
      purchases: unknown[];
    }>();
    expect(charts.vms).toHaveLength(30);
    expect(charts.vms.at(-1)!.total).toBe(0); // the fake clock is in 2026; the VMs were made today

    const wallet = (await get('/api/wallet', headers)).json<{
      wallets: { role: string; address?: string; native?: string }[];
    }>();
    const admin = wallet.wallets.find((w) => w.role === 'admin')!;
    expect(admin.address).toBe(anvilAccount(ADMIN).address);
    expect(BigInt(admin.native!)).toBe(
      await chain.publicClient.getBalance({ address: anvilAccount(ADMIN).address }),
    );

    expect((await get('/api/subscriptions', headers)).json()).toEqual({ subscriptions: [] });
    const system = (await get('/api/system', headers)).json<{ nodes: { items: unknown[] } }>();
    expect(system.nodes).toEqual({ items: [] }); // the test control plane runs no kubelet
  });
});

describe('NFT transfer', () => {
  it("moves admin rights: the old holder's session ends within 60 s, the new holder signs in", async () => {
    const old = await signIn(ADMIN);
    const hash = await chain.wallet(ADMIN).writeContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'transferFrom',
      args: [anvilAccount(ADMIN).address, anvilAccount(OTHER).address, 0n],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    await chain.anvil.mine(1); // the holder is read one confirmation deep
    // Still cached: ownerOf is read at most once a minute.
    expect((await get('/api/session', old.headers)).statusCode).toBe(200);
    now += 60_001;
    const ended = await get('/api/session', old.headers);
    expect(ended.statusCode).toBe(403);
    expect(ended.json().error).toMatch(/no longer holds the admin credential NFT #0/);
    expect((await get('/api/session', old.headers)).statusCode).toBe(401);

    const next = await signIn(OTHER);
    expect((await get('/api/session', next.headers)).json()).toEqual({ wallet: anvilAccount(OTHER).address });
    const { code, message } = await challenge();
    expect(
      (await post('/api/login', { code, signature: signMessage(anvilPrivateKey(ADMIN), message) }))
        .statusCode,
    ).toBe(403);
  });
});
