import { startTestCluster, type TestCluster } from '../cluster.js';

declare global {
  var blockhostTestCluster: TestCluster | undefined;
}

/**
 * One cluster for the whole run. Test files read it from KUBECONFIG (set here, inherited by the
 * workers); tests that must crash the API server start a private control plane instead.
 */
export default async function globalSetup(): Promise<void> {
  const cluster = await startTestCluster();
  globalThis.blockhostTestCluster = cluster;
  process.env.KUBECONFIG = cluster.kubeconfigPath;
}
