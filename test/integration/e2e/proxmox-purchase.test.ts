// The purchase flow through the Proxmox VE driver against the in-repo PVE API fake (no Proxmox can
// run here): clone from a template, seed ISO upload, tasks, locks, agent exec for the GECOS.
import type { VM } from '../../../lib/api/v1alpha1/index.js';
import { describePurchaseFlow } from '../../harness/e2e/purchase-flow.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { proxmoxSettingsFor } from '../../harness/proxmox/settings.js';

const TEMPLATE_VMID = 9000;

describePurchaseFlow('purchase flow on Proxmox VE (API fake)', 'proxmox', async () => {
  const fake = await FakeProxmox.start({
    templates: [{ vmid: TEMPLATE_VMID, name: 'debian-12-cloud' }],
    agentDelayMs: 500,
    taskDurationMs: 100,
  });
  const fakeVm = (vm: VM) => fake.vm(Number(vm.status?.backendId));
  return {
    spec: {
      backend: {
        type: 'proxmox',
        proxmox: proxmoxSettingsFor(fake, TEMPLATE_VMID, {
          tokenSecretRef: { name: 'pve-token' },
          // The fake's certificate is self-signed, as a fresh Proxmox install's is.
          insecureSkipTLSVerify: true,
        }),
      },
    },
    secrets: (namespace) => [
      {
        metadata: { name: 'pve-token', namespace },
        stringData: { tokenId: DEFAULT_TOKEN.tokenId, secret: DEFAULT_TOKEN.secret },
      } as never,
    ],
    planImage: 'debian-12',
    planSize: { cpu: 2, memoryMiB: 2048, diskGiB: 20 },
    bootTimeoutMs: 120_000,
    power: async (vm) => {
      const found = fakeVm(vm);
      return !found ? 'absent' : found.status === 'running' ? 'running' : 'stopped';
    },
    gecos: async (vm) => fakeVm(vm)?.users.find((u) => u.name === 'admin')?.gecos ?? '',
    stop: () => fake.stop(),
  };
});
