// Everything a libvirt backend test needs around the driver: the daemon, a storage pool of its own,
// a Linux bridge whose address is the VM pool's gateway (so the test can reach guests at their static
// addresses), and base images qemu can read. Each environment uses random names and a random /24, so
// parallel test files never collide; stop() removes what it made.
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, link, mkdir, rm, copyFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { LibvirtSettings } from '../../../controllers/vm/backends/libvirt/driver.js';
import type { HostConfigSpec } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { ensureGuestImage } from '../../../images/guest/guest-image.js';
import { acquireClusterLock } from '../kube.js';
import { LibvirtDaemon, virsh } from './libvirtd.js';

const run = promisify(execFile);
const log = createLogger('libvirt-environment');

/** Under /var/lib, not root's home: QEMU runs as libvirt-qemu and must traverse the path. */
const ROOT = '/var/lib/blockhost-test';
/** Direct kernel boot of the guest image: its root partition by label, the console on the log. */
const GUEST_CMDLINE = 'root=LABEL=rootfs net.ifnames=0 console=ttyS0';

export interface LibvirtEnvironmentOptions {
  /**
   * Also publish the cached Debian guest image (built on first use, about two minutes): as
   * `debian` with direct kernel boot, and as `debian-bios` without, booted by SeaBIOS from its disk.
   */
  guestImage?: boolean;
  /**
   * Holds the cluster lock `real-guests` (through this client) while the environment lives. Test
   * files that boot real guests take turns: two or three guests under TCG beside the other jest
   * worker starve each other on a 2-CPU machine (an ACPI shutdown then outlasts every timeout).
   */
  guestLock?: KubeClient;
}

export class LibvirtEnvironment {
  private constructor(
    readonly daemon: LibvirtDaemon,
    readonly id: string,
    readonly bridge: string,
    readonly pool: string,
    readonly dir: string,
    /** ipv4Pool for the HostConfig: a /24 whose .1 is the bridge's address. */
    readonly ipv4Pool: HostConfigSpec['ipv4Pool'],
    readonly settings: LibvirtSettings,
    private readonly releaseGuestLock?: () => Promise<void>,
  ) {}

  static async start(options: LibvirtEnvironmentOptions = {}): Promise<LibvirtEnvironment> {
    const releaseGuestLock =
      options.guestLock && (await acquireClusterLock(options.guestLock, 'real-guests'));
    try {
      return await LibvirtEnvironment.prepare(options, releaseGuestLock);
    } catch (error) {
      await releaseGuestLock?.();
      throw error;
    }
  }

  private static async prepare(
    options: LibvirtEnvironmentOptions,
    releaseGuestLock: (() => Promise<void>) | undefined,
  ): Promise<LibvirtEnvironment> {
    // Reuses the run's daemon (jest's global setup starts it), which outlives this environment.
    const daemon = await LibvirtDaemon.start();
    const id = randomBytes(3).toString('hex');
    const dir = join(ROOT, id);
    const poolDir = join(dir, 'pool');
    await mkdir(poolDir, { recursive: true });
    await chmod(ROOT, 0o755);
    await chmod(dir, 0o755);

    const images: LibvirtSettings['images'] = [];
    const blank = join(dir, 'blank.qcow2');
    // No OS: the domain sits in the firmware, which is all most lifecycle tests need.
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', blank, '1G']);
    await chmod(blank, 0o644);
    images.push({ name: 'blank', path: blank, cmdline: GUEST_CMDLINE });
    if (options.guestImage) {
      const image = await ensureGuestImage();
      const published = await Promise.all(
        [image.baseImage, image.kernel, image.initrd].map((file) => publish(file, dir)),
      );
      images.push(
        {
          name: 'debian',
          path: published[0]!,
          kernel: published[1]!,
          initrd: published[2]!,
          cmdline: GUEST_CMDLINE,
        },
        { name: 'debian-bios', path: published[0]!, cmdline: GUEST_CMDLINE },
      );
    }

    const pool = `blockhost-test-${id}`;
    await virsh(daemon.uri, ['pool-define-as', pool, 'dir', '--target', poolDir]);
    await virsh(daemon.uri, ['pool-start', pool]);

    const bridge = `bhbr${id}`;
    const net = `10.${randomInt(200, 250)}.${randomInt(0, 255)}`;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${net}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    log.info({ pool, bridge, net: `${net}.0/24` }, 'libvirt test environment ready');
    return new LibvirtEnvironment(
      daemon,
      id,
      bridge,
      pool,
      dir,
      { network: `${net}.0/24`, start: `${net}.10`, end: `${net}.250`, gateway: `${net}.1` },
      {
        uri: daemon.uri,
        networkMode: 'bridge',
        bridge,
        natNetwork: 'default',
        storagePool: pool,
        accelerator: process.env.BLOCKHOST_TEST_ACCELERATOR === 'kvm' ? 'kvm' : 'tcg',
        images,
      },
      releaseGuestLock,
    );
  }

  /** Names of the domains BlockHost defined for `namespace` (the driver prefixes them). */
  async domains(namespace: string): Promise<string[]> {
    const out = await virsh(this.daemon.uri, ['list', '--all', '--name']);
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((name) => name.startsWith(`blockhost-${namespace}-`));
  }

  async volumes(): Promise<string[]> {
    const out = await virsh(this.daemon.uri, ['vol-list', this.pool]);
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0]!)
      .filter(Boolean);
  }

  /** Removes leftover domains of `namespaces`, the pool, the bridge and the files. */
  async stop(namespaces: string[] = []): Promise<void> {
    const uri = this.daemon.uri;
    for (const namespace of namespaces) {
      for (const domain of await this.domains(namespace).catch(() => [])) {
        await virsh(uri, ['destroy', domain]).catch(() => undefined);
        await virsh(uri, ['undefine', domain, '--remove-all-storage']).catch(() => undefined);
      }
    }
    await virsh(uri, ['pool-destroy', this.pool]).catch(() => undefined);
    await virsh(uri, ['pool-undefine', this.pool]).catch(() => undefined);
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    await this.releaseGuestLock?.();
  }
}

/** A hard link (same file system) or copy of a cached image file, readable by QEMU's user. */
async function publish(file: string, dir: string): Promise<string> {
  const target = join(dir, basename(file));
  await link(file, target).catch(() => copyFile(file, target));
  await chmod(target, 0o644);
  return target;
}
