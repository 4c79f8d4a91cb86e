// The customer's login into a real guest, as the purchase flow checks it: the real OpenSSH client
// against the guest's sshd and pam_web3, answered by paste or through a callback request (the
// ConfigMap the signing page's server stores; the real login-signature controller delivers it).
import type { Browser } from 'playwright-core';
import type { Hex } from 'viem';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { exampleVM } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type VM } from '../../../lib/api/v1alpha1/index.js';
import { updateStatus } from '../../../lib/runtime/status.js';
import {
  guestSessionPath,
  LOGIN_SIGNATURE_ANNOTATIONS,
  LOGIN_SIGNATURE_LABEL,
  loginMessage,
  loginSignatureName,
} from '../../../lib/login-signature/request.js';
import { newContext } from '../browser/browser.js';
import { TestWallet } from '../browser/test-wallet.js';
import { eventually } from '../kube.js';
import { parseWalletPrompt, sshWalletLogin, type SshOutcome } from '../ssh/wallet-login.js';

export interface LoginTarget {
  host: string;
  port: number;
  user: string;
}

/** What the login prompt shows. */
export interface WalletPrompt {
  code: string;
  machine: string;
  /** The `Sign at:` link. */
  url: string;
  session?: string;
}

/** Logs in answering the prompt with `answer(prompt)`; runs `id -un`. */
export function loginWith(
  target: LoginTarget,
  answer: (prompt: WalletPrompt) => Promise<string> | string,
): Promise<SshOutcome> {
  return sshWalletLogin({
    ...target,
    command: 'id -un',
    answer: async (text) => {
      const shown = parseWalletPrompt(text);
      const session = new URL(shown.url).searchParams.get('session') ?? undefined;
      return answer({ ...shown, ...(session && { session }) });
    },
  });
}

/**
 * The customer's way: opens the prompt's link in Chromium with the wallet injected, signs on the
 * page, waits until the page says the terminal can go on, then presses Enter. The page's notice
 * text ends up in `seen`.
 */
export function signingPageSignature(browser: Browser, privateKey: Hex, seen: { notice?: string } = {}) {
  return async (p: WalletPrompt): Promise<string> => {
    const context = await newContext(browser, new URL(p.url).origin);
    try {
      const page = await context.newPage();
      // The page never reads the chain; nothing listens here.
      await TestWallet.install(page, { privateKey, rpcUrl: 'http://127.0.0.1:9', chainId: 31337 });
      await page.goto(p.url);
      await page.locator('body[data-loaded="sign"]').waitFor();
      await page.getByRole('button', { name: 'Connect wallet and sign' }).click();
      // The outcome: ok (delivered) or error (refused); info notices come before it.
      const outcome = page.locator('#sign-notice.ok, #sign-notice.error');
      await outcome.waitFor({ timeout: 15_000 });
      seen.notice = (await outcome.textContent()) ?? '';
    } finally {
      await context.close();
    }
    return '';
  };
}

/** The paste path: the wallet's signature of the prompt's code, typed into ssh. */
export const pasteSignature = (privateKey: string) => (p: Omit<WalletPrompt, 'url'>) =>
  signMessage(privateKey, loginMessage(p.machine, p.code));

/**
 * The callback path: stores the signed answer as the signing page's server does, waits for the
 * controller's outcome, then presses Enter. Resolves the phase through `outcome`.
 */
export function callbackSignature(
  kube: KubeClient,
  namespace: string,
  privateKey: string,
  outcome: { phase?: string; reason?: string } = {},
) {
  return async (p: Omit<WalletPrompt, 'url'>): Promise<string> => {
    if (!p.session)
      throw new Error('the prompt offers no callback session (no pending directory in the guest?)');
    const name = loginSignatureName(p.machine, p.session);
    await kube.create<KubeObject>(coreTypes.configMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, labels: { [LOGIN_SIGNATURE_LABEL]: 'true' } },
      data: {
        machine: p.machine,
        code: p.code,
        session: p.session,
        signature: signMessage(privateKey, loginMessage(p.machine, p.code)),
      },
    } as KubeObject);
    await eventually(
      'login signature handled',
      async () => {
        const cm = await kube.get<KubeObject>(coreTypes.configMap, name, namespace);
        outcome.phase = cm.metadata.annotations?.[LOGIN_SIGNATURE_ANNOTATIONS.phase];
        outcome.reason = cm.metadata.annotations?.[LOGIN_SIGNATURE_ANNOTATIONS.reason];
        return outcome.phase !== undefined;
      },
      9_000,
    );
    return '';
  };
}

/**
 * What pam_web3 writes when a login with `code` starts on `machine`: the session file's path and
 * content. Session ids count up from `n`, so tests can tell their sessions apart.
 */
export function pamSession(
  machine: string,
  code: string,
  n: number,
): { session: string; path: string; content: string } {
  const session = n.toString(16).padStart(32, '0');
  return {
    session,
    path: guestSessionPath(session),
    content: JSON.stringify({ otp: code, machine_id: machine, session_id: session }),
  };
}

/** The answer to `session` stored as the signing page's server does, signed by `privateKey`; the outcome. */
export async function storeLoginAnswer(
  kube: KubeClient,
  namespace: string,
  prompt: { machine: string; code: string; session: string },
  privateKey: string,
): Promise<{ phase?: string; reason?: string }> {
  const outcome: { phase?: string; reason?: string } = {};
  await callbackSignature(kube, namespace, privateKey, outcome)(prompt);
  return outcome;
}

/**
 * A VM object that runs as `backendId` on `backend`, as the subscription and VM controllers would
 * leave it (status written through the status subresource): an admin-made VM owned by `owner`, or
 * with `subscription`, that Subscription's VM (its spec.ownerWallet is still `owner`).
 */
export async function runningVmObject(
  kube: KubeClient,
  namespace: string,
  vm: {
    name: string;
    backend: VM['spec']['backend'];
    owner: string;
    backendId: string;
    subscription?: string;
  },
): Promise<void> {
  const { status: _example, ...example } = structuredClone(exampleVM);
  const { subscriptionRef: _ref, ...spec } = example.spec;
  await kube.create<VM>(blockhostTypes.vm, {
    ...example,
    metadata: { name: vm.name, namespace },
    spec: {
      ...spec,
      backend: vm.backend,
      ownerWallet: vm.owner,
      ...(vm.subscription && { subscriptionRef: { name: vm.subscription } }),
    },
  } as VM);
  await updateStatus<VM>(kube, blockhostTypes.vm, { name: vm.name, namespace }, (latest) => {
    latest.status = { phase: 'Running', backendId: vm.backendId };
  });
}
