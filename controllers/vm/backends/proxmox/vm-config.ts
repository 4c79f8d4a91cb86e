// Reading and planning PVE VM configs (GET/PUT /nodes/{node}/qemu/{vmid}/config). Values are PVE
// property strings such as `local-lvm:vm-105-disk-0,size=20G` or `virtio=BC:24:11:00:00:01,bridge=vmbr0`;
// numbers come back as numbers or strings depending on the PVE version.

import type { PveParams } from './client.js';

export type PveConfig = Record<string, string | number | undefined>;

const GIB = 2 ** 30;
const UNIT: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: GIB, T: 2 ** 40 };
const DRIVE_KEY = /^(ide|sata|scsi|virtio)\d+$/;
/** Where the NoCloud seed ISO is attached. */
const SEED_DRIVE = 'ide2';

/** `20G`, `2252M`, `512K`, `1T` or plain bytes, as bytes. */
export function parseSizeBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([KMGT])?$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * (match[2] ? UNIT[match[2]]! : 1));
}

interface PropertyString {
  /** The leading value without a key (a volume id), if any. */
  head?: string;
  props: Map<string, string>;
}

function parsePropertyString(value: string): PropertyString {
  const props = new Map<string, string>();
  let head: string | undefined;
  value.split(',').forEach((part, index) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (index === 0) head = part;
      else props.set(part, '');
    } else {
      props.set(part.slice(0, eq), part.slice(eq + 1));
    }
  });
  return { head, props };
}

const text = (value: string | number | undefined) => (value === undefined ? undefined : String(value));

const isCdrom = (drive: PropertyString) =>
  drive.props.get('media') === 'cdrom' || drive.head === 'none' || drive.head === 'cdrom';
/** PVE's own cloud-init drive (`local-lvm:vm-105-cloudinit`): a second cidata volume we must not keep. */
const isCloudInitDrive = (drive: PropertyString) =>
  /(^|[:/])vm-\d+-cloudinit(\.\w+)?$/.test(drive.head ?? '');

function drives(config: PveConfig): [string, PropertyString][] {
  return Object.entries(config)
    .filter(([key, value]) => DRIVE_KEY.test(key) && value !== undefined)
    .map(([key, value]) => [key, parsePropertyString(String(value))]);
}

/** The disk the VM boots from: first disk of `boot: order=...`, else the first non-CD drive. */
export function bootDisk(config: PveConfig): { key: string; sizeBytes?: number } | undefined {
  const disks = drives(config).filter(([, drive]) => !isCdrom(drive));
  const order = /(?:^|,)order=([^,]+)/.exec(text(config.boot) ?? '')?.[1]?.split(';') ?? [];
  const chosen = order.map((key) => disks.find(([k]) => k === key)).find(Boolean) ?? disks[0];
  if (!chosen) return undefined;
  const size = chosen[1].props.get('size');
  return { key: chosen[0], sizeBytes: size === undefined ? undefined : parseSizeBytes(size) };
}

export function diskGiB(config: PveConfig): number | undefined {
  const bytes = bootDisk(config)?.sizeBytes;
  return bytes === undefined ? undefined : bytes / GIB;
}

export function cpuCount(config: PveConfig): number {
  return Number(config.cores ?? 1) * Number(config.sockets ?? 1);
}

/** `memory` is MiB, or `current=<MiB>` as a property string in PVE 8. */
export function memoryMiB(config: PveConfig): number | undefined {
  const value = text(config.memory);
  if (value === undefined) return undefined;
  const { head, props } = parsePropertyString(value);
  const mib = Number(props.get('current') ?? head);
  return Number.isFinite(mib) ? mib : undefined;
}

/** `agent: 1` or `agent: enabled=1,fstrim_cloned_disks=0`. */
export function agentEnabled(config: PveConfig): boolean {
  const value = text(config.agent);
  if (value === undefined) return false;
  const { head, props } = parsePropertyString(value);
  return (props.get('enabled') ?? head) === '1';
}

const NIC_MODELS = new Set(['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3']);

/**
 * net0 as a virtio NIC with the desired MAC (the cloud-init network config matches the NIC by it)
 * on `bridge`, keeping other options such as a VLAN tag.
 */
function desiredNet(current: string | undefined, bridge: string, mac: string): string | undefined {
  const { props } = parsePropertyString(current ?? '');
  const model = [...props.keys()].find((key) => NIC_MODELS.has(key));
  const currentMac = model ? props.get(model) : undefined;
  if (
    model === 'virtio' &&
    currentMac?.toLowerCase() === mac.toLowerCase() &&
    props.get('bridge') === bridge
  ) {
    return undefined;
  }
  const rest = [...props].filter(([key]) => key !== model && key !== 'bridge');
  return [`virtio=${mac}`, `bridge=${bridge}`, ...rest.map(([k, v]) => `${k}=${v}`)].join(',');
}

export interface DesiredConfig {
  cpu: number;
  memoryMiB: number;
  bridge: string;
  macAddress: string;
  /** storage:iso/file of the seed ISO. */
  seedVolid: string;
}

/**
 * The PUT /config parameters that bring `config` to `desired` (empty when it is there): cores,
 * memory, a virtio NIC with the desired MAC on the bridge, the guest agent, the seed ISO as a CD, and no PVE cloud-init
 * drive beside it (two `cidata` volumes would make cloud-init pick either).
 */
export function configChanges(config: PveConfig, desired: DesiredConfig): PveParams {
  const changes: PveParams = {};
  if (cpuCount(config) !== desired.cpu) {
    changes.cores = desired.cpu;
    if (config.sockets !== undefined && Number(config.sockets) !== 1) changes.sockets = 1;
  }
  if (memoryMiB(config) !== desired.memoryMiB) changes.memory = desired.memoryMiB;
  const net0 = desiredNet(text(config.net0), desired.bridge, desired.macAddress);
  if (net0) changes.net0 = net0;
  if (!agentEnabled(config)) changes.agent = '1';
  const seed = text(config[SEED_DRIVE]);
  const seedDrive = seed === undefined ? undefined : parsePropertyString(seed);
  if (seedDrive?.head !== desired.seedVolid || seedDrive.props.get('media') !== 'cdrom') {
    changes[SEED_DRIVE] = `${desired.seedVolid},media=cdrom`;
  }
  const strayCloudInit = drives(config)
    .filter(([key, drive]) => key !== SEED_DRIVE && isCloudInitDrive(drive))
    .map(([key]) => key);
  if (strayCloudInit.length > 0) changes.delete = strayCloudInit.join(',');
  return changes;
}

/** Size argument for PUT /resize when the boot disk is smaller than `desiredGiB` (grow only). */
export function resizeNeeded(
  config: PveConfig,
  desiredGiB: number,
): { disk: string; size: string } | undefined {
  const disk = bootDisk(config);
  if (!disk || disk.sizeBytes === undefined) return undefined;
  return disk.sizeBytes < desiredGiB * GIB ? { disk: disk.key, size: `${desiredGiB}G` } : undefined;
}
