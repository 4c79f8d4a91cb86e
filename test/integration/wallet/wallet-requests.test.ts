// Withdraw and send from the admin dashboard, end to end: real control plane, real anvil, the web
// server (inject) and the controller manager in-process (setup mints the admin NFT). The admin signs
// the canonical message with personal_sign; the web server stores it as a labelled ConfigMap; the
// wallet-request controller verifies it against the chain and sends it once. Requests a compromised
// web server could store (non-holder, expired, tampered, replayed) are refused with nothing sent.
// Last, fault injection: the manager (own process) is SIGKILLed right after the broadcast, before
// anything is recorded; a clean manager finishes with exactly one transfer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { erc20Abi, getAddress, type Address } from 'viem';
import { MockERC20Abi } from '../../../contracts/generated/artifacts.js';
import { registerControllers } from '../../../controllers/setup.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import {
  formatWalletRequest,
  WALLET_REQUEST_ANNOTATIONS as A,
  WALLET_REQUEST_LABEL,
  walletRequestName,
  type WalletRequest,
} from '../../../lib/wallet-request/message.js';
import { adminFace } from '../../../web/admin/face.js';
import { CSRF_HEADER } from '../../../web/http/sessions.js';
import { createWebApp } from '../../../web/server.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { adminCredentialMinted, LOCAL_HOSTNAME, useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import type { ManagedProcess } from '../../harness/processes.js';
import { startFixtureManager } from '../../fixtures/start-controller-manager.js';

const ADMIN = 1;
const OTHER = 2;
const CUSTOMER = 5;
const TARGET = anvilAccount(6).address;
const ETH_TARGET = anvilAccount(7).address;
const SERVER = anvilAccount(0).address;

let kube: KubeClient;
let namespace: string;
let chain: LocalChain;
let app: FastifyInstance;
let manager: Manager | undefined;
let running: Promise<unknown> | undefined;
let release: () => Promise<void>;
let logDir: string;
let child: ManagedProcess | undefined;

interface RequestCm extends KubeObject {
  data?: { message?: string; signature?: string };
}
interface EventObject extends KubeObject {
  reason: string;
  note: string;
  regarding: { name: string };
}

const usdc = () => chain.deployment.stablecoin;
const balance = (owner: Address) =>
  chain.publicClient.readContract({
    address: usdc(),
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [owner],
  });
const serverNonce = () => chain.publicClient.getTransactionCount({ address: SERVER });

/** A customer's payment landing in the subscriptions contract (what withdraw collects). */
async function fundContract(amount: bigint): Promise<void> {
  const hash = await chain.wallet(CUSTOMER).writeContract({
    address: usdc(),
    abi: MockERC20Abi,
    functionName: 'transfer',
    args: [chain.deployment.subscriptions, amount],
  });
  await chain.publicClient.waitForTransactionReceipt({ hash });
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

const cookieOf = (response: LightMyRequestResponse) => {
  const header = response.headers['set-cookie'];
  const value = (Array.isArray(header) ? header : [header]).find((c) => c?.startsWith('bh_admin='));
  if (!value) throw new Error('no session cookie');
  return value.split(';')[0]!;
};

async function signIn(account = ADMIN): Promise<Record<string, string>> {
  const issued = (await post('/api/challenge', {})).json<{ code: string; message: string }>();
  const response = await post('/api/login', {
    code: issued.code,
    signature: signMessage(anvilPrivateKey(account), issued.message),
  });
  expect(response.statusCode).toBe(200);
  return { cookie: cookieOf(response), [CSRF_HEADER]: response.json<{ csrfToken: string }>().csrfToken };
}

/** A request as the dashboard drafts it, valid for 10 minutes unless told otherwise. */
function request(fields: Partial<WalletRequest>): WalletRequest {
  return {
    host: LOCAL_HOSTNAME,
    chain: chain.anvil.chainId,
    contract: getAddress(chain.deployment.subscriptions),
    action: 'withdraw',
    token: getAddress(usdc()),
    amount: 'all',
    to: TARGET,
    nonce: Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32),
    expires: new Date(Date.now() + 9 * 60_000).toISOString(),
    ...fields,
  };
}

/** Stores a signed request directly, as a (compromised) web server could. */
async function store(message: string, signature: string, name = walletRequestName(message)): Promise<string> {
  await kube.create<RequestCm>(coreTypes.configMap, {
    metadata: { name, namespace, labels: { [WALLET_REQUEST_LABEL]: 'true' } },
    data: { message, signature },
  } as RequestCm);
  return name;
}

async function outcome(name: string, timeoutMs = 60_000): Promise<Record<string, string>> {
  let notes: Record<string, string> = {};
  await eventually(
    `${name} finished`,
    async () => {
      notes = (await kube.get<RequestCm>(coreTypes.configMap, name, namespace)).metadata.annotations ?? {};
      return ['Confirmed', 'Refused', 'Failed'].includes(notes[A.phase] ?? '');
    },
    timeoutMs,
  );
  return notes;
}

const events = async (name: string) =>
  (await kube.list<EventObject>(coreTypes.event, { namespace })).items.filter(
    (e) => e.regarding.name === name,
  );

function startInProcessManager(): void {
  const log = createLogger('wallet-request-test');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const backend = new InstantBackend();
  registerControllers(manager, {
    namespace,
    log,
    backendFactories: { [backend.type]: instantBackendFactory(backend) },
  });
  running = manager.start();
}

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'wallet-req');
  logDir = await mkdtemp(join(tmpdir(), 'wallet-req-'));
  chain = await startLocalChain({ plans: [] });
  await useLocalChain(
    kube,
    namespace,
    chain,
    { confirmations: 1 },
    { ipv6: { mode: 'none', allocationSize: 64 } },
  );
  startInProcessManager();
  app = await createWebApp({
    kube,
    namespace,
    faces: [adminFace],
    now: () => Date.now(),
    processMetrics: false,
    loginRateLimit: { max: 1000, timeWindowMs: 60_000 },
  });
  await adminCredentialMinted(kube, 120_000);
  // The login reads the holder a confirmation deep: the first login must not race the next block.
  await chain.anvil.mine(1);
}, withHostConfigClaimWait(240_000));

afterAll(async () => {
  await child?.stop();
  await app?.close();
  manager?.stop();
  await running;
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
  await chain?.stop();
  await release?.();
  if (logDir) await rm(logDir, { recursive: true, force: true });
}, 120_000);

describe('wallet request routes', () => {
  it('need a session and the CSRF token', async () => {
    const body = { action: 'withdraw', token: usdc(), amount: 'all', to: TARGET };
    expect((await post('/api/wallet/requests/draft', body)).statusCode).toBe(401);
    expect((await get('/api/wallet/requests')).statusCode).toBe(401);
    const headers = await signIn();
    const noCsrf = await post('/api/wallet/requests/draft', body, { cookie: headers.cookie! });
    expect(noCsrf.statusCode).toBe(403);
    const wrong = await post('/api/wallet/requests/draft', body, {
      ...headers,
      [CSRF_HEADER]: 'x'.repeat(43),
    });
    expect(wrong.statusCode).toBe(403);
    expect((await post('/api/wallet/requests/draft', body, headers)).statusCode).toBe(200);
    // A wallet that does not hold the admin NFT never gets a session.
    const issued = (await post('/api/challenge', {})).json<{ code: string; message: string }>();
    const other = await post('/api/login', {
      code: issued.code,
      signature: signMessage(anvilPrivateKey(OTHER), issued.message),
    });
    expect(other.statusCode).toBe(403);
  });

  it('validate the drafted fields', async () => {
    const headers = await signIn();
    const draft = (body: unknown) => post('/api/wallet/requests/draft', body, headers);
    const cases: [unknown, string, RegExp][] = [
      [{ action: 'burn', token: 'ETH', amount: '1', to: TARGET }, 'action', /withdraw or send/],
      [{ action: 'send', token: 'ETH', amount: '1', to: '0x123' }, 'to', /40 hex/],
      [{ action: 'send', token: 'ETH', amount: '-5', to: TARGET }, 'amount', /whole number/],
      [{ action: 'send', token: 'ETH', amount: 'all', to: TARGET }, 'amount', /needs an amount/],
      [{ action: 'withdraw', token: 'ETH', amount: 'all', to: TARGET }, 'token', /ERC-20/],
      [{ action: 'withdraw', token: usdc(), amount: '5', to: TARGET }, 'amount', /whole balance/],
      [{ action: 'send', token: 'ETH', amount: '1', to: '0x' + '0'.repeat(40) }, 'to', /zero address/],
      [{ action: 'send', token: 'ETH', amount: '1', to: TARGET, extra: 1 }, '', /extra/],
    ];
    for (const [body, field, message] of cases) {
      const response = await draft(body);
      expect(response.statusCode).toBe(400);
      expect(response.json<{ fields: Record<string, string> }>().fields[field]).toMatch(message);
    }
    const ok = await draft({
      action: 'send',
      token: 'eth'.toUpperCase(),
      amount: '1000',
      to: TARGET.toLowerCase(),
    });
    const { message } = ok.json<{ message: string }>();
    expect(message).toMatch(
      new RegExp(
        `^BlockHost wallet request\\nhost: ${LOCAL_HOSTNAME}\\nchain: ${chain.anvil.chainId}\\ncontract: 0x[0-9a-fA-F]{40}\\naction: send\\ntoken: ETH\\namount: 1000\\nto: ${TARGET}\\nnonce: [0-9a-f]{32}\\nexpires: \\S+Z$`,
      ),
    );
  });

  it('refuse submissions that are not a fresh, well-formed request signed by the admin', async () => {
    const headers = await signIn();
    const submit = (message: string, signature: string) =>
      post('/api/wallet/requests', { message, signature }, headers);
    const before = await kube.list(coreTypes.configMap, {
      namespace,
      labelSelector: `${WALLET_REQUEST_LABEL}=true`,
    });
    const cases: [string, string, string, RegExp][] = [
      [formatWalletRequest(request({})), anvilPrivateKey(OTHER), 'signature', /not by the signed-in admin/],
      [
        formatWalletRequest(request({ expires: new Date(Date.now() - 1000).toISOString() })),
        anvilPrivateKey(ADMIN),
        'message',
        /expired/,
      ],
      [
        formatWalletRequest(request({ expires: new Date(Date.now() + 60 * 60_000).toISOString() })),
        anvilPrivateKey(ADMIN),
        'message',
        /within 10 minutes/,
      ],
      [formatWalletRequest(request({ host: 'elsewhere.test' })), anvilPrivateKey(ADMIN), 'message', /host/],
      [formatWalletRequest(request({ chain: 1 })), anvilPrivateKey(ADMIN), 'message', /another chain/],
      ['hello', anvilPrivateKey(ADMIN), 'message', /not a wallet request/],
    ];
    for (const [message, key, field, reason] of cases) {
      const response = await submit(message, signMessage(key, message));
      expect(response.statusCode).toBe(400);
      expect(response.json<{ fields: Record<string, string> }>().fields[field]).toMatch(reason);
    }
    // Tampered: signed one amount, submitted another — the signature recovers to someone else.
    const signed = formatWalletRequest(request({ action: 'send', token: 'ETH', amount: '1' }));
    const tampered = signed.replace('amount: 1\n', 'amount: 1000000000000000000\n');
    const response = await submit(tampered, signMessage(anvilPrivateKey(ADMIN), signed));
    expect(response.statusCode).toBe(400);
    expect(response.json<{ fields: Record<string, string> }>().fields.signature).toMatch(
      /not by the signed-in admin/,
    );
    const after = await kube.list(coreTypes.configMap, {
      namespace,
      labelSelector: `${WALLET_REQUEST_LABEL}=true`,
    });
    expect(after.items.length).toBe(before.items.length);
  });
});

describe('executing signed requests', () => {
  it('withdraw moves the contract stablecoin balance to the target, once; a replay is refused', async () => {
    await fundContract(123_000_000n);
    const headers = await signIn();
    const contractBefore = await balance(chain.deployment.subscriptions);
    const targetBefore = await balance(TARGET);
    const drafted = await post(
      '/api/wallet/requests/draft',
      { action: 'withdraw', token: usdc(), amount: 'all', to: TARGET },
      headers,
    );
    const { message, name } = drafted.json<{ message: string; name: string }>();
    const signature = signMessage(anvilPrivateKey(ADMIN), message);
    const submitted = await post('/api/wallet/requests', { message, signature }, headers);
    expect(submitted.statusCode).toBe(201);
    expect(submitted.json<{ name: string }>().name).toBe(name);
    const notes = await outcome(name);
    expect(notes[A.phase]).toBe('Confirmed');
    expect(notes[A.txHash]).toMatch(/^0x[0-9a-f]{64}$/);
    expect(notes[A.signer]).toBe(anvilAccount(ADMIN).address);
    expect(await balance(chain.deployment.subscriptions)).toBe(0n);
    expect((await balance(TARGET)) - targetBefore).toBe(contractBefore);

    const status = (await get(`/api/wallet/requests/${name}`, headers)).json<{
      phase: string;
      txHash: string;
    }>();
    expect(status).toMatchObject({ phase: 'Confirmed', txHash: notes[A.txHash] });
    const list = (await get('/api/wallet/requests', headers)).json<{ requests: { name: string }[] }>();
    expect(list.requests.map((r) => r.name)).toContain(name);
    const reasons = (await events(name)).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['AdminWithdrawRequested', 'WalletRequestConfirmed']));

    // The same signed request again: the same object.
    const nonce = await serverNonce();
    const again = await post('/api/wallet/requests', { message, signature }, headers);
    expect(again.statusCode).toBe(409);
    // Deleted and stored again behind the web server's back: the transaction exists, so it is refused.
    await kube.delete(coreTypes.configMap, name, namespace);
    await eventually('old object gone', async () =>
      kube.get(coreTypes.configMap, name, namespace).then(
        () => false,
        () => true,
      ),
    );
    await fundContract(5_000_000n);
    await store(message, signature);
    const replay = await outcome(name);
    expect(replay[A.phase]).toBe('Refused');
    expect(replay[A.reason]).toMatch(/already executed/);
    expect(await serverNonce()).toBe(nonce);
    expect(await balance(chain.deployment.subscriptions)).toBe(5_000_000n);
  }, 120_000);

  it('send moves ETH from the server wallet', async () => {
    const headers = await signIn();
    const before = await chain.publicClient.getBalance({ address: ETH_TARGET });
    const amount = 10n ** 17n;
    const drafted = await post(
      '/api/wallet/requests/draft',
      { action: 'send', token: 'ETH', amount: amount.toString(), to: ETH_TARGET },
      headers,
    );
    const { message } = drafted.json<{ message: string }>();
    const submitted = await post(
      '/api/wallet/requests',
      { message, signature: signMessage(anvilPrivateKey(ADMIN), message) },
      headers,
    );
    expect(submitted.statusCode).toBe(201);
    const notes = await outcome(submitted.json<{ name: string }>().name);
    expect(notes[A.phase]).toBe('Confirmed');
    expect((await chain.publicClient.getBalance({ address: ETH_TARGET })) - before).toBe(amount);
  }, 120_000);

  it('refuses stored requests that are not valid, and sends nothing', async () => {
    const nonce = await serverNonce();
    const contractBefore = await balance(chain.deployment.subscriptions);
    const expectRefused = async (name: string, reason: RegExp) => {
      const notes = await outcome(name);
      expect(notes[A.phase]).toBe('Refused');
      expect(notes[A.reason]).toMatch(reason);
      expect((await events(name)).map((e) => e.reason)).toContain('WalletRequestRefused');
    };
    const sign = (message: string, account = ADMIN) => signMessage(anvilPrivateKey(account), message);

    const byOther = formatWalletRequest(request({}));
    await expectRefused(await store(byOther, sign(byOther, OTHER)), /does not hold the admin credential/);

    const expired = formatWalletRequest(request({ expires: new Date(Date.now() - 1000).toISOString() }));
    await expectRefused(await store(expired, sign(expired)), /expired/);

    // Message changed after signing, stored under the original's name: the name no longer matches.
    const original = formatWalletRequest(request({}));
    const changed = original.replace(`to: ${TARGET}`, `to: ${anvilAccount(OTHER).address}`);
    await expectRefused(
      await store(changed, sign(original), walletRequestName(original)),
      /not named after its message hash/,
    );
    // ...and under its own name: the signature recovers to some other address.
    await expectRefused(await store(changed, sign(original)), /does not hold the admin credential/);

    const otherHost = formatWalletRequest(request({ host: 'elsewhere.test' }));
    await expectRefused(await store(otherHost, sign(otherHost)), /for host elsewhere.test/);

    const tooMuch = formatWalletRequest(
      request({ action: 'send', token: 'ETH', amount: (10n ** 30n).toString() }),
    );
    await expectRefused(await store(tooMuch, sign(tooMuch)), /less than the/);

    expect(await serverNonce()).toBe(nonce);
    expect(await balance(chain.deployment.subscriptions)).toBe(contractBefore);
  }, 120_000);
});

describe('crash after the broadcast, before anything is recorded', () => {
  const startManager = (crashAt = ''): ManagedProcess => {
    child = startFixtureManager(namespace, logDir, crashAt);
    return child;
  };

  it('pays exactly once', async () => {
    manager?.stop();
    await running;
    manager = undefined;
    const contractBalance = await balance(chain.deployment.subscriptions);
    expect(contractBalance).toBeGreaterThan(0n);
    const targetBefore = await balance(TARGET);
    const nonce = await serverNonce();
    const message = formatWalletRequest(request({}));
    const name = await store(message, signMessage(anvilPrivateKey(ADMIN), message));

    expect(await startManager('walletRequestBroadcast').exited).toBe('SIGKILL');
    const crashed =
      (await kube.get<RequestCm>(coreTypes.configMap, name, namespace)).metadata.annotations ?? {};
    expect(crashed[A.phase]).toBe('Pending');
    expect(crashed[A.txHash]).toBeUndefined();
    expect(await serverNonce()).toBe(nonce + 1);

    startManager();
    const notes = await outcome(name, 90_000);
    expect(notes[A.phase]).toBe('Confirmed');
    await child!.stop();
    expect(await serverNonce()).toBe(nonce + 1);
    expect(await balance(chain.deployment.subscriptions)).toBe(0n);
    expect((await balance(TARGET)) - targetBefore).toBe(contractBalance);
  }, 180_000);
});
