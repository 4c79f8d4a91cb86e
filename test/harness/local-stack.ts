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
import { ensureControlPlaneBinaries } from './control-plane/binaries.js';
import { startTestCluster } from './cluster.js';

const usage = `Usage: npm start [-- options]

Starts BlockHost locally: etcd, kube-apiserver and kube-controller-manager built from pinned Go
modules (cached after the first run), the BlockHost CRDs, and the BlockHost controller manager.

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
               kubectl apply -f docs/examples/hostconfig.yaml && kubectl describe hostconfig host
               kubectl get blockhost -A
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
