// The setup wizard over HTTP (fastify inject) against the real API server, anvil and the Proxmox
// fake: one-time code login (case, expiry, lockout after 10, replay), sessions (expiry, CSRF),
// the admin signature, every validation rule of every step, apply, progress, retry, export/import,
// and the 410 once the host is Ready.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { deployToken, startTestChain, type TestChain } from '../../../contracts/testing.js';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type Plan,
} from '../../../lib/api/v1alpha1/index.js';
import { openBackup } from '../../../lib/config-backup/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createWebApp } from '../../../web/server.js';
import {
  FAILURES_ANNOTATION,
  SETUP_CODE_SECRET,
  USED_FOR_ANNOTATION,
} from '../../../web/wizard/setup-code.js';
import { wizardFace } from '../../../web/wizard/face.js';
import { RETRY_SETUP_ANNOTATION } from '../../../web/wizard/progress.js';
import type { StepName } from '../../../web/wizard/steps.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { issueCode, merged, TEMPLATE_VMID, validSteps } from './wizard-fixtures.js';

const CODE = 'K7MP2X';
const HOUR = 60 * 60_000;
const ADMIN = anvilAccount(1).address;
const ADMIN_SIGNATURE = signMessage(anvilPrivateKey(1), 'blockhost-access');

let kube: KubeClient;
let namespace: string;
let release: () => Promise<void>;
let chain: TestChain;
let proxmox: FakeProxmox;
let app: FastifyInstance;
let now = Date.parse('2026-03-01T10:00:00Z');
let steps: ReturnType<typeof validSteps>;
const planNames: string[] = [];

interface Login {
  cookie: string;
  csrf: string;
}

const json = { 'content-type': 'application/json' };

async function request(
  method: 'GET' | 'POST',
  url: string,
  { login, body, csrf }: { login?: Login; body?: unknown; csrf?: string | null } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...(body !== undefined && json) };
  if (login) headers.cookie = login.cookie;
  const token = csrf === undefined ? login?.csrf : csrf;
  if (token) headers['x-csrf-token'] = token;
  return app.inject({ method, url, headers, ...(body !== undefined && { payload: JSON.stringify(body) }) });
}

const tryCode = (code: string) => request('POST', '/setup/api/login', { body: { code } });

/** Signs in with a freshly issued code (a code opens one session only). */
async function login(code = CODE): Promise<Login> {
  await issueCode(kube, namespace, CODE, new Date(now));
  const response = await tryCode(code);
  expect(response.statusCode).toBe(200);
  const cookie = response.cookies.find((c) => c.name === 'bh_setup')!;
  return { cookie: `bh_setup=${cookie.value}`, csrf: response.json<{ csrfToken: string }>().csrfToken };
}

async function signedIn(): Promise<Login> {
  const session = await login();
  const response = await request('POST', '/setup/api/wallet', {
    login: session,
    body: { address: ADMIN, signature: ADMIN_SIGNATURE, publicSecret: 'blockhost-access' },
  });
  expect(response.statusCode).toBe(200);
  return session;
}

const saveStep = (session: Login, step: StepName, body: unknown) =>
  request('POST', `/setup/api/steps/${step}`, { login: session, body });

async function completeAll(session: Login): Promise<void> {
  for (const [step, body] of Object.entries(steps)) {
    const response = await saveStep(session, step as StepName, body);
    expect({ step, status: response.statusCode, body: response.json() }).toMatchObject({ status: 200 });
  }
}

const failures = async () =>
  (await kube.get<KubeObject>(coreTypes.secret, SETUP_CODE_SECRET, namespace)).metadata.annotations?.[
    FAILURES_ANNOTATION
  ];

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'wizard-http');
  chain = await startTestChain();
  const stablecoin = await deployToken(chain, 'USDC', 6);
  proxmox = await FakeProxmox.start({ templates: [{ vmid: TEMPLATE_VMID, name: 'debian-12' }] });
  steps = validSteps({ rpcUrl: chain.anvil.rpcUrl, chainId: chain.anvil.chainId, stablecoin, proxmox });
  app = await createWebApp({
    kube,
    namespace,
    faces: [wizardFace],
    now: () => now,
    processMetrics: false,
    // The lockout test needs more than the default 10 logins a minute.
    loginRateLimit: { max: 1000, timeWindowMs: 60_000 },
    rateLimit: { max: 10_000, timeWindowMs: 60_000 },
  });
  await issueCode(kube, namespace, CODE, new Date(now));
}, withHostConfigClaimWait(120_000));

afterAll(async () => {
  await app?.close();
  for (const name of planNames) await kube.delete(blockhostTypes.plan, name).catch(() => undefined);
  if (namespace) await deleteNamespace(kube, namespace);
  await chain?.stop();
  await proxmox?.stop();
  await release?.();
}, 60_000);

describe('one-time code login', () => {
  it('says how to issue a code when none exists', async () => {
    await kube.delete(coreTypes.secret, SETUP_CODE_SECRET, namespace);
    const response = await tryCode(CODE);
    expect(response.statusCode).toBe(503);
    expect(response.json<{ error: string }>().error).toContain('blockhost-setup-code');
    await issueCode(kube, namespace, CODE, new Date(now));
  });

  it('accepts the code in any case and with spaces, with a server-side session cookie', async () => {
    const response = await tryCode(`  ${CODE.toLowerCase()} `);
    expect(response.statusCode).toBe(200);
    const cookie = response.cookies.find((c) => c.name === 'bh_setup')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/setup' });
    expect(cookie.value).not.toContain(CODE);
    expect(response.json<{ csrfToken: string }>().csrfToken.length).toBeGreaterThan(20);
  });

  it('binds the code to the first session: a second browser with the same code is refused', async () => {
    const first = await login();
    const second = await tryCode(CODE.toLowerCase());
    expect(second.statusCode).toBe(401);
    expect(second.json<{ error: string }>().error).toMatch(/already used.*blockhost-setup-code/);
    expect(second.cookies.find((c) => c.name === 'bh_setup')).toBeUndefined();
    const secret = await kube.get<KubeObject>(coreTypes.secret, SETUP_CODE_SECRET, namespace);
    expect(secret.metadata.annotations?.[USED_FOR_ANNOTATION]).toBeDefined();
    // The first browser keeps its session; a wrong guess still counts, the right code stays spent.
    expect((await request('GET', '/setup/api/progress', { login: first })).statusCode).toBe(200);
    expect((await tryCode('AAAAAA')).statusCode).toBe(401);
    expect((await tryCode(CODE)).statusCode).toBe(401);
    // A new code opens a new session.
    await login();
  });

  it('lets only one of two racing browsers redeem the code', async () => {
    await issueCode(kube, namespace, CODE, new Date(now));
    const responses = await Promise.all(Array.from({ length: 4 }, () => tryCode(CODE)));
    expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 401, 401, 401]);
  });

  it('counts wrong codes on the Secret and locks after 10, even for the right code', async () => {
    for (let i = 1; i <= 10; i++) {
      const response = await tryCode('AAAAAA');
      expect(response.statusCode).toBe(401);
      expect(response.json<{ error: string }>().error).toContain(i < 10 ? `${10 - i} attempt` : 'now locked');
    }
    expect(await failures()).toBe('10');
    const locked = await tryCode(CODE);
    expect(locked.statusCode).toBe(423);
    expect(locked.json<{ error: string }>().error).toMatch(/Locked.*blockhost-setup-code.*kubectl -n/);
    // A new code (new issuedAt) starts a fresh count.
    now += 1000;
    await issueCode(kube, namespace, 'QW3RTY', new Date(now));
    expect((await tryCode('qw3rty')).statusCode).toBe(200);
    await issueCode(kube, namespace, CODE, new Date(now));
  });

  it('counts concurrent wrong guesses exactly once each', async () => {
    const responses = await Promise.all(Array.from({ length: 4 }, () => tryCode('BBBBBB')));
    expect(responses.map((r) => r.statusCode)).toEqual([401, 401, 401, 401]);
    expect(await failures()).toBe('4');
    await issueCode(kube, namespace, CODE, new Date(now));
  });

  it('refuses a code older than 4 hours', async () => {
    await issueCode(kube, namespace, CODE, new Date(now - 4 * HOUR - 1000));
    const response = await tryCode(CODE);
    expect(response.statusCode).toBe(401);
    expect(response.json<{ error: string }>().error).toContain('expired');
    await issueCode(kube, namespace, CODE, new Date(now));
  });

  it('validates the body shape', async () => {
    expect((await request('POST', '/setup/api/login', { body: { code: 42 } })).statusCode).toBe(400);
    expect((await request('POST', '/setup/api/login', { body: { code: 'x'.repeat(65) } })).statusCode).toBe(
      400,
    );
  });
});

describe('sessions and requests', () => {
  it('sends pages to the login without a session and APIs answer 401', async () => {
    for (const path of ['/setup/wallet', '/setup/step/network', '/setup/summary', '/setup/progress']) {
      const response = await request('GET', path);
      expect({ path, status: response.statusCode, location: response.headers.location }).toEqual({
        path,
        status: 303,
        location: '/setup/',
      });
    }
    expect((await request('GET', '/setup/api/progress')).statusCode).toBe(401);
    expect(
      (await saveStep({ cookie: 'bh_setup=forged', csrf: 'x' }, 'network', steps.network)).statusCode,
    ).toBe(401);
  });

  it('refuses state changes without the CSRF token', async () => {
    const session = await login();
    expect(
      (await request('POST', '/setup/api/steps/network', { login: session, body: steps.network, csrf: null }))
        .statusCode,
    ).toBe(403);
    expect(
      (
        await request('POST', '/setup/api/steps/network', {
          login: session,
          body: steps.network,
          csrf: 'wrong',
        })
      ).statusCode,
    ).toBe(403);
    expect((await saveStep(session, 'network', steps.network)).statusCode).toBe(200);
  });

  it('ends a session after an hour without use and after 4 hours in all', async () => {
    const idle = await login();
    now += HOUR + 1000;
    expect((await saveStep(idle, 'network', steps.network)).statusCode).toBe(401);
    await issueCode(kube, namespace, CODE, new Date(now));
    const busy = await login();
    for (let i = 0; i < 5; i++) {
      now += 50 * 60_000;
      const response = await saveStep(busy, 'network', steps.network);
      expect(response.statusCode).toBe(i < 4 ? 200 : 401);
    }
    await issueCode(kube, namespace, CODE, new Date(now));
  });

  it('refuses oversized and non-JSON bodies', async () => {
    const session = await login();
    const big = await saveStep(session, 'network', {
      network: { mode: 'dhcp' },
      padding: 'x'.repeat(70 * 1024),
    });
    expect(big.statusCode).toBe(413);
    const form = await app.inject({
      method: 'POST',
      url: '/setup/api/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `code=${CODE}`,
    });
    expect(form.statusCode).toBe(415);
  });
});

describe('admin wallet', () => {
  it('refuses a signature from another address and keeps the right one', async () => {
    const session = await login();
    const other = signMessage(anvilPrivateKey(2), 'blockhost-access');
    const refused = await request('POST', '/setup/api/wallet', {
      login: session,
      body: { address: ADMIN, signature: other, publicSecret: 'blockhost-access' },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ fields: Record<string, string> }>().fields.signature).toContain(
      anvilAccount(2).address,
    );
    const malformed = await request('POST', '/setup/api/wallet', {
      login: session,
      body: { address: 'nope', signature: '0x12', publicSecret: '' },
    });
    expect(Object.keys(malformed.json<{ fields: Record<string, string> }>().fields).sort()).toEqual([
      'address',
      'publicSecret',
      'signature',
    ]);
    const accepted = await request('POST', '/setup/api/wallet', {
      login: session,
      body: { address: ADMIN.toLowerCase(), signature: ADMIN_SIGNATURE, publicSecret: 'blockhost-access' },
    });
    expect(accepted.json()).toMatchObject({ address: ADMIN });
  });
});

// [step, change to the valid body, field the error is reported on]
const RULES: [StepName, unknown, string][] = [
  ['network', { network: { mode: 'static' } }, 'network'],
  [
    'network',
    { network: { mode: 'static', address: '192.168.1.10/24', gateway: '10.0.0.1' } },
    'network.gateway',
  ],
  [
    'network',
    { network: { mode: 'static', address: '300.1.1.1/24', gateway: '192.168.1.1' } },
    'network.address',
  ],
  ['network', { network: { mode: 'bridge' } }, 'network.mode'],
  [
    'network',
    { network: { mode: 'dhcp', dns: ['1.1.1.1', '8.8.8.8', '9.9.9.9', '1.0.0.1'] } },
    'network.dns',
  ],
  ['network', { network: { mode: 'dhcp', dns: ['dns.example'] } }, 'network.dns.0'],
  ['network', { network: { mode: 'dhcp', interface: 'eth 0' } }, 'network.interface'],
  ['network', { signup: { hostname: 'not a host' } }, 'signup.hostname'],
  ['storage', { storage: { device: '/etc/passwd' } }, 'storage.device'],
  ['storage', { storage: { device: '/dev/sdz' } }, 'storage.device'],
  ['chain', { chain: { chainId: 0 } }, 'chain.chainId'],
  ['chain', { chain: { rpcEndpoints: [] } }, 'chain.rpcEndpoints'],
  ['chain', { chain: { rpcEndpoints: ['ftp://rpc.example'] } }, 'chain.rpcEndpoints.0'],
  ['chain', { chain: { confirmations: 5000 } }, 'chain.confirmations'],
  ['chain', { chain: { deploy: false } }, 'chain.contracts'],
  ['chain', { chain: { stablecoin: undefined } }, 'chain.stablecoin'],
  ['chain', { chain: { stablecoin: '0x1234' } }, 'chain.stablecoin'],
  ['chain', { serverWallet: 'maybe' }, 'serverWallet'],
  ['chain', { serverWallet: 'import' }, 'serverWallet'],
  ['chain', { chain: { chainId: 1 } }, 'chain.rpcEndpoints.0'],
  ['chain', { chain: { rpcEndpoints: ['http://127.0.0.1:9/'] } }, 'chain.rpcEndpoints.0'],
  [
    'chain',
    {
      chain: {
        deploy: false,
        contracts: { subscriptions: `0x${'42'.repeat(20)}`, nft: `0x${'43'.repeat(20)}` },
      },
    },
    'chain.contracts.subscriptions',
  ],
  ['plans', { plans: [] }, 'plans'],
  ['plans', { plans: [{ displayName: '', priceUsdCentsPerDay: 50 }] }, 'plans.0.displayName'],
  ['plans', { plans: [{ displayName: 'A', priceUsdCentsPerDay: 0 }] }, 'plans.0.priceUsdCentsPerDay'],
  ['plans', { plans: [{ displayName: 'A', priceUsdCentsPerDay: 1.5 }] }, 'plans.0.priceUsdCentsPerDay'],
  ['plans', { plans: [{ displayName: 'A', priceUsdCentsPerDay: '50' }] }, 'plans.0.priceUsdCentsPerDay'],
  ['plans', { plans: [{ displayName: 'A', priceUsdCentsPerDay: 5, size: { cpu: 0 } }] }, 'plans.0.size.cpu'],
  [
    'plans',
    { plans: [{ displayName: 'A', priceUsdCentsPerDay: 5, size: { memoryMiB: 100 } }] },
    'plans.0.size.memoryMiB',
  ],
  [
    'plans',
    { plans: [{ displayName: 'A', priceUsdCentsPerDay: 5, size: { diskGiB: 0 } }] },
    'plans.0.size.diskGiB',
  ],
  [
    'plans',
    { plans: [{ displayName: 'A', priceUsdCentsPerDay: 5, size: { image: 'Debian 12' } }] },
    'plans.0.size.image',
  ],
  ['plans', { revenueShare: { enabled: true, recipients: [] } }, 'revenueShare.recipients'],
  [
    'plans',
    { revenueShare: { enabled: true, totalPercent: 2, recipients: [{ role: 'dev', percent: 1 }] } },
    'revenueShare.recipients',
  ],
  [
    'plans',
    { revenueShare: { enabled: true, totalPercent: 1, recipients: [{ role: 'Dev!', percent: 1 }] } },
    'revenueShare.recipients.0.role',
  ],
  [
    'plans',
    { revenueShare: { enabled: true, totalPercent: 1, recipients: [{ role: 'host', percent: 1 }] } },
    'revenueShare.recipients.0.address',
  ],
  [
    'plans',
    { revenueShare: { enabled: true, totalPercent: 101, recipients: [{ role: 'dev', percent: 101 }] } },
    'revenueShare.totalPercent',
  ],
  ['backend', { backend: { proxmox: { apiUrl: 'http://pve.example/api2/json' } } }, 'backend.proxmox.apiUrl'],
  [
    'backend',
    { backend: { proxmox: { images: [{ name: 'debian-12', templateVmid: 150 }] } } },
    'backend.proxmox.images',
  ],
  [
    'backend',
    { backend: { proxmox: { vmidRange: { start: 300, end: 200 } } } },
    'backend.proxmox.vmidRange.start',
  ],
  ['backend', { backend: { proxmox: { node: '-bad-' } } }, 'backend.proxmox.node'],
  ['backend', { backend: { type: 'libvirt' } }, 'backend.libvirt'],
  ['backend', { backend: { type: 'esxi' } }, 'backend.type'],
  ['backend', { proxmoxToken: undefined }, 'proxmoxToken.tokenId'],
  ['backend', { proxmoxToken: { tokenId: 'no-realm', secret: 'x' } }, 'proxmoxToken.tokenId'],
  [
    'backend',
    { proxmoxToken: { tokenId: DEFAULT_TOKEN.tokenId, secret: 'wrong-secret' } },
    'backend.proxmox.apiUrl',
  ],
  [
    'backend',
    { backend: { proxmox: { images: [{ name: 'debian-12', templateVmid: 9100 }] } } },
    'backend.proxmox.apiUrl',
  ],
  ['backend', { backend: { proxmox: { node: 'elsewhere' } } }, 'backend.proxmox.apiUrl'],
  ['backend', { gcGraceDays: 400 }, 'gcGraceDays'],
  [
    'backend',
    {
      backend: {
        type: 'kubevirt',
        proxmox: undefined,
        kubevirt: {
          images: [{ name: 'demo', containerDisk: 'quay.io/x:1', http: 'https://images.example/x.qcow2' }],
        },
      },
      proxmoxToken: undefined,
    },
    'backend.kubevirt.images.0',
  ],
  ['ipv4', { ipv4Pool: { network: '192.168.122.5/24' } }, 'ipv4Pool.network'],
  ['ipv4', { ipv4Pool: { start: '10.0.0.5' } }, 'ipv4Pool.start'],
  ['ipv4', { ipv4Pool: { end: '10.0.0.5' } }, 'ipv4Pool.end'],
  ['ipv4', { ipv4Pool: { start: '192.168.122.251' } }, 'ipv4Pool.start'],
  ['ipv4', { ipv4Pool: { gateway: '192.168.122.210' } }, 'ipv4Pool.gateway'],
  ['ipv4', { ipv4Pool: { gateway: '192.168.123.1' } }, 'ipv4Pool.gateway'],
  ['ipv4', { ipv4Pool: { network: '192.168.122.0/33' } }, 'ipv4Pool.network'],
  ['ipv6', { ipv6: { mode: 'manual' } }, 'ipv6.prefix'],
  ['ipv6', { ipv6: { mode: 'manual', prefix: '2001:db8::1/64' } }, 'ipv6.prefix'],
  ['ipv6', { ipv6: { mode: 'manual', prefix: '2001:db8::/126' } }, 'ipv6.prefix'],
  ['ipv6', { ipv6: { mode: 'broker' } }, 'ipv6.brokerRegistry'],
  [
    'ipv6',
    { ipv6: { mode: 'broker', brokerRegistry: `0x${'42'.repeat(20)}`, allocationSize: 200 } },
    'ipv6.allocationSize',
  ],
  ['admin', { admin: { commands: { commandName: undefined } } }, 'admin.commands.commandName'],
  ['admin', { admin: { commands: { commandName: 'open sesame' } } }, 'admin.commands.commandName'],
  ['admin', { admin: { commands: { ports: [] } } }, 'admin.commands.ports'],
  ['admin', { admin: { commands: { ports: [0] } } }, 'admin.commands.ports.0'],
  ['admin', { admin: { commands: { ports: [22, 70000] } } }, 'admin.commands.ports.1'],
  ['admin', { admin: { commands: { ports: [22, 22] } } }, 'admin.commands.ports.1'],
  ['admin', { admin: { commands: { durationSeconds: 4000 } } }, 'admin.commands.durationSeconds'],
  ['admin', { admin: { commands: { durationSeconds: 0 } } }, 'admin.commands.durationSeconds'],
];

describe('step validation', () => {
  let session: Login;
  beforeAll(async () => {
    session = await signedIn();
  });

  it('accepts the valid value of every step', async () => {
    await completeAll(session);
  }, 60_000);

  it.each(RULES)('%s: %j is refused on %s', async (step, patch, field) => {
    const response = await saveStep(session, step, merged(steps[step], patch));
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: string; fields: Record<string, string> }>();
    expect(Object.keys(body.fields)).toContain(field);
    expect(body.fields[field]!.length).toBeGreaterThan(5);
  });

  it('keeps the last valid value of a step after a refused one (going back shows it)', async () => {
    await saveStep(session, 'ipv4', merged(steps.ipv4, { ipv4Pool: { start: '10.0.0.5' } }));
    const page = await request('GET', '/setup/step/ipv4', { login: session });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('value="192.168.122.200"');
  });

  it('refuses an unknown step', async () => {
    expect((await saveStep(session, 'firewall' as StepName, {})).statusCode).toBe(400);
  });
});

describe('server wallet import', () => {
  it('checks the key, shows address and balance, and never echoes the key', async () => {
    const session = await signedIn();
    const bad = await request('POST', '/setup/api/server-wallet', {
      login: session,
      body: { privateKey: '0x1234' },
    });
    expect(bad.json<{ fields: Record<string, string> }>().fields).toHaveProperty('privateKey');
    const zero = await request('POST', '/setup/api/server-wallet', {
      login: session,
      body: { privateKey: '0'.repeat(64) },
    });
    expect(zero.statusCode).toBe(400);
    const key = anvilPrivateKey(3);
    const response = await request('POST', '/setup/api/server-wallet', {
      login: session,
      body: { privateKey: key, rpcUrl: chain.anvil.rpcUrl },
    });
    expect(response.json()).toEqual({ address: anvilAccount(3).address, balanceEth: '10000' });
    expect(response.body).not.toContain(key.slice(2));
    expect(
      (await saveStep(session, 'chain', merged(steps.chain, { serverWallet: 'import' }))).statusCode,
    ).toBe(200);
    const page = await request('GET', '/setup/step/chain', { login: session });
    expect(page.body).toContain(anvilAccount(3).address);
    expect(page.body).not.toContain(key.slice(2));
    const proxmoxPage = await request('GET', '/setup/step/backend', { login: session });
    expect(proxmoxPage.body).not.toContain(DEFAULT_TOKEN.secret);
  });
});

describe('summary, apply, progress, export and import', () => {
  let session: Login;
  beforeAll(async () => {
    session = await signedIn();
  });

  it('refuses to apply before every step is done, changing nothing', async () => {
    const response = await request('POST', '/setup/api/apply', { login: session, body: { confirm: true } });
    expect(response.statusCode).toBe(400);
    expect(response.json<{ error: string }>().error).toContain('network');
    await expect(kube.get(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).rejects.toMatchObject({
      status: 404,
    });
  });

  it('shows a plan image the backend does not list at the summary, before anything is written', async () => {
    await completeAll(session);
    await saveStep(
      session,
      'plans',
      merged(steps.plans, {
        plans: [{ displayName: 'A', priceUsdCentsPerDay: 5, size: { image: 'ubuntu' } }],
      }),
    );
    const summary = await request('GET', '/setup/summary', { login: session });
    expect(summary.body).toContain('plans.0.size.image');
    const response = await request('POST', '/setup/api/apply', { login: session, body: { confirm: true } });
    expect(response.json<{ fields: Record<string, string> }>().fields['plans.0.size.image']).toContain(
      'ubuntu',
    );
    await saveStep(session, 'plans', steps.plans);
    expect((await request('POST', '/setup/api/apply', { login: session, body: {} })).statusCode).toBe(400);
  });

  it('exports a backup only the admin signature opens, and imports it into a new session', async () => {
    const exported = await request('POST', '/setup/api/export', { login: session, body: {} });
    expect(exported.statusCode).toBe(200);
    const { backup, filename } = exported.json<{ backup: Record<string, unknown>; filename: string }>();
    expect(filename).toMatch(/^blockhost-config-\d{4}-\d{2}-\d{2}\.json$/);
    expect(backup).toMatchObject({ format: 'blockhost-config-backup', version: 1, wallet: ADMIN });
    expect(JSON.stringify(backup)).not.toContain('192.168.122.200');
    expect(openBackup(backup, ADMIN_SIGNATURE).hostConfig.ipv4Pool.start).toBe('192.168.122.200');

    const other = await login();
    const otherWallet = signMessage(anvilPrivateKey(2), 'blockhost-access');
    await request('POST', '/setup/api/wallet', {
      login: other,
      body: { address: anvilAccount(2).address, signature: otherWallet, publicSecret: 'blockhost-access' },
    });
    const refused = await request('POST', '/setup/api/import', { login: other, body: { backup } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ error: string }>().error).toContain(ADMIN);
    const garbage = await request('POST', '/setup/api/import', {
      login: other,
      body: { backup: { format: 'zip' } },
    });
    expect(garbage.json<{ error: string }>().error).toContain('not a BlockHost configuration backup');

    const fresh = await signedIn();
    const imported = await request('POST', '/setup/api/import', { login: fresh, body: { backup } });
    expect(imported.json()).toEqual({ next: '/setup/summary', plans: 1 });
    const page = await request('GET', '/setup/step/ipv4', { login: fresh });
    expect(page.body).toContain('value="192.168.122.200"');
    // The Proxmox token is not in a backup: the summary asks for it again.
    expect((await request('GET', '/setup/summary', { login: fresh })).body).toContain('proxmoxToken.tokenId');
  });

  it('applies the HostConfig and Plans, records an Event, then shows progress and retries', async () => {
    const response = await request('POST', '/setup/api/apply', { login: session, body: { confirm: true } });
    expect(response.json()).toEqual({ next: '/setup/progress' });
    const host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    planNames.push('basic-vm');
    expect(host.spec).toMatchObject({
      chain: { chainId: chain.anvil.chainId, deploy: true, serverWallet: { generate: true } },
      admin: { wallet: ADMIN, signature: ADMIN_SIGNATURE, commands: { commandName: 'open-sesame' } },
      backend: { type: 'proxmox', proxmox: { tokenSecretRef: { name: 'blockhost-proxmox-token' } } },
      signup: { hostname: 'wizard.blockhost.test' },
    });
    expect(JSON.stringify(host.metadata.managedFields)).toContain('"manager":"blockhost-wizard"');
    const plan = await kube.get<Plan>(blockhostTypes.plan, 'basic-vm');
    expect(plan.spec).toMatchObject({ displayName: 'Basic VM', priceUsdCentsPerDay: 50 });
    // Handed over under a generated name the HostConfig records (docs/controller-state.md).
    const handover = host.metadata.annotations?.['blockhost.io/proxmox-token-handover'];
    expect(host.metadata.annotations?.['blockhost.io/proxmox-token-handover-id']).toBe(DEFAULT_TOKEN.tokenId);
    const token = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.secret,
      handover!,
      namespace,
    );
    expect(Buffer.from(token.data.secret!, 'base64').toString()).toBe(DEFAULT_TOKEN.secret);
    const events = await kube.list<KubeObject & { reason: string; regarding: { name: string } }>(
      coreTypes.event,
      { namespace: 'default' },
    );
    expect(
      events.items.some((e) => e.reason === 'ConfigurationApplied' && e.regarding.name === HOST_CONFIG_NAME),
    ).toBe(true);

    // No controller runs here: progress shows exactly that, every step still waiting.
    const progress = await request('GET', '/setup/api/progress', { login: session });
    expect(progress.json()).toMatchObject({ applied: true, ready: false });
    expect(progress.json<{ steps: { status: string }[] }>().steps.map((s) => s.status)).toEqual(
      Array(7).fill('Pending'),
    );

    const retry = await request('POST', '/setup/api/retry', { login: session, body: {} });
    expect(retry.statusCode).toBe(200);
    const retried = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    expect(retried.metadata.annotations?.[RETRY_SETUP_ANNOTATION]).toBe(new Date(now).toISOString());
    expect(
      (await request('POST', '/setup/api/retry', { login: session, body: {}, csrf: null })).statusCode,
    ).toBe(403);
  });

  it('answers 410 with the dashboard link on every route once the host is Ready', async () => {
    await kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      {
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'SetupComplete',
              message: 'done',
              lastTransitionTime: new Date().toISOString(),
            },
          ],
        },
      },
      'merge',
      { subresource: 'status' },
    );
    for (const [method, path] of [
      ['GET', '/setup/'],
      ['GET', '/setup/step/network'],
      ['POST', '/setup/api/login'],
      ['GET', '/setup/api/progress'],
      ['POST', '/setup/api/export'],
    ] as const) {
      const response = await request(method, path, {
        login: session,
        ...(method === 'POST' && { body: { code: CODE } }),
      });
      expect({ path, status: response.statusCode }).toEqual({ path, status: 410 });
      expect(response.body).toContain('/admin');
    }
  });
});
