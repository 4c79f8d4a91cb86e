// The original BlockHost's customer and admin extras, end to end in a real Chromium against the real
// control plane, anvil and the controller manager (instant VM backend): the signup page lists the
// NFTs a wallet holds now (a token received by transfer appears, the buyer's page drops it), decrypts
// an NFT's connection details with a pasted signature and no wallet (the signature is in no request),
// and the dashboard changes the host's public name (validated, CSRF-guarded, audited), which the
// signup URL, the login message and the signup page follow.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { registerControllers } from '../../../controllers/setup.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  subscriptionResourceName,
  type HostConfig,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { encryptUserSignature, signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { HOSTNAME_RULE } from '../../../web/admin/hostname.js';
import { CSRF_HEADER } from '../../../web/http/sessions.js';
import type { WebServer } from '../../../web/server.js';
import { collectProblems, launchBrowser, newContext } from '../../harness/browser/browser.js';
import { Screenshots } from '../../harness/browser/screenshots.js';
import { TestWallet } from '../../harness/browser/test-wallet.js';
import { startTestWebServer } from '../../harness/browser/web-server.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { adminCredentialMinted, LOCAL_HOSTNAME, useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';

/** exampleHostConfig's admin wallet is anvil account 1; A buys, then gives the NFT to B. */
const ADMIN = 1;
const A = 4;
const B = 5;
const PUBLIC_SECRET = 'blockhost-access';
const NEW_HOSTNAME = 'shop.example.net';
const planName = `extras-${Date.now().toString(36)}`;

interface EventObject extends KubeObject {
  reason: string;
  note: string;
  regarding: { name: string; kind: string; uid?: string };
}

let kube: KubeClient;
let namespace: string;
let chain: LocalChain;
let manager: Manager;
let running: Promise<unknown>;
let web: WebServer;
let browser: Browser;
let release: () => Promise<void>;
let context: BrowserContext | undefined;
let problems: string[] = [];
/** What A bought: the subscription, its NFT and the VM address the NFT decrypts to. */
let subscriptionId: bigint;
let tokenId: bigint;
let vmAddress: string;
/** A's signature of the public secret: what opens the NFT's connection details. */
const signatureA = signMessage(anvilPrivateKey(A), PUBLIC_SECRET);

const getJson = async (path: string) => {
  const response = await fetch(`${web.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

const readHost = () => kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'extras');
  // The plan comes from a Plan object, as on a real host: the subscription controller sizes VMs by it.
  [chain, browser] = await Promise.all([startLocalChain({ plans: [] }), launchBrowser()]);
  await useLocalChain(
    kube,
    namespace,
    chain,
    { confirmations: 1, pollIntervalSeconds: 1 },
    { ipv6: { mode: 'none', allocationSize: 64 } },
  );
  const log = createLogger('extras-test');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const backend = new InstantBackend();
  registerControllers(manager, {
    namespace,
    log,
    backendFactories: { [backend.type]: instantBackendFactory(backend) },
  });
  running = manager.start();
  await kube.create(blockhostTypes.plan, {
    apiVersion: API_VERSION,
    kind: 'Plan',
    metadata: { name: planName },
    spec: examplePlan.spec,
  } as Plan);
  await eventually(
    'plan on chain',
    async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
    60_000,
  );
  web = await startTestWebServer({ namespace, loginRateLimit: { max: 100, timeWindowMs: 60_000 } });
  await adminCredentialMinted(kube, 120_000);
  await eventually(
    'server key published',
    async () => (await readHost()).status?.serverPublicKey !== undefined,
    60_000,
  );

  // A buys as the signup page would: its signature of the public secret, encrypted to the server key.
  const serverPublicKey = (await readHost()).status!.serverPublicKey!;
  const bought = await chain.buy(A, {
    planId: 1n,
    days: 30n,
    userEncrypted: encryptUserSignature(serverPublicKey, signatureA) as `0x${string}`,
  });
  subscriptionId = bought.subscriptionId;
  const name = subscriptionResourceName(subscriptionId);
  let last: Subscription['status'];
  await eventually(
    'subscription Active with its NFT recorded by the chain watcher',
    async () => {
      const subscription = await kube
        .get<Subscription>(blockhostTypes.subscription, name, namespace)
        .catch(() => undefined);
      last = subscription?.status;
      return subscription?.status?.phase === 'Active' && subscription.spec.credential?.tokenId !== undefined;
    },
    120_000,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last status ${JSON.stringify(last)}`);
  });
  const subscription = await kube.get<Subscription>(blockhostTypes.subscription, name, namespace);
  tokenId = BigInt(subscription.spec.credential!.tokenId);
  vmAddress = (await kube.get<VM>(blockhostTypes.vm, name, namespace)).spec.network!.ipv4!;
  await eventually('signup config served', async () => (await getJson('/api/signup/config')).status === 200);
}, withHostConfigClaimWait(300_000));

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await web?.close();
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
  manager?.stop();
  await running;
  await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
  await chain?.stop();
  await release?.();
}, 120_000);

/** A fresh browser context on `path`, with the test wallet of anvil `account` unless it is undefined. */
async function open(path: string, account: number | undefined): Promise<{ page: Page; wallet?: TestWallet }> {
  await context?.close();
  problems = [];
  context = await newContext(browser, web.url);
  const page = await context.newPage();
  collectProblems(page, problems);
  const wallet =
    account === undefined
      ? undefined
      : await TestWallet.install(page, {
          privateKey: anvilPrivateKey(account),
          rpcUrl: chain.anvil.rpcUrl,
          chainId: chain.anvil.chainId,
        });
  await page.goto(path);
  return { page, ...(wallet && { wallet }) };
}

async function connect(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Connect wallet' }).click();
  await page.locator('#account', { hasText: 'Connected: 0x' }).waitFor();
}

const holderOf = (id: bigint) => chain.readNft<string>('ownerOf', [id]);

describe('signup page: subscriptions by NFT held', () => {
  it('links an NFT to its subscription over the API, and validates token ids', async () => {
    expect(await getJson(`/api/signup/credentials/${tokenId}`)).toEqual({
      status: 200,
      body: { tokenId: tokenId.toString(), subscriptionId: subscriptionId.toString() },
    });
    // The admin credential (token 0) belongs to no subscription.
    const admin = await getJson('/api/signup/credentials/0');
    expect(admin.status).toBe(404);
    expect(admin.body.error).toMatch(/^NFT #0 belongs to no subscription this host has seen/);
    for (const bad of ['abc', '01', '-1', '1.5', '9'.repeat(78)]) {
      const response = await getJson(`/api/signup/credentials/${bad}`);
      expect({ bad, status: response.status, fields: response.body.fields }).toEqual({
        bad,
        status: 400,
        fields: { tokenId: 'must be an NFT token id: a whole number from 0, without leading zeros' },
      });
    }
  });

  it("lists the buyer's NFT; after a transfer the new holder's page lists it and the buyer's does not", async () => {
    const shots = new Screenshots('extras-holdings');
    const buyer = await open('/', A);
    await connect(buyer.page);
    const row = buyer.page.locator(`tr[data-subscription="${subscriptionId}"][data-token="${tokenId}"]`);
    await row.waitFor();
    await shots.capture(buyer.page, 'buyer-holds');
    await row.getByRole('button', { name: 'Connection details' }).click();
    await buyer.page.locator('#details').waitFor({ state: 'visible' });
    expect(await buyer.page.locator('#detail-hostname').textContent()).toBe(vmAddress);
    expect(problems).toEqual([]);

    const hash = await chain.wallet(A).writeContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'transferFrom',
      args: [anvilAccount(A).address, anvilAccount(B).address, tokenId],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    expect(await holderOf(tokenId)).toBe(anvilAccount(B).address);

    // The receiver: page load to the list shown (connecting included), the number the brief asks for.
    const started = performance.now();
    const receiver = await open('/', B);
    await connect(receiver.page);
    const received = receiver.page.locator(
      `tr[data-subscription="${subscriptionId}"][data-token="${tokenId}"]`,
    );
    await received.waitFor();
    const listedMs = performance.now() - started;
    console.log(
      `extras: page load → received NFT listed in ${listedMs.toFixed(0)} ms (anvil, connect included)`,
    );
    await expect(received.textContent()).resolves.toContain(`Received from ${anvilAccount(A).address}`);
    await shots.capture(receiver.page, 'receiver-holds');
    // B's signature cannot open details encrypted to A's: the row offers the pasted-signature path.
    expect(await received.getByRole('button', { name: 'Connection details' }).count()).toBe(0);
    await received.getByRole('button', { name: "Decrypt with the buyer's signature" }).click();
    expect(await receiver.page.locator('#offline-token').inputValue()).toBe(tokenId.toString());
    // The buyer handed its signature over with the NFT: it opens the details on the receiver's page.
    await receiver.page.getByLabel('Signature (0x and 130 hex digits)').fill(signatureA);
    await receiver.page.getByRole('button', { name: 'Decrypt', exact: true }).click();
    await receiver.page.locator('#details').waitFor({ state: 'visible' });
    expect(await receiver.page.locator('#detail-hostname').textContent()).toBe(vmAddress);
    await shots.capture(receiver.page, 'receiver-decrypted');
    expect(receiver.wallet!.count('personal_sign')).toBe(0);
    expect(problems).toEqual([]);

    const gone = await open('/', A);
    await connect(gone.page);
    await gone.page
      .locator('#mine-list', { hasText: 'This wallet holds no subscriptions of this host.' })
      .waitFor();
    expect(await gone.page.locator(`tr[data-token="${tokenId}"]`).count()).toBe(0);
    await shots.capture(gone.page, 'buyer-gave-it-away');
    expect(problems).toEqual([]);
  }, 120_000);

  it("checks the server's token → subscription answer on chain: a wrong link shows no subscription", async () => {
    // The admin holds token 0, which has no subscription; a lying server claims it is A's.
    const { page } = await open('/', ADMIN);
    await page.route('**/api/signup/credentials/0', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ tokenId: '0', subscriptionId: subscriptionId.toString() }),
      }),
    );
    await connect(page);
    const row = page.locator('tr[data-token="0"]');
    await row.waitFor();
    expect(await row.getAttribute('data-subscription')).toBeNull();
    await expect(row.textContent()).resolves.toContain('Access credential without a subscription');
    await new Screenshots('extras-forged-link').capture(page, 'admin-credential');
    expect(await page.locator(`tr[data-subscription="${subscriptionId}"]`).count()).toBe(0);
    expect(problems).toEqual([]);
  });
});

describe('signup page: offline decrypt with a pasted signature', () => {
  /** Every request the page makes, with its body: the signature must be in none of them. */
  function recordRequests(page: Page): Request[] {
    const requests: Request[] = [];
    page.on('request', (request) => requests.push(request));
    return requests;
  }
  const carries = (requests: Request[], text: string) =>
    requests.filter((r) =>
      `${r.url()} ${JSON.stringify(r.headers())} ${r.postData() ?? ''}`
        .toLowerCase()
        .includes(text.toLowerCase()),
    );

  it('decrypts in the browser with no wallet; no request carries the signature', async () => {
    const shots = new Screenshots('extras-offline-decrypt');
    const { page } = await open('/', undefined);
    const requests = recordRequests(page);
    await page.locator('#offline').waitFor({ state: 'visible' });
    expect(await page.locator('#offline-message').textContent()).toBe(PUBLIC_SECRET);
    expect(await page.locator('#offline-cast').textContent()).toBe(
      `cast wallet sign --interactive '${PUBLIC_SECRET}'`,
    );
    await shots.capture(page, 'form');
    await page.getByLabel('NFT number').fill(tokenId.toString());
    // Pasted from a terminal: no 0x, wrapped over two lines.
    const bare = signatureA.slice(2);
    await page
      .getByLabel('Signature (0x and 130 hex digits)')
      .fill(`${bare.slice(0, 70)}\n${bare.slice(70)}`);
    await page.getByRole('button', { name: 'Decrypt', exact: true }).click();
    await page.locator('#details').waitFor({ state: 'visible' });
    expect(await page.locator('#detail-hostname').textContent()).toBe(vmAddress);
    expect(await page.locator('#ssh-command').textContent()).toBe(`ssh admin@${vmAddress}`);
    await expect(page.locator('#offline-notice.ok').textContent()).resolves.toContain(
      `NFT #${tokenId} decrypted in this browser; the signature was sent nowhere.`,
    );
    await shots.capture(page, 'decrypted');
    // The page read the NFT through the RPC proxy, and sent the signature nowhere (nor its key).
    expect(requests.some((r) => r.url().endsWith('/api/signup/rpc'))).toBe(true);
    expect(carries(requests, bare)).toEqual([]);
    expect(carries(requests, bare.slice(0, 32))).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('shows nothing for a signature of another wallet, and names what is wrong with malformed input', async () => {
    const shots = new Screenshots('extras-offline-refused');
    const { page } = await open('/', undefined);
    const requests = recordRequests(page);
    await page.locator('#offline').waitFor({ state: 'visible' });
    const form = async (token: string, signature: string) => {
      await page.getByLabel('NFT number').fill(token);
      await page.getByLabel('Signature (0x and 130 hex digits)').fill(signature);
      await page.getByRole('button', { name: 'Decrypt', exact: true }).click();
    };

    // First a good one, so there is something on screen that a refusal must take away.
    await form(tokenId.toString(), signatureA);
    await page.locator('#details').waitFor({ state: 'visible' });

    const signatureB = signMessage(anvilPrivateKey(B), PUBLIC_SECRET);
    await form(tokenId.toString(), signatureB);
    await page
      .locator('#offline-notice.error', {
        hasText: `This signature does not open NFT #${tokenId}, so nothing is shown.`,
      })
      .waitFor();
    expect(await page.locator('#details').isHidden()).toBe(true);
    expect(await page.locator('#detail-hostname').textContent()).toBe('');
    await shots.capture(page, 'wrong-wallet');

    // A's signature of another message does not open it either.
    await form(tokenId.toString(), signMessage(anvilPrivateKey(A), 'something else'));
    await page.locator('#offline-notice.error', { hasText: 'does not open' }).waitFor();
    expect(await page.locator('#details').isHidden()).toBe(true);

    const rpcBefore = requests.filter((r) => r.url().endsWith('/api/signup/rpc')).length;
    await form('abc', '0x1234');
    await page.locator('#offline-token-error', { hasText: 'Enter the NFT number, e.g. 4.' }).waitFor();
    await page.locator('#offline-signature-error', { hasText: 'this has 4 digits' }).waitFor();
    await shots.capture(page, 'malformed');
    // Nothing was read for a form that does not parse.
    expect(requests.filter((r) => r.url().endsWith('/api/signup/rpc')).length).toBe(rpcBefore);

    await form('999', signatureA);
    await page.locator('#offline-token-error', { hasText: 'There is no NFT #999 on this host.' }).waitFor();
    expect(await page.locator('#details').isHidden()).toBe(true);
    for (const signature of [signatureA, signatureB])
      expect(carries(requests, signature.slice(2))).toEqual([]);
    expect(problems).toEqual([]);
  });
});

describe('dashboard: the host name', () => {
  interface Signed {
    headers: Record<string, string>;
  }
  /** An admin session over HTTP, as the login page makes it. */
  async function signInHttp(): Promise<Signed> {
    const post = (path: string, body: unknown) =>
      fetch(`${web.url}/admin${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const challenge = (await (await post('/api/challenge', {})).json()) as { code: string; message: string };
    const login = await post('/api/login', {
      code: challenge.code,
      signature: signMessage(anvilPrivateKey(ADMIN), challenge.message),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('bh_admin='))!
      .split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    return { headers: { cookie, [CSRF_HEADER]: csrfToken } };
  }
  const change = (body: unknown, headers: Record<string, string>) =>
    fetch(`${web.url}/admin/api/system/hostname`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  /** This file's HostConfig's (Events outlive it: an earlier run's are on another uid). */
  const hostnameEvents = async () => {
    const { uid } = (await readHost()).metadata;
    return (await kube.list<EventObject>(coreTypes.event, { namespace: 'default' })).items.filter(
      (e) => e.regarding.uid === uid && e.reason === 'AdminHostnameChanged',
    );
  };

  it('refuses a change without a session, without the CSRF token, on a stale generation or with a bad name', async () => {
    const { generation } = (await readHost()).metadata;
    const { headers } = await signInHttp();
    const body = { hostname: 'evil.example', generation };
    expect((await change(body, {})).status).toBe(401);
    expect((await change(body, { cookie: headers.cookie! })).status).toBe(403);
    expect((await change({ ...body, generation: generation! + 1 }, headers)).status).toBe(409);
    for (const [hostname, message] of [
      ['bad_name.example', HOSTNAME_RULE],
      ['-lead.example', HOSTNAME_RULE],
      [`${'x'.repeat(64)}.example`, HOSTNAME_RULE],
      ['vms.example.com.', 'leave out the final dot'],
      ['  ', 'enter the host name, e.g. vms.example.com'],
    ] as const) {
      const response = await change({ hostname, generation }, headers);
      expect({ hostname, status: response.status, body: await response.json() }).toEqual({
        hostname,
        status: 400,
        body: { error: 'invalid request body: 1 field to fix', fields: { hostname: message } },
      });
    }
    const extra = await change({ ...body, url: 'https://evil.example/' }, headers);
    expect(extra.status).toBe(400);
    // Nothing changed, nothing was recorded.
    expect((await readHost()).spec.signup?.hostname).toBe(LOCAL_HOSTNAME);
    expect(await hostnameEvents()).toEqual([]);
  });

  it('changes it from the System page; the signup URL, the login message and the signup page follow', async () => {
    const shots = new Screenshots('extras-hostname');
    const { page } = await open('/admin', ADMIN);
    await page.waitForURL(/\/admin\/login$/);
    await page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
    await page.locator('body[data-loaded="overview"]').waitFor();
    await page
      .getByRole('navigation', { name: 'Dashboard' })
      .getByRole('link', { name: 'System', exact: true })
      .click();
    await page.locator('body[data-loaded="system"]').waitFor();
    expect(await page.getByLabel('Host name').inputValue()).toBe(LOCAL_HOSTNAME);
    await expect(page.locator('#name-details').textContent()).resolves.toContain(
      `https://${LOCAL_HOSTNAME}/`,
    );
    await shots.capture(page, 'system');

    await page.getByLabel('Host name').fill('not_a host');
    await page.getByRole('button', { name: 'Change host name' }).click();
    await page.locator('#hostname-error', { hasText: 'must be a host name (RFC 1123)' }).waitFor();
    await shots.capture(page, 'invalid');
    expect((await readHost()).spec.signup?.hostname).toBe(LOCAL_HOSTNAME);

    await page.getByLabel('Host name').fill(` ${NEW_HOSTNAME.toUpperCase()} `);
    await page.getByRole('button', { name: 'Change host name' }).click();
    await page
      .locator('#hostname-notice.ok', { hasText: `the signup page is at https://${NEW_HOSTNAME}/` })
      .waitFor({ timeout: 40_000 });
    await shots.capture(page, 'changed');
    const host = await readHost();
    expect(host.spec.signup?.hostname).toBe(NEW_HOSTNAME);
    expect(host.status?.signupUrl).toBe(`https://${NEW_HOSTNAME}/`);
    const events = await hostnameEvents();
    expect(events).toHaveLength(1);
    expect(events[0]!.note).toBe(
      `public host name changed from ${LOCAL_HOSTNAME} to ${NEW_HOSTNAME} (admin ${anvilAccount(ADMIN).address})`,
    );

    // The login message names the new machine; the signup page greets with it.
    const challenge = await fetch(`${web.url}/admin/api/challenge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(((await challenge.json()) as { message: string }).message).toMatch(
      new RegExp(`^Authenticate to ${NEW_HOSTNAME.replaceAll('.', '\\.')} with code: [A-Z2-9]{6}$`),
    );
    await eventually(
      'signup config names the new host',
      async () => (await getJson('/api/signup/config')).body.hostname === NEW_HOSTNAME,
    );
    const signup = await open('/', undefined);
    await signup.page.locator('#host-line', { hasText: `VMs on ${NEW_HOSTNAME}` }).waitFor();

    // The same name again changes nothing and records nothing.
    const { headers } = await signInHttp();
    const again = await change({ hostname: NEW_HOSTNAME, generation: host.metadata.generation }, headers);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { changed: boolean }).changed).toBe(false);
    expect(await hostnameEvents()).toHaveLength(1);
    expect(problems).toEqual([]);
  }, 120_000);
});
