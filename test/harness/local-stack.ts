/**
 * `npm start`: BlockHost on this machine on embedded defaults — a real local control plane with our
 * CRDs, a local chain with the contracts, the controller manager, the admission webhooks and the web
 * server (wizard, admin dashboard, signup page), a VM backend (libvirt when a libvirtd can run here,
 * otherwise KubeVirt's CRDs with a simulator) and a demo HostConfig. Ctrl-C stops everything.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_VERSION, blockhostTypes, type Plan } from '../../lib/api/v1alpha1/index.js';
import { generateCode } from '../../lib/crypto/auth-code.js';
import { signMessage } from '../../lib/crypto/eip191.js';
import { addressFromPrivateKey } from '../../lib/crypto/keys.js';
import { apply } from '../../lib/kube/apply.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { KubeClient } from '../../lib/kube/client.js';
import { anvilPrivateKey } from './chain/anvil.js';
import { useLocalChain } from './chain/host-config.js';
import { startLocalChain, type LocalChain } from './chain/local-chain.js';
import { startTestCluster } from './cluster.js';
import { ensureControlPlaneBinaries } from './control-plane/binaries.js';
import { startLocalBackend, type LocalBackend } from './local-stack/backend.js';
import { LocalNodeCluster } from './node/node.js';
import { NodeRelease, RELEASE } from './node/release.js';
import { publishHostFacts, readLocalHostFacts } from './local-stack/host-facts.js';
import { startEntry, waitReady, type StackProcess } from './local-stack/processes.js';
import { freePort } from './processes.js';
import { generateWebhookTls, registerWebhooks } from './webhooks/webhook-cluster.js';

const usage = `Usage: npm start [-- options]

Starts BlockHost locally on embedded defaults:
  - etcd, kube-apiserver and kube-controller-manager built from pinned Go modules (cached after the
    first run) with the BlockHost CRDs;
  - a local chain (anvil) with the BlockHost contracts and a mock USDC;
  - a VM backend: libvirt with a small Debian guest when a libvirtd can run here (root, Debian
    packages), otherwise KubeVirt's real CRDs with a simulator playing virt-controller;
  - the controller manager, the admission webhooks (TLS, registered with a throw-away CA) and the
    web server (signup page, admin dashboard, setup wizard), each through its own CLI;
  - a demo HostConfig and a "basic" Plan (unless --no-demo), so the setup pipeline runs at once.
Then prints the URLs and how to use kubectl.

Options:
  --backend <auto|libvirt|kubevirt>  VM backend (default auto: libvirt when possible)
  --no-demo                 apply no HostConfig: set the host up through the wizard instead
  --web-port <port>         web server port (default 8080)
  --health-port <port>      controller manager's /healthz, /readyz, /metrics port (default 8081)
  --use-existing-cluster    use the cluster in $KUBECONFIG instead of starting one
  --real-node               run BlockHost as an operator does: a real one-node cluster (kubelet,
                            containerd, CNI; needs root), the container images built here and the
                            Helm chart installed on it (controller, webhooks and web server in
                            pods; libvirt backend); the web server answers on a NodePort
  -h, --help                show this help

Ctrl-C stops everything and removes the local cluster's data.`;

const NAMESPACE = 'blockhost';
/** The controller's private namespace, as the chart makes it (docs/controller-state.md). */
const STATE_NAMESPACE = `${NAMESPACE}-system`;
/** anvil's well-known account 9 is the demo admin: import its key into a wallet to use the dashboard. */
const ADMIN_ACCOUNT = 9;

function parseCli() {
  try {
    const { values } = parseArgs({
      options: {
        backend: { type: 'string', default: 'auto' },
        'no-demo': { type: 'boolean', default: false },
        'web-port': { type: 'string', default: '8080' },
        'health-port': { type: 'string', default: '8081' },
        'use-existing-cluster': { type: 'boolean', default: false },
        'real-node': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (!['auto', 'libvirt', 'kubevirt'].includes(values.backend))
      throw new Error(`--backend must be auto, libvirt or kubevirt, got "${values.backend}"`);
    if (values['real-node'] && (values.backend === 'kubevirt' || values['use-existing-cluster']))
      throw new Error(
        '--real-node runs its own node with the libvirt backend: no --backend kubevirt or --use-existing-cluster',
      );
    for (const option of ['web-port', 'health-port'] as const) {
      const port = Number(values[option]);
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new Error(`--${option} must be a port number, got "${values[option]}"`);
    }
    return values as typeof values & { backend: 'auto' | 'libvirt' | 'kubevirt' };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

const options = parseCli();
if (options.help) {
  console.log(usage);
  process.exit(0);
}

const started = Date.now();
const step = (message: string) =>
  console.error(`==> [${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);
const cleanups: (() => Promise<void>)[] = [];
const processes: StackProcess[] = [];
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    step('stopping');
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => console.error(`cleanup failed: ${String(error)}`));
    }
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  await run();
} catch (error) {
  console.error(`npm start failed: ${(error as Error).stack ?? String(error)}`);
  await stop(1);
}

async function run(): Promise<void> {
  const { client, kubeconfigPath, webUrl, hostname, metrics, chain, backend } = options['real-node']
    ? await startOnRealNode()
    : await startInProcess();
  // The wizard's one-time code, as first boot makes it on a real host.
  const code = generateCode();
  await apply(client, coreTypes.secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'blockhost-setup-code', namespace: NAMESPACE },
    stringData: { code, issuedAt: new Date().toISOString() },
  } as KubeObject);

  // The wizard's storage and network steps offer this machine's disks and interfaces.
  await publishHostFacts(client, NAMESPACE, await readLocalHostFacts()).catch((error: unknown) =>
    step(`no host facts for the wizard: ${(error as Error).message}`),
  );

  const adminKey = anvilPrivateKey(ADMIN_ACCOUNT);
  if (!options['no-demo']) {
    step('applying the demo HostConfig and Plan (through the webhooks)');
    const publicSecret = 'blockhost-access';
    await useLocalChain(
      client,
      STATE_NAMESPACE,
      chain,
      { confirmations: 1, pollIntervalSeconds: 1 },
      {
        ...backend.spec,
        publicSecret,
        // The web server of this stack, so the guests' login prompts link to its signing page.
        signup: { hostname, url: `${webUrl}/` },
        admin: {
          wallet: addressFromPrivateKey(adminKey),
          signature: signMessage(adminKey, publicSecret),
          credentialTokenId: '0',
          commands: { enabled: false, ports: [22], durationSeconds: 300, maxCommandAgeSeconds: 300 },
        },
      },
    );
    await apply(client, blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: 'basic' },
      spec: { displayName: 'Basic VM', priceUsdCentsPerDay: 50, size: backend.size },
    } as Plan);
  }

  const { kubectl } = await ensureControlPlaneBinaries();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.error(`
BlockHost is running (all URLs ready after ${seconds} s).
  signup page:      ${webUrl}/
  admin dashboard:  ${webUrl}/admin   (wallet login; the admin NFT goes to anvil account ${ADMIN_ACCOUNT},
                    ${addressFromPrivateKey(adminKey)}, key ${adminKey})
  setup wizard:     ${webUrl}/setup   (one-time code ${code}; ${options['no-demo'] ? 'no HostConfig yet' : 'answers 410 once the demo HostConfig is Ready'})
  VM backend:       ${backend.description}
  chain:            ${chain.anvil.rpcUrl} (chain id ${chain.anvil.chainId}); anvil accounts 1-9 hold mock USDC
                    BlockhostSubscriptions ${chain.deployment.subscriptions}
                    AccessCredentialNFT    ${chain.deployment.nft}
                    mock USDC              ${chain.deployment.stablecoin}
  metrics:          ${metrics}
  kubectl:          export KUBECONFIG=${kubeconfigPath}
                    export PATH=${dirname(kubectl)}:$PATH   # kubectl and helm matching this cluster
                    kubectl describe hostconfig host        # setup progress, one condition per step
                    kubectl get blockhost -A                # every BlockHost object
                    kubectl get subscriptions,vms -n ${NAMESPACE} -w
Press Ctrl-C to stop.
`);
}

/** The stack's pieces as run() uses them, whichever way they were started. */
interface Stack {
  client: KubeClient;
  kubeconfigPath: string;
  webUrl: string;
  /** The name customers reach the host by (HostConfig spec.signup.hostname). */
  hostname: string;
  metrics: string;
  chain: LocalChain;
  backend: LocalBackend;
}

/** The control plane and BlockHost's three components as local processes (the default). */
async function startInProcess(): Promise<Stack> {
  step('starting the Kubernetes control plane (the first run builds it from Go modules: several minutes)');
  const cluster = await startTestCluster({ useExisting: options['use-existing-cluster'] });
  cleanups.push(() => cluster.stop());
  const client = cluster.client();
  for (const name of [NAMESPACE, STATE_NAMESPACE])
    await client.create(coreTypes.namespace, { metadata: { name } }).catch((error: unknown) => {
      if (!isAlreadyExists(error)) throw error;
    });
  // The web server reads the chain checkpoint there (the chart sets the same variable).
  process.env.STATE_NAMESPACE = STATE_NAMESPACE;
  const kubeconfig = `--kubeconfig=${cluster.kubeconfigPath}`;
  const chain = await startChain();
  const backend = await startLocalBackend(client, NAMESPACE, options.backend, step);
  cleanups.push(() => backend.stop());

  step('starting the admission webhooks');
  const tls = await generateWebhookTls(await mkdtemp(join(tmpdir(), 'blockhost-webhook-tls-')));
  const webhookPort = await freePort();
  const webhooks = startEntry('webhooks', 'webhooks/main.ts', [
    kubeconfig,
    `--namespace=${NAMESPACE}`,
    '--host=127.0.0.1',
    `--port=${webhookPort}`,
    `--tls-cert-file=${tls.files.cert}`,
    `--tls-key-file=${tls.files.key}`,
  ]);
  processes.push(webhooks);
  const webhookUrl = `https://127.0.0.1:${webhookPort}`;
  await waitReady(webhooks, `${webhookUrl}/readyz`, tls.caPem);
  await registerWebhooks(client, webhookUrl, tls.caPem);

  step('starting the controller manager and the web server');
  const manager = startEntry('controller manager', 'controllers/main.ts', [
    kubeconfig,
    `--leader-election-namespace=${NAMESPACE}`,
    `--state-namespace=${STATE_NAMESPACE}`,
    `--health-port=${options['health-port']}`,
    '--health-host=127.0.0.1',
  ]);
  processes.push(manager);
  const web = startEntry('web server', 'web/main.ts', [
    kubeconfig,
    `--namespace=${NAMESPACE}`,
    '--host=127.0.0.1',
    `--port=${options['web-port']}`,
  ]);
  processes.push(web);
  cleanups.push(async () => {
    await Promise.all(processes.map((p) => p.stop()));
  });
  for (const child of processes) {
    child.child.on('exit', (code) => {
      if (stopping) return;
      console.error(`${child.name} exited (${code}); stopping`);
      void stop(1);
    });
  }
  const webUrl = `http://127.0.0.1:${options['web-port']}`;
  await Promise.all([
    waitReady(manager, `http://127.0.0.1:${options['health-port']}/readyz`),
    waitReady(web, `${webUrl}/readyz`),
  ]);
  const metrics = `http://127.0.0.1:${options['health-port']}/metrics (controllers), ${webUrl}/metrics (web)`;
  return {
    client,
    kubeconfigPath: cluster.kubeconfigPath,
    webUrl,
    hostname: 'localhost',
    metrics,
    chain,
    backend,
  };
}

/** A real one-node cluster with BlockHost's images and chart installed on it (--real-node). */
async function startOnRealNode(): Promise<Stack> {
  step('starting a real one-node cluster: control plane, containerd, CoreDNS, kubelet, kube-proxy');
  const node = await LocalNodeCluster.start({ lockTimeoutMs: 5_000 });
  cleanups.push(() => node.stop());
  const client = KubeClient.fromFile(node.kubeconfigPath);
  // Pods reach the chain at the node's address.
  const chain = await startChain(node.nodeIp);
  const backend = await startLocalBackend(client, NAMESPACE, 'libvirt', step);
  cleanups.push(() => backend.stop());
  const release = await NodeRelease.install(node, { namespace: NAMESPACE, libvirt: true, progress: step });
  cleanups.push(() => release.cleanup());
  const webUrl = await release.webUrl();
  const metrics = `the pods' /metrics (kubectl port-forward -n ${NAMESPACE} svc/${RELEASE}-controller-metrics 8081)`;
  return {
    client,
    kubeconfigPath: node.kubeconfigPath,
    webUrl,
    hostname: node.nodeIp,
    metrics,
    chain,
    backend,
  };
}

async function startChain(host?: string): Promise<LocalChain> {
  step('starting a local chain (anvil) and deploying the contracts');
  // No plans at deployment: the Plan object is the truth and the plan controller creates it.
  const chain = await startLocalChain({ plans: [], host });
  cleanups.push(() => chain.stop());
  // Like a live chain, blocks keep coming (a purchase is acted on once a block confirms it);
  // transactions are still mined at once.
  await chain.anvil.rpc('evm_setIntervalMining', [1]);
  return chain;
}
