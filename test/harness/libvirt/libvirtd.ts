// A libvirt daemon for the VM backend's tests, started by hand as root without systemd (the recipe
// of /work/shared/MACHINE-NOTES.md): the Debian packages must be installed already
// (test/harness/ensure-system-deps.sh installs them), this module only prepares the few things
// `libvirt-daemon-system` would have made and runs virtlogd + libvirtd as children that die with
// the harness. A libvirtd that already answers is reused and never stopped.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '../../../lib/log.js';
import { virsh } from '../../../controllers/vm/backends/libvirt/virsh.js';
import { startProcess, waitFor, type ManagedProcess } from '../processes.js';

export { virsh };

const run = promisify(execFile);
const log = createLogger('libvirt-harness');

export const LIBVIRT_SYSTEM_URI = 'qemu:///system';

/**
 * The group that may use the read-write socket, as on a Debian host with libvirt-daemon-system.
 * The controller manager in a pod is uid 10001 with this group's id as a supplemental group
 * (chart value controller.libvirt.supplementalGroups); root keeps its access.
 */
export const LIBVIRT_SOCKET_GROUP = 'libvirt';

/**
 * Socket access by group instead of polkit (there is no system bus here, and a pod has none):
 * what the Debian package's libvirtd.conf and polkit rule grant the libvirt group.
 */
const LIBVIRTD_CONF = [
  `unix_sock_group = "${LIBVIRT_SOCKET_GROUP}"`,
  'unix_sock_rw_perms = "0770"',
  'unix_sock_ro_perms = "0777"',
  'auth_unix_rw = "none"',
  'auth_unix_ro = "none"',
  '',
].join('\n');

/**
 * What a pod running as `uid`:`gid` needs to use the read-write socket: libvirtd names every client
 * by its user and group records on the host ("Failed to find user record for uid" otherwise), so
 * this makes a system group and user `blockhost` with those ids when the host has none; returns the
 * socket group's id, for the pod's supplementalGroups.
 */
export async function grantPodAccess(uid: number, gid = uid): Promise<number> {
  const known = (database: 'passwd' | 'group', id: number) =>
    run('getent', [database, String(id)]).then(
      () => true,
      () => false,
    );
  if (!(await known('group', gid))) {
    log.info({ gid }, 'creating system group blockhost for pods that use libvirtd');
    await run('groupadd', ['--system', '--gid', String(gid), 'blockhost']);
  }
  if (!(await known('passwd', uid))) {
    log.info({ uid }, 'creating system user blockhost for pods that use libvirtd');
    await run('useradd', [
      '--system',
      '--uid',
      String(uid),
      '--gid',
      String(gid),
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      'BlockHost controller (pods)',
      'blockhost',
    ]);
  }
  const { stdout } = await run('getent', ['group', LIBVIRT_SOCKET_GROUP]);
  return Number(stdout.split(':')[2]);
}

/** The Debian packages the libvirt tests need, with a file each installs (for non-dpkg systems). */
export const LIBVIRT_PACKAGES: Record<string, string> = {
  'libvirt-daemon': '/usr/sbin/libvirtd',
  'libvirt-daemon-driver-qemu': '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so',
  'libvirt-clients': '/usr/bin/virsh',
  'qemu-system-x86': '/usr/bin/qemu-system-x86_64',
  'qemu-utils': '/usr/bin/qemu-img',
  genisoimage: '/usr/bin/genisoimage',
  tini: '/usr/bin/tini',
};

/** Whether `virsh version` answers; on a freshly started daemon it waits for the QEMU capabilities probe. */
async function answers(uri: string, timeoutMs = 10_000): Promise<boolean> {
  try {
    await virsh(uri, ['version'], timeoutMs);
    return true;
  } catch {
    return false;
  }
}

async function pidAlive(pidFile: string): Promise<boolean> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function missingPackages(): Promise<string[]> {
  const missing: string[] = [];
  const haveDpkg = existsSync('/usr/bin/dpkg-query');
  for (const [name, file] of Object.entries(LIBVIRT_PACKAGES)) {
    if (haveDpkg) {
      const status = await run('dpkg-query', ['-W', '-f=${Status}', name]).then(
        ({ stdout }) => stdout,
        () => '',
      );
      if (!status.includes('ok installed')) missing.push(name);
    } else if (!existsSync(file)) {
      missing.push(name);
    }
  }
  return missing;
}

async function hasUser(name: string): Promise<boolean> {
  return run('getent', ['passwd', name]).then(
    () => true,
    () => false,
  );
}

async function hasGroup(name: string): Promise<boolean> {
  return run('getent', ['group', name]).then(
    () => true,
    () => false,
  );
}

/**
 * What `libvirt-daemon-system` would have created: the `kvm` group and the `libvirt-qemu` system
 * user (Debian's libvirtd refuses to initialise its QEMU driver without them, "Failed to parse user
 * 'libvirt-qemu'"), and the log and runtime directories.
 */
async function prepareSystem(): Promise<void> {
  if (!(await hasGroup('kvm'))) {
    log.info('creating system group kvm');
    await run('groupadd', ['--system', 'kvm']);
  }
  if (!(await hasUser('libvirt-qemu'))) {
    log.info('creating system user libvirt-qemu');
    await run('useradd', [
      '--system',
      '--user-group',
      '--groups',
      'kvm',
      '--home-dir',
      '/var/lib/libvirt',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      'Libvirt Qemu',
      'libvirt-qemu',
    ]);
  }
  if (!(await hasGroup(LIBVIRT_SOCKET_GROUP))) {
    log.info({ group: LIBVIRT_SOCKET_GROUP }, 'creating system group');
    await run('groupadd', ['--system', LIBVIRT_SOCKET_GROUP]);
  }
  for (const dir of ['/var/log/libvirt', '/var/log/libvirt/qemu', '/run/libvirt', '/var/lib/libvirt']) {
    await mkdir(dir, { recursive: true });
  }
}

export interface LibvirtDaemonOptions {
  /** Where virtlogd's and libvirtd's own output goes when this harness starts them. */
  logDir?: string;
  /** How long to wait for a started libvirtd to answer. */
  timeoutMs?: number;
}

/** A libvirtd answering on `uri`: started here (and stopped by `stop()`), or a running one reused. */
export class LibvirtDaemon {
  private constructor(
    readonly uri: string,
    /** True when a libvirtd was already running: `stop()` then leaves it alone. */
    readonly reused: boolean,
    private readonly processes: ManagedProcess[],
    readonly logDir: string | undefined,
  ) {}

  /**
   * Reuses the running libvirtd or starts virtlogd and libvirtd; resolves once
   * `virsh -c qemu:///system version` answers. Throws with the reason when that is impossible
   * (not root, packages missing, daemon exits).
   */
  static async start({ logDir, timeoutMs = 30_000 }: LibvirtDaemonOptions = {}): Promise<LibvirtDaemon> {
    const uri = LIBVIRT_SYSTEM_URI;
    const missing = await missingPackages();
    if (missing.length > 0) {
      throw new Error(
        `libvirt tests need the Debian packages ${missing.join(', ')}; run ` +
          `\`bash test/harness/ensure-system-deps.sh\` as root or \`sudo apt-get install ${missing.join(' ')}\``,
      );
    }
    if (await answers(uri)) {
      log.info({ uri }, 'reusing the running libvirtd');
      return new LibvirtDaemon(uri, true, [], undefined);
    }
    if (await pidAlive('/run/libvirtd.pid')) {
      // Started by someone else moments ago: give it time rather than starting a second one.
      await waitFor(`the running libvirtd (/run/libvirtd.pid) on ${uri}`, () => answers(uri), {
        timeoutMs,
        intervalMs: 500,
      });
      return new LibvirtDaemon(uri, true, [], undefined);
    }
    if (process.getuid?.() !== 0) {
      throw new Error(
        `no libvirtd answers on ${uri} and starting one needs root (this process runs as uid ` +
          `${process.getuid?.()}); start libvirtd yourself or run the libvirt tests as root`,
      );
    }
    await prepareSystem();
    const dir = logDir ?? (await mkdtemp(join(tmpdir(), 'blockhost-libvirtd-')));
    await mkdir(dir, { recursive: true });
    const processes: ManagedProcess[] = [];
    const daemon = new LibvirtDaemon(uri, false, processes, dir);
    try {
      if (!(await pidAlive('/run/virtlogd.pid'))) {
        processes.push(startProcess('virtlogd', '/usr/sbin/virtlogd', [], join(dir, 'virtlogd.log')));
      }
      // QEMU daemonizes, so its processes are reparented; PID 1 of a container or microVM often
      // never reaps them, and libvirtd then waits on zombies (virsh define hung for the QEMU
      // capabilities probe). tini as a child subreaper (-s) reaps them; -p forwards a SIGTERM to
      // libvirtd should the harness die.
      const config = join(dir, 'libvirtd.conf');
      await writeFile(config, LIBVIRTD_CONF);
      const libvirtd = startProcess(
        'libvirtd',
        '/usr/bin/tini',
        ['-s', '-p', 'SIGTERM', '--', '/usr/sbin/libvirtd', '--config', config],
        join(dir, 'libvirtd.log'),
      );
      processes.push(libvirtd);
      const exited = () =>
        processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null)?.name;
      await waitFor(`libvirtd answering on ${uri}`, () => answers(uri, timeoutMs), {
        timeoutMs,
        intervalMs: 300,
        abortIf: () => {
          const name = exited();
          return name ? `${name} exited; see ${join(dir, `${name}.log`)}` : undefined;
        },
      });
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    log.info({ uri, logDir: dir }, 'libvirtd started');
    return daemon;
  }

  /**
   * Stops the daemons this harness started, after destroying any domain still running on them
   * (QEMU processes outlive libvirtd otherwise). A reused libvirtd is left alone.
   */
  async stop(): Promise<void> {
    if (this.reused) return;
    const libvirtd = this.processes.find((p) => p.name === 'libvirtd');
    if (libvirtd && libvirtd.child.exitCode === null && libvirtd.child.signalCode === null) {
      const running = await virsh(this.uri, ['list', '--name'], 10_000).catch(() => '');
      for (const name of running.split('\n').filter((line) => line.trim() !== '')) {
        log.warn({ domain: name }, 'destroying a domain left running');
        await virsh(this.uri, ['destroy', name.trim()], 30_000).catch(() => undefined);
      }
    }
    for (const p of [...this.processes].reverse()) await p.stop(10_000);
  }
}
