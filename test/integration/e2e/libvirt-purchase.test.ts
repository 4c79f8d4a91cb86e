// The purchase flow on a real libvirtd with the product's guest image (TCG here, about a minute per
// boot): the guest gets its static pool address on a real bridge, so the test logs into its sshd at
// the address the NFT holds with the buyer's wallet (real OpenSSH client, real pam_web3), and reads
// the GECOS through the guest agent independently of the driver.
import { connect } from 'node:net';
import { LibvirtBackend } from '../../../controllers/vm/backends/libvirt/driver.js';
import type { VM } from '../../../lib/api/v1alpha1/index.js';
import { describePurchaseFlow, type BackendPower } from '../../harness/e2e/purchase-flow.js';
import { LibvirtEnvironment } from '../../harness/libvirt/environment.js';
import { virsh } from '../../harness/libvirt/libvirtd.js';
import { testClient } from '../../harness/kube.js';

const POWER: Record<string, BackendPower> = { running: 'running', 'shut off': 'stopped' };

describePurchaseFlow(
  'purchase flow on libvirt with a real guest',
  'libvirt',
  async () => {
    const env = await LibvirtEnvironment.start({ guestImage: true, guestLock: testClient() });
    const uri = env.daemon.uri;
    const domain = (vm: VM) =>
      LibvirtBackend.domainName({ namespace: vm.metadata.namespace!, name: vm.metadata.name! });
    const agent = async <T>(vm: VM, command: object): Promise<T> =>
      (
        JSON.parse(
          await virsh(uri, ['qemu-agent-command', domain(vm), '--timeout', '10', JSON.stringify(command)]),
        ) as { return: T }
      ).return;
    /** Runs a program in the guest through the agent, independently of the driver; its stdout. */
    const guestRun = async (vm: VM, path: string, args: string[]): Promise<string> => {
      const { pid } = await agent<{ pid: number }>(vm, {
        execute: 'guest-exec',
        arguments: { path, arg: args, 'capture-output': true },
      });
      for (;;) {
        const status = await agent<{ exited: boolean; exitcode?: number; 'out-data'?: string }>(vm, {
          execute: 'guest-exec-status',
          arguments: { pid },
        });
        if (status.exited) {
          if (status.exitcode !== 0) throw new Error(`${path} exited ${status.exitcode} in the guest`);
          return Buffer.from(status['out-data'] ?? '', 'base64').toString();
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    return {
      spec: { backend: { type: 'libvirt', libvirt: env.settings }, ipv4Pool: env.ipv4Pool },
      planImage: 'debian',
      planSize: { cpu: 1, memoryMiB: 1024, diskGiB: 3 },
      bootTimeoutMs: 6 * 60_000,
      power: async (vm) => {
        const state = (await virsh(uri, ['domstate', domain(vm)]).catch(() => 'absent')).trim();
        return POWER[state] ?? (state === 'absent' ? 'absent' : 'stopped');
      },
      guestRun,
      gecos: async (vm) =>
        (await guestRun(vm, '/usr/bin/getent', ['passwd', 'admin'])).trim().split(':')[4] ?? '',
      reachable: (host, port) =>
        new Promise((resolve) => {
          const socket = connect({ host, port, timeout: 5000 });
          socket.once('data', (banner) => {
            socket.destroy();
            resolve(banner.toString().startsWith('SSH-'));
          });
          socket.once('error', () => resolve(false));
          socket.once('timeout', () => {
            socket.destroy();
            resolve(false);
          });
        }),
      stop: (namespace) => env.stop(namespace ? [namespace] : []),
    };
  },
  { walletLogin: true },
);
