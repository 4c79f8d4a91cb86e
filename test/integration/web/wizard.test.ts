// The setup wizard end to end in a real Chromium: login with the code from the Secret, the admin
// signature from an injected wallet, every step (a validation error shown next to its field, then
// fixed; going back keeps values), the summary with an encrypted export, apply, and live progress
// from the real HostConfig pipeline (controller manager in-process, anvil, Proxmox fake) until the
// host is Ready — after which the wizard answers 410. Screenshots of every page at two sizes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { deployToken, startTestChain, type TestChain } from '../../../contracts/testing.js';
import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig } from '../../../lib/api/v1alpha1/index.js';
import { openBackup } from '../../../lib/config-backup/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { WebServer } from '../../../web/server.js';
import { launchBrowser, newContext } from '../../harness/browser/browser.js';
import { Screenshots } from '../../harness/browser/screenshots.js';
import { TestWallet } from '../../harness/browser/test-wallet.js';
import { startTestWebServer } from '../../harness/browser/web-server.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { startControllers } from '../hostconfig/support.js';
import { issueCode, SIGNUP_HOSTNAME, TEMPLATE_VMID } from './wizard-fixtures.js';

const CODE = 'H4RDW4';
const ADMIN = 1;
/** Imported as the server wallet: funded on anvil, so the pipeline can deploy at once. */
const SERVER = 0;

let kube: KubeClient;
let namespace: string;
let release: () => Promise<void>;
let chain: TestChain;
let stablecoin: string;
let proxmox: FakeProxmox;
let browser: Browser;
let web: WebServer;
let stopControllers: (() => Promise<void>) | undefined;
let context: BrowserContext | undefined;
const problems: string[] = [];

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'wizard');
  [chain, browser, proxmox] = await Promise.all([
    startTestChain(),
    launchBrowser(),
    FakeProxmox.start({ templates: [{ vmid: TEMPLATE_VMID, name: 'debian-12' }] }),
  ]);
  stablecoin = await deployToken(chain, 'USDC', 6);
  await issueCode(kube, namespace, CODE, new Date());
  web = await startTestWebServer({ namespace });
  stopControllers = startControllers(kube, namespace, 'wizard-browser-test');
}, withHostConfigClaimWait(180_000));

afterAll(async () => {
  await context?.close();
  await stopControllers?.();
  await web?.close();
  await browser?.close();
  await kube.delete(blockhostTypes.plan, 'basic-vm').catch(() => undefined);
  if (namespace) await deleteNamespace(kube, namespace);
  await chain?.stop();
  await proxmox?.stop();
  await release?.();
}, 120_000);

const field = (page: Page, name: string) => page.locator(`[name="${name}"]`);
const errorOf = (page: Page, name: string) =>
  page.locator(`[name="${name}"] ~ .field-error, [name="${name}"] + .field-error`);

async function save(page: Page, nextPath: string): Promise<void> {
  await page.click('#save');
  await page.waitForURL(`**${nextPath}`);
}

describe('setup wizard in a browser', () => {
  let page: Page;
  let wallet: TestWallet;
  const shots = new Screenshots('wizard');

  beforeAll(async () => {
    context = await newContext(browser, web.url);
    page = await context.newPage();
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text()))
        problems.push(message.text());
    });
    wallet = await TestWallet.install(page, {
      privateKey: anvilPrivateKey(ADMIN),
      rpcUrl: chain.anvil.rpcUrl,
      chainId: chain.anvil.chainId,
    });
  });

  it('logs in with the code from the Secret after showing a wrong one', async () => {
    await page.goto('/setup');
    await shots.capture(page, 'login');
    await page.fill('#f-code', 'AAAAAA');
    await page.click('#login-submit');
    await page.locator('#notice', { hasText: '9 attempts left' }).waitFor();
    await shots.capture(page, 'login-wrong-code');
    await page.fill('#f-code', CODE.toLowerCase());
    await page.click('#login-submit');
    await page.waitForURL('**/setup/wallet');
    const cookies = await context!.cookies();
    expect(cookies.find((c) => c.name === 'bh_setup')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('signs the public secret with the injected wallet', async () => {
    await shots.capture(page, 'wallet');
    await page.click('#wallet-connect');
    await page.locator('#notice', { hasText: `Signed by ${anvilAccount(ADMIN).address}` }).waitFor();
    expect(wallet.count('personal_sign')).toBe(1);
    await shots.capture(page, 'wallet-signed');
    await page.click('#wallet-next');
    await page.waitForURL('**/setup/step/network');
  });

  it('shows a network error next to its field, then accepts the fix', async () => {
    await page.check('[name="network.mode"][value="static"]');
    await field(page, 'network.address').fill('192.168.1.10/24');
    await field(page, 'network.gateway').fill('10.0.0.1');
    await page.click('#save');
    await expect(errorOf(page, 'network.gateway').textContent()).resolves.toContain(
      'gateway must be inside the subnet',
    );
    await shots.capture(page, 'network-error');
    await page.check('[name="network.mode"][value="dhcp"]');
    await field(page, 'signup.hostname').fill(SIGNUP_HOSTNAME);
    await shots.capture(page, 'network');
    await save(page, '/setup/step/storage');
    await shots.capture(page, 'storage');
    await save(page, '/setup/step/chain');
  });

  it('checks the chain on the server and imports the server wallet key', async () => {
    await field(page, 'chain.chainId').fill('1');
    await field(page, 'chain.rpcEndpoints').fill(chain.anvil.rpcUrl);
    await field(page, 'chain.confirmations').fill('0');
    await field(page, 'chain.stablecoin').fill(stablecoin);
    await page.check('[name="serverWallet"][value="import"]');
    await page.fill('#server-key', anvilPrivateKey(SERVER));
    await page.click('#server-key-check');
    await page
      .locator('#server-key-status', { hasText: `${anvilAccount(SERVER).address}, balance` })
      .waitFor();
    await expect(page.inputValue('#server-key')).resolves.toBe('');
    await page.click('#save');
    await expect(errorOf(page, 'chain.rpcEndpoints').textContent()).resolves.toContain(
      `serves chain id ${chain.anvil.chainId}, not 1`,
    );
    await shots.capture(page, 'chain-error');
    await field(page, 'chain.chainId').fill(String(chain.anvil.chainId));
    await shots.capture(page, 'chain');
    await save(page, '/setup/step/plans');
    expect(await page.content()).not.toContain(anvilPrivateKey(SERVER).slice(2));
  });

  it('edits plans, keeps values when going back', async () => {
    await field(page, 'plans.0.displayName').fill('Basic VM');
    await field(page, 'plans.0.priceUsdCentsPerDay').fill('50');
    await field(page, 'plans.0.size.image').fill('debian-12');
    await page.click('[data-add="plans"]');
    await expect(field(page, 'plans.1.displayName').inputValue()).resolves.toBe('Basic VM');
    await shots.capture(page, 'plans-two-rows');
    await page.locator('[data-repeat="plans"] [data-index="1"] [data-remove]').click();
    await expect(field(page, 'plans.1.displayName').count()).resolves.toBe(0);
    await shots.capture(page, 'plans');
    await save(page, '/setup/step/backend');
    await page.click('#back');
    await page.waitForURL('**/setup/step/plans');
    await expect(field(page, 'plans.0.priceUsdCentsPerDay').inputValue()).resolves.toBe('50');
    await save(page, '/setup/step/backend');
  });

  it('configures Proxmox and checks the connection', async () => {
    await page.check('[name="backend.type"][value="proxmox"]');
    await field(page, 'backend.proxmox.apiUrl').fill(proxmox.url);
    await field(page, 'backend.proxmox.node').fill(proxmox.node);
    await field(page, 'proxmoxToken.tokenId').fill(DEFAULT_TOKEN.tokenId);
    await field(page, 'proxmoxToken.secret').fill('wrong');
    await field(page, 'backend.proxmox.vmidRange.end').fill('199');
    await field(page, 'backend.proxmox.images.0.templateVmid').fill(String(TEMPLATE_VMID));
    await page.check('[name="backend.proxmox.insecureSkipTLSVerify"]');
    await page.click('#save');
    await expect(errorOf(page, 'backend.proxmox.apiUrl').textContent()).resolves.toContain(
      'refused the API token',
    );
    await shots.capture(page, 'backend-error');
    await field(page, 'proxmoxToken.secret').fill(DEFAULT_TOKEN.secret);
    await save(page, '/setup/step/ipv4');
  });

  it('fills the IPv4 pool, IPv6 and admin commands', async () => {
    await field(page, 'ipv4Pool.network').fill('192.168.122.0/24');
    await field(page, 'ipv4Pool.start').fill('192.168.122.200');
    await field(page, 'ipv4Pool.end').fill('192.168.122.250');
    await field(page, 'ipv4Pool.gateway').fill('192.168.122.220');
    await page.click('#save');
    await expect(errorOf(page, 'ipv4Pool.gateway').textContent()).resolves.toContain(
      'must not be inside the range',
    );
    await shots.capture(page, 'ipv4-error');
    await field(page, 'ipv4Pool.gateway').fill('192.168.122.1');
    await save(page, '/setup/step/ipv6');
    await page.check('[name="ipv6.mode"][value="manual"]');
    await field(page, 'ipv6.prefix').fill('2001:db8:42::/64');
    await shots.capture(page, 'ipv6');
    await save(page, '/setup/step/admin');
    await page.check('[name="admin.commands.enabled"]');
    await field(page, 'admin.commands.commandName').fill('open-sesame');
    await shots.capture(page, 'admin');
    await save(page, '/setup/summary');
  });

  it('summarises, exports an encrypted backup and applies', async () => {
    await shots.capture(page, 'summary');
    expect(await page.content()).toContain('192.168.122.200');
    // Nothing touched the cluster so far.
    await expect(kube.get(blockhostTypes.hostConfig, HOST_CONFIG_NAME)).rejects.toMatchObject({
      status: 404,
    });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
    const backup = JSON.parse(await readFile((await download.path())!, 'utf8')) as unknown;
    const signature = signMessage(anvilPrivateKey(ADMIN), 'blockhost-access');
    expect(openBackup(backup, signature).hostConfig.admin.commands.commandName).toBe('open-sesame');
    await page.click('#apply');
    await page.waitForURL('**/setup/progress');
  });

  it('shows live progress from the HostConfig conditions until the host is Ready', async () => {
    await page.locator('#progress-steps li[data-type="KeysReady"]').waitFor();
    await shots.capture(page, 'progress');
    // The page shows what the API says: compare one step with the object itself.
    const host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    expect(host.spec.chain.serverWallet.generate).toBe(false);
    await page.locator('#done').waitFor({ state: 'visible', timeout: 150_000 });
    const ready = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    expect(ready.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(ready.status?.serverAddress).toBe(anvilAccount(SERVER).address);
    await expect(
      page.locator('#progress-steps li[data-status="True"]').count(),
    ).resolves.toBeGreaterThanOrEqual(5);
    await shots.capture(page, 'progress-ready');
  }, 180_000);

  it('answers 410 with a link to the dashboard afterwards', async () => {
    const response = await page.goto('/setup/step/network');
    expect(response?.status()).toBe(410);
    await expect(page.locator('a[href="/admin"]').count()).resolves.toBe(1);
    await shots.capture(page, 'closed');
    expect(problems).toEqual([]);
  });
});
