// What the harness node changes on this machine outside its work directory, and how it is undone.
// A node takes a machine-wide lock (its bridge, addresses, ports, iptables chain names, kubepods
// cgroups and the kernel sysctls are all global), records the host's state in a fixed directory
// before it changes anything, and undoes it all at stop(); a start() that finds the record of a run
// that crashed undoes that run first. Besides the recorded sysctls and new empty nftables tables,
// only what names the recorded work directory (processes, mounts, files in shared host directories),
// the recorded bridge, the KUBE-* iptables chains and the kubepods cgroups is touched.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '../../../lib/log.js';
import { waitFor } from '../processes.js';

const execFileAsync = promisify(execFile);
const log = createLogger('node-host');

const STATE_DIR = '/run/blockhost-node';
const LOCK_PATH = join(STATE_DIR, 'lock');
const OWNER_PATH = join(STATE_DIR, 'lock.owner');
const STATE_PATH = join(STATE_DIR, 'state.json');
/** A node's work dir is a mkdtemp() with this prefix. */
export const WORK_DIR_PREFIX = 'blockhost-node-';

/** Sysctls kubelet (setupKernelTunables), the CNI bridge plugin (ip_forward) and kube-proxy may set. */
const SYSCTLS = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
];

/**
 * Host directories kubelet, containerd and the CNI plugins use whatever their root, state and log
 * directories are set to (device plugins, CNI result cache, shim sockets, log symlinks). Another
 * containerd (test/harness/containerd) may share /run/containerd, so only our own files are removed
 * from them, and those that did not exist before only if empty. Children first.
 */
const HOST_PATHS = [
  '/var/lib/kubelet/device-plugins',
  '/var/lib/kubelet',
  '/var/lib/cni/results',
  '/var/lib/cni',
  '/run/containerd/s',
  '/run/containerd',
  '/var/log/containers',
];

const IPTABLES_TABLES = ['raw', 'mangle', 'nat', 'filter'];

/** What the host looked like before a node started, and what to find its leftovers by. */
export interface HostState {
  /** The harness process that started the node. */
  pid: number;
  /** Every process of the node names it on its command line; every mount of the node is under it. */
  workDir: string;
  bridge: string;
  /** The CNI network's name, which prefixes its entries in the CNI result cache. */
  cniNetwork: string;
  /** Values before the start, by sysctl name (those this kernel has). */
  sysctls: Record<string, string>;
  /** nftables tables (`family name`) that existed before the start. */
  nftTables: string[];
  /** The HOST_PATHS that did not exist before the start. */
  absentPaths: string[];
}

const run = async (command: string, args: string[], input?: string): Promise<string> => {
  if (input === undefined) return (await execFileAsync(command, args, { maxBuffer: 64 << 20 })).stdout;
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
};

const sysctlPath = (name: string) => join('/proc/sys', ...name.split('.'));

/** The machine-wide lock; it is released when this process ends, however it ends. */
export interface HostLock {
  release(): Promise<void>;
}

/**
 * Waits up to `timeoutMs` for the machine-wide node lock. flock(1) takes it and, without forking,
 * becomes `cat`, which holds it until its stdin (our pipe) closes: at release(), or when this
 * process dies, however it dies. So a lock is never stale.
 */
export async function acquireHostLock(timeoutMs: number): Promise<HostLock> {
  await mkdir(STATE_DIR, { recursive: true });
  const seconds = String(Math.ceil(timeoutMs / 1000));
  const child = spawn('flock', ['--no-fork', '--exclusive', '--timeout', seconds, LOCK_PATH, 'cat'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const locked = new Promise<boolean>((resolve) => {
    child.stdout.once('data', () => resolve(true));
    void exited.then(() => resolve(false));
  });
  child.stdin.write('locked\n');
  const waiting = setTimeout(async () => {
    const owner = await readFile(OWNER_PATH, 'utf8').catch(() => 'unknown');
    log.info({ owner: owner.trim(), lock: LOCK_PATH }, 'waiting for the machine-wide node lock');
  }, 2000);
  const got = await locked;
  clearTimeout(waiting);
  if (!got) {
    const owner = await readFile(OWNER_PATH, 'utf8').catch(() => 'unknown');
    if (stderr) throw new Error(`flock ${LOCK_PATH}: ${stderr.trim()}`);
    throw new Error(
      `timed out after ${seconds} s waiting for the machine-wide node lock ${LOCK_PATH} (held by PID ${owner.trim()})`,
    );
  }
  // Do not keep the harness alive for the lock's sake: its death releases the lock anyway.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr])
    (stream as { unref?: () => void }).unref?.();
  await writeFile(OWNER_PATH, `${process.pid}\n`);
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        await rm(OWNER_PATH, { force: true });
        child.ref(); // until it has exited
        child.stdin.end();
        await exited;
      })()),
  };
}

/** The record a crashed run left, if any. */
export async function readHostState(): Promise<HostState | undefined> {
  const text = await readFile(STATE_PATH, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const state = JSON.parse(text) as HostState;
  // Everything in the work dir is deleted and everything naming it killed: it must be one of ours.
  if (!basename(state.workDir).startsWith(WORK_DIR_PREFIX))
    throw new Error(`${STATE_PATH} names ${state.workDir}, not a node work dir; remove it by hand`);
  return state;
}

async function nftTables(): Promise<string[]> {
  const out = await run('nft', ['list', 'tables']);
  return out
    .split('\n')
    .map((line) => line.replace(/^table /, '').trim())
    .filter(Boolean);
}

/** Snapshots the host and records it (with the work dir, bridge and network to come) before any change. */
export async function recordHostState({
  workDir,
  bridge,
  cniNetwork,
}: Pick<HostState, 'workDir' | 'bridge' | 'cniNetwork'>): Promise<HostState> {
  const sysctls: Record<string, string> = {};
  for (const name of SYSCTLS) {
    const value = await readFile(sysctlPath(name), 'utf8').catch(() => undefined);
    if (value !== undefined) sysctls[name] = value.trim();
  }
  const state: HostState = {
    pid: process.pid,
    workDir,
    bridge,
    cniNetwork,
    sysctls,
    nftTables: await nftTables(),
    absentPaths: HOST_PATHS.filter((path) => !existsSync(path)),
  };
  await writeFile(STATE_PATH, JSON.stringify(state, null, 2));
  return state;
}

/** Processes whose command line names `dir` (node processes, containerd shims by their -address). */
async function processesNaming(dir: string): Promise<{ pid: number; args: string[] }[]> {
  const found: { pid: number; args: string[] }[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.some((arg) => arg === dir || arg.includes(`${dir}/`))) found.push({ pid, args });
  }
  return found;
}

/**
 * The socket a containerd 1.6 shim listens on, which it leaves behind when killed: always under
 * /run/containerd/s, named by the hash of its containerd's address, namespace and container id.
 */
function shimSocket(args: string[]): string | undefined {
  const flag = (name: string) => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : args[at + 1];
  };
  const [address, namespace, id] = [flag('-address'), flag('-namespace'), flag('-id')];
  if (!args[0]?.includes('containerd-shim') || !address || !namespace || !id) return undefined;
  return join(
    '/run/containerd/s',
    createHash('sha256')
      .update(join(address, namespace, id))
      .digest('hex'),
  );
}

/** kubelet's cgroupfs hierarchies (`kubepods` under each cgroup v1 controller, or the v2 root). */
async function kubepodsCgroups(): Promise<string[]> {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? ['/sys/fs/cgroup']
    : (await readdir('/sys/fs/cgroup')).map((controller) => join('/sys/fs/cgroup', controller));
  return roots.map((root) => join(root, 'kubepods')).filter((dir) => existsSync(dir));
}

/** Every cgroup directory under `dir`, deepest first. */
async function cgroupTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const children = await Promise.all(
    entries.filter((e) => e.isDirectory()).map((e) => cgroupTree(join(dir, e.name))),
  );
  return [...children.flat(), dir];
}

/** The containers' processes: whatever is in the kubepods cgroups (shims live outside them). */
async function containerProcesses(): Promise<number[]> {
  const pids = new Set<number>();
  for (const root of await kubepodsCgroups())
    for (const dir of await cgroupTree(root)) {
      const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of procs.split('\n').filter(Boolean)) pids.add(Number(pid));
    }
  return [...pids];
}

/** Not yet exited (a zombie has: whoever reaps it, it holds nothing of ours). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(
    'killed processes to exit',
    async () => !(await Promise.all(pids.map(alive))).includes(true),
    {
      timeoutMs: 10_000,
    },
  );
}

/** Mount points under `dir`, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const decode = (path: string) =>
    path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return mountinfo
    .split('\n')
    .map((line) => decode(line.split(' ')[4] ?? ''))
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** `-A <chain> ...` lines of iptables-save output, by chain. */
function iptablesRules(save: string): { chain: string; rule: string }[] {
  return save
    .split('\n')
    .filter((line) => line.startsWith('-A '))
    .map((line) => ({ chain: line.split(' ')[1] ?? '', rule: line.slice(3) }));
}

/** The KUBE-* chains (kube-proxy's and kubelet's) in `table`, and the rules elsewhere that jump to them. */
async function kubeChains(iptables: string, table: string): Promise<{ chains: string[]; jumps: string[] }> {
  const save = await run(`${iptables}-save`, ['-t', table]).catch(() => '');
  const chains = [...save.matchAll(/^:(KUBE-[A-Z0-9-]+)/gm)].map((m) => m[1]!);
  const jumps = iptablesRules(save)
    .filter(({ chain, rule }) => !chain.startsWith('KUBE-') && / -j KUBE-/.test(rule))
    .map(({ rule }) => rule);
  return { chains, jumps };
}

/** Removes every KUBE-* chain and the jumps to them, in one iptables-restore transaction per table. */
async function removeKubeChains(): Promise<void> {
  for (const iptables of ['iptables', 'ip6tables'])
    for (const table of IPTABLES_TABLES) {
      const { chains, jumps } = await kubeChains(iptables, table);
      if (chains.length === 0 && jumps.length === 0) continue;
      const script = [
        `*${table}`,
        ...jumps.map((rule) => `-D ${rule}`),
        ...chains.map((chain) => `-F ${chain}`),
        ...chains.map((chain) => `-X ${chain}`),
        'COMMIT',
        '',
      ].join('\n');
      await run(`${iptables}-restore`, ['--noflush'], script);
    }
}

/** nftables tables that hold no rules (iptables-nft leaves its tables behind, emptied). */
async function emptyNftTables(): Promise<string[]> {
  const empty: string[] = [];
  for (const table of await nftTables()) {
    const listing = JSON.parse(await run('nft', ['-j', 'list', 'table', ...table.split(' ')])) as {
      nftables: Record<string, unknown>[];
    };
    if (!listing.nftables.some((item) => 'rule' in item)) empty.push(table);
  }
  return empty;
}

/** Links enslaved to `bridge` (pod veths whose network namespace outlived its pod) and the bridge. */
async function removeBridge(bridge: string): Promise<void> {
  if (!existsSync(`/sys/class/net/${bridge}`)) return;
  for (const port of await readdir(`/sys/class/net/${bridge}/brif`).catch(() => []))
    await run('ip', ['link', 'del', port]).catch(() => undefined); // gone with its namespace meanwhile
  await run('ip', ['link', 'del', bridge]);
}

/** The work dir's subdirectory every process of a node logs into. */
export const LOGS_DIR = 'logs';

/**
 * Undoes everything a node did to the host, whether it stopped or crashed: kills what is left of
 * it (containers, shims, anything naming the work dir), unmounts under the work dir, removes the
 * KUBE-* chains (after `kube-proxy --cleanup`), kubepods cgroups and the bridge, restores the
 * sysctls, drops the empty nftables tables and host paths it created, deletes the work dir (but
 * its logs when `keepLogs`) and the record. Every step runs; the failures are reported together.
 */
export async function undoHost(
  state: HostState,
  kubeProxy: string,
  { keepLogs = false }: { keepLogs?: boolean } = {},
): Promise<void> {
  const failures: string[] = [];
  const step = async (what: string, body: () => Promise<unknown>) => {
    const began = Date.now();
    try {
      await body();
      log.debug({ step: what, ms: Date.now() - began }, 'host teardown step');
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  // Containers first, so that their shims reap them; then the shims and every other process of ours.
  await step('kill container processes', async () => killAll(await containerProcesses()));
  const shimSockets: string[] = [];
  await step('kill node processes', async () => {
    const processes = await processesNaming(state.workDir);
    shimSockets.push(...processes.flatMap(({ args }) => shimSocket(args) ?? []));
    await killAll(processes.map(({ pid }) => pid));
  });
  await step('unmount', async () => {
    // One at a time: a mount listed twice (propagation) is gone the second time; the check is below.
    for (const mount of await mountsUnder(state.workDir))
      await run('umount', ['--lazy', mount]).catch(() => undefined);
  });
  await step('kube-proxy --cleanup', () => run(kubeProxy, ['--cleanup', '--v=0']));
  await step('remove KUBE-* iptables chains', removeKubeChains);
  await step('remove kubepods cgroups', async () => {
    for (const root of await kubepodsCgroups())
      await waitFor(
        `${root} removed`,
        async () => {
          for (const dir of await cgroupTree(root)) await rmdir(dir).catch(() => undefined);
          return !existsSync(root);
        },
        { timeoutMs: 10_000 },
      );
  });
  await step(`remove bridge ${state.bridge}`, () => removeBridge(state.bridge));
  await step('restore sysctls', async () => {
    for (const [name, value] of Object.entries(state.sysctls)) {
      const now = (await readFile(sysctlPath(name), 'utf8')).trim();
      if (now !== value) await writeFile(sysctlPath(name), value);
    }
  });
  await step('drop new empty nftables tables', async () => {
    for (const table of await emptyNftTables())
      if (!state.nftTables.includes(table)) await run('nft', ['delete', 'table', ...table.split(' ')]);
  });
  await step('remove our files from host paths', async () => {
    for (const socket of shimSockets) await rm(socket, { force: true });
    // Only a kubelet uses it, and the lock allows one per machine.
    await rm('/var/lib/kubelet/device-plugins', { recursive: true, force: true });
    // <network>-<sandbox id>-<interface>, for our network and containerd's loopback one.
    const results = '/var/lib/cni/results';
    const ours = (await readdir(results).catch(() => [])).filter((name) =>
      name.startsWith(`${state.cniNetwork}-`),
    );
    const loopbacks = ours.map((name) => `cni-loopback-${name.split('-').at(-2)}-lo`);
    for (const name of [...ours, ...loopbacks]) await rm(join(results, name), { force: true });
    for (const name of await readdir('/var/log/containers').catch(() => [])) {
      const target = await readlink(join('/var/log/containers', name)).catch(() => '');
      if (target.startsWith(`${state.workDir}/`)) await rm(join('/var/log/containers', name));
    }
    for (const path of state.absentPaths) await rmdir(path).catch(() => undefined); // in use by another
  });
  await step(`remove ${state.workDir}`, async () => {
    // Never recurse into a mount (a container's rootfs, a volume) that survived the unmount.
    const left = await mountsUnder(state.workDir);
    if (left.length > 0) throw new Error(`still mounted: ${left.join(', ')}`);
    if (!keepLogs) return rm(state.workDir, { recursive: true, force: true });
    for (const entry of await readdir(state.workDir))
      if (entry !== LOGS_DIR) await rm(join(state.workDir, entry), { recursive: true, force: true });
  });
  if (failures.length > 0)
    throw new Error(
      `node teardown left something behind (record kept in ${STATE_PATH}):\n${failures.join('\n')}`,
    );
  await rm(STATE_PATH, { force: true });
}
