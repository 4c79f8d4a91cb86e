// The customer's login into a real guest, as the purchase flow checks it: the real OpenSSH client
// against the guest's sshd and pam_web3, answered by paste or through a callback request (the
// ConfigMap the signing page's server stores; the real login-signature controller delivers it).
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import {
  LOGIN_SIGNATURE_ANNOTATIONS,
  LOGIN_SIGNATURE_LABEL,
  loginMessage,
  loginSignatureName,
} from '../../../lib/login-signature/request.js';
import { eventually } from '../kube.js';
import { parseWalletPrompt, sshWalletLogin, type SshOutcome } from '../ssh/wallet-login.js';

export interface LoginTarget {
  host: string;
  port: number;
  user: string;
}

/** Logs in answering the prompt with `answer(code, machine, session)`; runs `id`. */
export function loginWith(
  target: LoginTarget,
  answer: (prompt: { code: string; machine: string; session?: string }) => Promise<string> | string,
): Promise<SshOutcome> {
  return sshWalletLogin({
    ...target,
    command: 'id -un',
    answer: async (text) => {
      const { code, machine, url } = parseWalletPrompt(text);
      const session = new URL(url).searchParams.get('session') ?? undefined;
      return answer({ code, machine, session });
    },
  });
}

/** The paste path: the wallet's signature of the prompt's code, typed into ssh. */
export const pasteSignature = (privateKey: string) => (p: { code: string; machine: string }) =>
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
  return async (p: { code: string; machine: string; session?: string }): Promise<string> => {
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
