import { createHash } from 'node:crypto';
import type { NoCloudSeed } from '../../cloud-init.js';

// Names BlockHost gives its Proxmox objects. The VM name carries the create intent, so a VM whose
// VMID was never recorded (crash right after the clone) is found again by name; the seed ISO's name
// carries the VM name and a hash of its content, so stale seeds are recognisable and a changed seed
// never overwrites the one a VM has attached.

const PREFIX = 'bh-';
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const MAX_LABEL = 63;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The Proxmox VM name for a create intent: `bh-<intentId>` when that is a DNS label (PVE requires
 * a DNS name), else `bh-` and a hash of the intent id.
 */
export function vmNameForIntent(intentId: string): string {
  const verbatim = PREFIX + intentId;
  if (DNS_LABEL.test(intentId) && verbatim.length <= MAX_LABEL) return verbatim;
  return PREFIX + sha256Hex(intentId).slice(0, 40);
}

const INTENT_LINE = 'blockhost-intent: ';

/** VM description: who the VM belongs to, and the intent id verbatim so observe can report it. */
export function vmDescription(ref: { namespace: string; name: string; intentId: string }): string {
  return `BlockHost VM ${ref.namespace}/${ref.name}\n${INTENT_LINE}${ref.intentId}\n`;
}

export function intentIdFromDescription(description: string | undefined): string | undefined {
  const line = description?.split('\n').find((l) => l.startsWith(INTENT_LINE));
  return line?.slice(INTENT_LINE.length).trim() || undefined;
}

/** Content hash of a seed: equal seeds, equal names. */
export function seedHash(seed: NoCloudSeed): string {
  return sha256Hex(JSON.stringify([seed.metaData, seed.userData, seed.networkConfig ?? null])).slice(0, 12);
}

export function seedFileName(vmName: string, seed: NoCloudSeed): string {
  return `${vmName}-seed-${seedHash(seed)}.iso`;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `volid` (storage:iso/file) is a seed ISO of the VM named `vmName`, any content. */
export function isSeedVolumeOf(volid: string, storage: string, vmName: string): boolean {
  return new RegExp(`^${escapeRegExp(storage)}:iso/${escapeRegExp(vmName)}-seed-[0-9a-f]{12}\\.iso$`).test(
    volid,
  );
}
