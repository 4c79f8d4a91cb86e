import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCrds, readManifests } from '../../lib/kube/apply.js';
import { KubeClient } from '../../lib/kube/client.js';
import { createLogger } from '../../lib/log.js';
import { LocalControlPlane } from './control-plane/control-plane.js';

const log = createLogger('test-cluster');
export const crdDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'crds');

/** A cluster for tests, the local stack and benchmarks: our own control plane, or the one in KUBECONFIG. */
export interface TestCluster {
  kubeconfigPath: string;
  /** Present only when the harness started the control plane itself (needed for outage tests). */
  controlPlane?: LocalControlPlane;
  client(): KubeClient;
  stop(): Promise<void>;
}

/**
 * Uses the cluster in `KUBECONFIG` when it is set (kind, k3s, ...), otherwise starts a local
 * control plane. Either way our CRDs are installed before it is returned.
 */
export async function startTestCluster({
  useExisting = Boolean(process.env.KUBECONFIG),
} = {}): Promise<TestCluster> {
  let cluster: TestCluster;
  if (useExisting && process.env.KUBECONFIG) {
    const kubeconfigPath = process.env.KUBECONFIG;
    log.info({ kubeconfig: kubeconfigPath }, 'using the existing cluster from KUBECONFIG');
    cluster = { kubeconfigPath, client: () => KubeClient.fromFile(kubeconfigPath), stop: async () => {} };
  } else {
    const controlPlane = await LocalControlPlane.start();
    cluster = {
      kubeconfigPath: controlPlane.kubeconfigPath,
      controlPlane,
      client: () => KubeClient.fromFile(controlPlane.kubeconfigPath),
      stop: () => controlPlane.stop(),
    };
  }
  await installCrds(cluster.client(), await readManifests(crdDir));
  return cluster;
}
