import {
  exampleHostConfig,
  examplePlan,
  exampleSubscription,
  exampleVM,
} from '../../../lib/api/v1alpha1/examples.js';
import {
  hostConfigSchema,
  planSchema,
  subscriptionSchema,
  vmSchema,
  type HostConfig,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import type { Lookups } from '../../../webhooks/lookups.js';

/** The objects a unit test pretends the cluster holds. */
export interface ClusterObjects {
  hostConfig?: HostConfig;
  plans?: Plan[];
  subscriptions?: Subscription[];
  vms?: VM[];
}

/** The valid examples of lib/api as the apiserver stores them (defaults filled in). */
export const storedExamples = {
  hostConfig: hostConfigSchema.parse(exampleHostConfig),
  plan: planSchema.parse(examplePlan),
  subscription: subscriptionSchema.parse(exampleSubscription),
  vm: vmSchema.parse(exampleVM),
};

/** Lookups answered from plain data, for unit tests of the admission checks. */
export function staticLookups({
  hostConfig,
  plans = [],
  subscriptions = [],
  vms = [],
}: ClusterObjects): Lookups {
  return {
    hostConfig: async () => hostConfig,
    plans: async () => plans,
    subscription: async (namespace, name) =>
      subscriptions.find((s) => s.metadata.namespace === namespace && s.metadata.name === name),
    subscriptionsNamed: async (name) => subscriptions.filter((s) => s.metadata.name === name),
    vms: async () => vms,
  };
}

/** A deep copy of `object` changed by `edit`. */
export function edited<T>(object: T, edit: (copy: T) => void): T {
  const copy = structuredClone(object);
  edit(copy);
  return copy;
}
