import type { CrdDefinition } from './kind.js';
import { hostConfigKind } from './hostconfig.js';
import { planKind } from './plan.js';
import { subscriptionKind } from './subscription.js';
import { vmKind } from './vm.js';

export {
  API_VERSION,
  GROUP,
  VERSION,
  objectMeta,
  type CrdDefinition,
  type ObjectMeta,
  type PrinterColumn,
} from './kind.js';
export { condition, type BackendType, type Condition } from './common.js';
export {
  DEFAULT_MAX_FEE_PER_GAS_GWEI,
  DEFAULT_SERVER_WALLET_LOW_MINTS,
  HOST_CONFIG_CONDITIONS,
  HOST_CONFIG_NAME,
  USDC_BY_CHAIN_ID,
  hostConfigSchema,
  hostConfigSpecSchema,
  hostConfigStatusSchema,
  type HostConfig,
  type HostConfigSpec,
  type HostConfigStatus,
} from './hostconfig.js';
export {
  PLAN_CONDITIONS,
  planSchema,
  planSpecSchema,
  planStatusSchema,
  type Plan,
  type PlanSpec,
  type PlanStatus,
} from './plan.js';
export {
  loginWalletOf,
  SUBSCRIPTION_CONDITIONS,
  SUBSCRIPTION_PHASES,
  subscriptionResourceName,
  subscriptionSchema,
  subscriptionSpecSchema,
  subscriptionStatusSchema,
  type Subscription,
  type SubscriptionSpec,
  type SubscriptionStatus,
} from './subscription.js';
export {
  VM_CONDITIONS,
  VM_PHASES,
  vmSchema,
  vmSpecSchema,
  vmStatusSchema,
  type VM,
  type VMSpec,
  type VMStatus,
} from './vm.js';

/** The four kinds, in the order crds/generate.ts renders them. */
export const crdDefinitions: readonly CrdDefinition[] = [
  hostConfigKind.crd,
  planKind.crd,
  subscriptionKind.crd,
  vmKind.crd,
];
export { blockhostTypes } from './resource-types.js';
