// The browser harness and the foundation in a real Chromium: bundles load under the strict CSP, a
// page with no HostConfig says why it cannot sell, and the injected test wallet behaves as an
// EIP-1193 wallet (accounts, chain id, signing, rejection, chain changes, reads through anvil).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { recoverAddress } from '../../../lib/crypto/index.js';
import type { WebServer } from '../../../web/server.js';
import { launchBrowser, newContext } from '../../harness/browser/browser.js';
import { Screenshots } from '../../harness/browser/screenshots.js';
import { TestWallet, USER_REJECTED } from '../../harness/browser/test-wallet.js';
import { startTestWebServer } from '../../harness/browser/web-server.js';
import { Anvil, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { claimHostConfig, eventually, testClient, withHostConfigClaimWait } from '../../harness/kube.js';

let browser: Browser;
let context: BrowserContext;
let web: WebServer;
let anvil: Anvil;
let release: () => Promise<void>;
const problems: string[] = [];

beforeAll(async () => {
  // No HostConfig while this file runs: the page must say it cannot sell yet.
  release = await claimHostConfig(testClient());
  [anvil, browser, web] = await Promise.all([
    Anvil.start(),
    launchBrowser(),
    startTestWebServer({ namespace: 'default' }),
  ]);
}, withHostConfigClaimWait(120_000));

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await anvil?.stop();
  await release?.();
});

async function openPage(): Promise<{ page: Page; wallet: TestWallet }> {
  context = await newContext(browser, web.url);
  const page = await context.newPage();
  // CSP violations and script errors show up here: the page must have none.
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text()))
      problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  const wallet = await TestWallet.install(page, {
    privateKey: anvilPrivateKey(3),
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
  });
  return { page, wallet };
}

describe('browser foundation', () => {
  it('loads the bundles under the CSP and explains that the host is not set up', async () => {
    const { page } = await openPage();
    const shots = new Screenshots('foundation-not-set-up');
    await page.goto('/');
    await page
      .locator('#notice', { hasText: 'This host is not selling yet: it has not been set up yet.' })
      .waitFor();
    expect(await page.locator('#connect').isDisabled()).toBe(true);
    const files = await shots.capture(page, 'not-set-up');
    expect(files).toHaveLength(2);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('injects an EIP-1193 test wallet backed by an anvil account', async () => {
    const { page, wallet } = await openPage();
    await page.goto('/');
    type Result = { ok: unknown } | { code: number; message: string };
    const request = (method: string, params: unknown[] = []) =>
      page.evaluate(
        async ([method, params]) => {
          try {
            return { ok: await window.ethereum!.request({ method, params }) };
          } catch (error) {
            return { code: (error as { code: number }).code, message: (error as Error).message };
          }
        },
        [method, params] as const,
      ) as Promise<Result>;

    expect(await request('eth_accounts')).toEqual({ ok: [] });
    expect(await request('eth_requestAccounts')).toEqual({ ok: [wallet.address] });
    expect(await request('eth_chainId')).toEqual({ ok: '0x7a69' });

    const message = 'blockhost-access';
    const hex = `0x${Buffer.from(message).toString('hex')}`;
    const signed = (await request('personal_sign', [hex, wallet.address])) as { ok: string };
    expect(recoverAddress(message, signed.ok).toLowerCase()).toBe(wallet.address.toLowerCase());

    wallet.rejectNextSignature();
    expect(await request('personal_sign', [hex, wallet.address])).toEqual({
      code: USER_REJECTED,
      message: 'User rejected the request.',
    });
    expect(await request('personal_sign', [hex, wallet.address])).toEqual(signed);

    // Reads go to anvil.
    const balance = (await request('eth_getBalance', [wallet.address, 'latest'])) as { ok: string };
    expect(BigInt(balance.ok)).toBeGreaterThan(0n);

    // A chain change reaches the page's listeners; switching back restores the real chain.
    await page.evaluate(() => {
      const seen: unknown[] = [];
      (window as unknown as { seen: unknown[] }).seen = seen;
      window.ethereum!.on!('chainChanged', (id) => seen.push(id));
    });
    await wallet.reportChainId(1);
    expect(await request('eth_chainId')).toEqual({ ok: '0x1' });
    expect(await request('wallet_switchEthereumChain', [{ chainId: '0x5' }])).toMatchObject({ code: 4902 });
    expect(await request('wallet_switchEthereumChain', [{ chainId: '0x7a69' }])).toEqual({ ok: null });
    expect(await page.evaluate(() => (window as unknown as { seen: unknown[] }).seen)).toEqual([
      '0x1',
      '0x7a69',
    ]);

    // Transactions are signed in Node and mined by anvil.
    const sent = (await request('eth_sendTransaction', [
      { from: wallet.address, to: wallet.address, value: '0x1' },
    ])) as { ok: string };
    expect(sent.ok).toMatch(/^0x[0-9a-f]{64}$/);
    let receipt: { status: string } | null = null;
    await eventually('the transaction mined', async () => {
      receipt = await anvil.rpc<{ status: string } | null>('eth_getTransactionReceipt', [sent.ok]);
      return receipt !== null;
    });
    expect(receipt!.status).toBe('0x1');
    expect(wallet.count('personal_sign')).toBe(3);
    expect(problems).toEqual([]);
    await context.close();
  });
});
