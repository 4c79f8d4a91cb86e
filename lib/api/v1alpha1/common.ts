import { z } from 'zod';
import { withCel } from '../cel.js';
import { parseIp } from '../ip.js';

// Shared field schemas. Every string has a maximum length and every list a maximum size: the
// apiserver prices CEL rules by them, and unbounded ones would exceed its cost budget.

export const ethAddress = z
  .string()
  .max(42)
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be an Ethereum address: 0x followed by 40 hex digits');

/** 32-byte hash (transaction or block), as the chain's JSON-RPC prints it. */
export const hash32 = z
  .string()
  .max(66)
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 32-byte hash: 0x followed by 64 hex digits');

export function hexBytes(maxBytes: number) {
  return z
    .string()
    .max(2 + 2 * maxBytes)
    .regex(/^0x([0-9a-fA-F]{2})*$/, 'must be 0x followed by an even number of hex digits');
}

/** EIP-191 personal_sign signature r‖s‖v (65 bytes). */
export const signature = z
  .string()
  .max(132)
  .regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte signature: 0x followed by 130 hex digits');

/** A uint256 as decimal text: JSON numbers lose precision above 2^53. */
export const uint256 = z
  .string()
  .max(78)
  .regex(/^(0|[1-9][0-9]*)$/, 'must be a non-negative decimal integer without leading zeros');

/** Ids the contracts hand out from 1 upwards (plans, subscriptions). */
export const positiveUint256 = z
  .string()
  .max(78)
  .regex(/^[1-9][0-9]*$/, 'must be a positive decimal integer without leading zeros');

export const chainId = z.int().min(1);

export const ipv4 = z.ipv4().max(15);
export const ipv6 = z.ipv6().max(39);
export const ipv4Cidr = z.cidrv4().max(18);
export const ipv6Cidr = z.cidrv6().max(43);

/** Either family, as a DNS server may be. */
export const ipAddress = withCel(z.string().max(39), [
  {
    rule: 'isIP(self)',
    message: 'must be an IPv4 or IPv6 address',
    check: (s) => parseIp(s) !== undefined,
  },
]);

/** zod's protocol check has no JSON Schema form, so the pattern restates it for the CRD. */
export function url(protocol: 'https?' | 'https') {
  return z
    .url({ protocol: new RegExp(`^${protocol}$`) })
    .max(2048)
    .meta({ pattern: `^${protocol}://` });
}

export const dateTime = z.iso.datetime({ offset: true }).max(64);

/** A Kubernetes object name (DNS-1123 subdomain). */
export const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lowercase DNS-1123 name: a-z, 0-9, "-" and ".", starting and ending alphanumeric',
  );

/** A Kubernetes namespace or other DNS-1123 label. */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    'must be a lowercase DNS-1123 label: a-z, 0-9 and "-", starting and ending alphanumeric',
  );

export const localObjectReference = z.object({
  name: objectName.describe('Name of the referenced object in the same namespace.'),
});

/** A Linux network interface or bridge name. */
export const interfaceName = z
  .string()
  .min(1)
  .max(15)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be a network interface name (letters, digits, "_", ".", ":", "-")');

/** Name of a base image, as Plans and VMs refer to the images a backend lists. */
export const imageName = dnsLabel;

export const backendType = z.enum(['kubevirt', 'libvirt', 'proxmox']);
export type BackendType = z.infer<typeof backendType>;

/** Hardware of one VM; a Plan sells it, a VM runs it. Defaults are the seed's. */
export const vmSize = z.object({
  cpu: z.int().min(1).max(64).default(1).describe('Virtual CPUs.'),
  memoryMiB: z.int().min(256).max(1_048_576).default(2048).describe('Memory in MiB.'),
  diskGiB: z
    .int()
    .min(1)
    .max(65_536)
    .default(20)
    .describe('Root disk size in GiB; the base image is grown to this size.'),
});

/**
 * A list whose items are identified by one key field: the apiserver merges it per item
 * (server-side apply) and rejects duplicate keys; the refinement does the same for zod.
 */
export function mapList<T extends z.ZodObject>(item: T, key: keyof z.output<T> & string, maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((items, ctx) => {
      const seen = new Set<unknown>();
      items.forEach((entry, index) => {
        const value = (entry as Record<string, unknown>)[key];
        if (seen.has(value)) {
          ctx.addIssue({
            code: 'custom',
            message: `duplicate ${key} ${String(value)}`,
            path: [index],
            input: entry,
          });
        }
        seen.add(value);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] });
}

/** A list of unique scalars. */
export function setList<T extends z.ZodType>(item: T, maxItems: number) {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((items, ctx) => {
      items.forEach((value, index) => {
        if (items.indexOf(value) !== index) {
          ctx.addIssue({
            code: 'custom',
            message: `duplicate value ${String(value)}`,
            path: [index],
            input: value,
          });
        }
      });
    })
    .meta({ 'x-kubernetes-list-type': 'set' });
}

/** metav1.Condition, field for field. */
export const condition = z.object({
  type: z
    .string()
    .max(316)
    .regex(
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      'must be a CamelCase condition type, optionally prefixed by a DNS subdomain and "/"',
    )
    .describe('Type of condition in CamelCase.'),
  status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition: True, False or Unknown.'),
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .describe('metadata.generation the condition was set for; older than the current one means stale.'),
  lastTransitionTime: dateTime.describe('Last time the condition changed from one status to another.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/, 'must be a CamelCase identifier')
    .describe("Programmatic identifier for the last transition's cause, in CamelCase."),
  message: z.string().max(32_768).describe('Human-readable details of the last transition; may be empty.'),
});
export type Condition = z.infer<typeof condition>;

/** `status.conditions` of a kind; the known types go into the description so `kubectl explain` lists them. */
export function conditions(knownTypes: readonly string[]) {
  return mapList(condition, 'type', 32).describe(
    `Current state as metav1.Conditions, one per type. Types set by BlockHost: ${knownTypes.join(', ')}.`,
  );
}

export const observedGeneration = z
  .int()
  .min(0)
  .describe('metadata.generation of the spec the status was last computed from.');
