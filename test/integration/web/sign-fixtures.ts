// For the signing page's tests: a VM with an owner wallet, and a stand-in for the controller
// manager's login-signature controller (controllers/login-signature/, not used here so these tests
// cover the web server alone): it annotates the request ConfigMaps with the verdict a test chose.
import { randomBytes } from 'node:crypto';
import { blockhostTypes, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import {
  LOGIN_SIGNATURE_ANNOTATIONS as A,
  LOGIN_SIGNATURE_LABEL,
  loginSignatureReason,
  type LoginSignatureFields,
  type LoginSignatureRefusal,
} from '../../../lib/login-signature/request.js';
import { adminMadeVm } from './admin-fixtures.js';

export type RequestConfigMap = KubeObject & { data: LoginSignatureFields };

/** A fresh callback session id, as the PAM module makes them. */
export const newSession = (): string => randomBytes(16).toString('hex');

export async function createOwnedVm(
  kube: KubeClient,
  namespace: string,
  name: string,
  owner: string,
): Promise<VM> {
  const vm = adminMadeVm(name, namespace);
  return kube.create<VM>(blockhostTypes.vm, { ...vm, spec: { ...vm.spec, ownerWallet: owner } });
}

export const loginRequests = async (kube: KubeClient, namespace: string): Promise<RequestConfigMap[]> =>
  (
    await kube.list<RequestConfigMap>(coreTypes.configMap, {
      namespace,
      labelSelector: `${LOGIN_SIGNATURE_LABEL}=true`,
    })
  ).items;

type Verdict = { phase: 'Delivered' } | { phase: 'Refused'; kind: LoginSignatureRefusal; text: string };

/**
 * Answers the requests of the sessions it was told about (`answer`), every 50 ms, as the controller
 * would after writing (or refusing to write) the guest's `.sig` file. Requests of other sessions
 * stay unanswered. `stop()` when done.
 */
export class ControllerStandIn {
  private readonly verdicts = new Map<string, Verdict>();
  private readonly timer: NodeJS.Timeout;
  private busy = false;

  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
  ) {
    this.timer = setInterval(() => void this.tick(), 50);
  }

  answer(session: string, verdict: Verdict): void {
    this.verdicts.set(session, verdict);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const request of await loginRequests(this.kube, this.namespace)) {
        const verdict = this.verdicts.get(request.data.session);
        if (!verdict || request.metadata.annotations?.[A.phase]) continue;
        const annotations: Record<string, string> = { [A.phase]: verdict.phase };
        if (verdict.phase === 'Refused')
          annotations[A.reason] = loginSignatureReason(verdict.kind, verdict.text);
        await this.kube.patch(
          coreTypes.configMap,
          request.metadata.name!,
          this.namespace,
          { metadata: { annotations } },
          'merge',
        );
      }
    } catch {
      // The namespace goes away at the end of the file; the next tick (if any) tries again.
    } finally {
      this.busy = false;
    }
  }
}
