// The signup page end to end in a real Chromium: a test wallet (anvil account) buys a VM against
// the real control plane, anvil and the controller manager (instant VM backend), and the page shows
// the connection details decrypted from the NFT; wrong network, rejected signature, insufficient
// balance, a purchase still in progress and an extension; plus the page's HTTP API.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { generatePrivateKey } from 'viem/accounts';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
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
import { publicKeyFromPrivateKey } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import type { WebServer } from '../../../web/server.js';
import { launchBrowser, newContext } from '../../harness/browser/browser.js';
import { Screenshots } from '../../harness/browser/screenshots.js';
import { TestWallet } from '../../harness/browser/test-wallet.js';
import { startTestWebServer } from '../../harness/browser/web-server.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { useLocalChain } from '../../harness/chain/host-config.js';
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

const BUYER = 4;
/** The server wallet is anvil account 0 (useLocalChain). */
const SERVER_PUBLIC_KEY = `0x${publicKeyFromPrivateKey(anvilPrivateKey(0))}`;
const DAY_S = 86_400n;

let kube: KubeClient;
let namespace: string;
let chain: LocalChain;
let manager: Manager;
let running: Promise<unknown>;
let blocks: NodeJS.Timeout | undefined;
let web: WebServer;
let browser: Browser;
let release: () => Promise<void>;
const planName = `signup-${Date.now().toString(36)}`;
let context: BrowserContext | undefined;
let problems: string[] = [];
/** Subscription the purchase test bought, for the extension test. */
let boughtId: bigint | undefined;

const getJson = async (path: string) => {
  const response = await fetch(`${web.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

const rpc = async (body: unknown) => {
  const response = await fetch(`${web.url}/api/signup/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const SUBSCRIBER_HINT = '0x0000000000000000000000000000000000000001';

const onChainSubscription = async (id: bigint) =>
  (await chain.publicClient.readContract({
    address: chain.deployment.subscriptions,
    abi: BlockhostSubscriptionsAbi,
    functionName: 'getSubscription',
    args: [id],
  })) as readonly [bigint, string, bigint, boolean, boolean];

const subscriptionCount = () =>
  chain.publicClient.readContract({
    address: chain.deployment.subscriptions,
    abi: BlockhostSubscriptionsAbi,
    functionName: 'getTotalSubscriptionCount',
  });

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'signup');
  [chain, browser] = await Promise.all([startLocalChain({ plans: [] }), launchBrowser()]);
  await useLocalChain(
    kube,
    namespace,
    chain,
    { confirmations: 1, pollIntervalSeconds: 1 },
    { ipv6: { mode: 'none', allocationSize: 64 } },
  );
  web = await startTestWebServer({ namespace });
  await kube.create(blockhostTypes.plan, {
    apiVersion: API_VERSION,
    kind: 'Plan',
    metadata: { name: planName },
    spec: examplePlan.spec,
  } as Plan);
  const log = createLogger('signup-test');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const backend = new InstantBackend();
  registerControllers(manager, {
    namespace,
    log,
    backendFactories: { [backend.type]: instantBackendFactory(backend) },
  });
  running = manager.start();
  // A live chain makes blocks whether or not anyone transacts; the watcher needs the confirmations.
  blocks = setInterval(() => void chain.anvil.mine(1).catch(() => undefined), 500);
  await eventually(
    'plan on chain',
    async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
    60_000,
  );
  await publishServerKey();
  await eventually('signup config served', async () => (await getJson('/api/signup/config')).status === 200);
}, withHostConfigClaimWait(300_000));

/**
 * Setup's KeysReady step publishes status.serverPublicKey from the server wallet Secret. Where
 * the controller manager has no such step, publish the key of the wallet useLocalChain configured
 * (anvil account 0) as setup would; where it has, check it published that key.
 */
async function publishServerKey(): Promise<void> {
  const published = async () =>
    (await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).status?.serverPublicKey;
  await eventually('server key published', async () => (await published()) !== undefined, 20_000).catch(() =>
    kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { status: { serverPublicKey: SERVER_PUBLIC_KEY } },
      'merge',
      { subresource: 'status' },
    ),
  );
  expect((await published())?.toLowerCase()).toBe(SERVER_PUBLIC_KEY);
}

afterAll(async () => {
  clearInterval(blocks);
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

/** A fresh browser context with the test wallet of `privateKey`, on the signup page. */
async function openSignup(privateKey = anvilPrivateKey(BUYER)): Promise<{ page: Page; wallet: TestWallet }> {
  await context?.close();
  problems = [];
  context = await newContext(browser, web.url);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text()))
      problems.push(message.text());
  });
  const wallet = await TestWallet.install(page, {
    privateKey,
    rpcUrl: chain.anvil.rpcUrl,
    chainId: chain.anvil.chainId,
  });
  await page.goto('/');
  await page.locator('#plan-list li', { hasText: 'Basic VM: $0.50 per day' }).waitFor();
  return { page, wallet };
}

async function connect(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Connect wallet' }).click();
  await page.locator('#account', { hasText: 'Connected: 0x' }).waitFor();
}

describe('signup API', () => {
  it('serves the chain, contracts and server key from the HostConfig, and validates purchase ids', async () => {
    const host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    expect(await getJson('/api/signup/config')).toEqual({
      status: 200,
      body: {
        chainId: chain.anvil.chainId,
        rpcUrls: ['/api/signup/rpc'],
        contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
        serverPublicKey: SERVER_PUBLIC_KEY,
        publicSecret: 'blockhost-access',
        ...(host.spec.signup?.hostname && { hostname: host.spec.signup.hostname }),
      },
    });

    for (const bad of ['abc', '0', '007', '-1', '1.5', '9'.repeat(78)]) {
      const response = await getJson(`/api/signup/purchases/${bad}`);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        error: 'invalid request params: 1 field to fix',
        fields: {
          subscriptionId: 'must be a subscription id: a whole number from 1, without leading zeros',
        },
      });
    }
    expect(await getJson('/api/signup/purchases/999')).toEqual({
      status: 404,
      body: { error: 'subscription 999 has not been seen yet (waiting for confirmations)' },
    });
  });

  it('never publishes the HostConfig RPC URLs (they may carry keys): reads go through the proxy', async () => {
    const keyed = `${chain.anvil.rpcUrl.replace(/\/$/, '')}/?apikey=SECRET-KEY-123`;
    await kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      {
        spec: { chain: { rpcEndpoints: [keyed] } },
      },
      'merge',
    );
    try {
      // The web server re-reads the HostConfig every 2 s.
      await eventually('keyed endpoint in use', async () => {
        const answer = await rpc({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] });
        return answer.status === 200;
      });
      const config = await fetch(`${web.url}/api/signup/config`);
      const page = await fetch(`${web.url}/`);
      const published = `${await config.text()}${await page.text()}${page.headers.get('content-security-policy')}`;
      expect(published).not.toContain('SECRET-KEY');
      expect(published).not.toContain(new URL(chain.anvil.rpcUrl).host);
      expect(page.headers.get('content-security-policy')).toContain("connect-src 'self';");
      const answer = await rpc({ jsonrpc: '2.0', id: 'a', method: 'eth_chainId', params: [] });
      expect(answer.body).toEqual({
        jsonrpc: '2.0',
        id: 'a',
        result: `0x${chain.anvil.chainId.toString(16)}`,
      });
    } finally {
      await kube.patch(
        blockhostTypes.hostConfig,
        HOST_CONFIG_NAME,
        undefined,
        {
          spec: { chain: { rpcEndpoints: [chain.anvil.rpcUrl] } },
        },
        'merge',
      );
    }
  });

  it('proxies reads only: sends, signing, batches and unknown methods are refused with 400', async () => {
    const raw = '0x02f8' + '00'.repeat(40);
    for (const body of [
      { jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: [raw] },
      { jsonrpc: '2.0', id: 1, method: 'eth_sendTransaction', params: [{}] },
      { jsonrpc: '2.0', id: 1, method: 'eth_accounts', params: [] },
      { jsonrpc: '2.0', id: 1, method: 'eth_getLogs', params: [{ fromBlock: '0x0' }] },
      { jsonrpc: '2.0', id: 1, method: 'anvil_setBalance', params: [SUBSCRIBER_HINT, '0x1'] },
      [{ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }],
      { id: 1, method: 'eth_chainId' },
    ]) {
      const answer = await rpc(body);
      expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      expect(answer.body).toMatchObject({ error: expect.stringMatching(/invalid request body|batch/) });
    }
  });

  it('passes a revert back as a JSON-RPC error, so the page can explain it', async () => {
    const answer = await rpc({
      jsonrpc: '2.0',
      id: 7,
      method: 'eth_call',
      // No such function and no fallback: the contract reverts.
      params: [{ to: chain.deployment.subscriptions, data: '0xdeadbeef' }, 'latest'],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: expect.any(Number) } });
  });
});

describe('signup page', () => {
  it('buys a VM with the wallet and shows the connection details decrypted from the NFT', async () => {
    const shots = new Screenshots('signup-purchase');
    const { page, wallet } = await openSignup();
    await shots.capture(page, 'plans');
    await connect(page);
    await page.locator('#buy-total', { hasText: 'Total: 15 USDC for 30 days.' }).waitFor();
    await shots.capture(page, 'connected');
    await page.getByLabel('Days', { exact: true }).fill('7');
    await page.locator('#buy-total', { hasText: 'Total: 3.5 USDC for 7 days.' }).waitFor();

    const countBefore = await subscriptionCount();
    await page.getByRole('button', { name: 'Buy' }).click();
    await page.locator('#progress').waitFor({ state: 'visible', timeout: 60_000 });
    await shots.capture(page, 'purchase-progress');
    await page.locator('#details').waitFor({ state: 'visible', timeout: 120_000 });
    await shots.capture(page, 'connection-details');

    expect(await subscriptionCount()).toBe(countBefore + 1n);
    boughtId = countBefore + 1n;
    const name = subscriptionResourceName(boughtId);
    const vm = await kube.get<VM>(blockhostTypes.vm, name, namespace);
    const subscription = await kube.get<Subscription>(blockhostTypes.subscription, name, namespace);
    expect(subscription.status?.phase).toBe('Active');
    expect(subscription.spec.subscriber).toBe(wallet.address);
    expect(await page.locator('#detail-hostname').textContent()).toBe(vm.spec.network?.ipv4);
    expect(await page.locator('#detail-port').textContent()).toBe('22');
    expect(await page.locator('#detail-username').textContent()).toBe('admin');
    expect(await page.locator('#ssh-command').textContent()).toBe(`ssh admin@${vm.spec.network?.ipv4}`);
    // How the wallet login goes: the prompt, the link to this site's signing page, Enter or paste.
    const prompt = await page.locator('#login-prompt').textContent();
    expect(prompt).toMatch(/^=== Web3 Authentication ===\nCode: .*\nMachine: .*\nSign at: (.*)\n/);
    expect(prompt).toContain(`Sign at: ${web.url}/sign?machine=`);
    const steps = await page.locator('#login-steps').textContent();
    expect(steps).toMatch(/same wallet and sign\. Then press Enter/);
    expect(steps).toContain('paste the');
    await expect(page.locator('#details').textContent()).resolves.toContain(
      'No SSH key or password is needed',
    );
    // One signature to buy, a fresh one to decrypt.
    expect(wallet.count('personal_sign')).toBe(2);
    const [, , expiresAt] = await onChainSubscription(boughtId);
    const block = await chain.publicClient.getBlock();
    expect(expiresAt - block.timestamp).toBeLessThanOrEqual(7n * DAY_S);
    expect(await getJson(`/api/signup/purchases/${boughtId}`)).toEqual({
      status: 200,
      body: {
        subscriptionId: boughtId.toString(),
        phase: 'Active',
        tokenId: subscription.status?.nft?.tokenId,
        expiresAt: subscription.spec.expiresAt,
        message: subscription.status?.message,
      },
    });

    await page.getByRole('button', { name: 'Copy SSH command' }).click();
    await page.locator('#copy-status', { hasText: /Copied|Selected/ }).waitFor();
    expect(problems).toEqual([]);
  }, 240_000);

  it('extends a subscription and shows the new on-chain expiry; details can be shown again', async () => {
    if (boughtId === undefined) throw new Error('the purchase test did not buy anything');
    const shots = new Screenshots('signup-extend');
    const { page, wallet } = await openSignup();
    await connect(page);
    const row = page.locator(`tr[data-subscription="${boughtId}"]`);
    await row.waitFor();
    await shots.capture(page, 'subscriptions');

    await row.getByRole('button', { name: 'Connection details' }).click();
    await page.locator('#details').waitFor({ state: 'visible' });
    expect(wallet.count('personal_sign')).toBe(1);

    const [, , before] = await onChainSubscription(boughtId);
    await row.getByRole('button', { name: 'Extend' }).click();
    expect(await page.getByLabel('Subscription number').inputValue()).toBe(boughtId.toString());
    await page.getByLabel('Days to add').fill('10');
    await page.getByRole('button', { name: 'Extend', exact: true }).last().click();
    await page.locator('#extend-notice.ok', { hasText: `Subscription #${boughtId} now runs until` }).waitFor({
      timeout: 60_000,
    });
    const [, , after] = await onChainSubscription(boughtId);
    expect(after).toBe(before + 10n * DAY_S);
    await shots.capture(page, 'extended');
    await eventually(
      'Subscription follows the extension',
      async () =>
        Date.parse(
          (
            await kube.get<Subscription>(
              blockhostTypes.subscription,
              subscriptionResourceName(boughtId!),
              namespace,
            )
          ).spec.expiresAt,
        ) ===
        Number(after) * 1000,
    );

    // Bad input changes nothing: an unknown subscription is a field error, nothing is sent.
    const sent = wallet.count('eth_sendTransaction');
    await page.getByLabel('Subscription number').fill('999');
    await page.getByRole('button', { name: 'Extend', exact: true }).last().click();
    await page
      .locator('#extend-id-error', { hasText: 'There is no subscription #999 on this host.' })
      .waitFor();
    await page.getByLabel('Subscription number').fill('abc');
    await page.getByRole('button', { name: 'Extend', exact: true }).last().click();
    await page.locator('#extend-id-error', { hasText: 'Enter the subscription number' }).waitFor();
    await shots.capture(page, 'extend-invalid');
    expect(wallet.count('eth_sendTransaction')).toBe(sent);
    expect(problems).toEqual([]);
  }, 120_000);

  it('says when the wallet is on the wrong network, and switches it', async () => {
    const shots = new Screenshots('signup-wrong-network');
    const { page, wallet } = await openSignup();
    await wallet.reportChainId(1);
    await connect(page);
    const notice = page.locator('#network-notice');
    await notice
      .filter({
        hasText: `Your wallet is on network 1, but this host sells on network ${chain.anvil.chainId}.`,
      })
      .waitFor();
    expect(await page.locator('#buy').isHidden()).toBe(true);
    await shots.capture(page, 'wrong-network');

    await page.getByRole('button', { name: 'Switch network' }).click();
    await page.locator('#buy').waitFor({ state: 'visible' });
    expect(await notice.isHidden()).toBe(true);
    expect(wallet.count('wallet_switchEthereumChain')).toBe(1);
    await shots.capture(page, 'switched');
    expect(problems).toEqual([]);
  });

  it('buys nothing when the signature is rejected', async () => {
    const shots = new Screenshots('signup-rejected-signature');
    const { page, wallet } = await openSignup();
    await connect(page);
    const countBefore = await subscriptionCount();
    wallet.rejectNextSignature();
    await page.getByRole('button', { name: 'Buy' }).click();
    await page
      .locator('#buy-notice.error', { hasText: 'You rejected the signature request, so nothing was bought.' })
      .waitFor();
    await shots.capture(page, 'rejected');
    expect(await subscriptionCount()).toBe(countBefore);
    expect(wallet.count('eth_sendTransaction')).toBe(0);
    expect(problems).toEqual([]);
  });

  it('says the balance is insufficient before asking for anything', async () => {
    const shots = new Screenshots('signup-insufficient-balance');
    // A wallet with ETH for gas but no stablecoin.
    const privateKey = generatePrivateKey();
    const { page, wallet } = await openSignup(privateKey);
    await chain.anvil.rpc('anvil_setBalance', [wallet.address, '0x56BC75E2D63100000']);
    await connect(page);
    await page.getByRole('button', { name: 'Buy' }).click();
    await page
      .locator('#buy-notice.error', {
        hasText: 'Insufficient balance: this costs 15 USDC, and your wallet holds 0 USDC.',
      })
      .waitFor();
    await shots.capture(page, 'insufficient-balance');
    expect(wallet.count('personal_sign')).toBe(0);
    expect(wallet.count('eth_sendTransaction')).toBe(0);
    expect(problems).toEqual([]);
  });

  it('says a purchase is still in progress when the visitor comes back before it is seen', async () => {
    const shots = new Screenshots('signup-in-progress');
    const { page } = await openSignup();
    // A purchase paid on chain that the host has not seen yet (as during the confirmations).
    await page.evaluate(() => localStorage.setItem('blockhost.pendingPurchase', '999'));
    await page.reload();
    await page
      .locator('#notice', { hasText: 'A purchase is still in progress (subscription #999).' })
      .waitFor();
    await page
      .locator('#progress-notice', { hasText: 'Waiting for the host to see your purchase on the chain' })
      .waitFor();
    await shots.capture(page, 'in-progress');
    expect(problems.filter((p) => !p.includes('404'))).toEqual([]);
  });

  it('checks the form before using the wallet', async () => {
    const shots = new Screenshots('signup-invalid-days');
    const { page, wallet } = await openSignup();
    await connect(page);
    await page.getByLabel('Days', { exact: true }).fill('0');
    await page.getByRole('button', { name: 'Buy' }).click();
    await page.locator('#buy-days-error', { hasText: 'Choose between 1 and 3650 days.' }).waitFor();
    expect(await page.getByLabel('Days', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await shots.capture(page, 'invalid-days');
    expect(wallet.count('personal_sign')).toBe(0);
  });
});
