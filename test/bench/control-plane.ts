import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LocalControlPlane } from '../harness/control-plane/control-plane.js';
import { ensureControlPlaneBinaries } from '../harness/control-plane/binaries.js';
import { fromSamples, writeResult } from './results.js';

/** Warm start of the harness' control plane (binaries cached): start until /readyz and KCM healthy. */
export async function controlPlaneWarmStart(runs = 5): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const began = performance.now();
    const plane = await LocalControlPlane.start();
    samples.push((performance.now() - began) / 1000);
    await plane.stop();
  }
  writeResult(
    fromSamples('control-plane-warm-start', 'local control plane start with cached binaries', 's', samples),
  );
}

/**
 * The cold build is minutes of Go compilation, so it is not re-run here: build.sh logs each real
 * build's duration next to the binaries, and this reports the latest full build.
 */
export async function controlPlaneColdBuild(): Promise<void> {
  const { etcd } = await ensureControlPlaneBinaries();
  const log = join(dirname(dirname(etcd)), 'build-times.jsonl');
  const lines = await readFile(log, 'utf8').catch(() => '');
  const builds = lines
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { built: string; seconds: number; date: string });
  const full = builds.filter((b) => b.built.includes('kube-apiserver')).at(-1);
  if (!full) {
    console.log(
      `control-plane-cold-build: no full build recorded in ${log} (delete the cache directory to measure one)`,
    );
    return;
  }
  writeResult({
    benchmark: 'control-plane-cold-build',
    metric: `cold build of ${full.built} (${full.date})`,
    unit: 's',
    value: full.seconds,
    samples: 1,
  });
}
