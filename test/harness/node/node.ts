// A real one-node Kubernetes cluster on this machine, for tests that need pods to run: a private
// control plane (with kube-scheduler) bound to a bridge's address, containerd + runc with the CNI
// bridge plugin, kubelet, kube-proxy (iptables) and CoreDNS as a host process. Images come from OCI
// tarballs (importImage), never from a registry: pods use `imagePullPolicy: Never`. Needs root. One
// node per machine at a time (a machine-wide lock); see host.ts for what it changes on the host and
// how stop(), or the next start() after a crash, undoes it. In a test (as root):
//
//   const node = await LocalNodeCluster.start();         // about 6 s warm
//   const images = await ensureAppImages();              // images/app (or ensureNodeImage() here)
//   for (const { tar } of Object.values(images.images)) await node.importImage(tar);
//   const tools = await ChartTools.create(node.kubeconfigPath);   // test/integration/chart/helm.ts
//   await tools.helm(['install', 'bh', chartDir, '-n', 'blockhost', '--create-namespace', ...images.helmArgs, '--wait']);
//   await node.stop();                                     // in afterAll
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { createLogger } from '../../../lib/log.js';
import { ensureControlPlaneBinaries, type ControlPlaneBinaries } from '../control-plane/binaries.js';
import { LocalControlPlane } from '../control-plane/control-plane.js';
import { writeKubeconfig } from '../control-plane/kubeconfig.js';
import { clientCert, servingCert } from '../control-plane/pki.js';
import { startProcess, waitFor, type ManagedProcess } from '../processes.js';
import {
  acquireHostLock,
  readHostState,
  recordHostState,
  undoHost,
  LOGS_DIR,
  WORK_DIR_PREFIX,
  type HostLock,
  type HostState,
} from './host.js';
import { ensureNodeImage } from './images.js';

const run = promisify(execFile);
const log = createLogger('node');

export const NODE_NAME = 'blockhost-node';
/** The pods' bridge; its address is the node's IP, the API server's and cluster DNS's. */
export const NODE_BRIDGE = 'bh-node0';
export const NODE_IP = '10.88.0.1';
const POD_CIDR = '10.88.0.0/16';
const SERVICE_CIDR = '10.96.0.0/16';
const CNI_NETWORK = 'blockhost-node';
/**
 * Fixed, since the node's configs name them and the lock allows one node per machine; below 32768,
 * so that freePort() (the kernel's ephemeral range) never hands one out to another test.
 */
const PORTS = {
  etcdClient: 12379,
  etcdPeer: 12380,
  apiserver: 16443,
  controllerManager: 20257,
  scheduler: 20259,
  kubelet: 20250,
  kubeletHealthz: 20248,
  kubeProxyMetrics: 20249,
  kubeProxyHealthz: 20256,
  dnsHealth: 20280,
  dnsReady: 20281,
};

const nodeType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
interface NodeObject extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

/** Like Promise.all, but only once every promise has settled: a failed start tears down nothing still starting. */
async function allSettled(promises: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * How long start() waits for another node on this machine by default: jest runs two files at a
 * time, so at most one other file's whole run (the convention of test/harness/kube.ts's lock).
 */
export const NODE_LOCK_WAIT_MS = 600_000;

export interface NodeClusterOptions {
  /**
   * The machine-wide lock (acquireHostLock), held by the caller across nodes and kept after stop(),
   * e.g. to check the host once a node is gone. By default start() takes it and stop() releases it.
   */
  lock?: HostLock;
  /** Without `lock`: how long to wait for another node on this machine to stop (NODE_LOCK_WAIT_MS). */
  lockTimeoutMs?: number;
}

/** A one-node cluster with a real kubelet; see the top of this file. */
export class LocalNodeCluster {
  readonly nodeName = NODE_NAME;
  readonly nodeIp = NODE_IP;
  private controlPlane?: LocalControlPlane;
  private processes: ManagedProcess[] = [];
  private stopped?: Promise<void>;

  private constructor(
    /** Everything of this node's lives here: data, configs, certificates and every process's log. */
    readonly workDir: string,
    /** kubectl, helm and the rest, matching this cluster. */
    readonly binaries: ControlPlaneBinaries,
    private readonly state: HostState,
    /** The lock start() took, which stop() releases; undefined when the caller holds it. */
    private readonly ownLock: HostLock | undefined,
  ) {}

  /** An admin (system:masters) kubeconfig for the API server at https://10.88.0.1:16443. */
  get kubeconfigPath(): string {
    return join(this.workDir, 'control-plane', 'kubeconfig');
  }

  private get logDir(): string {
    return join(this.workDir, LOGS_DIR);
  }

  private get containerdSocket(): string {
    return join(this.workDir, 'containerd', 'containerd.sock');
  }

  /**
   * Takes the machine-wide lock, undoes a crashed run's leftovers, starts everything and waits for
   * the node to be Ready, CoreDNS ready and kube-proxy healthy. A failure stops what was started and
   * names the log file to read.
   */
  static async start({
    lock,
    lockTimeoutMs = NODE_LOCK_WAIT_MS,
  }: NodeClusterOptions = {}): Promise<LocalNodeCluster> {
    if (process.getuid?.() !== 0)
      throw new Error('the harness node needs root (bridge, mounts, cgroups, iptables)');
    const began = Date.now();
    const binaries = await ensureControlPlaneBinaries();
    const ownLock = lock ? undefined : await acquireHostLock(lockTimeoutMs);
    let node: LocalNodeCluster;
    try {
      await LocalNodeCluster.undoLeftovers();
      const workDir = await mkdtemp(join(tmpdir(), WORK_DIR_PREFIX));
      const state = await recordHostState({ workDir, bridge: NODE_BRIDGE, cniNetwork: CNI_NETWORK });
      node = new LocalNodeCluster(workDir, binaries, state, ownLock);
    } catch (error) {
      await ownLock?.release();
      throw error;
    }
    try {
      await node.bringUp();
    } catch (error) {
      await node
        .teardown({ keepLogs: true })
        .catch((stopError: unknown) => log.error({ err: stopError }, 'teardown after a failed start'));
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message} (the node's logs are kept in ${node.logDir})`, { cause: error });
    }
    log.info(
      { ms: Date.now() - began, workDir: node.workDir, kubeconfig: node.kubeconfigPath },
      'node ready',
    );
    return node;
  }

  /**
   * Undoes what a node that crashed left on this machine, if anything (start() does it first).
   * Call with the machine-wide lock held, e.g. before taking a snapshot of the host to compare with.
   */
  static async undoLeftovers(): Promise<void> {
    const leftover = await readHostState();
    if (!leftover) return;
    log.warn(
      { workDir: leftover.workDir, pid: leftover.pid },
      'undoing the leftovers of a node that crashed',
    );
    await undoHost(leftover, (await ensureControlPlaneBinaries()).kubeProxy);
  }

  private async bringUp(): Promise<void> {
    const step = async <T>(what: string, body: () => Promise<T>): Promise<T> => {
      const began = Date.now();
      const result = await body();
      log.info({ ms: Date.now() - began }, what);
      return result;
    };
    await mkdir(this.logDir);
    await step('bridge', () => this.createBridge());
    // The control plane and containerd need nothing from each other.
    await allSettled([
      step('control plane', async () => {
        this.controlPlane = await LocalControlPlane.start({
          dir: join(this.workDir, 'control-plane'),
          logDir: this.logDir,
          address: NODE_IP,
          ports: PORTS,
          serviceCidr: SERVICE_CIDR,
          withNodes: true,
        });
      }),
      step('containerd', () => this.startContainerd()),
    ]);
    const kubeconfigs = await step('node certificates', () => this.nodeKubeconfigs());
    await step('CoreDNS, kubelet, kube-proxy', () =>
      allSettled([
        this.startCoreDns(),
        this.startKubelet(kubeconfigs.kubelet),
        this.startKubeProxy(kubeconfigs.kubeProxy),
      ]),
    );
  }

  private async createBridge(): Promise<void> {
    // Made before the API server starts, which binds its address; the CNI bridge plugin adopts it.
    await run('ip', ['link', 'add', NODE_BRIDGE, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${NODE_IP}/16`, 'dev', NODE_BRIDGE]);
    await run('ip', ['link', 'set', NODE_BRIDGE, 'up']);
  }

  /** Starts a node process with its log in the work dir. */
  private start(name: string, command: string, args: string[]): ManagedProcess {
    const started = startProcess(name, command, args, join(this.logDir, `${name}.log`));
    this.processes.push(started);
    return started;
  }

  /** Waits for `probe`, failing early (with the log to read) when `process` exits. */
  private async waitForProcess(
    process: ManagedProcess,
    what: string,
    probe: () => Promise<boolean>,
  ): Promise<void> {
    const exited = () =>
      process.child.exitCode !== null || process.child.signalCode !== null
        ? `${process.name} exited (${process.child.exitCode ?? process.child.signalCode})`
        : undefined;
    try {
      await waitFor(what, probe, { timeoutMs: 60_000, abortIf: exited });
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; see ${process.logPath}`);
    }
  }

  private async startContainerd(): Promise<void> {
    const dir = join(this.workDir, 'containerd');
    const cniConfDir = join(this.workDir, 'cni', 'net.d');
    await mkdir(cniConfDir, { recursive: true });
    const [pause] = await Promise.all([
      ensureNodeImage('pause', this.binaries),
      mkdir(dir, { recursive: true }),
    ]);
    // A bridge for all pods (pre-created, see createBridge); no ipMasq: pods talk to this host and
    // to each other, and nothing is left in iptables by the CNI plugins.
    await writeFile(
      join(cniConfDir, '10-blockhost-node.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: CNI_NETWORK,
        plugins: [
          {
            type: 'bridge',
            bridge: NODE_BRIDGE,
            isGateway: true,
            ipMasq: false,
            // A pod reaching itself through its Service comes back in through its own port.
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              dataDir: join(this.workDir, 'cni', 'ipam'),
              ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
        ],
      }),
    );
    // containerd 1.6 (Debian's) with everything it keeps in the work dir, and the snapshotters it
    // cannot use here off (they only fail to load).
    const config = `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${this.containerdSocket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause.ref}"
  # Pod network namespaces under the state dir, not /run/netns: teardown finds them with our mounts.
  netns_mounts_under_state_dir = true
  # Lowering oom_score_adj (the sandbox's -998) needs CAP_SYS_RESOURCE, which some VMs withhold
  # from root; runc then fails every sandbox ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    # runc's state, not /run/containerd/runc.
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "${dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConfDir}"
`;
    await writeFile(join(dir, 'config.toml'), config);
    const containerd = this.start('containerd', 'containerd', ['--config', join(dir, 'config.toml')]);
    await this.waitForProcess(containerd, 'containerd', async () => {
      await this.ctr('version');
      return true;
    });
    const ref = await this.importImage(pause.tar);
    if (ref !== pause.ref) throw new Error(`the pause image was imported as ${ref}, not ${pause.ref}`);
  }

  private ctr(...args: string[]): Promise<string> {
    return run('ctr', ['--address', this.containerdSocket, '--namespace', 'k8s.io', ...args]).then(
      (r) => r.stdout,
    );
  }

  /**
   * Loads an OCI image layout tarball into the node's containerd (`ctr images import`) and returns
   * the name it got, for pods with `imagePullPolicy: Never`: the index's `io.containerd.image.name`
   * annotation (the harness's and images/app's archives have one), else `<repository>:<tag>` with
   * the tag from `org.opencontainers.image.ref.name`.
   */
  async importImage(ociTarPath: string, repository?: string): Promise<string> {
    const baseName = repository ? ['--base-name', repository] : [];
    const out = await this.ctr('images', 'import', ...baseName, ociTarPath);
    // "unpacking blockhost.local/agent:0123456789abcdef (sha256:…)...done"
    const ref = /^unpacking (\S+) /m.exec(out)?.[1];
    if (!ref) throw new Error(`ctr images import ${ociTarPath} named no image: ${out}`);
    return ref;
  }

  /** Client certificates and kubeconfigs for the kubelet and kube-proxy, and the kubelet's serving certificate. */
  private async nodeKubeconfigs(): Promise<{ kubelet: string; kubeProxy: string }> {
    const pki = this.controlPlane!.pki;
    const dir = join(this.workDir, 'control-plane', 'pki');
    const kubeconfig = async (name: string, subject: string) => {
      const { cert, key } = await clientCert(dir, name, subject);
      const path = join(dir, `${name}.kubeconfig`);
      await writeKubeconfig(path, {
        server: this.controlPlane!.server,
        caCert: pki.caCert,
        clientCert: cert,
        clientKey: key,
      });
      return path;
    };
    // One at a time: openssl keeps the CA's next serial in a file.
    const kubelet = await kubeconfig('node', `/O=system:nodes/CN=system:node:${NODE_NAME}`);
    const kubeProxy = await kubeconfig('kube-proxy', '/CN=system:kube-proxy');
    await servingCert(dir, 'kubelet-serving', `/O=system:nodes/CN=system:node:${NODE_NAME}`, {
      ipAddresses: [NODE_IP, '127.0.0.1'],
      dnsNames: [NODE_NAME, 'localhost'],
    });
    return { kubelet, kubeProxy };
  }

  private async startCoreDns(): Promise<void> {
    const corefile = join(this.workDir, 'Corefile');
    // A host process on the node IP (pods' clusterDNS); no image, no Service.
    await writeFile(
      corefile,
      `.:53 {
    bind ${NODE_IP}
    errors
    health 127.0.0.1:${PORTS.dnsHealth}
    ready 127.0.0.1:${PORTS.dnsReady}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${this.kubeconfigPath}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    forward . /etc/resolv.conf
}
`,
    );
    const coredns = this.start('coredns', this.binaries.coredns, ['-conf', corefile]);
    await this.waitForProcess(coredns, 'CoreDNS /ready', async () => {
      return (await fetch(`http://127.0.0.1:${PORTS.dnsReady}/ready`)).ok;
    });
  }

  private async startKubelet(kubeconfig: string): Promise<void> {
    const dir = join(this.workDir, 'kubelet');
    const pkiDir = join(this.workDir, 'control-plane', 'pki');
    await mkdir(dir, { recursive: true });
    const config = {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // Hosts like this one still have cgroup v1, which kubelet 1.35 refuses unless told.
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      containerRuntimeEndpoint: `unix://${this.containerdSocket}`,
      address: NODE_IP,
      port: PORTS.kubelet,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: PORTS.kubeletHealthz,
      tlsCertFile: join(pkiDir, 'kubelet-serving.crt'),
      tlsPrivateKeyFile: join(pkiDir, 'kubelet-serving.key'),
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: join(pkiDir, 'ca.crt') },
      },
      authorization: { mode: 'Webhook' },
      failSwapOn: false,
      clusterDomain: 'cluster.local',
      clusterDNS: [NODE_IP],
      resolvConf: '/etc/resolv.conf',
      podLogsDir: join(dir, 'pod-logs'),
      // Imported images cannot be pulled again: never collect them; evict only when really short.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: {
        'memory.available': '100Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      serializeImagePulls: false,
    };
    await writeFile(join(dir, 'config.yaml'), stringify(config));
    const kubelet = this.start('kubelet', this.binaries.kubelet, [
      `--config=${join(dir, 'config.yaml')}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${join(dir, 'root')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      '--v=1',
    ]);
    const client = KubeClient.fromFile(this.kubeconfigPath);
    await this.waitForProcess(kubelet, `node ${NODE_NAME} Ready`, async () => {
      const node = await client.get<NodeObject>(nodeType, NODE_NAME);
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    });
  }

  private async startKubeProxy(kubeconfig: string): Promise<void> {
    const path = join(this.workDir, 'kube-proxy.yaml');
    const config = {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig },
      mode: 'iptables',
      hostnameOverride: NODE_NAME,
      clusterCIDR: POD_CIDR,
      bindAddress: NODE_IP,
      healthzBindAddress: `127.0.0.1:${PORTS.kubeProxyHealthz}`,
      metricsBindAddress: `127.0.0.1:${PORTS.kubeProxyMetrics}`,
      // Zeros leave the host's conntrack sysctls alone.
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      // true would set net.ipv4.conf.all.route_localnet on the host.
      iptables: { localhostNodePorts: false },
    };
    await writeFile(path, stringify(config));
    const kubeProxy = this.start('kube-proxy', this.binaries.kubeProxy, [`--config=${path}`, '--v=1']);
    await this.waitForProcess(kubeProxy, 'kube-proxy /healthz', async () => {
      return (await fetch(`http://127.0.0.1:${PORTS.kubeProxyHealthz}/healthz`)).ok;
    });
  }

  /**
   * Stops everything and undoes every change to the host (see host.ts), then releases the lock.
   * kubelet goes first: it would restart the containers the teardown kills.
   */
  stop(): Promise<void> {
    return this.teardown({ keepLogs: false });
  }

  /** stop(), keeping the logs after a failed start. */
  private teardown({ keepLogs }: { keepLogs: boolean }): Promise<void> {
    return (this.stopped ??= (async () => {
      const began = Date.now();
      try {
        for (const name of ['kubelet', 'kube-proxy', 'containerd', 'coredns'])
          await this.processes.find((p) => p.name === name)?.stop();
        await this.controlPlane?.stop();
        await undoHost(this.state, this.binaries.kubeProxy, { keepLogs });
      } finally {
        await this.ownLock?.release();
      }
      log.info({ ms: Date.now() - began }, 'node stopped');
    })());
  }

  /**
   * Fault injection: SIGKILLs every process this node started, as if the harness had died (their
   * parent-death signal), and releases its own lock as the kernel would. Containers, shims, mounts,
   * iptables chains, the bridge, sysctls and the host record stay for the next start() to undo.
   */
  async crash(): Promise<void> {
    this.stopped = Promise.resolve();
    await Promise.all([...this.processes.map((p) => p.kill()), this.controlPlane?.kill()]);
    await this.ownLock?.release();
  }
}
