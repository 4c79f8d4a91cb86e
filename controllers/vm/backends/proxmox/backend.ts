import type { Dispatcher } from 'undici';
import { sleep } from '../../../../lib/backoff.js';
import type { HostConfigSpec } from '../../../../lib/api/v1alpha1/index.js';
import type { Logger } from '../../../../lib/log.js';
import {
  BackendError,
  type BackendRef,
  type DesiredVm,
  type GuestCommand,
  type GuestExecResult,
  type ObservedVm,
  type PowerAction,
  type VmBackend,
} from '../../backend.js';
import { PveClient, type PveToken } from './client.js';
import { isAlreadyExists, isVmMissing, pveMessageOf, PveApiError, PveTaskError } from './errors.js';
import { GuestAgent } from './guest-agent.js';
import { retryWhileLocked } from './lock-retry.js';
import { intentIdFromDescription, vmDescription, vmNameForIntent } from './naming.js';
import { powerStateOf, type PveVmStatus } from './power-state.js';
import { SeedIsos } from './seed-isos.js';
import { waitForTask } from './tasks.js';
import {
  agentEnabled,
  bootDisk,
  configChanges,
  cpuCount,
  diskGiB,
  memoryMiB,
  resizeNeeded,
  type PveConfig,
} from './vm-config.js';
import { VmidReservations } from './vmid.js';

export type ProxmoxSettings = NonNullable<HostConfigSpec['backend']['proxmox']>;

export interface ProxmoxBackendOptions {
  settings: ProxmoxSettings;
  token: PveToken;
  log: Logger;
  /** PEM CA bundle to trust for the API's certificate (instead of the system store). */
  ca?: string;
  /** Replaces the connection pool built from the TLS settings (tests). */
  dispatcher?: Dispatcher;
  requestTimeoutMs?: number;
}

const CLONE_TIMEOUT_MS = 30 * 60_000;
const POWER_TIMEOUT_MS = 5 * 60_000;
const RESIZE_TIMEOUT_MS = 5 * 60_000;
const DESTROY_TIMEOUT_MS = 10 * 60_000;
/** How long a config change waits for a lock (clone, backup, a running task) to go away. */
const LOCK_TIMEOUT_MS = 5 * 60_000;
/** Clone attempts before giving up on finding a VMID no other creator takes first. */
const MAX_CLONE_ATTEMPTS = 20;
const PENDING_CLONE_POLL_MS = 1000;
/** The connectivity check must stay cheap: an API that hangs counts as unreachable. */
const CHECK_TIMEOUT_MS = 10_000;
const UNKNOWN_NODE = /hostname lookup '[^']*' failed|no such (cluster )?node/i;

interface ClusterVm {
  vmid: number;
  type: string;
  node: string;
  name?: string;
  template?: number;
}

type VmStatus = PveVmStatus & { name?: string };

/**
 * Runs BlockHost VMs on a Proxmox VE node through its HTTP API with an API token: full clones of
 * template VMs, configured, resized and started; NoCloud seed ISOs uploaded to an ISO storage; the
 * guest agent for addresses and commands.
 *
 * Identity: the VMID is the backend id. A create names its VM after the intent id (`bh-<intent>`)
 * from the clone call on, so a VM whose VMID was never recorded is found again by name and adopted
 * instead of cloned twice. VMIDs come from `settings.vmidRange`; concurrent creates of one process
 * reserve theirs, and a clone that loses a race with another process ("already exists") moves on to
 * the next free VMID.
 *
 * Seed ISO: `update` brings the attached seed to the desired one, but the seed is content-addressed
 * (hash in the file name), so it is uploaded only when the rendered seed changed or the file is gone.
 * cloud-init reads it at first boot only; later changes in a running guest (GECOS after an NFT
 * transfer) go through `guestExec`.
 */
export class ProxmoxBackend implements VmBackend {
  readonly type = 'proxmox' as const;
  private readonly settings: ProxmoxSettings;
  private readonly log: Logger;
  private readonly client: PveClient;
  private readonly agent: GuestAgent;
  private readonly seeds: SeedIsos;
  private readonly reservations = new VmidReservations();
  private readonly qemu: string;

  constructor(private readonly options: ProxmoxBackendOptions) {
    this.settings = options.settings;
    this.log = options.log.child({ backend: 'proxmox', node: options.settings.node });
    this.client = new PveClient({
      apiUrl: options.settings.apiUrl,
      token: options.token,
      insecureSkipTLSVerify: options.settings.insecureSkipTLSVerify,
      ca: options.ca,
      dispatcher: options.dispatcher,
      log: this.log,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    this.agent = new GuestAgent(this.client, options.settings.node);
    this.seeds = new SeedIsos(this.client, options.settings.node, options.settings.isoStorage, this.log);
    this.qemu = `/nodes/${encodeURIComponent(options.settings.node)}/qemu`;
  }

  observe(ref: BackendRef, signal?: AbortSignal): Promise<ObservedVm | undefined> {
    return this.guard('observe', async () => {
      const vmid =
        ref.id !== undefined
          ? parseVmid(ref.id)
          : ref.intentId !== undefined
            ? this.vmNamed(await this.listVms(signal), vmNameForIntent(ref.intentId))
            : undefined;
      return vmid === undefined ? undefined : this.observeVmid(vmid, signal);
    });
  }

  create(desired: DesiredVm, signal?: AbortSignal): Promise<ObservedVm> {
    return this.guard('create', async () => {
      const templateVmid = this.templateOf(desired.image);
      const name = vmNameForIntent(desired.intentId);
      let vmid = await this.findAfterPendingClones(name, signal);
      if (vmid === undefined) {
        vmid = await this.cloneTemplate(templateVmid, name, desired, signal);
      } else {
        this.log.info({ vmid, name }, 'adopting the VM an earlier create of this intent made');
      }
      await this.converge(vmid, name, desired, signal);
      if (desired.running) await this.powerVmid(vmid, 'start', signal);
      const observed = await this.observeVmid(vmid, signal);
      if (!observed) throw new BackendError(`VM ${vmid} vanished right after it was created`, 'NotFound');
      return observed;
    });
  }

  update(id: string, desired: DesiredVm, signal?: AbortSignal): Promise<void> {
    return this.guard('update', async () => {
      const vmid = parseVmid(id);
      const config = await this.configOf(vmid, signal);
      if (!config)
        throw new BackendError(`VM ${vmid} does not exist on node ${this.settings.node}`, 'NotFound');
      const name = typeof config.name === 'string' ? config.name : vmNameForIntent(desired.intentId);
      await this.converge(vmid, name, desired, signal);
    });
  }

  power(id: string, action: PowerAction, signal?: AbortSignal): Promise<void> {
    return this.guard(action, () => this.powerVmid(parseVmid(id), action, signal));
  }

  delete(id: string, signal?: AbortSignal): Promise<void> {
    return this.guard('delete', async () => {
      const vmid = parseVmid(id);
      const config = await this.configOf(vmid, signal);
      if (!config) return;
      const { start, end } = this.settings.vmidRange;
      if (config.template || vmid < start || vmid > end) {
        throw new BackendError(
          `refusing to delete VM ${vmid}: it is a template or outside the BlockHost VMID range ${start}-${end}`,
          'NotOwned',
        );
      }
      await this.powerVmid(vmid, 'stop', signal);
      // Seeds first: once the VM is gone nothing would lead a retry to its seed ISOs any more.
      if (typeof config.name === 'string') await this.seeds.remove(config.name, undefined, signal);
      await retryWhileLocked(
        `destroy VM ${vmid}`,
        async () => {
          try {
            const upid = await this.client.delete(
              `${this.qemu}/${vmid}`,
              { purge: true, 'destroy-unreferenced-disks': true },
              { signal },
            );
            await waitForTask(this.client, upid, {
              timeoutMs: DESTROY_TIMEOUT_MS,
              what: `destroy VM ${vmid}`,
              signal,
            });
          } catch (error) {
            if (!isVmMissing(error)) throw error;
          }
        },
        { timeoutMs: LOCK_TIMEOUT_MS, log: this.log, signal },
      );
      this.log.info({ vmid }, 'VM destroyed');
    });
  }

  guestExec(id: string, command: GuestCommand, signal?: AbortSignal): Promise<GuestExecResult> {
    return this.guard('guestExec', () => this.agent.exec(parseVmid(id), command, signal));
  }

  guestReadFile(
    id: string,
    path: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    return this.guard('guestReadFile', () => this.agent.readFile(parseVmid(id), path, maxBytes, signal));
  }

  guestWriteFile(id: string, path: string, content: string, signal?: AbortSignal): Promise<void> {
    return this.guard('guestWriteFile', () => this.agent.writeFile(parseVmid(id), path, content, signal));
  }

  /**
   * One cheap call: listing the node's VMs proves the API answers, accepts the token and knows the
   * node; the list then shows whether every image's template exists and is a template.
   */
  check(): Promise<void> {
    return this.guard('check', async () => {
      const { node, images } = this.settings;
      let vms: { vmid: number; template?: number }[];
      try {
        vms = await this.client.get(this.qemu, undefined, { retries: 1, timeoutMs: CHECK_TIMEOUT_MS });
      } catch (error) {
        // PVE's words for an unknown node (HTTP 500/595): "hostname lookup 'x' failed", "no such node".
        if (error instanceof PveApiError && error.status >= 500 && UNKNOWN_NODE.test(error.pveMessage))
          throw new BackendError(
            `Proxmox node "${node}" (backend.proxmox.node) is not usable: ${error.pveMessage}`,
            'ProxmoxNodeNotFound',
            { cause: error },
          );
        throw error;
      }
      for (const image of images) {
        const vm = vms.find((v) => Number(v.vmid) === image.templateVmid);
        if (!vm || !Number(vm.template))
          throw new BackendError(
            `template VM ${image.templateVmid} of image "${image.name}" (backend.proxmox.images) ${vm ? 'is not a template' : 'does not exist'} on node ${node}`,
            'TemplateNotFound',
          );
      }
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private templateOf(image: string): number {
    const entry = this.settings.images.find((i) => i.name === image);
    if (!entry) {
      const known = this.settings.images.map((i) => i.name).join(', ');
      throw new BackendError(`image "${image}" is not in the Proxmox image list (${known})`, 'ImageNotFound');
    }
    return entry.templateVmid;
  }

  private listVms(signal?: AbortSignal): Promise<ClusterVm[]> {
    return this.client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' }, { signal });
  }

  /** The lowest VMID of a (non-template) QEMU VM on our node named `name`. */
  private vmNamed(vms: ClusterVm[], name: string): number | undefined {
    const matches = vms
      .filter(
        (vm) => vm.type === 'qemu' && vm.node === this.settings.node && vm.name === name && !vm.template,
      )
      .map((vm) => vm.vmid)
      .sort((a, b) => a - b);
    if (matches.length > 1) this.log.warn({ name, vmids: matches }, 'several VMs carry one intent name');
    return matches[0];
  }

  /**
   * The VM named `name`, after waiting for clones in our range that have no name yet: PVE writes the
   * name only when the disks are copied, so a clone started before a crash may be this intent's.
   * Clones this process is making for other intents are not waited for.
   */
  private async findAfterPendingClones(name: string, signal?: AbortSignal): Promise<number | undefined> {
    const deadline = Date.now() + CLONE_TIMEOUT_MS;
    for (;;) {
      const vms = await this.listVms(signal);
      const vmid = this.vmNamed(vms, name);
      if (vmid !== undefined) return vmid;
      const pending: number[] = [];
      for (const vm of vms.filter((v) => this.unnamedInRange(v))) {
        if ((await this.statusOf(vm.vmid, signal))?.lock === 'clone') pending.push(vm.vmid);
      }
      if (pending.length === 0) return undefined;
      if (Date.now() >= deadline) {
        throw new BackendError(`clones ${pending.join(', ')} are still unnamed after ${CLONE_TIMEOUT_MS} ms`);
      }
      this.log.info({ pending, name }, 'waiting for unnamed clones before creating: one may be this intent');
      await sleep(PENDING_CLONE_POLL_MS, signal);
      signal?.throwIfAborted();
    }
  }

  private unnamedInRange(vm: ClusterVm): boolean {
    const { start, end } = this.settings.vmidRange;
    return (
      vm.type === 'qemu' &&
      vm.node === this.settings.node &&
      !vm.name &&
      vm.vmid >= start &&
      vm.vmid <= end &&
      !this.reservations.isReserved(vm.vmid)
    );
  }

  /** Full clone of the template into a free VMID of the range; returns the VMID. */
  private async cloneTemplate(
    templateVmid: number,
    name: string,
    desired: DesiredVm,
    signal?: AbortSignal,
  ): Promise<number> {
    const lost = new Set<number>();
    for (let attempt = 1; attempt <= MAX_CLONE_ATTEMPTS; attempt += 1) {
      const inUse = (await this.listVms(signal)).map((vm) => vm.vmid);
      const vmid = this.reservations.reserve(this.settings.vmidRange, [...inUse, ...lost]);
      if (vmid === undefined) {
        const { start, end } = this.settings.vmidRange;
        throw new BackendError(`no free VMID left in ${start}-${end}`, 'VmidRangeExhausted');
      }
      try {
        const upid = await this.client.post(
          `${this.qemu}/${templateVmid}/clone`,
          {
            newid: vmid,
            name,
            description: vmDescription(desired),
            full: true,
            storage: this.settings.storage,
          },
          { signal },
        );
        this.log.info({ vmid, templateVmid, name }, 'cloning template');
        // Up to 30 minutes: the one wait an abort (lost leadership, the call's deadline) must cut.
        await waitForTask(this.client, upid, {
          timeoutMs: CLONE_TIMEOUT_MS,
          what: `clone to VM ${vmid}`,
          signal,
        });
        return vmid;
      } catch (error) {
        if (isVmMissing(error) && !(error instanceof PveTaskError)) {
          throw new BackendError(
            `template VM ${templateVmid} of image "${desired.image}" does not exist on node ${this.settings.node}`,
            'ImageNotFound',
            { cause: error },
          );
        }
        if (!isAlreadyExists(error)) throw error;
        // Our own clone call may have gone through before a retried request saw "already exists".
        if ((await this.nameOnceCloned(vmid, signal)) === name) return vmid;
        this.log.info({ vmid, attempt }, 'VMID taken by another creator, trying the next one');
        lost.add(vmid);
      } finally {
        this.reservations.release(vmid);
      }
    }
    throw new BackendError(
      `gave up after ${MAX_CLONE_ATTEMPTS} VMIDs taken by other creators`,
      'VmidContention',
    );
  }

  /** The name of VM `vmid` once no clone into it is running any more (undefined if it vanished). */
  private async nameOnceCloned(vmid: number, signal?: AbortSignal): Promise<string | undefined> {
    const deadline = Date.now() + CLONE_TIMEOUT_MS;
    for (;;) {
      const config = await this.configOf(vmid, signal);
      if (config?.lock !== 'clone' || Date.now() >= deadline) {
        return typeof config?.name === 'string' ? config.name : undefined;
      }
      await sleep(PENDING_CLONE_POLL_MS, signal);
      signal?.throwIfAborted();
    }
  }

  /** Seed ISO, config and disk size as `desired` says; then drops seeds the VM no longer uses. */
  private async converge(
    vmid: number,
    name: string,
    desired: DesiredVm,
    signal?: AbortSignal,
  ): Promise<void> {
    const seedVolid = await this.seeds.ensure(name, desired.cloudInit, signal);
    const lockOptions = { timeoutMs: LOCK_TIMEOUT_MS, log: this.log, signal };
    await retryWhileLocked(
      `configure VM ${vmid}`,
      async () => {
        const config = await this.requireConfig(vmid, signal);
        const changes = configChanges(config, {
          cpu: desired.cpu,
          memoryMiB: desired.memoryMiB,
          bridge: this.settings.bridge,
          macAddress: desired.macAddress,
          seedVolid,
        });
        if (Object.keys(changes).length === 0) return;
        await this.client.put(`${this.qemu}/${vmid}/config`, changes, { signal });
        this.log.info({ vmid, changes: Object.keys(changes) }, 'VM configured');
      },
      lockOptions,
    );
    await retryWhileLocked(
      `resize VM ${vmid}`,
      async () => {
        const config = await this.requireConfig(vmid, signal);
        if (!bootDisk(config)) throw new BackendError(`VM ${vmid} has no disk to boot from`, 'NoBootDisk');
        const resize = resizeNeeded(config, desired.diskGiB);
        if (!resize) return;
        const upid = await this.client.put(`${this.qemu}/${vmid}/resize`, resize, { signal });
        await waitForTask(this.client, upid, {
          timeoutMs: RESIZE_TIMEOUT_MS,
          what: `resize VM ${vmid}`,
          signal,
        });
        this.log.info({ vmid, ...resize }, 'disk grown');
      },
      lockOptions,
    );
    await this.seeds.remove(name, seedVolid, signal);
  }

  private async powerVmid(vmid: number, action: PowerAction, signal?: AbortSignal): Promise<void> {
    await retryWhileLocked(
      `${action} VM ${vmid}`,
      async () => {
        const status = await this.statusOf(vmid, signal);
        if (!status)
          throw new BackendError(`VM ${vmid} does not exist on node ${this.settings.node}`, 'NotFound');
        const running = status.status === 'running';
        let command: string;
        if (action === 'start') {
          if (running && status.qmpstatus !== 'paused') return;
          command = running ? 'resume' : 'start';
        } else {
          if (!running) return;
          command = action;
        }
        try {
          const upid = await this.client.post(`${this.qemu}/${vmid}/status/${command}`, {}, { signal });
          await waitForTask(this.client, upid, {
            timeoutMs: POWER_TIMEOUT_MS,
            what: `${command} VM ${vmid}`,
            signal,
          });
        } catch (error) {
          // Started meanwhile by someone else: the goal is reached.
          if (command === 'start' && /already running/.test(pveMessageOf(error) ?? '')) return;
          throw error;
        }
        this.log.info({ vmid, command }, 'power action done');
      },
      { timeoutMs: LOCK_TIMEOUT_MS, log: this.log, signal },
    );
  }

  private async observeVmid(vmid: number, signal?: AbortSignal): Promise<ObservedVm | undefined> {
    const status = await this.statusOf(vmid, signal);
    const config = await this.configOf(vmid, signal);
    if (!status || !config) return undefined;
    const connected =
      status.status === 'running' && agentEnabled(config) && (await this.agent.ping(vmid, signal));
    const addresses = connected ? await this.agent.addresses(vmid, signal).catch(() => ({})) : {};
    // A clone in progress has only its lock in the config: no sizes to report yet.
    const made = config.lock !== 'clone';
    return {
      id: String(vmid),
      intentId: intentIdFromDescription(
        typeof config.description === 'string' ? config.description : undefined,
      ),
      power: powerStateOf(status),
      guestAgentConnected: connected,
      addresses,
      cpu: made ? cpuCount(config) : undefined,
      memoryMiB: made ? memoryMiB(config) : undefined,
      diskGiB: made ? diskGiB(config) : undefined,
    };
  }

  private statusOf(vmid: number, signal?: AbortSignal): Promise<VmStatus | undefined> {
    return orMissing(this.client.get<VmStatus>(`${this.qemu}/${vmid}/status/current`, undefined, { signal }));
  }

  private configOf(vmid: number, signal?: AbortSignal): Promise<PveConfig | undefined> {
    return orMissing(this.client.get<PveConfig>(`${this.qemu}/${vmid}/config`, undefined, { signal }));
  }

  private async requireConfig(vmid: number, signal?: AbortSignal): Promise<PveConfig> {
    const config = await this.configOf(vmid, signal);
    if (!config)
      throw new BackendError(`VM ${vmid} does not exist on node ${this.settings.node}`, 'NotFound');
    return config;
  }

  /** Every failure leaves as a BackendError whose message says what was attempted and what PVE said. */
  private async guard<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof BackendError) throw error;
      throw this.toBackendError(what, error);
    }
  }

  private toBackendError(what: string, error: unknown): BackendError {
    const message = `Proxmox ${what}: ${error instanceof Error ? error.message : String(error)}`;
    if (error instanceof PveApiError) {
      if (error.status === 401) {
        return new BackendError(
          `Proxmox API at ${this.settings.apiUrl} rejected API token ${this.options.token.tokenId}: ${error.pveMessage}`,
          'ProxmoxUnauthorized',
          { cause: error },
        );
      }
      if (error.status === 403) return new BackendError(message, 'ProxmoxForbidden', { cause: error });
      if (error.status === 0) return new BackendError(message, 'ProxmoxUnreachable', { cause: error });
      if (isVmMissing(error)) return new BackendError(message, 'NotFound', { cause: error });
      return new BackendError(message, 'ProxmoxApiError', { cause: error });
    }
    if (error instanceof PveTaskError)
      return new BackendError(message, 'ProxmoxTaskFailed', { cause: error });
    return new BackendError(message, 'BackendError', { cause: error });
  }
}

function parseVmid(id: string): number {
  if (!/^\d+$/.test(id)) throw new BackendError(`"${id}" is not a Proxmox VMID`, 'InvalidBackendId');
  return Number(id);
}

/** The value, or undefined when PVE says the VM does not exist. */
async function orMissing<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (isVmMissing(error)) return undefined;
    throw error;
  }
}
