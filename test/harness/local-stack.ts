/**
 * `npm start`: BlockHost on this machine on embedded defaults — a real local control plane with our
 * CRDs, and the controller manager running against it. Ctrl-C stops everything.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import { examplePlan } from '../../lib/api/v1alpha1/examples.js';
import { API_VERSION, blockhostTypes, type Plan } from '../../lib/api/v1alpha1/index.js';
import { apply } from '../../lib/kube/apply.js';
import { useLocalChain } from './chain/host-config.js';
import { startLocalChain } from './chain/local-chain.js';
import { ensureControlPlaneBinaries } from './control-plane/binaries.js';
import { startTestCluster } from './cluster.js';

const usage = `Usage: npm start [-- options]

Starts BlockHost locally: etcd, kube-apiserver and kube-controller-manager built from pinned Go
modules (cached after the first run), the BlockHost CRDs, a local chain (anvil) with the BlockHost
contracts, a mock USDC and the default plan deployed, a HostConfig pointing at it, and the BlockHost
controller manager (chain watcher, plan controller, HostConfig controller).

Options:
  --use-existing-cluster   run the controller manager against the cluster in $KUBECONFIG instead
  --health-port <port>     controller manager's /healthz, /readyz, /metrics port (default 8081)
  -h, --help               show this help

Ctrl-C stops everything and removes the local cluster's data.`;

const { values } = parseArgs({
  options: {
    'use-existing-cluster': { type: 'boolean', default: false },
    'health-port': { type: 'string', default: '8081' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const step = (message: string) => console.error(`==> ${message}`);

step('starting the Kubernetes control plane (the first run builds it from Go modules: several minutes)');
const cluster = await startTestCluster({ useExisting: values['use-existing-cluster'] });
const client = cluster.client();
await client
  .create(coreTypes.namespace, { metadata: { name: 'blockhost-system' } })
  .catch((error: unknown) => {
    if (!isAlreadyExists(error)) throw error;
  });

step('starting a local chain (anvil) and deploying the contracts');
// No plans at deployment: the Plan object below is the truth and the plan controller creates it.
const chain = await startLocalChain({ plans: [] });
await useLocalChain(client, 'blockhost-system', chain, { confirmations: 1, pollIntervalSeconds: 1 });
await apply(client, blockhostTypes.plan, {
  apiVersion: API_VERSION,
  kind: 'Plan',
  metadata: { name: 'basic' },
  spec: examplePlan.spec,
} as Plan);

step('starting the controller manager');
const manager = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'controllers/main.ts',
    `--kubeconfig=${cluster.kubeconfigPath}`,
    `--health-port=${values['health-port']}`,
    '--health-host=127.0.0.1',
  ],
  { stdio: 'inherit' },
);

const { kubectl } = await ensureControlPlaneBinaries();
console.error(`
BlockHost is running.
  kubeconfig:  ${cluster.kubeconfigPath}
  try:         export KUBECONFIG=${cluster.kubeconfigPath}
               export PATH=${dirname(kubectl)}:$PATH   # kubectl and helm matching this cluster
               kubectl get crds
               kubectl describe hostconfig host && kubectl get bhplan
               kubectl get blockhost -A
  chain:       ${chain.anvil.rpcUrl} (chain id ${chain.anvil.chainId})
               BlockhostSubscriptions ${chain.deployment.subscriptions}
               AccessCredentialNFT    ${chain.deployment.nft}
               mock USDC              ${chain.deployment.stablecoin}
               anvil accounts 1-9 hold mock USDC; a purchase becomes a Subscription within seconds:
               kubectl get subscriptions -n blockhost-system -w
  metrics:     http://127.0.0.1:${values['health-port']}/metrics
Press Ctrl-C to stop.
`);

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  step('stopping');
  manager.kill('SIGTERM');
  if (manager.exitCode === null) await once(manager, 'exit');
  await chain.stop();
  await cluster.stop();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
manager.on('exit', (code) => {
  if (!stopping) {
    console.error(`controller manager exited (${code}); stopping`);
    void stop(1);
  }
});
