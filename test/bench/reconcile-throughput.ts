import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { blockhostTypes, type VM } from '../../lib/api/v1alpha1/index.js';
import { exampleVM } from '../../lib/api/v1alpha1/examples.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { TestCluster } from '../harness/cluster.js';
import { fromSamples, writeResult } from './results.js';

const run = promisify(execFile);
const OBJECTS = 5000;
const RUNS = 3;

async function createVMs(
  client: KubeClient,
  namespace: string,
  count: number,
  progress: (n: number) => void,
) {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const vm = structuredClone(exampleVM) as VM;
      vm.metadata = { name: `bench-${i}`, namespace };
      delete vm.status;
      await client.create(blockhostTypes.vm, vm);
      if (++done % 500 === 0) progress(done);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** A no-op reconciler over 5,000 VM objects: objects/s from manager start to the last reconcile, and peak RSS. */
export async function reconcileThroughput(cluster: TestCluster): Promise<void> {
  const client = cluster.client();
  const namespace = 'bench-throughput';
  await client.create(coreTypes.namespace, { metadata: { name: namespace } });
  await createVMs(client, namespace, OBJECTS, (n) => console.error(`  created ${n}/${OBJECTS} VM objects`));
  const rates: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'test/bench/noop-manager.ts'], {
      env: {
        ...process.env,
        KUBECONFIG: cluster.kubeconfigPath,
        EXPECTED: String(OBJECTS),
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
      maxBuffer: 1 << 24,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      seconds: number;
      objects: number;
      peakRssBytes: number;
    };
    rates.push(result.objects / result.seconds);
    rss.push(result.peakRssBytes / 2 ** 20);
    console.error(
      `  run ${i + 1}/${RUNS}: ${Math.round(result.objects / result.seconds)} objects/s, peak RSS ${Math.round(result.peakRssBytes / 2 ** 20)} MiB`,
    );
  }
  writeResult(
    fromSamples(
      'reconcile-throughput',
      'no-op reconciles of 5000 VM objects per second (list + reconcile)',
      'objects/s',
      rates,
    ),
  );
  writeResult(
    fromSamples(
      'manager-peak-rss',
      'controller manager peak RSS while reconciling 5000 VM objects',
      'MiB',
      rss,
    ),
  );
  await client.delete(coreTypes.namespace, namespace);
}
