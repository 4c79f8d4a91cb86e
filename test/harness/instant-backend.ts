import { randomUUID } from 'node:crypto';
import type { BackendType } from '../../lib/api/v1alpha1/index.js';
import {
  BackendError,
  GuestAgentUnavailableError,
  type BackendRef,
  type DesiredVm,
  type GuestCommand,
  type GuestExecResult,
  type ObservedVm,
  type PowerAction,
  type PowerState,
  type VmBackend,
} from '../../controllers/vm/backend.js';
import type { BackendFactory } from '../../controllers/vm/backends/provider.js';

interface InstantVm {
  id: string;
  key: string;
  intentId: string;
  power: PowerState;
  cpu: number;
  memoryMiB: number;
  diskGiB: number;
  addresses: DesiredVm['addresses'];
  /** What a fresh boot would get: the cloud-init of the last create or update. */
  cloudInit: DesiredVm['cloudInit'];
  /** GECOS per guest user, as `usermod --comment` left it. */
  gecos: Map<string, string>;
  /** Files in the guest by path, as the agent's file commands see them. */
  files: Map<string, string>;
}

type Method = 'observe' | 'create' | 'update' | 'power' | 'delete' | 'guestExec' | 'guestFile';

/**
 * A backend whose VMs exist only in memory and boot at once, for benchmarks and tests that measure
 * the controllers rather than a hypervisor. It keeps the real drivers' contract: VMs are found by
 * id or by their namespace/name, carry the create intent, grow but never shrink disks, power
 * actions and delete are idempotent, and the guest agent answers only while the VM runs.
 */
export class InstantBackend implements VmBackend {
  private readonly vms = new Map<string, InstantVm>();
  private readonly byName = new Map<string, string>();
  /** Calls per method, so a benchmark can report backend work per VM. */
  readonly calls: Record<Method, number> = {
    observe: 0,
    create: 0,
    update: 0,
    power: 0,
    delete: 0,
    guestExec: 0,
    guestFile: 0,
  };
  /** Every power action in order, so a test can tell a graceful shutdown from a hard power-off. */
  readonly powerLog: { id: string; action: PowerAction }[] = [];

  constructor(readonly type: BackendType = 'libvirt') {}

  get size(): number {
    return this.vms.size;
  }

  /** The cloud-init VM `id` would boot with now (the last create or update's). */
  cloudInitOf(id: string): DesiredVm['cloudInit'] | undefined {
    return this.vms.get(id)?.cloudInit;
  }

  /** The GECOS `usermod` last set for `user` in VM `id`, if any. */
  gecosOf(id: string, user: string): string | undefined {
    return this.vms.get(id)?.gecos.get(user);
  }

  async observe(ref: BackendRef): Promise<ObservedVm | undefined> {
    this.calls.observe += 1;
    const vm = this.find(ref);
    return vm && observed(vm);
  }

  async create(desired: DesiredVm): Promise<ObservedVm> {
    this.calls.create += 1;
    const key = nameKey(desired);
    const existing = this.find({ namespace: desired.namespace, name: desired.name });
    if (existing) {
      // Like `virsh define` of a name already taken: only the same create (a retry) may reuse it.
      if (existing.intentId === desired.intentId) return observed(existing);
      throw new BackendError(`a VM named ${key} already exists (${existing.id})`, 'NameConflict');
    }
    const vm: InstantVm = {
      id: randomUUID(),
      key,
      intentId: desired.intentId,
      power: desired.running ? 'Running' : 'Stopped',
      cpu: desired.cpu,
      memoryMiB: desired.memoryMiB,
      diskGiB: desired.diskGiB,
      addresses: { ...desired.addresses },
      cloudInit: desired.cloudInit,
      gecos: new Map(),
      files: new Map(),
    };
    this.vms.set(vm.id, vm);
    this.byName.set(key, vm.id);
    return observed(vm);
  }

  async update(id: string, desired: DesiredVm): Promise<void> {
    this.calls.update += 1;
    const vm = this.existing(id);
    vm.cpu = desired.cpu;
    vm.memoryMiB = desired.memoryMiB;
    vm.diskGiB = Math.max(vm.diskGiB, desired.diskGiB);
    vm.addresses = { ...desired.addresses };
    vm.cloudInit = desired.cloudInit;
  }

  async power(id: string, action: PowerAction): Promise<void> {
    this.calls.power += 1;
    this.powerLog.push({ id, action });
    this.existing(id).power = action === 'start' ? 'Running' : 'Stopped';
  }

  async delete(id: string): Promise<void> {
    this.calls.delete += 1;
    const vm = this.vms.get(id);
    if (!vm) return;
    this.vms.delete(id);
    this.byName.delete(vm.key);
  }

  async guestExec(id: string, command: GuestCommand): Promise<GuestExecResult> {
    this.calls.guestExec += 1;
    const vm = this.runningAgent(id);
    const [flag, gecos, user] = command.args ?? [];
    // usermod spells the option -c or --comment.
    const isUsermodComment =
      command.path.endsWith('/usermod') &&
      command.args?.length === 3 &&
      (flag === '-c' || flag === '--comment');
    if (!isUsermodComment || gecos === undefined || user === undefined)
      return { exitCode: 127, stdout: '', stderr: `${command.path}: command not found\n` };
    vm.gecos.set(user, gecos);
    return { exitCode: 0, stdout: '', stderr: '' };
  }

  async guestReadFile(id: string, path: string, maxBytes: number): Promise<string | undefined> {
    this.calls.guestFile += 1;
    const content = this.runningAgent(id).files.get(path);
    if (content !== undefined && Buffer.byteLength(content) > maxBytes)
      throw new BackendError(`${path} in ${id} is larger than ${maxBytes} bytes`, 'GuestFileTooLarge');
    return content;
  }

  async guestWriteFile(id: string, path: string, content: string): Promise<void> {
    this.calls.guestFile += 1;
    this.runningAgent(id).files.set(path, content);
  }

  /** A file in VM `id`'s guest, as a test plants or inspects it (e.g. a PAM callback session). */
  files(id: string): Map<string, string> {
    return this.existing(id).files;
  }

  private runningAgent(id: string): InstantVm {
    const vm = this.existing(id);
    if (vm.power !== 'Running')
      throw new GuestAgentUnavailableError(`the guest agent of ${id} does not answer: the VM is ${vm.power}`);
    return vm;
  }

  private find(ref: BackendRef): InstantVm | undefined {
    const id = ref.id ?? this.byName.get(nameKey(ref));
    return id === undefined ? undefined : this.vms.get(id);
  }

  private existing(id: string): InstantVm {
    const vm = this.vms.get(id);
    if (!vm) throw new BackendError(`VM ${id} does not exist`, 'NotFound');
    return vm;
  }
}

const nameKey = (ref: Pick<BackendRef, 'namespace' | 'name'>) => `${ref.namespace}/${ref.name}`;

function observed(vm: InstantVm): ObservedVm {
  const running = vm.power === 'Running';
  return {
    id: vm.id,
    intentId: vm.intentId,
    power: vm.power,
    guestAgentConnected: running,
    addresses: running ? { ...vm.addresses } : {},
    cpu: vm.cpu,
    memoryMiB: vm.memoryMiB,
    diskGiB: vm.diskGiB,
  };
}

/** A factory that hands every HostConfig the same `backend`, so the caller can inspect it. */
export function instantBackendFactory(backend: InstantBackend): BackendFactory {
  return async () => backend;
}
