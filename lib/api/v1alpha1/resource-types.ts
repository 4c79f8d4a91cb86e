import type { ResourceType } from '../../kube/resource-types.js';
import { hostConfigKind } from './hostconfig.js';
import type { CrdDefinition } from './kind.js';
import { GROUP, VERSION } from './kind.js';
import { planKind } from './plan.js';
import { subscriptionKind } from './subscription.js';
import { vmKind } from './vm.js';

const toResourceType = (crd: CrdDefinition): ResourceType => ({
  group: GROUP,
  version: VERSION,
  kind: crd.kind,
  plural: crd.plural,
  namespaced: crd.scope === 'Namespaced',
});

/** REST coordinates of our kinds, derived from the same definitions as the CRDs. */
export const blockhostTypes = {
  hostConfig: toResourceType(hostConfigKind.crd),
  plan: toResourceType(planKind.crd),
  subscription: toResourceType(subscriptionKind.crd),
  vm: toResourceType(vmKind.crd),
} as const satisfies Record<string, ResourceType>;
