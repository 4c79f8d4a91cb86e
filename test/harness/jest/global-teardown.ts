export default async function globalTeardown(): Promise<void> {
  await Promise.all([globalThis.blockhostTestCluster?.stop(), globalThis.blockhostLibvirtDaemon?.stop()]);
}
