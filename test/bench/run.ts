/**
 * `npm run bench`: every benchmark writes test/bench/results/<name>.json and prints one line.
 * Pass names to run a subset, e.g. `npm run bench -- reconcile-throughput`.
 */
import { startTestCluster, type TestCluster } from '../harness/cluster.js';
import { appImagesBuild } from './app-images.js';
import { backfillRate, emptyScanRate, eventLatency, mintThroughput } from './chain.js';
import { chartInstall } from './chart-install.js';
import { controlPlaneColdBuild, controlPlaneWarmStart } from './control-plane.js';
import { libvirtGuestBoot } from './libvirt-boot.js';
import { localStackReady } from './local-stack-ready.js';
import { lifecycleRss2000, purchases500OneBlock, purchaseToActive } from './lifecycle.js';
import { nodeColdBuild, nodeWarmStart } from './node.js';
import { podsBench } from './pods.js';
import { reconcileThroughput } from './reconcile-throughput.js';
import { guestImageBuild, pamModuleTime, walletLoginCallback } from './wallet-login.js';

/** Runs `body` against a fresh cluster that is stopped afterwards. */
async function withCluster(body: (cluster: TestCluster) => Promise<void>): Promise<void> {
  const cluster = await startTestCluster();
  try {
    await body(cluster);
  } finally {
    await cluster.stop();
  }
}

// One run of the 500-purchase burst writes both its results, so both names map to it.
const burst = () => withCluster(purchases500OneBlock);

const benchmarks: Record<string, () => Promise<void>> = {
  'control-plane-cold-build': controlPlaneColdBuild,
  'control-plane-warm-start': () => controlPlaneWarmStart(),
  'node-cold-build': nodeColdBuild,
  'node-warm-start': () => nodeWarmStart(),
  // One run writes pods-helm-install, pods-memory-{controller,webhook,web} and pods-purchase-to-active.
  'pods-purchase-to-active': () => podsBench(),
  'reconcile-throughput': () => withCluster(reconcileThroughput),
  'chain-backfill': () => withCluster(backfillRate),
  'chain-empty-scan': () => withCluster(emptyScanRate),
  'chain-event-latency': () => withCluster(eventLatency),
  'sender-mint-throughput': () => withCluster(mintThroughput),
  'purchase-to-active': () => withCluster(purchaseToActive),
  'purchases-500-one-block': burst,
  'api-writes-per-vm': burst,
  'lifecycle-rss-2000': () => withCluster(lifecycleRss2000),
  // One run writes libvirt-define-start and libvirt-guest-agent-ready.
  'libvirt-guest-boot': () => libvirtGuestBoot(),
  'chart-install': () => chartInstall(),
  'local-stack-ready': () => localStackReady(),
  'wallet-login-callback': () => withCluster(walletLoginCallback),
  'pam-module-time': () => pamModuleTime(),
  // One run writes guest-image-build-cold, guest-image-build-cached and guest-image-size.
  'guest-image-build': () => guestImageBuild(),
  // One run writes app-images-build-cold, app-images-build-cached and app-image-size-{controller,web}.
  'app-images-build': () => appImagesBuild(),
};

const selected = process.argv.slice(2).filter((arg) => arg !== '--');
const unknown = selected.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}`);
  process.exit(2);
}
const ran = new Set<() => Promise<void>>();
for (const name of selected.length > 0 ? selected : Object.keys(benchmarks)) {
  const run = benchmarks[name]!;
  if (ran.has(run)) continue;
  ran.add(run);
  console.error(`==> ${name}`);
  await run();
}
// Every result is written; handles a benchmark's clients leave open (e.g. an in-process
// manager's pooled connections to a stopped API server) must not keep the command running.
process.exit(0);
