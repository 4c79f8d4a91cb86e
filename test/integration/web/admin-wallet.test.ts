// The wallet page's withdraw in a real Chromium: real control plane, anvil with a real purchase (the
// payment sits in the subscriptions contract), the controller manager in-process (setup mints the
// admin NFT; the wallet-request controller executes), the web server and the injected test wallet,
// which signs the request. The page follows the request object until it is confirmed on-chain.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext } from 'playwright-core';
import { erc20Abi } from 'viem';
import { registerControllers } from '../../../controllers/setup.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import type { WebServer } from '../../../web/server.js';
import { launchBrowser, newContext } from '../../harness/browser/browser.js';
import { Screenshots } from '../../harness/browser/screenshots.js';
import { TestWallet } from '../../harness/browser/test-wallet.js';
import { startTestWebServer } from '../../harness/browser/web-server.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { adminCredentialMinted, useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';

const ADMIN = 1;
const BUYER = 4;

let kube: KubeClient;
let namespace: string;
let chain: LocalChain;
let manager: Manager;
let running: Promise<unknown>;
let web: WebServer;
let browser: Browser;
let context: BrowserContext | undefined;
let release: () => Promise<void>;

const usdcOf = (owner: `0x${string}`) =>
  chain.publicClient.readContract({
    address: chain.deployment.stablecoin,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [owner],
  });

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'admin-wallet');
  [chain, browser] = await Promise.all([startLocalChain(), launchBrowser()]);
  await useLocalChain(
    kube,
    namespace,
    chain,
    { confirmations: 1 },
    { ipv6: { mode: 'none', allocationSize: 64 } },
  );
  const log = createLogger('admin-wallet-test');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const backend = new InstantBackend();
  registerControllers(manager, {
    namespace,
    log,
    backendFactories: { [backend.type]: instantBackendFactory(backend) },
  });
  running = manager.start();
  web = await startTestWebServer({ namespace, loginRateLimit: { max: 100, timeWindowMs: 60_000 } });
  await adminCredentialMinted(kube, 120_000);
  await chain.buy(BUYER, { days: 10n });
}, withHostConfigClaimWait(300_000));

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close();
  await web?.close();
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
  manager?.stop();
  await running;
  await chain?.stop();
  await release?.();
}, 120_000);

describe('admin wallet page', () => {
  it('withdraws the collected stablecoin to the admin wallet with a wallet signature', async () => {
    const shots = new Screenshots('admin-wallet');
    const problems: string[] = [];
    context = await newContext(browser, web.url);
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    await TestWallet.install(page, {
      privateKey: anvilPrivateKey(ADMIN),
      rpcUrl: chain.anvil.rpcUrl,
      chainId: chain.anvil.chainId,
    });
    await page.goto('/admin/login');
    await page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
    await page.waitForURL(/\/admin\/?$/);
    await page.goto('/admin/wallet');
    await page.locator('body[data-loaded="wallet"]').waitFor();

    const collected = await usdcOf(chain.deployment.subscriptions);
    expect(collected).toBeGreaterThan(0n);
    const admin = anvilAccount(ADMIN).address;
    const adminBefore = await usdcOf(admin);
    // Defaults: withdraw the stablecoin to the signed-in admin wallet.
    await expect(page.getByLabel('To', { exact: true }).inputValue()).resolves.toBe(admin);
    await page.getByRole('button', { name: 'Review' }).click();
    await page.locator('#wr-message', { hasText: 'action: withdraw' }).waitFor();
    await shots.capture(page, 'review');
    await page.getByRole('button', { name: 'Sign and submit' }).click();
    await page.locator('#wr-notice[data-phase="Confirmed"]').waitFor({ timeout: 60_000 });
    await expect(page.locator('#wr-notice').textContent()).resolves.toMatch(/confirmed on-chain/);
    await page.locator('#wallet-requests table', { hasText: 'Confirmed' }).waitFor();
    // The balances are read again: the contract's stablecoin column is 0 now.
    await page
      .locator('#balances tr', { hasText: 'Subscriptions contract' })
      .locator('td')
      .nth(3)
      .filter({ hasText: /^0$/ })
      .waitFor();
    await shots.capture(page, 'confirmed');

    expect(await usdcOf(chain.deployment.subscriptions)).toBe(0n);
    expect((await usdcOf(admin)) - adminBefore).toBe(collected);
    expect(problems).toEqual([]);
  }, 120_000);
});
