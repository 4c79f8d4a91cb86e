import type { VM, VMStatus } from '../../../lib/api/v1alpha1/index.js';
import type { Logger } from '../../../lib/log.js';
import type { Family } from '../addresses.js';

type VmNetwork = NonNullable<VM['spec']['network']>;

/**
 * Every write the VM steps make to the Kubernetes API, so the steps run on the API server
 * (kube-store.ts) and, in unit tests, on an in-memory object (memory-store.ts). Each write returns
 * the object as stored.
 */
export interface VmStore {
  /** Writes the status `mutate` computes from the latest object; skips the write when nothing changed. */
  writeStatus(vm: VM, mutate: (status: VMStatus) => VMStatus): Promise<VM>;
  /** Sets metadata annotations, guarded by the resourceVersion of `vm`. */
  annotate(vm: VM, annotations: Record<string, string>): Promise<VM>;
  /** Records the claimed addresses in spec.network, guarded by the resourceVersion of `vm`. */
  setNetwork(vm: VM, network: VmNetwork): Promise<VM>;
  ensureFinalizer(vm: VM): Promise<VM>;
  /** Lets the deletion finish; an object already gone is fine. */
  removeFinalizer(vm: VM): Promise<void>;
  event(vm: VM, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void>;
}

/** Race-free address claims (addresses.ts's AddressClaims on the API server). */
export interface AddressClaimer {
  claim(family: Family, vm: VM, candidates: Iterable<string>): Promise<string>;
  claimExact(family: Family, vm: VM, address: string): Promise<boolean>;
  release(vm: VM): Promise<void>;
}

/** Points where a test can kill the process to prove a crash there loses or duplicates nothing. */
export type VmControllerStep = 'createStarted' | 'backendCreated' | 'backendDeleteStarted';

/** How often the controller looks again, and how long a shutdown may take. */
export interface VmTimings {
  /** How often a settled VM is observed on its backend, to repair drift. */
  observeIntervalMs: number;
  /** How often a VM is observed while it boots or shuts down. */
  transitionPollMs: number;
  /** How long a graceful shutdown may take before the VM is powered off. */
  shutdownTimeoutMs: number;
}

/** What every step may use besides the backend. */
export interface StepDeps {
  store: VmStore;
  claims: AddressClaimer;
  /** The VM's pam_web3 secret (login-secret.ts), created on first use. */
  loginSecret(vm: VM): Promise<string>;
  timings: VmTimings;
  log: Logger;
  /** Wall-clock now in ms (shutdown timing compares it with condition timestamps). */
  now(): number;
  onStep?: (step: VmControllerStep) => void;
}
