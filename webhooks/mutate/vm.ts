import { HOST_CONFIG_NAME, type BackendType, type VM } from '../../lib/api/v1alpha1/index.js';
import type { Defaulted } from '../json-patch.js';
import type { Lookups } from '../lookups.js';
import { backendImages } from '../validate/findings.js';

const HOST = `HostConfig "${HOST_CONFIG_NAME}"`;

/** A VM as written, before defaults: backend and image may be missing. */
export type VMInput = Omit<VM, 'spec'> & { spec?: Partial<VM['spec']> };

export interface Defaults {
  values: Defaulted[];
  warnings: string[];
}

/**
 * Defaults a VM takes from other objects. backend and image are immutable, so on UPDATE a missing
 * one keeps its stored value; on CREATE backend comes from the HostConfig, and image from the Plan
 * of the VM's Subscription, else the backend's first image (the same choice the subscription
 * controller makes). Sizes cannot be defaulted here: the CRD's own defaults fill them in before
 * admission, so a VM without sizes is indistinguishable from one asking for the defaults.
 */
export async function defaultVm(vm: VMInput, oldVm: VM | undefined, lookups: Lookups): Promise<Defaults> {
  const values: Defaulted[] = [];
  const warnings: string[] = [];
  let backend = vm.spec?.backend;
  if (backend === undefined) {
    backend = oldVm?.spec.backend ?? (await lookups.hostConfig())?.spec.backend.type;
    if (backend === undefined)
      warnings.push(`spec.backend is not set and there is no ${HOST} to take it from`);
    else {
      values.push({ path: ['spec', 'backend'], value: backend });
      if (!oldVm) warnings.push(`spec.backend defaulted to ${backend} from ${HOST}`);
    }
  }
  if (vm.spec?.image === undefined) {
    const image = oldVm?.spec.image ?? (backend && (await defaultImage(vm, backend, lookups)));
    if (image === undefined) warnings.push(`spec.image is not set and no image could be chosen for it`);
    else {
      values.push({ path: ['spec', 'image'], value: image });
      if (!oldVm) warnings.push(`spec.image defaulted to ${image}`);
    }
  }
  return { values, warnings };
}

async function defaultImage(
  vm: VMInput,
  backend: BackendType,
  lookups: Lookups,
): Promise<string | undefined> {
  // Unvalidated input: only names that are strings are looked up (validation refuses the rest).
  const ref: unknown = vm.spec?.subscriptionRef?.name;
  const namespace: unknown = vm.metadata?.namespace;
  const subscription =
    typeof ref === 'string' && ref !== ''
      ? await lookups.subscription(typeof namespace === 'string' ? namespace : '', ref)
      : undefined;
  if (subscription) {
    const plan = (await lookups.plans()).find(
      (p) =>
        p.status?.onChainPlanId === subscription.spec.planId &&
        p.status.chainId === subscription.spec.chainId,
    );
    if (plan?.spec.size?.image) return plan.spec.size.image;
  }
  const host = await lookups.hostConfig();
  return host ? backendImages(host, backend)?.[0] : undefined;
}
