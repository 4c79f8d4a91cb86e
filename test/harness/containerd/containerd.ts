// A private containerd for tests that run images without Kubernetes: its own root, state, socket,
// runc root and cgroup parent under one temporary directory, started as a child of the test and
// removed with everything it made by stop(). Only what `ctr` needs: the CRI plugin is off, so
// there is no oom_score_adj for runc to lower (REAL-NODE.md step 3: CRI needs
// restrict_oom_score_adj = true on these VMs, as CAP_SYS_RESOURCE is missing). Needs root.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, waitFor, type ManagedProcess } from '../processes.js';

const run = promisify(execFile);
/** The namespace the kubelet's CRI uses: images land where a node would look for them. */
const NAMESPACE = 'k8s.io';
/** Directories containerd 1.6 makes under /run whatever its --state says (shim sockets). */
const FIXED_RUN_DIRS = ['/run/containerd/s', '/run/containerd'];

export interface RunOptions {
  /** Read-only root filesystem, as the chart's readOnlyRootFilesystem (default true). */
  readOnly?: boolean;
  /** A fresh tmpfs at /tmp, as the chart's emptyDir (default true). */
  tmp?: boolean;
  /** The host's network namespace (to reach a server on the host's loopback, or serve on it). */
  netHost?: boolean;
  /** Read-only bind mounts: host path → container path. */
  binds?: Record<string, string>;
  env?: string[];
  timeoutMs?: number;
}

export interface Container {
  readonly id: string;
  /** The container's stdout and stderr so far. */
  logs(): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; deletes the task and the container. */
  stop(graceMs?: number): Promise<void>;
}

/** PIDs of the shims serving `address` (they outlive containerd when it is stopped first). */
async function shimPids(address: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const args: string[] = await readFile(`/proc/${name}/cmdline`, 'utf8').then(
      (text) => text.split('\0'),
      () => [], // gone meanwhile
    );
    if (args[0]?.includes('containerd-shim') && args[args.indexOf('-address') + 1] === address)
      pids.push(Number(name));
  }
  return pids;
}

export class PrivateContainerd {
  private containers = new Set<string>();
  private sequence = 0;

  private constructor(
    readonly dir: string,
    readonly address: string,
    private readonly cgroupParent: string,
    private readonly daemon: ManagedProcess,
    private readonly createdRunDirs: string[],
  ) {}

  static async start(): Promise<PrivateContainerd> {
    if (process.getuid?.() !== 0) throw new Error('a private containerd needs root (mounts, cgroups, runc)');
    for (const tool of ['containerd', 'ctr', 'runc', 'containerd-shim-runc-v2', 'tini'])
      await run('sh', ['-c', `command -v ${tool}`]).catch(() => {
        throw new Error(`${tool} is missing (apt-get install containerd runc tini)`);
      });
    const dir = await mkdtemp(join(tmpdir(), 'bh-containerd-'));
    const address = join(dir, 'containerd.sock');
    const createdRunDirs = FIXED_RUN_DIRS.filter((d) => !existsSync(d));
    await writeFile(
      join(dir, 'config.toml'),
      [
        'version = 2',
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",',
        '  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",',
        '  "io.containerd.snapshotter.v1.aufs"]',
        '[grpc]',
        `  address = "${address}"`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${dir}/opt"`,
        '',
      ].join('\n'),
    );
    await mkdir(join(dir, 'logs'));
    // tini as a subreaper: the shims containerd starts are reparented to it and reaped when they
    // exit (PID 1 here reaps nobody). containerd dies with tini, tini with the test.
    const daemon = startProcess(
      'containerd',
      'tini',
      [
        '-s',
        '--',
        'setpriv',
        '--pdeathsig',
        'SIGKILL',
        '--',
        'containerd',
        '--config',
        join(dir, 'config.toml'),
      ],
      join(dir, 'containerd.log'),
    );
    const containerd = new PrivateContainerd(
      dir,
      address,
      `blockhost-test-${dir.slice(-6)}`,
      daemon,
      createdRunDirs,
    );
    try {
      await waitFor('containerd to answer', () => containerd.ctr(['version']).then(() => true), {
        timeoutMs: 20_000,
        abortIf: () =>
          daemon.child.exitCode !== null ? `containerd exited; see ${daemon.logPath}` : undefined,
      });
    } catch (error) {
      await containerd.stop();
      throw error;
    }
    return containerd;
  }

  /** Runs `ctr` against this containerd, in the k8s.io namespace. */
  async ctr(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
    return run('ctr', ['--address', this.address, '--namespace', NAMESPACE, ...args], {
      timeout: timeoutMs,
      maxBuffer: 16 * 2 ** 20,
    });
  }

  /** Imports an image archive (named by its own annotations). */
  async importImage(tar: string): Promise<void> {
    await this.ctr(['images', 'import', tar], 300_000);
  }

  /** Names of the images this containerd holds. */
  async images(): Promise<string[]> {
    const { stdout } = await this.ctr(['images', 'ls', '--quiet']);
    return stdout.split('\n').filter(Boolean).sort();
  }

  private runArgs(id: string, options: RunOptions): string[] {
    const args = [
      `--runc-root=${this.dir}/runc`,
      `--fifo-dir=${this.dir}/fifo`,
      `--cgroup=/${this.cgroupParent}/${id}`,
      '--seccomp',
    ];
    if (options.readOnly ?? true) args.push('--read-only');
    if (options.netHost) args.push('--net-host');
    if (options.tmp ?? true)
      args.push('--mount', 'type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777');
    for (const [host, container] of Object.entries(options.binds ?? {}))
      args.push('--mount', `type=bind,src=${host},dst=${container},options=rbind:ro`);
    for (const variable of options.env ?? []) args.push('--env', variable);
    return args;
  }

  private nextId(): string {
    this.sequence += 1;
    return `c${this.sequence}`;
  }

  /** Runs `command` in a new container of `image` (as the image's USER) until it exits; rejects on a non-zero exit. */
  async run(
    image: string,
    command: string[],
    options: RunOptions = {},
  ): Promise<{ stdout: string; stderr: string }> {
    const id = this.nextId();
    this.containers.add(id);
    try {
      return await this.ctr(
        ['run', '--rm', ...this.runArgs(id, options), image, id, ...command],
        options.timeoutMs,
      );
    } finally {
      this.containers.delete(id);
    }
  }

  /** Starts `command` in a new container of `image` in the background; its output goes to a log file. */
  async start(image: string, command: string[], options: RunOptions = {}): Promise<Container> {
    const id = this.nextId();
    const logPath = join(this.dir, 'logs', `${id}.log`);
    this.containers.add(id);
    await this.ctr([
      'run',
      '--detach',
      `--log-uri=file://${logPath}`,
      ...this.runArgs(id, options),
      image,
      id,
      ...command,
    ]);
    return {
      id,
      logs: () => readFile(logPath, 'utf8').catch(() => ''),
      stop: (graceMs = 10_000) => this.remove(id, graceMs),
    };
  }

  private async taskStatus(id: string): Promise<string | undefined> {
    const { stdout } = await this.ctr(['tasks', 'ls']);
    return stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .find((cols) => cols[0] === id)?.[2];
  }

  private async remove(id: string, graceMs: number): Promise<void> {
    if ((await this.taskStatus(id)) === 'RUNNING') {
      await this.ctr(['tasks', 'kill', '--signal', 'SIGTERM', id]);
      await waitFor(`container ${id} to stop`, async () => (await this.taskStatus(id)) !== 'RUNNING', {
        timeoutMs: graceMs,
      }).catch(() => this.ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]));
      await waitFor(`container ${id} to stop`, async () => (await this.taskStatus(id)) !== 'RUNNING');
    }
    await this.ctr(['tasks', 'delete', id]).catch(() => undefined); // no task: it never started
    await this.ctr(['containers', 'delete', id]);
    this.containers.delete(id);
  }

  /** Stops every container, containerd and its shims; removes its files, mounts and cgroups. */
  async stop(): Promise<void> {
    if (this.daemon.child.exitCode === null)
      for (const id of [...this.containers]) await this.remove(id, 5_000).catch(() => undefined);
    // A shim exits by itself once its task is deleted and then removes its socket under /run.
    await waitFor('the shims to exit', async () => (await shimPids(this.address)).length === 0, {
      timeoutMs: 5_000,
    }).catch(() => undefined);
    for (const pid of await shimPids(this.address)) process.kill(pid, 'SIGKILL');
    await this.daemon.stop();
    const mounts = (await readFile('/proc/mounts', 'utf8'))
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((mountpoint) => mountpoint.startsWith(`${this.dir}/`))
      .sort()
      .reverse();
    for (const mountpoint of mounts) await run('umount', ['-l', mountpoint]);
    await rm(this.dir, { recursive: true, force: true });
    // runc removes each container's cgroup; the parent is ours, in the unified hierarchy (cgroup v2)
    // or in every v1 one.
    const hierarchies = (await readdir('/sys/fs/cgroup')).map((h) => join('/sys/fs/cgroup', h));
    for (const hierarchy of ['/sys/fs/cgroup', ...hierarchies]) {
      const parent = join(hierarchy, this.cgroupParent);
      if (existsSync(parent)) await rmdir(parent);
    }
    for (const dir of this.createdRunDirs) await rmdir(dir).catch(() => undefined); // another containerd may use it now
  }
}
