// Waiting for the controller manager's verdict on a stored login signature (the annotations it
// writes on the request ConfigMap), as an HTTP answer for the signing page.
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import {
  LOGIN_SIGNATURE_ANNOTATIONS as A,
  LOGIN_SIGNATURE_REFUSALS,
  parseLoginSignatureReason,
  type LoginSignaturePhase,
} from '../../lib/login-signature/request.js';
import { HttpError } from '../http/errors.js';

export interface OutcomeWait {
  /** How long to wait for the controller, in ms. */
  windowMs: number;
  /** How often to look, in ms. */
  intervalMs: number;
}

/** Refused: the status LOGIN_SIGNATURE_REFUSALS gives its kind; a kind this server does not know is the host's fault. */
function refusal(reason: string | undefined): HttpError {
  const { kind, text } = parseLoginSignatureReason(reason ?? '');
  return new HttpError(kind ? LOGIN_SIGNATURE_REFUSALS[kind] : 502, text || 'the host refused the signature');
}

/**
 * Resolves when the request `name` is annotated Delivered; throws the refusal as an HttpError, or
 * 504 when nothing was decided within the window. A request not (or no longer) there is polled
 * like an undecided one: the controller may still be catching up with it.
 */
export async function awaitOutcome(
  kube: KubeClient,
  namespace: string,
  name: string,
  { windowMs, intervalMs }: OutcomeWait,
): Promise<void> {
  const deadline = performance.now() + windowMs;
  for (;;) {
    let notes: Record<string, string> = {};
    try {
      notes = (await kube.get<KubeObject>(coreTypes.configMap, name, namespace)).metadata.annotations ?? {};
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const phase = notes[A.phase] as LoginSignaturePhase | undefined;
    if (phase === 'Delivered') return;
    if (phase === 'Refused') throw refusal(notes[A.reason]);
    if (performance.now() + intervalMs > deadline)
      throw new HttpError(504, 'the host did not deliver the signature in time');
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
