import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../lib/log.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../processes.js';
import { ensureControlPlaneBinaries, type ControlPlaneBinaries } from './binaries.js';
import { writeKubeconfig } from './kubeconfig.js';
import { clientCert, generateControlPlanePki, type ControlPlanePki } from './pki.js';

const log = createLogger('control-plane');

const ADMISSION_PLUGINS = [
  'NamespaceLifecycle',
  'ServiceAccount',
  'DefaultStorageClass',
  'ResourceQuota',
  'MutatingAdmissionWebhook',
  'ValidatingAdmissionWebhook',
  'ValidatingAdmissionPolicy',
].join(',');

export interface ControlPlanePorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  /** Only with `withNodes`. */
  scheduler?: number;
}

/** How a control plane is set up; the defaults give the loopback-only one most tests use. */
export interface ControlPlaneOptions {
  /** Where its data, certificates and logs go (default: a new directory under the system tmpdir); stop() removes it. */
  dir?: string;
  /** Where its processes' logs go instead (default: `dir`), to outlive stop(). */
  logDir?: string;
  /** The address the API server binds to and advertises (default 127.0.0.1). */
  address?: string;
  /** Fixed ports (default: free ones the kernel picks). */
  ports?: ControlPlanePorts;
  /** The Services' ClusterIP range (default 10.0.0.0/24); its first address is the `kubernetes` Service's. */
  serviceCidr?: string;
  /**
   * For a cluster with a real kubelet (test/harness/node): Node,RBAC authorization with
   * NodeRestriction, the API server's kubelet client certificate, and a kube-scheduler.
   */
  withNodes?: boolean;
}

/** The first host address of an IPv4 CIDR (10.96.0.0/16 → 10.96.0.1). */
function firstAddress(cidr: string): string {
  const [network = '', bits = '32'] = cidr.split('/');
  const value = network.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  const first = value - (value % size) + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(first / 2 ** shift) % 256).join('.');
}

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC, admission webhooks) and
 * kube-controller-manager (garbage collection, namespace deletion). No kubelet or scheduler, so pods
 * stay Pending (unless `withNodes`, for test/harness/node). Tests can stop and restart the API
 * server alone to inject outages.
 */
export class LocalControlPlane {
  private etcd?: ManagedProcess;
  private apiserver?: ManagedProcess;
  private controllerManager?: ManagedProcess;
  private scheduler?: ManagedProcess;

  private constructor(
    readonly dir: string,
    readonly kubeconfigPath: string,
    readonly binaries: ControlPlaneBinaries,
    readonly pki: ControlPlanePki,
    private readonly ports: ControlPlanePorts,
    private readonly address: string,
    private readonly serviceCidr: string,
    private readonly withNodes: boolean,
    private readonly logDir: string,
  ) {}

  get server(): string {
    return `https://${this.address}:${this.ports.apiserver}`;
  }

  /** etcd's client URL, for tests that manipulate storage directly (e.g. compaction). */
  get etcdUrl(): string {
    return `http://127.0.0.1:${this.ports.etcdClient}`;
  }

  /** Builds (or reuses cached) binaries, generates PKI, starts all three, waits until healthy. */
  static async start({
    dir: givenDir,
    logDir,
    address = '127.0.0.1',
    ports: givenPorts,
    serviceCidr = '10.0.0.0/24',
    withNodes = false,
  }: ControlPlaneOptions = {}): Promise<LocalControlPlane> {
    const began = Date.now();
    const binaries = await ensureControlPlaneBinaries();
    const dir = givenDir ?? (await mkdtemp(join(tmpdir(), 'blockhost-cp-')));
    await mkdir(join(dir, 'pki'), { recursive: true });
    const ipAddresses = [...new Set(['127.0.0.1', address, firstAddress(serviceCidr)])];
    const pki = await generateControlPlanePki(join(dir, 'pki'), { ipAddresses });
    const ports: ControlPlanePorts = givenPorts ?? {
      etcdClient: await freePort(),
      etcdPeer: await freePort(),
      apiserver: await freePort(),
      controllerManager: await freePort(),
      scheduler: withNodes ? await freePort() : undefined,
    };
    const plane = new LocalControlPlane(
      dir,
      join(dir, 'kubeconfig'),
      binaries,
      pki,
      ports,
      address,
      serviceCidr,
      withNodes,
      logDir ?? dir,
    );
    await writeKubeconfig(plane.kubeconfigPath, {
      server: plane.server,
      caCert: pki.caCert,
      clientCert: pki.adminCert,
      clientKey: pki.adminKey,
    });
    try {
      await plane.startEtcd();
      await plane.startApiServer();
      await Promise.all([plane.startControllerManager(), withNodes && plane.startScheduler()]);
    } catch (error) {
      await plane.stop();
      throw error;
    }
    log.info(
      { ms: Date.now() - began, server: plane.server, kubeconfig: plane.kubeconfigPath },
      'control plane ready',
    );
    return plane;
  }

  private async startEtcd(): Promise<void> {
    const { etcdClient, etcdPeer } = this.ports;
    const client = `http://127.0.0.1:${etcdClient}`;
    const peer = `http://127.0.0.1:${etcdPeer}`;
    this.etcd = startProcess(
      'etcd',
      this.binaries.etcd,
      [
        `--data-dir=${join(this.dir, 'etcd')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        // Test data is disposable: skipping fsync makes etcd fast on slow disks.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      join(this.logDir, 'etcd.log'),
    );
    await waitFor('etcd health', async () => (await fetch(`${client}/health`)).ok, {
      abortIf: () => this.exitedMessage(this.etcd),
    });
  }

  /** Starts (or restarts, after stopApiServer) the API server on its fixed port and waits for /readyz. */
  async startApiServer(): Promise<void> {
    const pki = this.pki;
    const nodeFlags = [
      '--authorization-mode=Node,RBAC',
      `--enable-admission-plugins=${ADMISSION_PLUGINS},NodeRestriction`,
      // logs, exec and port-forward: the API server calls the kubelet as an admin, checking its serving certificate.
      `--kubelet-client-certificate=${pki.adminCert}`,
      `--kubelet-client-key=${pki.adminKey}`,
      `--kubelet-certificate-authority=${pki.caCert}`,
      // The node's hostname resolves nowhere; its InternalIP does.
      '--kubelet-preferred-address-types=InternalIP,Hostname',
    ];
    this.apiserver = startProcess(
      'kube-apiserver',
      this.binaries.kubeApiserver,
      [
        `--etcd-servers=http://127.0.0.1:${this.ports.etcdClient}`,
        `--bind-address=${this.address}`,
        `--advertise-address=${this.address}`,
        `--secure-port=${this.ports.apiserver}`,
        `--cert-dir=${join(this.dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        ...(this.withNodes
          ? nodeFlags
          : ['--authorization-mode=RBAC', `--enable-admission-plugins=${ADMISSION_PLUGINS}`]),
        `--service-cluster-ip-range=${this.serviceCidr}`,
        '--allow-privileged=true',
        `--service-account-issuer=https://${this.address}:${this.ports.apiserver}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--profiling=false',
        '--v=1',
      ],
      join(this.logDir, 'kube-apiserver.log'),
    );
    await waitFor(
      'kube-apiserver /readyz',
      async () => (await this.getWithAdminCert(this.ports.apiserver, '/readyz')) === 200,
      {
        timeoutMs: 90_000,
        abortIf: () => this.exitedMessage(this.apiserver),
      },
    );
  }

  /** Stops the API server process (SIGKILL when `crash`), leaving etcd and its data untouched. */
  async stopApiServer({ crash = false } = {}): Promise<void> {
    if (!this.apiserver) return;
    await (crash ? this.apiserver.kill() : this.apiserver.stop());
    this.apiserver = undefined;
  }

  private async startControllerManager(): Promise<void> {
    const kubeconfig = this.kubeconfigPath;
    this.controllerManager = startProcess(
      'kube-controller-manager',
      this.binaries.kubeControllerManager,
      [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${this.ports.controllerManager}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${this.pki.serviceAccountKey}`,
        `--root-ca-file=${this.pki.caCert}`,
        `--cluster-signing-cert-file=${this.pki.caCert}`,
        `--cluster-signing-key-file=${this.pki.caKey}`,
        '--use-service-account-credentials=false',
        '--v=1',
      ],
      join(this.logDir, 'kube-controller-manager.log'),
    );
    await waitFor(
      'kube-controller-manager /healthz',
      async () => (await this.getWithAdminCert(this.ports.controllerManager, '/healthz')) === 200,
      { timeoutMs: 60_000, abortIf: () => this.exitedMessage(this.controllerManager) },
    );
  }

  private async startScheduler(): Promise<void> {
    const pkiDir = join(this.dir, 'pki');
    const { cert, key } = await clientCert(pkiDir, 'scheduler', '/CN=system:kube-scheduler');
    const kubeconfig = join(pkiDir, 'scheduler.kubeconfig');
    await writeKubeconfig(kubeconfig, {
      server: this.server,
      caCert: this.pki.caCert,
      clientCert: cert,
      clientKey: key,
    });
    this.scheduler = startProcess(
      'kube-scheduler',
      this.binaries.kubeScheduler,
      [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${this.ports.scheduler}`,
        '--leader-elect=false',
        '--v=1',
      ],
      join(this.logDir, 'kube-scheduler.log'),
    );
    await waitFor(
      'kube-scheduler /healthz',
      async () => (await this.getWithAdminCert(this.ports.scheduler!, '/healthz')) === 200,
      { timeoutMs: 60_000, abortIf: () => this.exitedMessage(this.scheduler) },
    );
  }

  /** SIGKILLs every process and keeps the data directory: a crash, for fault-injection tests. */
  async kill(): Promise<void> {
    await Promise.all(
      [this.scheduler, this.controllerManager, this.apiserver, this.etcd].map((p) => p?.kill()),
    );
  }

  /** Stops everything and deletes the data directory; leaves no process behind. */
  async stop(): Promise<void> {
    await this.scheduler?.stop();
    await this.controllerManager?.stop();
    await this.apiserver?.stop();
    await this.etcd?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private exitedMessage(process?: ManagedProcess): string | undefined {
    if (!process || process.child.exitCode === null) return undefined;
    return `${process.name} exited with code ${process.child.exitCode}; see ${process.logPath}`;
  }

  private async getWithAdminCert(port: number, path: string): Promise<number> {
    const [ca, cert, key] = await Promise.all(
      [this.pki.caCert, this.pki.adminCert, this.pki.adminKey].map((file) => readFile(file)),
    );
    // The API server listens on `address`; the controller manager and scheduler on loopback.
    const host = port === this.ports.apiserver ? this.address : '127.0.0.1';
    return new Promise((resolve, reject) => {
      const req = request(
        { host, port, path, ca, cert, key, rejectUnauthorized: false, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  }
}
