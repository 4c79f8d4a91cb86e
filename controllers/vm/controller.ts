import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig, type VM } from '../../lib/api/v1alpha1/index.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { findCondition, setCondition, type ConditionUpdate } from '../../lib/runtime/conditions.js';
import type { ReconcileContext, ReconcileResult, Request } from '../../lib/runtime/controller.js';
import { ensureFinalizer, hasFinalizer, removeFinalizer } from '../../lib/runtime/finalizers.js';
import type { Manager } from '../../lib/runtime/manager.js';
import { updateStatus } from '../../lib/runtime/status.js';
import { AddressClaims, ipv4Candidates, ipv6Candidates } from './addresses.js';
import { BackendError, GuestAgentUnavailableError, type ObservedVm, type VmBackend } from './backend.js';
import type { BackendProvider } from './backends/provider.js';
import { backendAssignsAddresses, desiredVm, ipv6PrefixOf, wantedGecos } from './desired.js';
import { ensureLoginSecret } from './login-secret.js';

export const VM_CONTROLLER = 'vm';
export const VM_FINALIZER = 'blockhost.io/vm-backend';

type Status = NonNullable<VM['status']>;
type Phase = NonNullable<Status['phase']>;

/** Points where a test can kill the process to prove a crash there loses or duplicates nothing. */
export type VmControllerStep = 'intentRecorded' | 'backendCreated' | 'backendDeleteStarted';

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
  onStep?: (step: VmControllerStep) => void;
}

const POWER_PHASES: Record<ObservedVm['power'], Phase> = {
  Running: 'Running',
  Stopping: 'Running',
  Starting: 'Creating',
  Stopped: 'Stopped',
  Paused: 'Stopped',
  Unknown: 'Unknown',
};

/**
 * Runs each VM object on its backend: claims its addresses, records a create intent before the one
 * non-idempotent call (so a crash never makes a second VM), creates, powers it as runStrategy says,
 * repairs drift (a VM deleted or stopped behind our back), keeps the guest's GECOS in step with the
 * owner wallet through the guest agent, and tears everything down behind a finalizer.
 */
export function registerVmController(manager: Manager, options: VmControllerOptions): void {
  const observeIntervalMs = options.observeIntervalMs ?? 60_000;
  const transitionPollMs = options.transitionPollMs ?? 3_000;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 120_000;
  const vms = manager.informer<VM>(blockhostTypes.vm);
  const hosts = manager.informer<HostConfig>(blockhostTypes.hostConfig);
  const events = manager.eventRecorder(VM_CONTROLLER);
  const kube = manager.client;
  const claims = new AddressClaims(kube, options.claimsNamespace);
  let seenHostGeneration: number | undefined;

  const event = (vm: VM, type: 'Normal' | 'Warning', reason: string, note: string) =>
    events.record(vm, blockhostTypes.vm, type, reason, reason, note);

  /** Writes the status computed by `mutate` from the latest object; skips the write when nothing changed. */
  const writeStatus = (vm: VM, mutate: (status: Status, latest: VM) => Status) =>
    updateStatus<VM>(
      kube,
      blockhostTypes.vm,
      { name: vm.metadata.name!, namespace: vm.metadata.namespace },
      (latest) => {
        const next = mutate(structuredClone(latest.status ?? {}), latest);
        if (isDeepStrictEqual(next, latest.status ?? {})) return false;
        latest.status = next;
      },
    );

  const withConditions = (
    status: Status,
    generation: number | undefined,
    updates: ConditionUpdate[],
  ): Status => {
    let conditions = status.conditions;
    for (const update of updates)
      conditions = setCondition(conditions, { ...update, observedGeneration: generation });
    return { ...status, conditions };
  };

  async function finalize(
    vm: VM,
    host: HostConfig | undefined,
    log: ReconcileContext['log'],
  ): Promise<ReconcileResult> {
    if (!hasFinalizer(vm, VM_FINALIZER)) return;
    const status = vm.status ?? {};
    if (status.backendId || status.createIntent) {
      if (!host) {
        await writeStatus(vm, (s) => ({ ...s, phase: 'Deleting', lastTransitionReason: 'NoHostConfig' }));
        return { requeueAfterMs: observeIntervalMs };
      }
      const backend = await options.backends.for(host, vm.spec.backend);
      const observed = await backend.observe(ref(vm));
      if (observed && owned(vm, observed)) {
        if (status.phase !== 'Deleting') {
          vm = await writeStatus(vm, (s) => ({
            ...s,
            phase: 'Deleting',
            lastTransitionReason: 'Deleting',
            lastTransitionMessage: `removing ${observed.id} from ${backend.type}`,
          }));
        }
        await backend.delete(observed.id);
        options.onStep?.('backendDeleteStarted');
        if (await backend.observe({ ...ref(vm), id: observed.id }))
          return { requeueAfterMs: transitionPollMs };
        log.info({ backendId: observed.id }, 'backend VM removed');
        await event(vm, 'Normal', 'Deleted', `removed ${observed.id} and its disks from ${backend.type}`);
      }
    }
    await claims.release(vm);
    await removeFinalizer(kube, blockhostTypes.vm, vm, VM_FINALIZER).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  /**
   * Claims the VM's addresses (recorded in spec.network, which is immutable once set). An address
   * the spec names is claimed like a pool one, so a VM given another VM's address is never booted.
   */
  async function ensureAddresses(vm: VM, host: HostConfig): Promise<VM> {
    const network = { ...vm.spec.network };
    if (backendAssignsAddresses(host)) {
      if (network.ipv4 || network.ipv6)
        throw new BackendError(
          'KubeVirt on the pod network assigns the address (masquerade NAT): remove spec.network, or set spec.backend.kubevirt.networkName on the HostConfig (a bridge NetworkAttachmentDefinition) for pool addresses',
          'AddressesNotSupported',
        );
      return vm;
    }
    for (const family of ['ipv4', 'ipv6'] as const) {
      const address = network[family];
      if (address && !(await claims.claimExact(family, vm, address)))
        throw new BackendError(
          `spec.network.${family} ${address} is claimed by another VM; give this VM another address or none`,
          'AddressInUse',
        );
    }
    if (!network.ipv4) network.ipv4 = await claims.claim('ipv4', vm, ipv4Candidates(host.spec.ipv4Pool));
    const prefix = ipv6PrefixOf(host);
    if (!network.ipv6 && prefix) network.ipv6 = await claims.claim('ipv6', vm, ipv6Candidates(prefix));
    if (isDeepStrictEqual(network, vm.spec.network ?? {})) return vm;
    return kube.patch<VM>(
      blockhostTypes.vm,
      vm.metadata.name!,
      vm.metadata.namespace,
      { metadata: { resourceVersion: vm.metadata.resourceVersion }, spec: { network } },
      'merge',
    );
  }

  /** Creates the backend VM under a recorded intent; a crash anywhere here is resumed, never repeated. */
  async function create(vm: VM, host: HostConfig, backend: VmBackend, log: ReconcileContext['log']) {
    let intent = vm.status?.createIntent;
    if (!intent) {
      intent = {
        id: randomBytes(8).toString('hex'),
        startedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      };
      const recorded = intent;
      vm = await writeStatus(vm, (s) => {
        const { backendId: _dropped, ...rest } = s;
        return { ...rest, createIntent: recorded, phase: 'Creating', lastTransitionReason: 'Creating' };
      });
      options.onStep?.('intentRecorded');
    }
    const desired = desiredVm(vm, host, intent.id, await ensureLoginSecret(kube, vm));
    const observed = await backend.create(desired);
    options.onStep?.('backendCreated');
    log.info({ backendId: observed.id, intentId: intent.id }, 'backend VM created');
    const gecos = wantedGecos(vm);
    vm = await writeStatus(vm, (s) => {
      const { createIntent: _done, ...rest } = s;
      return { ...rest, backendId: observed.id, appliedGecos: gecos };
    });
    await event(vm, 'Normal', 'Created', `created ${observed.id} on ${backend.type}`);
    return { vm, observed };
  }

  /** Whether `observed` is this VM's: created under its intent, or the id it recorded. */
  const owned = (vm: VM, observed: ObservedVm) =>
    observed.id === vm.status?.backendId ||
    (observed.intentId !== undefined && observed.intentId === vm.status?.createIntent?.id) ||
    (observed.intentId === undefined && vm.status?.createIntent !== undefined);

  const ref = (vm: VM) => ({
    namespace: vm.metadata.namespace!,
    name: vm.metadata.name!,
    id: vm.status?.backendId,
    intentId: vm.status?.createIntent?.id,
  });

  async function syncGecos(vm: VM, observed: ObservedVm, backend: VmBackend): Promise<ConditionUpdate> {
    const gecos = wantedGecos(vm);
    if (vm.status?.appliedGecos === gecos)
      return { type: 'OwnerSynced', status: 'True', reason: 'Applied', message: `GECOS ${gecos}` };
    if (!observed.guestAgentConnected)
      return {
        type: 'OwnerSynced',
        status: 'False',
        reason: 'WaitingForGuestAgent',
        message: `GECOS ${gecos} pending`,
      };
    const result = await backend.guestExec(observed.id, {
      path: '/usr/sbin/usermod',
      args: ['-c', gecos, vm.spec.cloudInit.username],
    });
    if (result.exitCode !== 0)
      throw new BackendError(
        `usermod in the guest exited ${result.exitCode}: ${result.stderr.trim()}`,
        'GecosUpdateFailed',
      );
    await writeStatus(vm, (s) => ({ ...s, appliedGecos: gecos }));
    await event(vm, 'Normal', 'OwnerSynced', `guest GECOS set to ${gecos}`);
    return { type: 'OwnerSynced', status: 'True', reason: 'Applied', message: `GECOS ${gecos}` };
  }

  /**
   * Brings power in line with runStrategy: 'acted' when it just asked the backend for a change,
   * 'transitioning' when one is under way without us, 'settled' otherwise.
   */
  async function syncPower(
    vm: VM,
    observed: ObservedVm,
    backend: VmBackend,
  ): Promise<'acted' | 'transitioning' | 'settled'> {
    const wantRunning = vm.spec.runStrategy === 'Always';
    if (wantRunning && (observed.power === 'Stopped' || observed.power === 'Paused')) {
      const wasRunning = vm.status?.phase === 'Running';
      await backend.power(observed.id, 'start');
      await event(
        vm,
        wasRunning ? 'Warning' : 'Normal',
        wasRunning ? 'Restarted' : 'Started',
        wasRunning
          ? `${observed.id} was stopped behind our back; started it again`
          : `started ${observed.id}`,
      );
      return 'acted';
    }
    if (!wantRunning && (observed.power === 'Running' || observed.power === 'Stopping')) {
      // Per VM (spec.shutdownGracePeriodSeconds) when set, else the controller default.
      const graceSeconds = vm.spec.shutdownGracePeriodSeconds;
      const graceMs = graceSeconds === undefined ? shutdownTimeoutMs : graceSeconds * 1000;
      const shuttingDown = findCondition(vm.status?.conditions, 'Running');
      const since =
        shuttingDown?.reason === 'ShuttingDown' ? Date.parse(shuttingDown.lastTransitionTime) : undefined;
      // A grace of 0 is a kill: no ACPI request at all, even when a graceful shutdown is under way.
      if (graceMs === 0 || (since !== undefined && Date.now() - since > graceMs)) {
        await backend.power(observed.id, 'stop');
        await event(
          vm,
          graceMs === 0 ? 'Normal' : 'Warning',
          'PoweredOff',
          graceMs === 0
            ? `powered off ${observed.id} without a shutdown (shutdownGracePeriodSeconds 0)`
            : `${observed.id} ignored the shutdown request for ${graceMs / 1000} s; powered off`,
        );
        return 'acted';
      }
      if (since === undefined || observed.power === 'Running') {
        await backend.power(observed.id, 'shutdown');
        if (since === undefined)
          await event(vm, 'Normal', 'ShuttingDown', `asked ${observed.id} to shut down`);
      }
      return 'acted';
    }
    return observed.power === 'Starting' || observed.power === 'Stopping' ? 'transitioning' : 'settled';
  }

  function observedStatus(
    vm: VM,
    observed: ObservedVm,
    extra: ConditionUpdate[],
    transitioning: boolean,
  ): (s: Status) => Status {
    const wantRunning = vm.spec.runStrategy === 'Always';
    const running = observed.power === 'Running';
    const addresses = {
      ...(observed.addresses.ipv4 && { ipv4: observed.addresses.ipv4 }),
      ...(observed.addresses.ipv6 && { ipv6: observed.addresses.ipv6 }),
      // The static addresses we configured are where customers reach the VM.
      ...(vm.spec.network?.ipv4 && { ipv4: vm.spec.network.ipv4 }),
      ...(vm.spec.network?.ipv6 && { ipv6: vm.spec.network.ipv6 }),
    };
    const ready = wantRunning ? running && observed.guestAgentConnected : !running;
    const shuttingDown = !wantRunning && (running || observed.power === 'Stopping');
    const runningCondition: ConditionUpdate = shuttingDown
      ? // Unknown rather than True: entering it stamps lastTransitionTime, which times the shutdown.
        { type: 'Running', status: 'Unknown', reason: 'ShuttingDown', message: 'shutdown requested' }
      : {
          type: 'Running',
          status: running ? 'True' : 'False',
          reason: observed.power,
          message: `${observed.id} is ${observed.power}`,
        };
    return (s) => {
      const phase = POWER_PHASES[observed.power];
      const next: Status = {
        ...s,
        phase,
        lastTransitionReason: s.phase === phase ? s.lastTransitionReason : observed.power,
        lastTransitionMessage:
          s.phase === phase
            ? s.lastTransitionMessage
            : `${vm.spec.backend} ${observed.id} is ${observed.power}`,
        backendId: observed.id,
        guestAgentConnected: observed.guestAgentConnected,
        ...(Object.keys(addresses).length > 0 && { addresses }),
        observedGeneration: vm.metadata.generation,
      };
      delete next.createIntent;
      return withConditions(next, vm.metadata.generation, [
        {
          type: 'Created',
          status: 'True',
          reason: 'Created',
          message: `${observed.id} on ${vm.spec.backend}`,
        },
        runningCondition,
        {
          type: 'GuestAgentConnected',
          status: observed.guestAgentConnected ? 'True' : 'False',
          reason: observed.guestAgentConnected ? 'Connected' : 'NotConnected',
          message: observed.guestAgentConnected
            ? 'the QEMU guest agent answers'
            : 'the QEMU guest agent does not answer',
        },
        ...extra,
        {
          type: 'Ready',
          status: ready && !transitioning ? 'True' : 'False',
          reason: ready && !transitioning ? 'AsDesired' : 'Reconciling',
          message: `runStrategy ${vm.spec.runStrategy}, power ${observed.power}`,
        },
      ]);
    };
  }

  async function reconcileVm(
    vm: VM,
    host: HostConfig,
    log: ReconcileContext['log'],
  ): Promise<ReconcileResult> {
    // The backend first: a VM this host cannot serve (another backend) takes no finalizer and no
    // pool addresses, so it never holds addresses other VMs need.
    const backend = await options.backends.for(host, vm.spec.backend);
    vm = await ensureFinalizer(kube, blockhostTypes.vm, vm, VM_FINALIZER);
    vm = await ensureAddresses(vm, host);
    let observed = await backend.observe(ref(vm));
    if (observed && !owned(vm, observed))
      throw new BackendError(
        `${vm.spec.backend} already has a VM named for ${vm.metadata.namespace}/${vm.metadata.name} (${observed.id}) that this object did not create`,
        'NameConflict',
      );
    if (!observed) {
      if (vm.status?.backendId && !vm.status.createIntent) {
        log.warn({ backendId: vm.status.backendId }, 'backend VM missing; recreating it');
        await event(
          vm,
          'Warning',
          'Recreating',
          `${vm.status.backendId} disappeared from ${backend.type}; creating it again`,
        );
      }
      ({ vm, observed } = await create(vm, host, backend, log));
    } else {
      // Compared against the spec directly: rendering the desired VM (cloud-init included) is only
      // needed when there is something to change, not on every observation.
      const size = vm.spec.size;
      const needsResize =
        (observed.cpu !== undefined && observed.cpu !== size.cpu) ||
        (observed.memoryMiB !== undefined && observed.memoryMiB !== size.memoryMiB) ||
        (observed.diskGiB !== undefined && observed.diskGiB < size.diskGiB);
      if (needsResize) {
        const loginSecretKey = await ensureLoginSecret(kube, vm);
        await backend.update(
          observed.id,
          desiredVm(vm, host, vm.status?.createIntent?.id ?? '', loginSecretKey),
        );
        await event(vm, 'Normal', 'Resized', `${size.cpu} CPU, ${size.memoryMiB} MiB, ${size.diskGiB} GiB`);
      }
    }
    const power = await syncPower(vm, observed, backend);
    const transitioning = power !== 'settled';
    // After a power action the observation taken before it is stale (a VM just started would be
    // reported Stopped): the status says what the backend says now.
    if (power === 'acted') observed = (await backend.observe({ ...ref(vm), id: observed.id })) ?? observed;
    let ownerSynced: ConditionUpdate;
    try {
      ownerSynced = await syncGecos(vm, observed, backend);
    } catch (error) {
      if (!(error instanceof GuestAgentUnavailableError)) throw error;
      ownerSynced = {
        type: 'OwnerSynced',
        status: 'False',
        reason: 'WaitingForGuestAgent',
        message: error.message,
      };
    }
    await writeStatus(vm, observedStatus(vm, observed, [ownerSynced], transitioning));
    const waitingForGuest =
      vm.spec.runStrategy === 'Always' && (!observed.guestAgentConnected || ownerSynced.status === 'False');
    return { requeueAfterMs: transitioning || waitingForGuest ? transitionPollMs : observeIntervalMs };
  }

  const reconcile = async (
    { namespace, name }: Request,
    { log }: ReconcileContext,
  ): Promise<ReconcileResult> => {
    // The informer only says which VM to look at. Decisions about creating rest on the stored
    // object: a cached copy may predate our own intent write, and acting on it could create twice.
    const vm = await kube.get<VM>(blockhostTypes.vm, name, namespace).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (!vm) return;
    const host = hosts.get(HOST_CONFIG_NAME);
    try {
      if (vm.metadata.deletionTimestamp) return await finalize(vm, host, log);
      if (!host) {
        await writeStatus(vm, (s) => ({
          ...s,
          phase: s.phase ?? 'Pending',
          lastTransitionReason: 'NoHostConfig',
          lastTransitionMessage: 'waiting for the HostConfig that configures the backend',
        }));
        return { requeueAfterMs: observeIntervalMs };
      }
      return await reconcileVm(vm, host, log);
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      // Reported where operators look, then retried with the queue's per-key backoff.
      await writeStatus(vm, (s) =>
        withConditions(s, vm.metadata.generation, [
          { type: 'Ready', status: 'False', reason: error.reason, message: error.message.slice(0, 1024) },
        ]),
      ).catch(() => undefined);
      await event(vm, 'Warning', error.reason, error.message.slice(0, 1024));
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
    workers: 8,
  });
}
