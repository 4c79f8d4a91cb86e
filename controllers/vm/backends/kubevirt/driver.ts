import type { KubeClient } from '../../../../lib/kube/client.js';
import { isAlreadyExists, isConflict, isNotFound, KubeApiError } from '../../../../lib/kube/errors.js';
import type { KubeObject } from '../../../../lib/kube/object.js';
import { coreTypes, type ResourceType } from '../../../../lib/kube/resource-types.js';
import type { Logger } from '../../../../lib/log.js';
import { controllerReference } from '../../../../lib/runtime/owners.js';
import {
  BackendError,
  GuestAgentUnavailableError,
  type BackendRef,
  type DesiredVm,
  type GuestCommand,
  type GuestExecResult,
  type ObservedVm,
  type PowerAction,
  type VmBackend,
} from '../../backend.js';
import {
  execThroughAgent,
  readFileThroughAgent,
  writeFileThroughAgent,
  type AgentTransport,
} from '../../guest-agent.js';
import {
  COMPUTE_CONTAINER,
  execInContainer,
  findLauncherPod,
  findPodNetworkLauncher,
  type ContainerExec,
} from './launcher.js';
import {
  buildCloudInitSecret,
  buildVirtualMachine,
  cloudInitSecretName,
  rootDataVolumeName,
  runStrategyOf,
  type KubevirtSettings,
  type Secret,
} from './manifests.js';
import { gib, parseQuantity } from './quantity.js';
import {
  CREATE_INTENT_ANNOTATION,
  kubevirtTypes,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type PersistentVolumeClaim,
  type VirtualMachine,
  type VirtualMachineInstance,
} from './resource-types.js';
import { backendIdOf, observedVm, onPodNetwork, parseBackendId, podAddresses, sizeOf } from './status.js';
import { launcherDomainName, virshAgentTransport } from './virsh-agent.js';

export type { KubevirtSettings } from './manifests.js';

export interface KubevirtBackendOptions {
  kube: KubeClient;
  settings: KubevirtSettings;
  log: Logger;
  /** How commands reach the virt-launcher pod; pods/exec through the API server unless replaced (tests). */
  launcherExec?: ContainerExec;
}

/** Each virsh call waits up to 30 s for the agent; the exec around it gets a little more. */
const LAUNCHER_EXEC_TIMEOUT_MS = 45_000;
const UPDATE_CONFLICT_RETRIES = 3;

interface Location {
  namespace: string;
  name: string;
}

/**
 * The KubeVirt backend: one `kubevirt.io/v1` VirtualMachine per VM object, named after it, with its
 * cloud-init in a Secret the VirtualMachine owns. KubeVirt's controllers do the work; this driver
 * writes intent (spec, runStrategy) and reads back what they report (printableStatus, the VMI).
 * The backend id is `namespace/name` of the VirtualMachine.
 */
export class KubevirtBackend implements VmBackend {
  readonly type = 'kubevirt' as const;
  private readonly kube: KubeClient;
  private readonly settings: KubevirtSettings;
  private readonly log: Logger;
  private readonly launcherExec: ContainerExec;
  /** By backend id: the launcher pod's addresses of its current VMI (replaced with a new VMI). */
  private readonly podNetworkAddresses = new Map<
    string,
    { vmiUid: string; addresses: ObservedVm['addresses'] }
  >();

  constructor(options: KubevirtBackendOptions) {
    this.kube = options.kube;
    this.settings = options.settings;
    this.log = options.log.child({ backend: 'kubevirt' });
    this.launcherExec =
      options.launcherExec ??
      ((pod, command, timeoutMs) => execInContainer(this.kube.kubeConfig, pod, command, timeoutMs));
  }

  async observe(ref: BackendRef): Promise<ObservedVm | undefined> {
    const at = this.locate(ref);
    const vm = await this.getVm(at);
    if (!vm) return undefined;
    const vmi = await this.getOptional<VirtualMachineInstance>(kubevirtTypes.virtualMachineInstance, at);
    const observed = observedVm(vm, vmi);
    if (!onPodNetwork(vm)) return observed;
    // The address goes into the customer's NFT, so it must not come from the VMI's status, which
    // whoever may edit VMIs can write: on the pod network it is the launcher pod's IP (kubelet's).
    return { ...observed, addresses: vmi ? await this.launcherAddresses(vmi) : {} };
  }

  /** The pod-network addresses of a VMI, looked up once per VMI (a pod's IP never changes). */
  private async launcherAddresses(vmi: VirtualMachineInstance): Promise<ObservedVm['addresses']> {
    const key = backendIdOf(vmi.metadata.namespace ?? '', vmi.metadata.name ?? '');
    const known = this.podNetworkAddresses.get(key);
    if (known && known.vmiUid === vmi.metadata.uid) return known.addresses;
    const pod = await findPodNetworkLauncher(this.kube, vmi);
    const addresses = pod ? podAddresses(pod) : {};
    if (addresses.ipv4 ?? addresses.ipv6)
      this.podNetworkAddresses.set(key, { vmiUid: vmi.metadata.uid ?? '', addresses });
    return addresses;
  }

  /**
   * Secret, then VirtualMachine, then the Secret's owner reference: every step is safe to repeat,
   * and a VirtualMachine left by an earlier attempt with the same intent is adopted.
   */
  async create(desired: DesiredVm): Promise<ObservedVm> {
    const at = this.locate(desired);
    let vm = await this.getVm(at);
    if (vm) this.assertSameIntent(vm, desired);
    else {
      // Built first: a bad input (unknown image) fails before anything is written.
      const manifest = buildVirtualMachine(at.namespace, at.name, desired, this.settings);
      await this.upsertSecret(at, desired);
      vm = await this.kube
        .create<VirtualMachine>(kubevirtTypes.virtualMachine, manifest)
        .catch(async (error: unknown) => {
          if (!isAlreadyExists(error)) throw error;
          const raced = await this.requireVm(at);
          this.assertSameIntent(raced, desired);
          return raced;
        });
      this.log.info({ vm: `${at.namespace}/${at.name}`, intent: desired.intentId }, 'created VirtualMachine');
    }
    await this.upsertSecret(at, desired, vm);
    return observedVm(vm, await this.getOptional(kubevirtTypes.virtualMachineInstance, at));
  }

  async update(id: string, desired: DesiredVm): Promise<void> {
    const at = parseBackendId(id);
    const vm = await this.growVm(at, desired);
    await this.growRootDisk(at, desired.diskGiB);
    await this.upsertSecret(at, desired, vm);
  }

  async power(id: string, action: PowerAction): Promise<void> {
    const at = parseBackendId(id);
    if (action === 'stop') await this.requestForcedStop(at);
    // Halted: virt-controller deletes the VMI and virt-handler shuts the guest down through ACPI,
    // forcing it off after the VMI's termination grace period.
    await this.setRunStrategy(at, runStrategyOf(action === 'start'));
    if (action === 'stop') {
      await this.deleteIgnoringAbsence(kubevirtTypes.virtualMachineInstance, at, { gracePeriodSeconds: 0 });
    }
    this.log.info({ vm: id, action }, 'power action requested');
  }

  /**
   * Foreground deletion: the VirtualMachine stays (printableStatus Terminating) until the garbage
   * collector has removed its VMI and DataVolumes, so `observe` reports it until its disks are gone.
   * Background would drop the VirtualMachine at once and leave the disks being deleted unseen.
   */
  async delete(id: string): Promise<void> {
    const at = parseBackendId(id);
    this.podNetworkAddresses.delete(id);
    await this.deleteIgnoringAbsence(kubevirtTypes.virtualMachine, at, { propagationPolicy: 'Foreground' });
    // Owned by the VirtualMachine, but a crash during create may have left it without the owner reference.
    await this.deleteIgnoringAbsence(coreTypes.secret, {
      namespace: at.namespace,
      name: cloudInitSecretName(at.name),
    });
    this.log.info({ vm: id }, 'deleting VirtualMachine');
  }

  /**
   * The kubevirt.io VirtualMachine API is served (KubeVirt installed) and the configured VM namespace
   * exists (without one, VMs live beside their VM objects, in namespaces that exist by definition).
   */
  async check(): Promise<void> {
    const { namespace } = this.settings;
    try {
      await this.kube.list(kubevirtTypes.virtualMachine, { namespace, limit: 1 });
    } catch (error) {
      if (isNotFound(error))
        throw new BackendError(
          'the kubevirt.io/v1 VirtualMachine API is not served: KubeVirt is not installed in this cluster',
          'KubevirtNotInstalled',
          { cause: error },
        );
      throw new BackendError(
        `cannot list KubeVirt VirtualMachines: ${(error as Error).message}`,
        'KubevirtUnavailable',
        { cause: error },
      );
    }
    if (namespace === undefined) return;
    try {
      await this.kube.get(coreTypes.namespace, namespace);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      throw new BackendError(
        `namespace "${namespace}" (backend.kubevirt.namespace) does not exist`,
        'NamespaceMissing',
        { cause: error },
      );
    }
  }

  /** Honours `signal` between agent calls (each launcher exec is bounded by its own timeout). */
  async guestExec(id: string, command: GuestCommand, signal?: AbortSignal): Promise<GuestExecResult> {
    return execThroughAgent(await this.agentTransport(id), command, signal);
  }

  async guestReadFile(id: string, path: string, maxBytes: number): Promise<string | undefined> {
    return readFileThroughAgent(await this.agentTransport(id), path, maxBytes);
  }

  async guestWriteFile(id: string, path: string, content: string): Promise<void> {
    return writeFileThroughAgent(await this.agentTransport(id), path, content);
  }

  /**
   * KubeVirt's API has no guest-exec or file access, so agent commands go the way virt-handler's
   * own agent calls go: virsh qemu-agent-command in the VMI's virt-launcher pod (pods/exec,
   * container `compute`).
   */
  private async agentTransport(id: string): Promise<AgentTransport> {
    const at = parseBackendId(id);
    const vmi = await this.getOptional<VirtualMachineInstance>(kubevirtTypes.virtualMachineInstance, at);
    if (vmi?.status?.phase !== 'Running')
      throw new GuestAgentUnavailableError(
        `${id} is not running (VMI phase ${vmi?.status?.phase ?? 'absent'})`,
      );
    if (!vmi.status.conditions?.some((c) => c.type === 'AgentConnected' && c.status === 'True'))
      throw new GuestAgentUnavailableError(`the guest agent of ${id} is not connected`);
    const pod = await findLauncherPod(this.kube, vmi);
    if (!pod?.metadata.name) throw new GuestAgentUnavailableError(`${id} has no running virt-launcher pod`);
    const launcher = { namespace: at.namespace, name: pod.metadata.name, container: COMPUTE_CONTAINER };
    const exec = (argv: string[]) =>
      this.launcherExec(launcher, argv, LAUNCHER_EXEC_TIMEOUT_MS).catch((error: unknown) => {
        throw new GuestAgentUnavailableError(
          `cannot run virsh in ${at.namespace}/${launcher.name}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      });
    return virshAgentTransport(exec, launcherDomainName(at.namespace, at.name));
  }

  private locate(ref: BackendRef): Location {
    if (ref.id) return parseBackendId(ref.id);
    return { namespace: this.settings.namespace ?? ref.namespace, name: ref.name };
  }

  private async getOptional<T extends KubeObject>(type: ResourceType, at: Location): Promise<T | undefined> {
    return this.kube.get<T>(type, at.name, at.namespace).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  }

  private getVm(at: Location): Promise<VirtualMachine | undefined> {
    return this.getOptional<VirtualMachine>(kubevirtTypes.virtualMachine, at);
  }

  private async requireVm(at: Location): Promise<VirtualMachine> {
    const vm = await this.getVm(at);
    if (!vm) throw new BackendError(`VirtualMachine ${at.namespace}/${at.name} does not exist`, 'NotFound');
    return vm;
  }

  private assertSameIntent(vm: VirtualMachine, desired: DesiredVm): void {
    const intent = vm.metadata.annotations?.[CREATE_INTENT_ANNOTATION];
    if (intent === desired.intentId) return;
    throw new BackendError(
      `VirtualMachine ${vm.metadata.namespace}/${vm.metadata.name} already exists with create intent ` +
        `${intent ?? '(none)'}, not ${desired.intentId}: it belongs to another VM or another create`,
      'Conflict',
    );
  }

  /** Creates or updates the cloud-init Secret; with `owner`, makes the VirtualMachine own it. */
  private async upsertSecret(at: Location, desired: DesiredVm, owner?: VirtualMachine): Promise<void> {
    const secret = buildCloudInitSecret(at.namespace, at.name, desired);
    if (owner) secret.metadata.ownerReferences = [controllerReference(owner, kubevirtTypes.virtualMachine)];
    const created = await this.kube.create(coreTypes.secret, secret).then(
      () => true,
      (error: unknown) => {
        if (isAlreadyExists(error)) return false;
        throw error;
      },
    );
    if (created) return;
    const name = secret.metadata.name ?? '';
    const current = await this.kube.get<Secret>(coreTypes.secret, name, at.namespace);
    if (current.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY)
      throw new BackendError(`Secret ${at.namespace}/${name} exists and is not BlockHost's`, 'Conflict');
    // Merge patch: keys the new data lacks (networkdata without a network config) are removed with null.
    const data: Record<string, string | null> = { networkdata: null, ...secret.data };
    await this.kube.patch(
      coreTypes.secret,
      name,
      at.namespace,
      {
        metadata: {
          labels: secret.metadata.labels,
          ...(secret.metadata.ownerReferences && { ownerReferences: secret.metadata.ownerReferences }),
        },
        data,
      },
      'merge',
    );
  }

  /**
   * Grows vCPUs, memory and the root disk's DataVolume template (never shrinks). KubeVirt applies
   * CPU and memory at the next boot (or live, where its LiveUpdate rollout strategy can hotplug).
   */
  private async growVm(at: Location, desired: DesiredVm): Promise<VirtualMachine> {
    for (let attempt = 1; ; attempt += 1) {
      const vm = await this.requireVm(at);
      const size = sizeOf(vm);
      const domain = vm.spec.template.spec?.domain;
      const rootDisk = vm.spec.dataVolumeTemplates?.find(
        (t) => t.metadata?.name === rootDataVolumeName(at.name),
      );
      const growCpu = domain !== undefined && desired.cpu > (size.cpu ?? 0);
      const growMemory = domain !== undefined && desired.memoryMiB > (size.memoryMiB ?? 0);
      const growDisk = rootDisk?.spec.storage !== undefined && desired.diskGiB > (size.diskGiB ?? 0);
      if (!growCpu && !growMemory && !growDisk) return vm;
      if (domain && growCpu) domain.cpu = { ...domain.cpu, cores: desired.cpu, sockets: 1, threads: 1 };
      if (domain && growMemory) domain.memory = { ...domain.memory, guest: `${desired.memoryMiB}Mi` };
      if (rootDisk?.spec.storage && growDisk)
        rootDisk.spec.storage.resources = { requests: { storage: gib(desired.diskGiB) } };
      try {
        const updated = await this.kube.update<VirtualMachine>(kubevirtTypes.virtualMachine, vm);
        this.log.info(
          {
            vm: `${at.namespace}/${at.name}`,
            cpu: desired.cpu,
            memoryMiB: desired.memoryMiB,
            diskGiB: desired.diskGiB,
          },
          'grew VirtualMachine',
        );
        return updated;
      } catch (error) {
        if (!isConflict(error) || attempt >= UPDATE_CONFLICT_RETRIES) throw error;
      }
    }
  }

  /**
   * The disk itself grows with its PVC (CDI does not resize a DataVolume after import); KubeVirt
   * then grows the disk image. A PVC not bound yet cannot be resized: retry later.
   */
  private async growRootDisk(at: Location, diskGiB: number): Promise<void> {
    const name = rootDataVolumeName(at.name);
    const pvc = await this.getOptional<PersistentVolumeClaim>(kubevirtTypes.persistentVolumeClaim, {
      namespace: at.namespace,
      name,
    });
    const requested = pvc?.spec?.resources?.requests?.storage;
    if (!pvc || requested === undefined || parseQuantity(requested) >= parseQuantity(gib(diskGiB))) return;
    if (pvc.status?.phase !== 'Bound')
      throw new BackendError(
        `the root disk PVC ${at.namespace}/${name} is not bound yet; resizing later`,
        'DiskResizePending',
      );
    await this.kube.patch(
      kubevirtTypes.persistentVolumeClaim,
      name,
      at.namespace,
      { spec: { resources: { requests: { storage: gib(diskGiB) } } } },
      'merge',
    );
  }

  private async setRunStrategy(at: Location, runStrategy: 'Always' | 'Halted'): Promise<void> {
    await this.kube
      .patch(kubevirtTypes.virtualMachine, at.name, at.namespace, { spec: { runStrategy } }, 'merge')
      .catch((error: unknown) => {
        if (isNotFound(error))
          throw new BackendError(`VirtualMachine ${at.namespace}/${at.name} does not exist`, 'NotFound', {
            cause: error,
          });
        throw error;
      });
  }

  /**
   * virt-api's stop with grace period 0 (`virtctl stop --force --grace-period 0`): it sets the VMI's
   * termination grace period to 0, which only KubeVirt's own service accounts may do, so virt-handler
   * pulls the plug instead of waiting for ACPI. Not served (404): KubeVirt's API server is absent.
   * Conflict (409): nothing runs, or a forced stop is already under way.
   */
  private async requestForcedStop(at: Location): Promise<void> {
    const path =
      `/apis/subresources.kubevirt.io/v1/namespaces/${encodeURIComponent(at.namespace)}` +
      `/virtualmachines/${encodeURIComponent(at.name)}/stop`;
    await this.kube.request('PUT', path, { body: { gracePeriod: 0 } }).catch((error: unknown) => {
      if (!isNotFound(error) && !(error instanceof KubeApiError && error.status === 409)) throw error;
    });
  }

  private async deleteIgnoringAbsence(
    type: ResourceType,
    at: Location,
    options: { propagationPolicy?: 'Foreground'; gracePeriodSeconds?: number } = {},
  ): Promise<void> {
    // KubeClient.delete has no grace period option, so DeleteOptions go through the raw request.
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...options };
    await this.kube
      .request('DELETE', this.kube.path(type, { namespace: at.namespace, name: at.name }), { body })
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
  }
}
