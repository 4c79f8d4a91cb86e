// QEMU VMs of the fake node: a small state machine that enforces what real PVE enforces and the
// driver relies on: config locks ("VM is locked (clone)"), the config file lock held by running tasks,
// clones into a free VMID only, templates that cannot start, no destroy of a running VM, start of a
// running VM failing its task, grow-only resize, VM creation with disks imported from `import`
// volumes (import-from), conversion into a template, and a guest agent that answers only some time
// after boot. Simplification: config changes of a running VM apply at once (PVE would keep some pending).
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentFileRequest, runAgentFileRequest } from './agent-files.js';
import type { GuestFilesystem } from './guest-fs.js';
import { SimulatedGuest, type ExecOutcome, type PasswdEntry } from './guest.js';
import { flag, list, parameterError, pveDie, single, type RequestParams } from './http.js';
import {
  agentOn,
  configValueProblem,
  DNS_NAME,
  DRIVE_KEY,
  formatSize,
  isCdrom,
  NET_KEY,
  NEW_VOLUME,
  NIC_MODELS,
  parseDrive,
  parseSize,
  printDrive,
  randomMac,
  withMac,
} from './qemu-config.js';
import { readNoCloudSeed } from './seed-reader.js';
import type { FakeStorages } from './storage.js';
import type { FakeTasks } from './tasks.js';

export interface FakeTemplate {
  vmid: number;
  name: string;
  diskGiB?: number;
}

export interface QemuOptions {
  node: string;
  bridges: string[];
  agentDelayMs: number;
  taskDurationMs: number;
  /** How long an operation waits for the config file lock before "got timeout" (PVE: 10 s). */
  lockTimeoutMs: number;
}

/** What tests see of a VM. */
export interface FakeVmView {
  vmid: number;
  name?: string;
  status: 'running' | 'stopped';
  qmpstatus: 'running' | 'paused' | 'stopped';
  lock?: string;
  template: boolean;
  config: Record<string, string>;
  users: PasswdEntry[];
}

interface GuestProcess {
  doneAt: number;
  outcome: ExecOutcome;
}

interface Vm {
  vmid: number;
  config: Record<string, string>;
  status: 'running' | 'stopped';
  qmpstatus: 'running' | 'paused';
  startedAt?: number;
  /** When the guest agent starts answering; unset while stopped or when no agent channel exists. */
  agentReadyAt?: number;
  guest: SimulatedGuest;
  processes: Map<number, GuestProcess>;
  nextPid: number;
  fileLocked: boolean;
}

const GIB = 2 ** 30;
const NUMERIC_KEYS = new Set(['cores', 'sockets', 'template', 'onboot']);
/** Parameters every qemu endpoint gets from the path, or that are not config keys. */
const NOT_CONFIG = new Set(['node', 'vmid', 'delete', 'digest', 'skiplock']);
const EXEC_RUN_MS = 30;

/**
 * Lets a test hold a moment still instead of racing a duration: while held, whatever passes
 * through the gate waits (tasks) or reports not ready (guest agents).
 */
export class Gate {
  private opened: Promise<void> = Promise.resolve();
  private open?: () => void;

  get held(): boolean {
    return this.open !== undefined;
  }

  hold(): void {
    if (this.held) return;
    this.opened = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.open = undefined;
  }

  passed(): Promise<void> {
    return this.opened;
  }
}

export class FakeQemu {
  private readonly vms = new Map<number, Vm>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Held: every task waits at its next step (its lock stays on) until released. */
  readonly taskGate = new Gate();
  /** Held: every guest agent answers "not running", however long ago its VM started. */
  readonly agentGate = new Gate();

  constructor(
    private readonly options: QemuOptions,
    private readonly storages: FakeStorages,
    private readonly tasks: FakeTasks,
    templates: FakeTemplate[],
  ) {
    const storage = storages.imageStorage().id;
    for (const template of templates) {
      const disk = storages.allocateImage(storage, template.vmid, (template.diskGiB ?? 2) * GIB, 'base');
      this.vms.set(
        template.vmid,
        this.newVm(template.vmid, new SimulatedGuest(), {
          name: template.name,
          template: '1',
          cores: '1',
          memory: '1024',
          ostype: 'l26',
          scsihw: 'virtio-scsi-single',
          scsi0: `${disk.volid},size=${formatSize(disk.sizeBytes)}`,
          ide2: 'none,media=cdrom',
          net0: `virtio=${randomMac()},bridge=${options.bridges[0] ?? 'vmbr0'}`,
          boot: 'order=scsi0;ide2;net0',
          smbios1: `uuid=${randomUUID()}`,
        }),
      );
    }
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
  }

  // --- inspection and faults behind the driver's back ---

  views(): FakeVmView[] {
    return [...this.vms.values()].map((vm) => ({
      vmid: vm.vmid,
      name: vm.config.name,
      status: vm.status,
      qmpstatus: vm.status === 'running' ? vm.qmpstatus : 'stopped',
      lock: vm.config.lock,
      template: vm.config.template === '1',
      config: { ...vm.config },
      users: vm.guest.users(),
    }));
  }

  /** The guest halts by itself (or someone pulls the plug outside BlockHost). */
  powerOff(vmid: number): void {
    this.halt(this.vmOrDie(vmid));
  }

  /** Someone pauses the VM on the host. */
  pause(vmid: number): void {
    const vm = this.vmOrDie(vmid);
    if (vm.status !== 'running') throw new Error(`VM ${vmid} is not running`);
    vm.qmpstatus = 'paused';
  }

  /** The VM and its disks vanish (deleted by an admin outside BlockHost). */
  async remove(vmid: number): Promise<void> {
    this.vmOrDie(vmid);
    this.vms.delete(vmid);
    for (const volume of this.storages.ownedBy(vmid)) await this.storages.free(volume.volid);
  }

  /** The guest's files, to act inside the guest as its programs would (pam_web3 opening a session). */
  guestFiles(vmid: number): GuestFilesystem {
    return this.vmOrDie(vmid).guest.files;
  }

  /** Sets a config lock such as `backup` for `ms`, as a backup job would. */
  holdConfigLock(vmid: number, lock: string, ms: number): void {
    const vm = this.vmOrDie(vmid);
    vm.config.lock = lock;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (vm.config.lock === lock) delete vm.config.lock;
    }, ms);
    this.timers.add(timer);
  }

  // --- cluster views ---

  resources(): object[] {
    return [...this.vms.values()].map((vm) => ({
      id: `qemu/${vm.vmid}`,
      type: 'qemu',
      vmid: vm.vmid,
      node: this.options.node,
      // PVE writes the name only when the clone's disks are copied.
      ...(vm.config.name !== undefined && { name: vm.config.name }),
      status: vm.status,
      template: vm.config.template === '1' ? 1 : 0,
      maxcpu: this.cpus(vm),
      maxmem: this.memoryBytes(vm),
      maxdisk: this.bootDiskBytes(vm),
      uptime: this.uptime(vm),
    }));
  }

  nodeList(): object[] {
    return [...this.vms.values()].map((vm) => ({
      vmid: vm.vmid,
      name: vm.config.name,
      status: vm.status,
      ...(vm.config.template === '1' && { template: 1 }),
      cpus: this.cpus(vm),
      maxmem: this.memoryBytes(vm),
      uptime: this.uptime(vm),
    }));
  }

  nextId(requested: string | undefined): string {
    if (requested !== undefined) {
      const vmid = this.vmidParam(requested, 'vmid');
      if (this.vms.has(vmid)) throw parameterError({ vmid: `VM ${vmid} already exists` });
      return String(vmid);
    }
    let vmid = 100;
    while (this.vms.has(vmid)) vmid += 1;
    return String(vmid);
  }

  // --- /nodes/{node}/qemu/{vmid}/... ---

  vmidParam(text: string, name = 'vmid'): number {
    const vmid = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(vmid >= 100 && vmid <= 999_999_999)) {
      throw parameterError({ [name]: `invalid format - value does not look like a valid VM ID` });
    }
    return vmid;
  }

  clone(vmidText: string, params: RequestParams, user: string): string {
    const source = this.vmOrDie(this.vmidParam(vmidText));
    const newidText = single(params, 'newid');
    if (newidText === undefined)
      throw parameterError({ newid: 'property is missing and it is not optional' });
    const newid = this.vmidParam(newidText, 'newid');
    const name = single(params, 'name');
    if (name !== undefined && !DNS_NAME.test(name)) {
      throw parameterError({ name: 'invalid format - value does not look like a valid DNS name' });
    }
    const isTemplate = source.config.template === '1';
    const full = params.values.has('full') ? flag(params, 'full') : !isTemplate;
    const storage = single(params, 'storage');
    if (storage !== undefined && !full) throw pveDie("parameter 'storage' not allowed for linked clones");
    if (storage !== undefined) this.storages.storage(storage);
    this.checkLock(source);
    if (this.vms.has(newid)) throw pveDie(`unable to create VM ${newid}: config file already exists`);
    // The temporary config that reserves the VMID: only the lock, no name yet.
    const clone = this.newVm(newid, source.guest.copy(), { lock: 'clone' });
    this.vms.set(newid, clone);
    return this.tasks.start('qmclone', String(source.vmid), user, async () => {
      const allocated: string[] = [];
      try {
        await this.taskStep();
        const config: Record<string, string> = {};
        for (const [key, value] of Object.entries(source.config)) {
          if (key === 'template' || key === 'lock' || /^unused\d+$/.test(key)) continue;
          if (NET_KEY.test(key)) {
            const nic = parseDrive(value);
            const model = [...nic.props.keys()].find((k) => NIC_MODELS.has(k))!;
            nic.props.set(model, randomMac());
            config[key] = printDrive(nic);
          } else if (DRIVE_KEY.test(key) && !isCdrom(parseDrive(value))) {
            const drive = parseDrive(value);
            const from = this.storages.volume(drive.head ?? '');
            if (!from) throw new Error(`volume '${drive.head}' does not exist`);
            const target = storage ?? from.storage;
            const volume = this.storages.allocateImage(target, newid, from.sizeBytes);
            allocated.push(volume.volid);
            drive.head = volume.volid;
            config[key] = printDrive(drive);
          } else {
            config[key] = value;
          }
        }
        config.name = name ?? `Copy-of-${source.config.name ?? `VM-${source.vmid}`}`;
        const description = single(params, 'description');
        if (description !== undefined) config.description = description;
        config.smbios1 = `uuid=${randomUUID()}`;
        if (this.vms.get(newid) !== clone) throw new Error(`VM ${newid} vanished during the clone`);
        clone.config = config;
      } catch (error) {
        if (this.vms.get(newid) === clone) this.vms.delete(newid);
        for (const volid of allocated) await this.storages.free(volid).catch(() => undefined);
        throw new Error(`clone failed: ${(error as Error).message}`);
      }
    });
  }

  /**
   * POST /nodes/{node}/qemu: checks the parameters (a disk `<storage>:<GiB>[,import-from=<volid>]`
   * needs an existing `images` or `import` volume to import from), reserves the VMID, and creates
   * the VM's disks in a `qmcreate` task; a failed task leaves no VM and no volume behind.
   */
  create(params: RequestParams, user: string): string {
    const vmidText = single(params, 'vmid');
    if (vmidText === undefined) throw parameterError({ vmid: 'property is missing and it is not optional' });
    const vmid = this.vmidParam(vmidText);
    const config: Record<string, string> = {};
    const newDisks = new Map<string, { storage: string; sizeBytes: number; from?: string }>();
    const errors: Record<string, string> = {};
    for (const [key, raw] of params.values) {
      if (NOT_CONFIG.has(key)) continue;
      const value = Array.isArray(raw) ? raw[raw.length - 1]! : raw;
      const drive = DRIVE_KEY.test(key) ? parseDrive(value) : undefined;
      const allocation = drive?.head !== undefined ? NEW_VOLUME.exec(drive.head) : null;
      if (drive && allocation) {
        const problem = this.newDiskProblem(
          allocation[1]!,
          Number(allocation[2]) * GIB,
          drive.props.get('import-from'),
        );
        if (typeof problem === 'string') errors[key] = problem;
        else newDisks.set(key, problem);
        drive.props.delete('import-from');
        config[key] = printDrive(drive);
        continue;
      }
      const problem = configValueProblem(key, value, (volid) => this.storages.volume(volid) !== undefined);
      if (problem) errors[key] = problem;
      else config[key] = NET_KEY.test(key) ? withMac(value) : value;
    }
    if (Object.keys(errors).length > 0) throw parameterError(errors);
    if (this.vms.has(vmid)) throw pveDie(`VM ${vmid} already exists on node '${this.options.node}'`);
    const vm = this.newVm(vmid, new SimulatedGuest(), { lock: 'create' });
    this.vms.set(vmid, vm);
    return this.tasks.start('qmcreate', String(vmid), user, async () => {
      const allocated: string[] = [];
      try {
        await this.taskStep();
        for (const [key, disk] of newDisks) {
          const volume = this.storages.allocateImage(disk.storage, vmid, disk.sizeBytes);
          allocated.push(volume.volid);
          const drive = parseDrive(config[key]!);
          drive.head = volume.volid;
          drive.props.set('size', formatSize(disk.sizeBytes));
          config[key] = printDrive(drive);
        }
        vm.config = { ...config, smbios1: `uuid=${randomUUID()}` };
      } catch (error) {
        if (this.vms.get(vmid) === vm) this.vms.delete(vmid);
        for (const volid of allocated) await this.storages.free(volid).catch(() => undefined);
        throw new Error(`unable to create VM ${vmid} - ${(error as Error).message}`);
      }
    });
  }

  /** The new disk, or why it cannot be made: PVE's parameter check of a drive with import-from. */
  private newDiskProblem(
    storage: string,
    sizeBytes: number,
    from: string | undefined,
  ): string | { storage: string; sizeBytes: number; from?: string } {
    if (!this.storages.list().some((s) => s.id === storage)) return `storage '${storage}' does not exist`;
    if (from === undefined) return sizeBytes > 0 ? { storage, sizeBytes } : 'size must be greater than 0';
    const source = this.storages.volume(from);
    if (!source) return `volume '${from}' does not exist`;
    if (source.content !== 'images' && source.content !== 'import') {
      return `${from} has wrong type '${source.content}' - needs to be 'images' or 'import'`;
    }
    return { storage, sizeBytes: source.virtualBytes ?? source.sizeBytes, from };
  }

  /**
   * POST /qemu/{vmid}/template: refused for a locked, running or template VM; otherwise the config
   * says template at once and a `qmtemplate` task turns the disks into base volumes.
   */
  template(vmidText: string, user: string): string {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    this.checkLock(vm);
    if (vm.config.template === '1') throw pveDie("you can't convert a template to a template");
    if (vm.status === 'running') throw pveDie("you can't convert a VM to template if VM is running");
    vm.config.template = '1';
    return this.vmTask('qmtemplate', vm, user, async () => {
      await this.taskStep();
      for (const [key, value] of Object.entries(vm.config)) {
        if (!DRIVE_KEY.test(key)) continue;
        const drive = parseDrive(value);
        const volume = this.storages.volume(drive.head ?? '');
        if (isCdrom(drive) || volume?.owner !== vm.vmid) continue;
        drive.head = this.storages.makeBase(volume.volid);
        vm.config[key] = printDrive(drive);
      }
    });
  }

  config(vmidText: string): Record<string, string | number> {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    const answer: Record<string, string | number> = { digest: this.digest(vm) };
    for (const [key, value] of Object.entries(vm.config))
      answer[key] = NUMERIC_KEYS.has(key) ? Number(value) : value;
    return answer;
  }

  /** PUT /config: synchronous, under the config file lock. */
  async updateConfig(vmidText: string, params: RequestParams): Promise<null> {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    const deletions = list(params, 'delete')
      .flatMap((d) => d.split(/[,;\s]+/))
      .filter(Boolean);
    const updates = new Map<string, string>();
    const errors: Record<string, string> = {};
    for (const [key, raw] of params.values) {
      if (NOT_CONFIG.has(key)) continue;
      const value = Array.isArray(raw) ? raw[raw.length - 1]! : raw;
      const problem = configValueProblem(key, value, (volid) => this.storages.volume(volid) !== undefined);
      if (problem) errors[key] = problem;
      else updates.set(key, value);
    }
    if (Object.keys(errors).length > 0) throw parameterError(errors);
    await this.withFileLock(vm, async () => {
      this.checkLock(vm);
      const digest = single(params, 'digest');
      if (digest !== undefined && digest !== this.digest(vm)) {
        throw pveDie('detected modified configuration - file changed by other user? Try again.');
      }
      for (const key of deletions) await this.detach(vm, key);
      for (const [key, value] of updates) {
        if (DRIVE_KEY.test(key) && vm.config[key] !== undefined) await this.detach(vm, key);
        vm.config[key] = NET_KEY.test(key) ? withMac(value) : value;
      }
    });
    return null;
  }

  /** PUT /resize: a `resize` task (PVE 8) that holds the config file lock. */
  resize(vmidText: string, params: RequestParams, user: string): string {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    const disk = single(params, 'disk') ?? '';
    const sizeText = single(params, 'size') ?? '';
    if (!DRIVE_KEY.test(disk))
      throw parameterError({ disk: `value '${disk}' does not have a value in the enumeration` });
    if (!/^\+?\d+(\.\d+)?[KMGT]?$/.test(sizeText)) {
      throw parameterError({ size: `value does not match the regex pattern` });
    }
    return this.vmTask('resize', vm, user, async () => {
      this.checkLock(vm);
      if (vm.config[disk] === undefined) throw new Error(`disk '${disk}' does not exist`);
      const drive = parseDrive(vm.config[disk]);
      if (isCdrom(drive)) throw new Error("you can't resize a cdrom");
      const volume = this.storages.volume(drive.head ?? '');
      if (!volume) throw new Error(`volume '${drive.head}' does not exist`);
      const size = parseSize(sizeText, volume.sizeBytes)!;
      if (size < volume.sizeBytes) throw new Error('shrinking disks is not supported');
      if (size === volume.sizeBytes) return;
      await this.taskStep();
      this.storages.resize(volume.volid, size);
      drive.props.set('size', formatSize(size));
      vm.config[disk] = printDrive(drive);
    });
  }

  status(vmidText: string): object {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    const running = vm.status === 'running';
    return {
      vmid: vm.vmid,
      name: vm.config.name,
      status: vm.status,
      qmpstatus: running ? vm.qmpstatus : 'stopped',
      ...(vm.config.lock !== undefined && { lock: vm.config.lock }),
      ...(agentOn(vm.config) && { agent: 1 }),
      ...(vm.config.template === '1' && { template: 1 }),
      ...(running && { pid: 10_000 + vm.vmid }),
      cpus: this.cpus(vm),
      maxmem: this.memoryBytes(vm),
      maxdisk: this.bootDiskBytes(vm),
      uptime: this.uptime(vm),
      ha: { managed: 0 },
    };
  }

  power(vmidText: string, action: string, user: string): string {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    switch (action) {
      case 'start':
        return this.vmTask('qmstart', vm, user, () => this.start(vm));
      case 'stop':
        return this.vmTask('qmstop', vm, user, async () => {
          this.checkLock(vm);
          if (vm.status === 'running') this.halt(vm);
        });
      case 'shutdown':
        if (vm.status === 'running' && vm.qmpstatus === 'paused')
          throw pveDie('VM is paused - cannot shutdown');
        return this.vmTask('qmshutdown', vm, user, async () => {
          this.checkLock(vm);
          if (vm.status !== 'running') return;
          await this.taskStep(); // the guest reacts to the ACPI power button
          this.halt(vm);
        });
      case 'resume':
        if (vm.status !== 'running') throw pveDie(`VM ${vm.vmid} not running`);
        return this.vmTask('qmresume', vm, user, async () => {
          vm.qmpstatus = 'running';
        });
      default:
        throw new Error(`unknown power action ${action}`);
    }
  }

  destroy(vmidText: string, params: RequestParams, user: string): string {
    const vm = this.vmOrDie(this.vmidParam(vmidText));
    if (vm.status === 'running') throw pveDie(`VM ${vm.vmid} is running - destroy failed`);
    const unreferenced = flag(params, 'destroy-unreferenced-disks');
    return this.vmTask('qmdestroy', vm, user, async () => {
      this.checkLock(vm);
      await this.taskStep();
      const referenced = Object.entries(vm.config)
        .filter(([key]) => DRIVE_KEY.test(key) || /^unused\d+$/.test(key))
        .map(([, value]) => parseDrive(value).head);
      for (const volume of this.storages.ownedBy(vm.vmid)) {
        if (unreferenced || referenced.includes(volume.volid)) await this.storages.free(volume.volid);
      }
      this.vms.delete(vm.vmid);
    });
  }

  /** One step of a task's work: its duration, then the test's gate. */
  private async taskStep(): Promise<void> {
    await sleep(this.options.taskDurationMs);
    await this.taskGate.passed();
  }

  // --- guest agent ---

  agent(vmidText: string, command: string, params: RequestParams): object | null {
    const vmid = this.vmidParam(vmidText);
    const fileRequest = agentFileRequest(command, params);
    const vm = this.vmOrDie(vmid);
    if (!agentOn(vm.config)) throw pveDie('No QEMU guest agent configured');
    if (vm.status !== 'running') throw pveDie(`VM ${vm.vmid} is not running`);
    if (
      vm.qmpstatus === 'paused' ||
      vm.agentReadyAt === undefined ||
      Date.now() < vm.agentReadyAt ||
      this.agentGate.held
    ) {
      throw pveDie('QEMU guest agent is not running');
    }
    switch (command) {
      case 'ping':
        return { result: {} };
      case 'network-get-interfaces': {
        const mac =
          [...parseDrive(vm.config.net0 ?? '').props].find(([k]) => NIC_MODELS.has(k))?.[1] ??
          '00:00:00:00:00:00';
        return { result: vm.guest.interfaces(mac) };
      }
      case 'exec':
        return this.exec(vm, params);
      case 'exec-status':
        return this.execStatus(vm, params);
      case 'file-read':
      case 'file-write':
        return runAgentFileRequest(vm.guest.files, fileRequest!);
      default:
        throw new Error(`unknown agent command ${command}`);
    }
  }

  private exec(vm: Vm, params: RequestParams): { pid: number } {
    const [path, ...args] = list(params, 'command');
    if (!path) throw parameterError({ command: 'property is missing and it is not optional' });
    let outcome: ExecOutcome;
    try {
      outcome = vm.guest.exec(path, args, single(params, 'input-data'));
    } catch (error) {
      throw pveDie(`Agent error: ${(error as Error).message}`);
    }
    const pid = vm.nextPid++;
    vm.processes.set(pid, { doneAt: Date.now() + EXEC_RUN_MS, outcome });
    return { pid };
  }

  /** Like QGA, a finished process is reported once and then forgotten. */
  private execStatus(vm: Vm, params: RequestParams): object {
    const pid = Number(single(params, 'pid'));
    const process = vm.processes.get(pid);
    if (!process) throw pveDie("Agent error: Invalid parameter 'pid'");
    if (Date.now() < process.doneAt) return { exited: 0 };
    vm.processes.delete(pid);
    const { exitcode, stdout, stderr } = process.outcome;
    return {
      exited: 1,
      exitcode,
      ...(stdout && { 'out-data': stdout }),
      ...(stderr && { 'err-data': stderr }),
    };
  }

  // --- internals ---

  private newVm(vmid: number, guest: SimulatedGuest, config: Record<string, string>): Vm {
    return {
      vmid,
      config,
      status: 'stopped',
      qmpstatus: 'running',
      guest,
      processes: new Map(),
      nextPid: 1000,
      fileLocked: false,
    };
  }

  private vmOrDie(vmid: number): Vm {
    const vm = this.vms.get(vmid);
    if (!vm)
      throw pveDie(`Configuration file 'nodes/${this.options.node}/qemu-server/${vmid}.conf' does not exist`);
    return vm;
  }

  private checkLock(vm: Vm): void {
    if (vm.config.lock !== undefined) throw new Error(`VM is locked (${vm.config.lock})`);
  }

  /** PVE's flock on the config file: waits for the holder, gives up after lockTimeoutMs. */
  private async withFileLock<T>(vm: Vm, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.lockTimeoutMs;
    while (vm.fileLocked) {
      if (Date.now() >= deadline) {
        throw pveDie(`can't lock file '/var/lock/qemu-server/lock-${vm.vmid}.conf' - got timeout`);
      }
      await sleep(10);
    }
    vm.fileLocked = true;
    try {
      return await work();
    } finally {
      vm.fileLocked = false;
    }
  }

  private vmTask(type: string, vm: Vm, user: string, work: () => Promise<void>): string {
    return this.tasks.start(type, String(vm.vmid), user, () => this.withFileLock(vm, work));
  }

  private async start(vm: Vm): Promise<void> {
    if (vm.config.template === '1') throw new Error("you can't start a vm if it's a template");
    if (vm.config.lock !== 'suspended') this.checkLock(vm);
    if (vm.status === 'running') throw new Error(`VM ${vm.vmid} already running`);
    let seedPath: string | undefined;
    for (const [key, value] of Object.entries(vm.config).sort()) {
      if (NET_KEY.test(key)) {
        const bridge = parseDrive(value).props.get('bridge');
        if (bridge && !this.options.bridges.includes(bridge))
          throw new Error(`bridge '${bridge}' does not exist`);
      }
      if (!DRIVE_KEY.test(key)) continue;
      const drive = parseDrive(value);
      if (!drive.head || drive.head === 'none' || drive.head === 'cdrom') continue;
      const volume = this.storages.volume(drive.head);
      if (!volume) throw new Error(`volume '${drive.head}' does not exist`);
      if (isCdrom(drive) && volume.path && seedPath === undefined) seedPath = volume.path;
    }
    const seed = seedPath ? await readNoCloudSeed(seedPath) : undefined;
    await this.taskStep();
    vm.status = 'running';
    vm.qmpstatus = 'running';
    vm.startedAt = Date.now();
    // The agent's virtio-serial channel exists only if the agent was enabled when QEMU started.
    vm.agentReadyAt = agentOn(vm.config) ? Date.now() + this.options.agentDelayMs : undefined;
    vm.guest.boot(seed);
  }

  private halt(vm: Vm): void {
    vm.status = 'stopped';
    vm.qmpstatus = 'running';
    vm.startedAt = undefined;
    vm.agentReadyAt = undefined;
    vm.processes.clear();
  }

  /** Removes a drive from the config: PVE frees its own cloud-init volume, keeps other owned disks as unused. */
  private async detach(vm: Vm, key: string): Promise<void> {
    const value = vm.config[key];
    if (value === undefined) return;
    delete vm.config[key];
    if (!DRIVE_KEY.test(key)) return;
    const volume = this.storages.volume(parseDrive(value).head ?? '');
    if (!volume || volume.owner !== vm.vmid) return;
    if (/cloudinit/.test(volume.volid)) {
      await this.storages.free(volume.volid);
    } else {
      let index = 0;
      while (vm.config[`unused${index}`] !== undefined) index += 1;
      vm.config[`unused${index}`] = volume.volid;
    }
  }

  private digest(vm: Vm): string {
    return createHash('sha1')
      .update(JSON.stringify(Object.entries(vm.config).sort()))
      .digest('hex');
  }

  private cpus(vm: Vm): number {
    return Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1);
  }

  private memoryBytes(vm: Vm): number {
    return Number(/(\d+)$/.exec(vm.config.memory ?? '512')?.[1]) * 2 ** 20;
  }

  private bootDiskBytes(vm: Vm): number {
    const disk = Object.entries(vm.config).find(
      ([key, value]) => DRIVE_KEY.test(key) && !isCdrom(parseDrive(value)),
    );
    return disk ? (this.storages.volume(parseDrive(disk[1]).head ?? '')?.sizeBytes ?? 0) : 0;
  }

  private uptime(vm: Vm): number {
    return vm.startedAt === undefined ? 0 : Math.floor((Date.now() - vm.startedAt) / 1000);
  }
}
