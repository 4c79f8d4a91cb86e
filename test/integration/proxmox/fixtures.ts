// Shared setup of the Proxmox driver tests: settings pointing at a FakeProxmox, and desired VMs.
import { randomUUID } from 'node:crypto';
import { ProxmoxBackend, type ProxmoxSettings } from '../../../controllers/vm/backends/proxmox/backend.js';
import type { DesiredVm } from '../../../controllers/vm/backend.js';
import { renderCloudInit } from '../../../controllers/vm/cloud-init.js';
import { createLogger } from '../../../lib/log.js';
import { DEFAULT_TOKEN, type FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { proxmoxSettingsFor } from '../../harness/proxmox/settings.js';

export const TEMPLATE_VMID = 9000;
export const log = createLogger('proxmox-driver-test', { level: process.env.LOG_LEVEL ?? 'warn' });

export const settingsFor = (fake: FakeProxmox, overrides: Partial<ProxmoxSettings> = {}): ProxmoxSettings =>
  proxmoxSettingsFor(fake, TEMPLATE_VMID, overrides);

export function backendFor(
  fake: FakeProxmox,
  overrides: Partial<ProxmoxSettings> = {},
  token = DEFAULT_TOKEN,
): ProxmoxBackend {
  return new ProxmoxBackend({ settings: settingsFor(fake, overrides), token, log, ca: fake.ca });
}

export const OWNER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
export const NEXT_OWNER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

export function desiredVm(
  overrides: Partial<DesiredVm> & { gecos?: string; octet?: number } = {},
): DesiredVm {
  const { gecos, octet = 5, ...rest } = overrides;
  const name = rest.name ?? 'blockhost-001';
  const macAddress = rest.macAddress ?? `52:54:00:00:00:${octet.toString(16).padStart(2, '0')}`;
  return {
    namespace: 'tenants',
    name,
    intentId: randomUUID(),
    uid: randomUUID(),
    cpu: 2,
    memoryMiB: 2048,
    diskGiB: 4,
    image: 'debian-12',
    running: true,
    cloudInit: renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name,
      username: 'admin',
      ownerWallet: OWNER,
      nftTokenId: '1',
      gecos,
      network: {
        macAddress,
        ipv4: { address: `10.20.0.${octet}`, prefixLength: 24, gateway: '10.20.0.1' },
        ipv6: { address: `2001:db8::${octet}`, gateway: '2001:db8::1' },
      },
    }),
    macAddress,
    addresses: { ipv4: `10.20.0.${octet}`, ipv6: `2001:db8::${octet}` },
    ...rest,
  };
}
