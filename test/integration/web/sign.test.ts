// The signing page in a real Chromium against a real kube-apiserver and the web server in-process:
// the injected test wallet signs the login message and the page delivers it (ControllerStandIn
// plays the controller manager, annotating the stored request as it would); the paste path, the
// wrong wallet, an expired session, a second answer, no wallet at all and a malformed link.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { loginMessage } from '../../../lib/login-signature/request.js';
import type { WebServer } from '../../../web/server.js';
import { signFace } from '../../../web/sign/face.js';
import { collectProblems, launchBrowser, newContext } from '../../harness/browser/browser.js';
import { Screenshots } from '../../harness/browser/screenshots.js';
import { TestWallet } from '../../harness/browser/test-wallet.js';
import { startTestWebServer } from '../../harness/browser/web-server.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';
import { ControllerStandIn, createOwnedVm, loginRequests, newSession } from './sign-fixtures.js';

const OWNER = 3;
const OTHER = 5;
const MACHINE = 'blockhost-012';
const CODE = '305118';
const MESSAGE = loginMessage(MACHINE, CODE);

/** Quiet when green; LOG_LEVEL=info shows the server's request lines. */
const log = createLogger('sign-test', { level: process.env.LOG_LEVEL ?? 'error' });
let kube: KubeClient;
let namespace: string;
let controller: ControllerStandIn;
let web: WebServer;
let browser: Browser;
const contexts: BrowserContext[] = [];
let problems: string[] = [];

beforeAll(async () => {
  kube = testClient();
  namespace = await createTestNamespace(kube, 'sign-ui');
  await createOwnedVm(kube, namespace, MACHINE, anvilAccount(OWNER).address);
  controller = new ControllerStandIn(kube, namespace);
  [browser, web] = await Promise.all([
    launchBrowser(),
    startTestWebServer({ namespace, faces: [signFace], log }),
  ]);
}, 120_000);

afterAll(async () => {
  controller?.stop();
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await web?.close();
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
}, 60_000);

/** A fresh browser on `path`, with the wallet of anvil `account` injected (none when undefined). */
async function open(path: string, account?: number): Promise<{ page: Page; wallet?: TestWallet }> {
  const context = await newContext(browser, web.url);
  contexts.push(context);
  const page = await context.newPage();
  collectProblems(page, problems);
  const wallet =
    account === undefined
      ? undefined
      : await TestWallet.install(page, {
          privateKey: anvilPrivateKey(account),
          // The page never reads the chain; nothing listens here.
          rpcUrl: 'http://127.0.0.1:9',
          chainId: 31337,
        });
  await page.goto(path);
  await page.locator('body[data-loaded="sign"]').waitFor();
  return { page, wallet };
}

const link = (session?: string) =>
  `/sign?machine=${MACHINE}&code=${CODE}${session ? `&session=${session}` : ''}`;
const signButton = (page: Page) => page.getByRole('button', { name: 'Connect wallet and sign' });
const notice = (page: Page, text: string | RegExp) =>
  page.locator('#sign-notice', { hasText: text }).waitFor();

beforeEach(() => {
  problems = [];
});

describe('signing page', () => {
  it('signs the login message with the injected wallet and delivers it to the terminal', async () => {
    const shots = new Screenshots('sign-delivered');
    const session = newSession();
    controller.answer(session, { phase: 'Delivered' });
    const { page, wallet } = await open(link(session), OWNER);
    await expect(page.locator('#machine').textContent()).resolves.toBe(MACHINE);
    await expect(page.locator('#code').textContent()).resolves.toBe(CODE);
    await expect(page.locator('#message').textContent()).resolves.toBe(MESSAGE);
    await shots.capture(page, 'request');
    await signButton(page).click();
    await notice(page, 'Signed in — go back to your terminal (press Enter if it is still waiting).');
    const signature = signMessage(anvilPrivateKey(OWNER), MESSAGE);
    await expect(page.locator('#signature').textContent()).resolves.toBe(signature);
    expect(wallet!.count('personal_sign')).toBe(1);
    expect((await loginRequests(kube, namespace)).find((r) => r.data.session === session)?.data).toEqual({
      machine: MACHINE,
      code: CODE,
      session,
      signature,
    });
    await shots.capture(page, 'delivered');

    expect(await signButton(page).isVisible()).toBe(false);

    // The terminal already has its answer: the link opened again is refused.
    const again = await open(link(session), OWNER);
    await signButton(again.page).click();
    await notice(again.page, 'This login was already answered.');
    await shots.capture(again.page, 'already-answered');
    expect(problems).toEqual([]);
  }, 60_000);

  it('without a session, shows the signature to paste and sends nothing', async () => {
    const shots = new Screenshots('sign-paste');
    const before = (await loginRequests(kube, namespace)).length;
    const { page } = await open(link(), OWNER);
    await signButton(page).click();
    await notice(page, 'Signed. Now paste the signature into your terminal.');
    await expect(page.locator('#signature').textContent()).resolves.toBe(
      signMessage(anvilPrivateKey(OWNER), MESSAGE),
    );
    await expect(page.locator('#result').textContent()).resolves.toContain('Paste signature:');
    await page.getByRole('button', { name: 'Copy signature' }).click();
    await page.locator('#copy-signature-status', { hasText: /Copied|Selected/ }).waitFor();
    await shots.capture(page, 'signed');
    expect(await loginRequests(kube, namespace)).toHaveLength(before);
    expect(problems).toEqual([]);
  }, 60_000);

  it('says which wallet signed when it is not the VM owner, and when the session is over', async () => {
    const shots = new Screenshots('sign-refused');
    const { page } = await open(link(newSession()), OTHER);
    await signButton(page).click();
    await notice(page, `signed by ${anvilAccount(OTHER).address}, which is not the wallet of this VM`);
    await expect(page.locator('#sign-notice').textContent()).resolves.toContain('Switch your wallet');
    await shots.capture(page, 'wrong-wallet');

    const expired = newSession();
    controller.answer(expired, {
      phase: 'Refused',
      kind: 'UnknownSession',
      text: 'no login is waiting for this session',
    });
    const second = await open(link(expired), OWNER);
    await signButton(second.page).click();
    await notice(second.page, 'This login has expired or is unknown: no login is waiting for this session.');
    await shots.capture(second.page, 'expired');
    expect(problems).toEqual([]);
  }, 60_000);

  it('without a wallet in the browser, explains signing elsewhere and pasting', async () => {
    const shots = new Screenshots('sign-no-wallet');
    const { page } = await open(link(newSession()));
    await notice(page, 'No wallet found in this browser.');
    expect(await signButton(page).isVisible()).toBe(false);
    await expect(page.locator('#cast-command').textContent()).resolves.toBe(
      `cast wallet sign --interactive '${MESSAGE}'`,
    );
    await shots.capture(page, 'no-wallet');
    expect(problems).toEqual([]);
  }, 60_000);

  it('names the wrong parts of a malformed link', async () => {
    const shots = new Screenshots('sign-bad-link');
    const context = await newContext(browser, web.url);
    contexts.push(context);
    const page = await context.newPage();
    collectProblems(page, problems);
    const response = await page.goto(`/sign?machine=${MACHINE}&code=30511&session=12ab`);
    expect(response?.status()).toBe(400);
    await expect(page.locator('#link-errors li').allTextContents()).resolves.toEqual([
      'session: must be the session id from the link (32 lowercase hex digits)',
    ]);
    await shots.capture(page, 'bad-link');
    expect(problems).toEqual([]);
  }, 60_000);
});
