import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig, type VM } from '../../lib/api/v1alpha1/index.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { CachedReader } from '../../lib/runtime/cached-reader.js';
import type { ReconcileContext, ReconcileResult, Request } from '../../lib/runtime/controller.js';
import type { Manager } from '../../lib/runtime/manager.js';
import {
  BucketRateLimiter,
  ExponentialFailureRateLimiter,
  MaxOfRateLimiter,
} from '../../lib/runtime/workqueue/rate-limiters.js';
import { AddressClaims, type Claim } from './addresses.js';
import { BackendError } from './backend.js';
import { boundedBackend, DEFAULT_CALL_DEADLINES, type CallDeadlines } from './backends/bounded.js';
import type { BackendProvider } from './backends/provider.js';
import { ensureLoginSecret } from './login-secret.js';
import { finalize } from './steps/finalize.js';
import { kubeVmStore } from './steps/kube-store.js';
import { reconcileVm } from './steps/reconcile.js';
import { withConditions } from './steps/status.js';
import type { StepDeps, VmControllerStep } from './steps/store.js';

export { VM_FINALIZER } from './steps/finalizer.js';
export type { VmControllerStep } from './steps/store.js';

export const VM_CONTROLLER = 'vm';

export interface VmControllerOptions {
  backends: BackendProvider;
  /** Namespace of the address claims (the controller's own). */
  claimsNamespace: string;
  /** How often a settled VM is observed on its backend, to repair drift (default 60 s). */
  observeIntervalMs?: number;
  /** How often a VM is observed while it boots or shuts down (default 3 s). */
  transitionPollMs?: number;
  /** How long a graceful shutdown may take before the VM is powered off (default 120 s); a VM's
   *  spec.shutdownGracePeriodSeconds overrides it. */
  shutdownTimeoutMs?: number;
  /** Deadlines of backend calls (default {@link DEFAULT_CALL_DEADLINES}: 20 s reads, 35 min changes). */
  callDeadlines?: Partial<CallDeadlines>;
  /**
   * Per-VM retry backoff after a failed reconcile (a backend error or timeout): `baseMs * 2^n`,
   * capped at `maxMs` (default 1 s to 5 min), so a VM whose backend calls keep failing is retried
   * less and less often and leaves the workers to the others.
   */
  retryBackoff?: { baseMs: number; maxMs: number };
  /** VMs reconciled at once (default 8). */
  workers?: number;
  onStep?: (step: VmControllerStep) => void;
}

/**
 * Runs each VM object on its backend through the steps in steps/: claims its addresses, creates the
 * backend VM under a deterministic name and intent (so a crash never makes a second VM) and records
 * its id in an annotation, powers it as runStrategy says, repairs drift (a VM deleted or stopped
 * behind our back), keeps the guest's GECOS in step with the owner wallet through the guest agent,
 * and tears everything down behind a finalizer. Every backend call has a deadline and stops when
 * the reconcile is aborted (lost leadership).
 */
export function registerVmController(manager: Manager, options: VmControllerOptions): void {
  const timings = {
    observeIntervalMs: options.observeIntervalMs ?? 60_000,
    transitionPollMs: options.transitionPollMs ?? 3_000,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 120_000,
  };
  const deadlines = { ...DEFAULT_CALL_DEADLINES, ...options.callDeadlines };
  const retry = options.retryBackoff ?? { baseMs: 1_000, maxMs: 300_000 };
  const vms = manager.informer<VM>(blockhostTypes.vm);
  const hosts = manager.informer<HostConfig>(blockhostTypes.hostConfig);
  const kube = manager.client;
  const reader = new CachedReader(kube, vms);
  const store = kubeVmStore(kube, manager.eventRecorder(VM_CONTROLLER), reader);
  const claims = new AddressClaims(
    kube,
    options.claimsNamespace,
    manager.informer<Claim>(coreTypes.configMap, AddressClaims.informerOptions(options.claimsNamespace)),
  );
  let seenHostGeneration: number | undefined;

  const reconcile = async (
    { namespace, name }: Request,
    { log, signal }: ReconcileContext,
  ): Promise<ReconcileResult> => {
    // From the cache, but never older than our own last write (the backend id just recorded, the
    // addresses just claimed); every write is guarded by the resourceVersion read here.
    const vm = await reader.get(name, namespace);
    if (!vm) return;
    const host = hosts.get(HOST_CONFIG_NAME);
    const deps: StepDeps = {
      store,
      claims,
      loginSecret: (of) => ensureLoginSecret(kube, of),
      timings,
      log,
      now: Date.now,
      onStep: options.onStep,
    };
    const backendFor = async (of: HostConfig) =>
      boundedBackend(await options.backends.for(of, vm.spec.backend), { signal, deadlines });
    try {
      if (vm.metadata.deletionTimestamp) return await finalize(vm, host, backendFor, deps);
      if (!host) {
        await store.writeStatus(vm, (s) => ({
          ...s,
          phase: s.phase ?? 'Pending',
          lastTransitionReason: 'NoHostConfig',
          lastTransitionMessage: 'waiting for the HostConfig that configures the backend',
        }));
        return { requeueAfterMs: timings.observeIntervalMs };
      }
      // The backend first: a VM this host cannot serve (another backend) takes no finalizer and no
      // pool addresses, so it never holds addresses other VMs need.
      return await reconcileVm(vm, host, await backendFor(host), deps);
    } catch (error) {
      // A stopping controller reports nothing: the next leader looks again.
      if (!(error instanceof BackendError) || signal.aborted) throw error;
      // Reported where operators look, then retried with the queue's per-VM backoff.
      const message = error.message.slice(0, 1024);
      await store
        .writeStatus(vm, (s) =>
          withConditions(s, vm.metadata.generation, [
            { type: 'Ready', status: 'False', reason: error.reason, message },
          ]),
        )
        .catch(() => undefined);
      await store.event(vm, 'Warning', error.reason, message);
      throw error;
    }
  };

  manager.addController<VM>({
    name: VM_CONTROLLER,
    for: blockhostTypes.vm,
    // A HostConfig change (new backend settings, pool) concerns every VM.
    watches: [
      {
        type: blockhostTypes.hostConfig,
        map: (host) => {
          // Status updates of the HostConfig are frequent and change nothing for VMs.
          if (host.metadata.generation === seenHostGeneration) return [];
          seenHostGeneration = host.metadata.generation;
          return vms.list().map((vm) => ({ namespace: vm.metadata.namespace, name: vm.metadata.name! }));
        },
      },
    ],
    reconcile,
    workers: options.workers ?? 8,
    // Per VM, so one VM whose backend keeps failing backs off alone; the bucket caps all retries.
    rateLimiter: new MaxOfRateLimiter<string>(
      new ExponentialFailureRateLimiter<string>(retry.baseMs, retry.maxMs),
      new BucketRateLimiter<string>(10, 100),
    ),
  });
}
