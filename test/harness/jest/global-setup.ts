import { startTestCluster, type TestCluster } from '../cluster.js';
import { LibvirtDaemon } from '../libvirt/libvirtd.js';

declare global {
  var blockhostTestCluster: TestCluster | undefined;
  var blockhostLibvirtDaemon: LibvirtDaemon | undefined;
}

/**
 * One cluster and one libvirtd for the whole run. Test files read the cluster from KUBECONFIG (set
 * here, inherited by the workers) and reuse the running libvirtd; a daemon started by one test file
 * could otherwise be stopped under another. Tests that must crash the API server start a private
 * control plane instead.
 */
export default async function globalSetup(): Promise<void> {
  const [cluster, libvirtd] = await Promise.all([startTestCluster(), LibvirtDaemon.start()]);
  globalThis.blockhostTestCluster = cluster;
  globalThis.blockhostLibvirtDaemon = libvirtd;
  process.env.KUBECONFIG = cluster.kubeconfigPath;
}
