import { HOST_CONFIG_NAME, type Subscription } from '../../lib/api/v1alpha1/index.js';
import type { Lookups } from '../lookups.js';
import { changed, noFindings, type Admission, type Findings } from './findings.js';

const sameAddress = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

/**
 * Subscriptions mirror confirmed chain facts, and nothing may be lost: a fact that does not match
 * this cluster (an unknown plan, another chain) is stored with a warning, and the subscription
 * controller fails it visibly. Only a second object for the same on-chain subscription is refused,
 * because it would provision a second VM. The chain watcher's namespace is authoritative: a copy
 * created elsewhere first (by anyone who may create Subscriptions there) never blocks the watcher's,
 * and the subscription controller provisions nothing from it.
 */
export async function validateSubscription(
  admission: Admission<Subscription>,
  lookups: Lookups,
  { releaseNamespace }: { releaseNamespace?: string } = {},
): Promise<Findings> {
  const findings = noFindings();
  const { metadata, spec } = admission.object;
  if (admission.operation === 'CREATE') {
    const twin = (await lookups.subscriptionsNamed(metadata.name ?? '')).find(
      (s) =>
        s.metadata.namespace !== metadata.namespace &&
        (!releaseNamespace || metadata.namespace !== releaseNamespace) &&
        s.spec.chainId === spec.chainId &&
        sameAddress(s.spec.contract, spec.contract) &&
        s.spec.subscriptionId === spec.subscriptionId,
    );
    if (twin) {
      findings.errors.push({
        path: 'spec.subscriptionId',
        message: `subscription ${spec.subscriptionId} of ${spec.contract} on chain ${spec.chainId} is already mirrored by ${twin.metadata.namespace}/${twin.metadata.name}; one object per on-chain subscription`,
        reason: 'FieldValueForbidden',
      });
    }
    if (releaseNamespace && metadata.namespace !== releaseNamespace) {
      findings.warnings.push(
        `the chain watcher keeps Subscriptions in namespace ${releaseNamespace}; this one is in ${metadata.namespace} and provisions nothing`,
      );
    }
    const host = await lookups.hostConfig();
    if (host && host.spec.chain.chainId !== spec.chainId) {
      findings.warnings.push(
        `spec.chainId ${spec.chainId} is not the chain of HostConfig "${HOST_CONFIG_NAME}" (${host.spec.chain.chainId})`,
      );
    }
    const inUse = host?.status?.contracts?.subscriptions;
    if (inUse && !sameAddress(inUse, spec.contract)) {
      findings.warnings.push(
        `spec.contract ${spec.contract} is not the subscriptions contract in use (${inUse}, HostConfig status.contracts)`,
      );
    }
  }
  if (changed(admission, (s) => [s.spec.planId, s.spec.chainId])) {
    const plans = await lookups.plans();
    const known = plans.some(
      (p) => p.status?.onChainPlanId === spec.planId && p.status.chainId === spec.chainId,
    );
    if (!known) {
      findings.warnings.push(
        `spec.planId: no Plan has on-chain id ${spec.planId} on chain ${spec.chainId}; the subscription fails with UnknownPlan until one does`,
      );
    }
  }
  return findings;
}
