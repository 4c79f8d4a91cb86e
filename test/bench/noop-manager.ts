/**
 * Child process of the reconcile-throughput benchmark: a manager with a no-op VM reconciler.
 * Prints one JSON line once every expected object was reconciled, then exits. Runs alone in its
 * process so its peak RSS is the manager's own.
 */
import { blockhostTypes } from '../../lib/api/v1alpha1/index.js';
import { KubeClient } from '../../lib/kube/client.js';
import { createLogger } from '../../lib/log.js';
import { Manager } from '../../lib/runtime/manager.js';

const expected = Number(process.env.EXPECTED);
const workers = Number(process.env.WORKERS ?? '4');
const manager = new Manager({ client: KubeClient.fromDefault(), log: createLogger('bench-manager') });
const reconciled = new Set<string>();
let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);

const started = performance.now();
manager.addController({
  name: 'noop',
  for: blockhostTypes.vm,
  workers,
  reconcile: async ({ namespace, name }) => {
    reconciled.add(`${namespace}/${name}`);
    if (reconciled.size === expected) {
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      console.log(JSON.stringify({ seconds, objects: reconciled.size, peakRssBytes: peakRss }));
      manager.stop();
    }
  },
});
await manager.start();
process.exit(0);
