import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type Plan,
  type Subscription,
  type VM,
} from '../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../lib/kube/client.js';
import { isNotFound } from '../lib/kube/errors.js';

/** The other objects admission decisions depend on. Validators take this, so tests pass plain data. */
export interface Lookups {
  hostConfig(): Promise<HostConfig | undefined>;
  plans(): Promise<Plan[]>;
  subscription(namespace: string, name: string): Promise<Subscription | undefined>;
  /** Subscriptions named `name` in every namespace (the name is derived from the on-chain id). */
  subscriptionsNamed(name: string): Promise<Subscription[]>;
  vms(): Promise<VM[]>;
}

/** DNS-1123 names; anything else cannot name an object, so it is not looked up at all. */
const possibleName = (name: string) => /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name);

const orUndefined = (error: unknown) => {
  if (isNotFound(error)) return undefined;
  throw error;
};

/** Memoises each call for the life of the object: one instance per admission request. */
function memoised<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= load());
}

/**
 * Reads straight from the apiserver, once per request. No longer-lived cache: a cached "no
 * HostConfig" would refuse VMs for a while after the HostConfig is created, and these GETs are
 * cheap next to the admission round trip.
 */
export function kubeLookups(kube: KubeClient): Lookups {
  const subscriptions = new Map<string, Promise<Subscription | undefined>>();
  return {
    hostConfig: memoised(() =>
      kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME).catch(orUndefined),
    ),
    plans: memoised(async () => (await kube.list<Plan>(blockhostTypes.plan)).items),
    subscription(namespace, name) {
      if (!possibleName(namespace) || !possibleName(name)) return Promise.resolve(undefined);
      const key = `${namespace}/${name}`;
      let found = subscriptions.get(key);
      if (!found) {
        found = kube.get<Subscription>(blockhostTypes.subscription, name, namespace).catch(orUndefined);
        subscriptions.set(key, found);
      }
      return found;
    },
    subscriptionsNamed: async (name) =>
      !possibleName(name)
        ? []
        : (
            await kube.list<Subscription>(blockhostTypes.subscription, {
              fieldSelector: `metadata.name=${name}`,
            })
          ).items,
    vms: memoised(async () => (await kube.list<VM>(blockhostTypes.vm)).items),
  };
}
