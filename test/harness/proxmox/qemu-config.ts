// PVE config values in the fake: property strings of drives and NICs, sizes, and the checks PUT
// /config makes on each key.
import { randomBytes } from 'node:crypto';

export const DRIVE_KEY = /^(ide|sata|scsi|virtio)\d+$/;
export const NET_KEY = /^net\d+$/;
export const SERIAL_KEY = /^serial[0-3]$/;
export const NIC_MODELS = new Set(['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3']);
export const DNS_NAME =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const FREE_TEXT_KEYS = new Set([
  'description',
  'tags',
  'ostype',
  'scsihw',
  'boot',
  'onboot',
  'smbios1',
  'vmgenid',
  'vga',
]);

export interface Drive {
  head?: string;
  props: Map<string, string>;
}

/** `head,key=value,...` or `key=value,...`, keeping the order of the options. */
export function parseDrive(value: string): Drive {
  const parts = value.split(',');
  const head = parts[0]?.includes('=') ? undefined : parts.shift();
  return { head, props: new Map(parts.map((part) => part.split('=') as [string, string])) };
}

export const printDrive = (drive: Drive) =>
  [drive.head, ...[...drive.props].map(([k, v]) => `${k}=${v}`)].filter((p) => p !== undefined).join(',');

export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

export function parseSize(text: string, current: number): number | undefined {
  const match = /^(\+)?(\d+(?:\.\d+)?)([KMGT])?$/.exec(text);
  if (!match) return undefined;
  const unit = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[match[3] as 'K'] ?? 1;
  const size = Math.floor(Number(match[2]) * unit);
  return match[1] ? current + size : size;
}

export const randomMac = () =>
  ['BC', '24', '11', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0').toUpperCase())].join(
    ':',
  );

export const isCdrom = (drive: Drive) => drive.props.get('media') === 'cdrom';
export const agentOn = (config: Record<string, string>) => /^(1|enabled=1)(,|$)/.test(config.agent ?? '');

/** Why `value` is not acceptable for config key `key`, or undefined. */
export function configValueProblem(
  key: string,
  value: string,
  volumeExists: (volid: string) => boolean,
): string | undefined {
  if (key === 'cores' || key === 'sockets') {
    return /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 128
      ? undefined
      : `type check ('integer') failed - got '${value}'`;
  }
  if (key === 'memory') {
    const mib = Number(/^(?:current=)?(\d+)$/.exec(value)?.[1]);
    return mib >= 16 ? undefined : `invalid format - value '${value}' is not a valid memory size`;
  }
  if (key === 'name')
    return DNS_NAME.test(value) ? undefined : 'invalid format - value does not look like a valid DNS name';
  if (key === 'agent')
    return /^([01]|enabled=[01])(,[a-z_-]+=[^,]+)*$/.test(value) ? undefined : 'invalid format';
  if (NET_KEY.test(key)) {
    const nic = parseDrive(value);
    const model = nic.head ?? [...nic.props.keys()].find((k) => NIC_MODELS.has(k));
    return model && NIC_MODELS.has(model) ? undefined : `invalid format - unknown model in '${value}'`;
  }
  if (DRIVE_KEY.test(key)) {
    const head = parseDrive(value).head;
    if (!head) return 'invalid format - missing volume';
    if (head === 'none' || head === 'cdrom' || volumeExists(head)) return undefined;
    return `volume '${head}' does not exist`;
  }
  if (SERIAL_KEY.test(key))
    return /^(socket|\/dev\/.+)$/.test(value)
      ? undefined
      : `invalid format - value '${value}' is not a serial device`;
  if (FREE_TEXT_KEYS.has(key)) return undefined;
  return 'property is not defined in schema and the schema does not allow additional properties';
}

/** `virtio,bridge=vmbr0` gets a MAC, as PVE assigns one. */
export function withMac(value: string): string {
  const nic = parseDrive(value);
  if (nic.head === undefined) return value;
  const model = nic.head;
  nic.head = undefined;
  return printDrive({ props: new Map([[model, randomMac()], ...nic.props]) });
}

/** `<storage>:<GiB>` in a drive of a create or config call: a new volume (0 GiB: only with import-from). */
export const NEW_VOLUME = /^([a-zA-Z][a-zA-Z0-9_.-]*):(\d+(?:\.\d+)?)$/;
