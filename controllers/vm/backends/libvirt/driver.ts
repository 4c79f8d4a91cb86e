import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostConfigSpec } from '../../../../lib/api/v1alpha1/index.js';
import type { Logger } from '../../../../lib/log.js';
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
} from '../../backend.js';
import { execThroughAgent, readFileThroughAgent, writeFileThroughAgent } from '../../guest-agent.js';
import { writeSeedIso } from '../../seed-iso.js';
import { intentOf, renderDomainXml } from './domain-xml.js';
import { isNoSuchObject, virsh, VirshError } from './virsh.js';

export type LibvirtSettings = NonNullable<HostConfigSpec['backend']['libvirt']>;

const AGENT_PING_TIMEOUT_S = 2;
const AGENT_COMMAND_TIMEOUT_S = 30;
/** The connectivity check must stay cheap: a libvirtd that hangs counts as unreachable. */
const CHECK_TIMEOUT_MS = 10_000;

/** `virsh domstate` words → backend-neutral power states. */
const POWER_STATES: Record<string, PowerState> = {
  running: 'Running',
  blocked: 'Running',
  idle: 'Running',
  paused: 'Paused',
  pmsuspended: 'Paused',
  'in shutdown': 'Stopping',
  'shut off': 'Stopped',
  crashed: 'Stopped',
  dying: 'Stopping',
};

const AGENT_UNAVAILABLE =
  /guest agent is not (connected|responding|available)|agent is not running|domain is not running|not connected/i;

interface AgentInterface {
  name: string;
  'ip-addresses'?: { 'ip-address-type': 'ipv4' | 'ipv6'; 'ip-address': string }[];
}

/**
 * The libvirt backend: one domain per VM, named after the VM object, with a qcow2 overlay on the
 * image's base and a NoCloud seed ISO, both volumes of the configured storage pool (so remote
 * libvirt URIs work too). Talks to libvirtd through virsh.
 */
export class LibvirtBackend implements VmBackend {
  readonly type = 'libvirt' as const;

  constructor(
    private readonly settings: LibvirtSettings,
    private readonly log: Logger,
  ) {}

  static domainName(ref: Pick<BackendRef, 'namespace' | 'name'>): string {
    return `blockhost-${ref.namespace}-${ref.name}`;
  }

  /** virsh under the signal of the call it serves: an abandoned call kills its virsh. */
  private virsh(signal: AbortSignal | undefined, args: string[], timeoutMs?: number): Promise<string> {
    return virsh(this.settings.uri, args, timeoutMs, signal);
  }

  async observe(ref: BackendRef, signal?: AbortSignal): Promise<ObservedVm | undefined> {
    const target = ref.id ?? LibvirtBackend.domainName(ref);
    let xml: string;
    try {
      xml = await this.virsh(signal, ['dumpxml', target]);
    } catch (error) {
      if (isNoSuchObject(error)) return undefined;
      throw asBackendError(error);
    }
    const id = /<uuid>([^<]+)<\/uuid>/.exec(xml)?.[1];
    if (!id) throw new BackendError(`libvirt returned domain XML without a UUID for ${target}`);
    const state = (
      await this.virsh(signal, ['domstate', id]).catch((error: unknown) => {
        throw asBackendError(error);
      })
    ).trim();
    const power = POWER_STATES[state] ?? 'Unknown';
    const agentInterfaces = power === 'Running' ? await this.agentInterfaces(id, signal) : undefined;
    const memoryKiB = Number(/<memory unit='KiB'>(\d+)<\/memory>/.exec(xml)?.[1]);
    const diskPath = /<disk type='file' device='disk'>[\s\S]*?<source file='([^']+)'/.exec(xml)?.[1];
    return {
      id,
      intentId: intentOf(xml),
      power,
      guestAgentConnected: agentInterfaces !== undefined,
      addresses: addressesOf(agentInterfaces ?? []),
      cpu: Number(/<vcpu[^>]*>(\d+)<\/vcpu>/.exec(xml)?.[1]) || undefined,
      memoryMiB: Number.isFinite(memoryKiB) ? memoryKiB / 1024 : undefined,
      diskGiB: diskPath ? await this.capacityGiB(diskPath, signal) : undefined,
    };
  }

  /** The guest's interfaces through the agent, or undefined when the agent does not answer. */
  private async agentInterfaces(id: string, signal?: AbortSignal): Promise<AgentInterface[] | undefined> {
    try {
      await this.agentCommand(id, { execute: 'guest-ping' }, signal, AGENT_PING_TIMEOUT_S);
      return (await this.agentCommand(
        id,
        { execute: 'guest-network-get-interfaces' },
        signal,
      )) as AgentInterface[];
    } catch (error) {
      if (error instanceof GuestAgentUnavailableError) return undefined;
      throw error;
    }
  }

  private async capacityGiB(volumePath: string, signal?: AbortSignal): Promise<number | undefined> {
    const info = await this.virsh(signal, ['vol-info', '--bytes', volumePath]).catch(() => '');
    const bytes = /Capacity:\s+(\d+)/.exec(info)?.[1];
    return bytes ? Number(BigInt(bytes) >> 30n) : undefined;
  }

  async create(desired: DesiredVm, signal?: AbortSignal): Promise<ObservedVm> {
    const image = this.settings.images.find((i) => i.name === desired.image);
    if (!image)
      throw new BackendError(
        `image "${desired.image}" is not in the libvirt image list (${this.settings.images.map((i) => i.name).join(', ')})`,
        'UnknownImage',
      );
    const name = LibvirtBackend.domainName(desired);
    const pool = this.settings.storagePool;
    const diskPath = await this.ensureOverlay(`${name}-disk.qcow2`, image.path, desired.diskGiB, signal);
    const seedIsoPath = await this.uploadSeed(`${name}-seed.iso`, desired, signal);
    const xml = renderDomainXml({
      name,
      intentId: desired.intentId,
      uid: desired.uid,
      macAddress: desired.macAddress,
      cpu: desired.cpu,
      memoryMiB: desired.memoryMiB,
      accelerator: this.settings.accelerator,
      diskPath,
      seedIsoPath,
      network:
        this.settings.networkMode === 'bridge'
          ? { mode: 'bridge', bridge: this.settings.bridge }
          : { mode: 'nat', network: this.settings.natNetwork },
      directKernelBoot: image.kernel
        ? { kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline }
        : undefined,
      consoleLogPath: `/var/log/libvirt/qemu/${name}-console.log`,
    });
    await this.withTempFile('domain.xml', xml, (file) => this.virsh(signal, ['define', file])).catch(
      (error: unknown) => {
        throw asBackendError(error);
      },
    );
    this.log.info({ domain: name, pool }, 'libvirt domain defined');
    const observed = await this.observe({ namespace: desired.namespace, name: desired.name }, signal);
    if (!observed) throw new BackendError(`domain ${name} vanished right after it was defined`);
    if (desired.running) await this.power(observed.id, 'start', signal);
    return { ...observed, power: desired.running ? 'Running' : observed.power };
  }

  /** The VM's copy-on-write disk over the base image; an overlay left by an interrupted create is reused. */
  private async ensureOverlay(
    volume: string,
    basePath: string,
    diskGiB: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const pool = this.settings.storagePool;
    const existing = await this.virsh(signal, ['vol-path', '--pool', pool, volume]).catch(
      (error: unknown) => {
        if (isNoSuchObject(error)) return undefined;
        throw asBackendError(error);
      },
    );
    if (existing) return existing.trim();
    // Volume XML rather than vol-create-as --backing-vol: the base image need not be a pool volume.
    const xml = `<volume type='file'>
  <name>${volume}</name>
  <capacity unit='GiB'>${diskGiB}</capacity>
  <target><format type='qcow2'/></target>
  <backingStore><path>${basePath}</path><format type='qcow2'/></backingStore>
</volume>`;
    await this.withTempFile('volume.xml', xml, (file) =>
      this.virsh(signal, ['vol-create', pool, file]),
    ).catch((error: unknown) => {
      throw asBackendError(error, 'StorageError');
    });
    return (await this.virsh(signal, ['vol-path', '--pool', pool, volume])).trim();
  }

  /** Writes the NoCloud seed ISO and uploads it as a pool volume (replacing a leftover one). */
  private async uploadSeed(volume: string, desired: DesiredVm, signal?: AbortSignal): Promise<string> {
    const pool = this.settings.storagePool;
    await this.virsh(signal, ['vol-delete', '--pool', pool, volume]).catch((error: unknown) => {
      if (!isNoSuchObject(error)) throw asBackendError(error, 'StorageError');
    });
    const dir = await mkdtemp(join(tmpdir(), 'blockhost-seed-'));
    try {
      const iso = await writeSeedIso(join(dir, 'seed.iso'), desired.cloudInit);
      const { size } = await stat(iso);
      await this.virsh(signal, ['vol-create-as', pool, volume, `${size}b`, '--format', 'raw']);
      await this.virsh(signal, ['vol-upload', '--pool', pool, volume, iso]);
    } catch (error) {
      throw asBackendError(error, 'StorageError');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return (await this.virsh(signal, ['vol-path', '--pool', pool, volume])).trim();
  }

  private async withTempFile<T>(
    name: string,
    content: string,
    use: (file: string) => Promise<T>,
  ): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'blockhost-libvirt-'));
    try {
      const file = join(dir, name);
      await writeFile(file, content);
      return await use(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async update(id: string, desired: DesiredVm, signal?: AbortSignal): Promise<void> {
    const observed = await this.observe({ ...desired, id }, signal);
    if (!observed) throw new BackendError(`domain ${id} does not exist`, 'NotFound');
    if (observed.cpu !== desired.cpu) {
      await this.virsh(signal, ['setvcpus', id, String(desired.cpu), '--config', '--maximum']);
      await this.virsh(signal, ['setvcpus', id, String(desired.cpu), '--config']);
    }
    if (observed.memoryMiB !== desired.memoryMiB) {
      await this.virsh(signal, ['setmaxmem', id, `${desired.memoryMiB}M`, '--config']);
      await this.virsh(signal, ['setmem', id, `${desired.memoryMiB}M`, '--config']);
    }
    if (observed.diskGiB !== undefined && observed.diskGiB < desired.diskGiB) {
      // A running guest sees the new size at once (blockresize); a stopped one on its next boot.
      const args =
        observed.power === 'Running'
          ? ['blockresize', id, 'vda', `${desired.diskGiB}G`]
          : [
              'vol-resize',
              '--pool',
              this.settings.storagePool,
              `${LibvirtBackend.domainName(desired)}-disk.qcow2`,
              `${desired.diskGiB}G`,
            ];
      await this.virsh(signal, args).catch((error: unknown) => {
        throw asBackendError(error, 'StorageError');
      });
    }
  }

  async power(id: string, action: PowerAction, signal?: AbortSignal): Promise<void> {
    const [args, alreadyThere] = {
      start: [['start', id], /already active/i],
      shutdown: [['shutdown', id, '--mode', 'acpi'], /not running/i],
      stop: [['destroy', id], /not running/i],
    }[action] as [string[], RegExp];
    await this.virsh(signal, args).catch((error: unknown) => {
      if (error instanceof VirshError && alreadyThere.test(error.stderr)) return;
      throw asBackendError(error);
    });
  }

  async delete(id: string, signal?: AbortSignal): Promise<void> {
    await this.virsh(signal, ['destroy', id]).catch((error: unknown) => {
      if (isNoSuchObject(error)) return;
      if (!(error instanceof VirshError && /not running/i.test(error.stderr))) throw asBackendError(error);
    });
    // --remove-all-storage takes the overlay and the seed volumes; the shared base image is only a
    // backing file, never a disk source, so it stays.
    await this.virsh(signal, [
      'undefine',
      id,
      '--remove-all-storage',
      '--managed-save',
      '--snapshots-metadata',
    ]).catch((error: unknown) => {
      if (!isNoSuchObject(error)) throw asBackendError(error);
    });
  }

  /** Connects, then checks that the storage pool runs and the bridge (or NAT network) exists. */
  async check(): Promise<void> {
    const { uri, storagePool, networkMode, bridge, natNetwork } = this.settings;
    await this.virsh(undefined, ['version'], CHECK_TIMEOUT_MS).catch((error: unknown) => {
      throw new BackendError(
        `cannot connect to libvirt at ${uri}: ${(error as Error).message}`,
        'LibvirtUnreachable',
        { cause: error },
      );
    });
    const poolInfo = await this.virsh(undefined, ['pool-info', storagePool], CHECK_TIMEOUT_MS).catch(
      (error: unknown) => {
        throw new BackendError(
          `storage pool "${storagePool}" (backend.libvirt.storagePool) is not usable: ${stderrOf(error)}`,
          'StoragePoolMissing',
          { cause: error },
        );
      },
    );
    if (!/^State:\s+running$/m.test(poolInfo))
      throw new BackendError(
        `storage pool "${storagePool}" (backend.libvirt.storagePool) exists but is not running (virsh pool-start ${storagePool})`,
        'StoragePoolInactive',
      );
    if (networkMode === 'bridge') {
      const xml = await this.virsh(undefined, ['iface-dumpxml', bridge], CHECK_TIMEOUT_MS).catch(
        (error: unknown) => {
          throw new BackendError(
            `bridge "${bridge}" (backend.libvirt.bridge) does not exist on the libvirt host: ${stderrOf(error)}`,
            'BridgeMissing',
            { cause: error },
          );
        },
      );
      if (!/<interface type=['"]bridge['"]/.test(xml))
        throw new BackendError(
          `interface "${bridge}" (backend.libvirt.bridge) exists but is not a bridge`,
          'BridgeMissing',
        );
    } else {
      const info = await this.virsh(undefined, ['net-info', natNetwork], CHECK_TIMEOUT_MS).catch(
        (error: unknown) => {
          throw new BackendError(
            `libvirt network "${natNetwork}" (backend.libvirt.natNetwork) is not usable: ${stderrOf(error)}`,
            'NetworkMissing',
            { cause: error },
          );
        },
      );
      if (!/^Active:\s+yes$/m.test(info))
        throw new BackendError(
          `libvirt network "${natNetwork}" (backend.libvirt.natNetwork) is not active (virsh net-start ${natNetwork})`,
          'NetworkInactive',
        );
    }
  }

  async guestExec(id: string, command: GuestCommand, signal?: AbortSignal): Promise<GuestExecResult> {
    return execThroughAgent((c) => this.agentCommand(id, c, signal), command, signal);
  }

  async guestReadFile(
    id: string,
    path: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    return readFileThroughAgent((c) => this.agentCommand(id, c, signal), path, maxBytes);
  }

  async guestWriteFile(id: string, path: string, content: string, signal?: AbortSignal): Promise<void> {
    return writeFileThroughAgent((c) => this.agentCommand(id, c, signal), path, content);
  }

  private async agentCommand(
    id: string,
    command: { execute: string; arguments?: object },
    signal?: AbortSignal,
    timeoutSeconds = AGENT_COMMAND_TIMEOUT_S,
  ): Promise<unknown> {
    try {
      const out = await this.virsh(
        signal,
        ['qemu-agent-command', id, '--timeout', String(timeoutSeconds), JSON.stringify(command)],
        (timeoutSeconds + 10) * 1000,
      );
      return (JSON.parse(out) as { return: unknown }).return;
    } catch (error) {
      if (error instanceof VirshError && (error.timedOut || AGENT_UNAVAILABLE.test(error.stderr)))
        throw new GuestAgentUnavailableError(
          `the guest agent of domain ${id} does not answer: ${error.stderr}`,
          {
            cause: error,
          },
        );
      throw asBackendError(error);
    }
  }
}

function addressesOf(interfaces: AgentInterface[]): ObservedVm['addresses'] {
  const all = interfaces
    .filter((i) => i.name !== 'lo')
    .flatMap((i) => i['ip-addresses'] ?? [])
    .map((a) => ({ type: a['ip-address-type'], address: a['ip-address'] }));
  const ipv4 = all.find((a) => a.type === 'ipv4' && !a.address.startsWith('127.'))?.address;
  const ipv6 = all.find((a) => a.type === 'ipv6' && !/^(fe80|::1$)/i.test(a.address))?.address;
  return { ...(ipv4 && { ipv4 }), ...(ipv6 && { ipv6 }) };
}

const stderrOf = (error: unknown): string =>
  error instanceof VirshError ? error.stderr : error instanceof Error ? error.message : String(error);

function asBackendError(error: unknown, reason = 'LibvirtError'): BackendError {
  if (error instanceof BackendError) return error;
  return new BackendError((error as Error).message, reason, { cause: error });
}
