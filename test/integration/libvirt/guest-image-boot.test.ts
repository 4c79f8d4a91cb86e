// The product's guest image booted by firmware, as Proxmox VE and KubeVirt boot it: libvirt's
// SeaBIOS loads GRUB from the disk's MBR, GRUB the kernel from the root partition. The direct kernel
// boot path is covered by test/integration/e2e/libvirt-purchase.test.ts.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ObservedVm } from '../../../controllers/vm/backend.js';
import { LibvirtBackend } from '../../../controllers/vm/backends/libvirt/driver.js';
import { createLogger } from '../../../lib/log.js';
import { desiredGuest } from '../../harness/libvirt/desired-guest.js';
import { CLUSTER_LOCK_WAIT_MS, testClient } from '../../harness/kube.js';
import { LibvirtEnvironment } from '../../harness/libvirt/environment.js';
import { virsh } from '../../harness/libvirt/libvirtd.js';
import { waitFor } from '../../harness/processes.js';

/** Random, so that a domain left by a run whose libvirtd died never collides with this one. */
const NAMESPACE = `guest-image-boot-${randomBytes(3).toString('hex')}`;
const OWNER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const DISK_GIB = 3;

describe('guest image booted by BIOS firmware on libvirt', () => {
  let env: LibvirtEnvironment;
  let backend: LibvirtBackend;

  beforeAll(
    async () => {
      env = await LibvirtEnvironment.start({ guestImage: true, guestLock: testClient() });
      backend = new LibvirtBackend(env.settings, createLogger('guest-image-boot-test', { level: 'warn' }));
    },
    CLUSTER_LOCK_WAIT_MS + 10 * 60_000,
  );

  afterAll(async () => {
    await env?.stop([NAMESPACE]);
  }, 60_000);

  it(
    'boots from its disk to the guest agent with the static address, root grown to the disk',
    async () => {
      const desired = {
        ...desiredGuest(env, {
          namespace: NAMESPACE,
          name: 'bios',
          ownerWallet: OWNER,
          login: { secretKey: 'ab'.repeat(32) },
        }),
        image: 'debian-bios',
        diskGiB: DISK_GIB,
      };
      const created = await backend.create(desired);
      const xml = await virsh(env.daemon.uri, ['dumpxml', created.id]);
      expect(xml).not.toContain('<kernel>');
      expect(xml).toContain("<boot dev='hd'/>");

      let observed: ObservedVm | undefined;
      await waitFor(
        'the guest agent with the static address',
        async () => {
          observed = await backend.observe({ namespace: NAMESPACE, name: 'bios', id: created.id });
          return observed?.addresses.ipv4 === desired.addresses?.ipv4;
        },
        { timeoutMs: 6 * 60_000, intervalMs: 2000 },
      ).catch(async (error: unknown) => {
        const console = await readFile(
          `/var/log/libvirt/qemu/${LibvirtBackend.domainName(desired)}-console.log`,
          'utf8',
        ).catch(() => '(no console log)');
        throw new Error(
          `${(error as Error).message}\nconsole:\n${console.split('\n').slice(-40).join('\n')}`,
        );
      });
      expect(observed?.guestAgentConnected).toBe(true);

      // cloud-init's growpart and resizefs run before the agent starts (runcmd), but poll anyway.
      const run = async (path: string, args: string[]) => {
        const result = await backend.guestExec(created.id, { path, args });
        if (result.exitCode !== 0) throw new Error(`${path} ${args.join(' ')}: ${result.stderr}`);
        return result.stdout.trim();
      };
      let root: string[] = [];
      await waitFor(
        'the root file system grown',
        async () => {
          root = (await run('/usr/bin/findmnt', ['-bno', 'SOURCE,SIZE', '/'])).split(/\s+/);
          return Number(root[1]) > (DISK_GIB - 0.5) * 2 ** 30;
        },
        { timeoutMs: 60_000, intervalMs: 2000 },
      );
      const [source] = root;
      expect(source).toBe('/dev/vda1');
      // The partition spans the disk but for GRUB's first MiB (growpart keeps a few sectors at the end).
      expect(Number(await run('/usr/bin/lsblk', ['-bndo', 'SIZE', source!]))).toBeGreaterThan(
        DISK_GIB * 2 ** 30 - 2 * 2 ** 20,
      );
    },
    8 * 60_000,
  );
});
