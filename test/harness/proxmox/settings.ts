import type { ProxmoxSettings } from '../../../controllers/vm/backends/proxmox/backend.js';
import type { FakeProxmox } from './fake-pve.js';

/** HostConfig proxmox settings pointing at `fake`, with image `debian-12` cloned from `templateVmid`. */
export function proxmoxSettingsFor(
  fake: FakeProxmox,
  templateVmid: number,
  overrides: Partial<ProxmoxSettings> = {},
): ProxmoxSettings {
  return {
    apiUrl: fake.url,
    node: fake.node,
    tokenSecretRef: { name: 'proxmox-token' },
    insecureSkipTLSVerify: false,
    storage: 'local-lvm',
    isoStorage: 'local',
    bridge: 'vmbr0',
    vmidRange: { start: 100, end: 199 },
    images: [{ name: 'debian-12', templateVmid }],
    ...overrides,
  };
}
