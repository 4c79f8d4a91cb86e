// The harness's real Kubernetes node (test/harness/node): a Pod of a static test image runs and
// goes Ready, the host reaches it by pod IP and by ClusterIP (kube-proxy), the pod reaches the API
// server through the `kubernetes` Service with its ServiceAccount token, kubectl logs and exec work
// (the API server → kubelet path) and cluster DNS answers. Then stop() must leave this machine as it
// found it, and so must the next start() after a run is killed mid-way. The checks here read the
// host directly (/proc, /sys, iptables-save, nft), not through the harness's own teardown code.
// The file holds the machine-wide node lock throughout, so no other node changes the host between
// a stop and the checks that follow it.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  ensureControlPlaneBinaries,
  type ControlPlaneBinaries,
} from '../../harness/control-plane/binaries.js';
import { acquireHostLock, type HostLock } from '../../harness/node/host.js';
import { ensureNodeImage, type NodeImage } from '../../harness/node/images.js';
import { LocalNodeCluster, NODE_BRIDGE, NODE_LOCK_WAIT_MS } from '../../harness/node/node.js';
import { waitFor } from '../../harness/processes.js';

const run = promisify(execFile);

const START_MS = 120_000;

/** What the node changes on the host and must put back. */
const SYSCTLS = ['net/ipv4/ip_forward', 'vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'];
/** Only a kubelet and the CRI use these (another test's containerd may share /run/containerd: see shimSockets). */
const HOST_PATHS = ['/var/lib/kubelet', '/var/lib/cni', '/var/log/containers'];

interface HostSnapshot {
  sysctls: Record<string, string>;
  nftTables: string;
  paths: Record<string, boolean>;
}

async function snapshot(): Promise<HostSnapshot> {
  const sysctls: Record<string, string> = {};
  for (const name of SYSCTLS) sysctls[name] = (await readFile(`/proc/sys/${name}`, 'utf8')).trim();
  const { stdout: nftTables } = await run('nft', ['list', 'tables']);
  return { sysctls, nftTables, paths: Object.fromEntries(HOST_PATHS.map((p) => [p, existsSync(p)])) };
}

/** Command lines of the live processes (zombies have none). */
async function commandLines(): Promise<{ pid: number; args: string[] }[]> {
  const all = await Promise.all(
    (await readdir('/proc'))
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => ({
        pid: Number(entry),
        args: (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean),
      })),
  );
  return all.filter((p) => p.args.length > 0);
}

/** Processes of a node: anything naming its work dir (shims by -address), and the pods' own. */
async function nodeProcesses(workDir: string): Promise<string[]> {
  return (await commandLines())
    .filter(({ args }) => args.some((a) => a.includes(workDir)) || ['/pause', '/agent'].includes(args[0]!))
    .map(({ pid, args }) => `${pid} ${args.join(' ')}`);
}

/** The sockets a node's shims serve on (containerd 1.6: /run/containerd/s/sha256(address/namespace/id)). */
async function shimSockets(workDir: string): Promise<string[]> {
  return (await commandLines())
    .filter(({ args }) => args[0]?.includes('containerd-shim') && args.some((a) => a.includes(workDir)))
    .map(({ args }) => {
      const flag = (name: string) => args[args.indexOf(name) + 1]!;
      const hash = createHash('sha256').update(join(flag('-address'), flag('-namespace'), flag('-id')));
      return `/run/containerd/s/${hash.digest('hex')}`;
    });
}

async function mountsUnder(workDir: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${workDir}/`));
}

async function kubeChainLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const save of ['iptables-save', 'ip6tables-save']) {
    const { stdout } = await run(save);
    lines.push(...stdout.split('\n').filter((line) => line.includes('KUBE-')));
  }
  return lines;
}

/** kubelet's (cgroupfs driver): under each cgroup v1 controller, or at the v2 root. */
async function kubepodsCgroups(): Promise<string[]> {
  const controllers = await readdir('/sys/fs/cgroup');
  return ['/sys/fs/cgroup/kubepods', ...controllers.map((c) => `/sys/fs/cgroup/${c}/kubepods`)].filter(
    (dir) => existsSync(dir),
  );
}

/** The host is as `before`, and nothing of the nodes that used `workDirs` (and `sockets`) is left. */
async function expectNothingLeft(workDirs: string[], sockets: string[], before: HostSnapshot): Promise<void> {
  expect(sockets.filter((socket) => existsSync(socket))).toEqual([]);
  for (const workDir of workDirs) {
    expect(await nodeProcesses(workDir)).toEqual([]);
    expect(await mountsUnder(workDir)).toEqual([]);
    expect(existsSync(workDir)).toBe(false);
  }
  expect(existsSync(`/sys/class/net/${NODE_BRIDGE}`)).toBe(false);
  expect(await kubeChainLines()).toEqual([]);
  expect(await kubepodsCgroups()).toEqual([]);
  expect(await snapshot()).toEqual(before);
  expect(existsSync('/run/blockhost-node/state.json')).toBe(false);
}

class Kubectl {
  constructor(
    private readonly binaries: ControlPlaneBinaries,
    private readonly kubeconfig: string,
  ) {}

  async run(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binaries.kubectl,
        [`--kubeconfig=${this.kubeconfig}`, ...args],
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || error.message}`))
            : resolve(stdout),
      );
      child.stdin?.end(input ?? '');
    });
  }

  async json<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.run([...args, '-o', 'json'])) as T;
  }
}

/** A ServiceAccount, a Pod of the agent image with a readiness probe, and a Service in front of it. */
async function runAgent(kubectl: Kubectl, image: string): Promise<{ podIp: string; clusterIp: string }> {
  const labels = { app: 'agent' };
  const manifests = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'agent', namespace: 'default' } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent', namespace: 'default', labels },
      spec: {
        serviceAccountName: 'agent',
        containers: [
          {
            name: 'agent',
            image,
            imagePullPolicy: 'Never',
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
            securityContext: {
              runAsNonRoot: true,
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
            },
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'agent', namespace: 'default' },
      spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] },
    },
  ];
  await kubectl.run(['apply', '-f', '-'], manifests.map((m) => JSON.stringify(m)).join('\n---\n'));
  await kubectl.run(['wait', '--for=condition=Ready', 'pod/agent', '--timeout=60s']);
  const pod = await kubectl.json<{ status: { phase: string; podIP: string } }>(['get', 'pod', 'agent']);
  expect(pod.status.phase).toBe('Running');
  const service = await kubectl.json<{ spec: { clusterIP: string } }>(['get', 'service', 'agent']);
  return { podIp: pod.status.podIP, clusterIp: service.spec.clusterIP };
}

const get = async (url: string) => {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: response.status, body: await response.text() };
};

let lock: HostLock;
let binaries: ControlPlaneBinaries;
let agentImage: NodeImage;
let before: HostSnapshot;

beforeAll(async () => {
  lock = await acquireHostLock(NODE_LOCK_WAIT_MS);
  binaries = await ensureControlPlaneBinaries();
  agentImage = await ensureNodeImage('agent', binaries);
  // The host as it is without a node: not as a node that crashed in another run left it.
  await LocalNodeCluster.undoLeftovers();
  before = await snapshot();
}, NODE_LOCK_WAIT_MS + START_MS);

afterAll(async () => {
  await lock?.release();
}, 10_000);

describe('a real node', () => {
  let node: LocalNodeCluster;
  let kubectl: Kubectl;
  let agent: { podIp: string; clusterIp: string };

  beforeAll(async () => {
    node = await LocalNodeCluster.start({ lock });
    kubectl = new Kubectl(binaries, node.kubeconfigPath);
    const ref = await node.importImage(agentImage.tar);
    expect(ref).toBe(agentImage.ref);
    agent = await runAgent(kubectl, ref);
  }, START_MS);

  afterAll(async () => {
    await node?.stop();
  }, 60_000);

  test('the node is Ready with the bridge address as its InternalIP', async () => {
    const ready = await kubectl.json<{ status: { addresses: { type: string; address: string }[] } }>([
      'get',
      'node',
      node.nodeName,
    ]);
    expect(ready.status.addresses).toContainEqual({ type: 'InternalIP', address: node.nodeIp });
  });

  test('the host reaches the pod by its IP and through its ClusterIP', async () => {
    expect(await get(`http://${agent.podIp}:8080/`)).toEqual({ status: 200, body: 'hello from agent\n' });
    // kube-proxy programs a Service's endpoints up to about a second after the pod is Ready.
    let viaService: { status: number; body: string } | undefined;
    await waitFor(
      'the agent through its ClusterIP',
      async () => (viaService = await get(`http://${agent.clusterIp}/`)).status === 200,
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    expect(viaService).toEqual({ status: 200, body: 'hello from agent\n' });
  });

  test('the pod reaches the API server through the kubernetes Service as its ServiceAccount', async () => {
    // Through 10.96.0.1: the same kube-proxy rules as any ClusterIP (see above), so retried alike.
    let answer = { status: 0, body: '' };
    await waitFor(
      'the API server through the kubernetes Service',
      async () => {
        answer = await get(`http://${agent.podIp}:8080/whoami`);
        if (answer.status !== 201) throw new Error(`${answer.status} ${answer.body}`); // kept for the timeout
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    const review = JSON.parse(answer.body) as { status: { userInfo: { username: string } } };
    expect(review.status.userInfo.username).toBe('system:serviceaccount:default:agent');
  });

  test('kubectl logs and exec reach the kubelet, and cluster DNS answers', async () => {
    expect(await kubectl.run(['logs', 'agent'])).toBe('listening on :8080\n');
    const serviceAccount = '/var/run/secrets/kubernetes.io/serviceaccount';
    expect(await kubectl.run(['exec', 'agent', '--', '/agent', 'cat', `${serviceAccount}/namespace`])).toBe(
      'default',
    );
    expect(
      await kubectl.run(['exec', 'agent', '--', '/agent', 'lookup', 'agent.default.svc.cluster.local']),
    ).toBe(`${agent.clusterIp}\n`);
  });

  test('stop() leaves the host as it was', async () => {
    const sockets = await shimSockets(node.workDir);
    expect(sockets.filter((socket) => existsSync(socket))).not.toEqual([]);
    await node.stop();
    await expectNothingLeft([node.workDir], sockets, before);
  }, 60_000);
});

describe('a node killed mid-run', () => {
  test(
    'leaves containers, mounts and the bridge behind, which the next start() undoes',
    async () => {
      const crashed = await LocalNodeCluster.start({ lock });
      try {
        await runAgent(
          new Kubectl(binaries, crashed.kubeconfigPath),
          await crashed.importImage(agentImage.tar),
        );
      } finally {
        await crashed.crash();
      }
      // What a harness killed with -9 leaves: its children die with it, the containers do not.
      const left = await nodeProcesses(crashed.workDir);
      expect(left.some((p) => p.includes('containerd-shim'))).toBe(true);
      expect(left.filter((p) => /^\d+ \/(agent|pause)$/.test(p))).toHaveLength(2);
      expect(left.some((p) => p.includes('kubelet'))).toBe(false);
      expect(await mountsUnder(crashed.workDir)).not.toEqual([]);
      expect(existsSync(`/sys/class/net/${NODE_BRIDGE}`)).toBe(true);
      expect(await kubeChainLines()).not.toEqual([]);
      const sockets = await shimSockets(crashed.workDir);
      expect(sockets).not.toEqual([]);

      const next = await LocalNodeCluster.start({ lock });
      try {
        expect(existsSync(crashed.workDir)).toBe(false);
        expect(await nodeProcesses(crashed.workDir)).toEqual([]);
      } finally {
        await next.stop();
      }
      await expectNothingLeft([crashed.workDir, next.workDir], sockets, before);
    },
    3 * START_MS,
  );
});
