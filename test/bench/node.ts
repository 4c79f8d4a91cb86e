import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensureControlPlaneBinaries } from '../harness/control-plane/binaries.js';
import { LocalControlPlane } from '../harness/control-plane/control-plane.js';
import { acquireHostLock } from '../harness/node/host.js';
import { LocalNodeCluster, NODE_LOCK_WAIT_MS } from '../harness/node/node.js';
import { against, fromSamples, writeResult } from './results.js';

/**
 * Warm start of the harness's real node (binaries and images cached): start() until the node is
 * Ready, CoreDNS ready and kube-proxy healthy, against the loopback control plane alone, both
 * measured here, alternately.
 */
export async function nodeWarmStart(runs = 3): Promise<void> {
  const node: number[] = [];
  const plane: number[] = [];
  // Held throughout, so that no sample includes waiting for another node on this machine.
  const lock = await acquireHostLock(NODE_LOCK_WAIT_MS);
  try {
    for (let i = 0; i < runs; i += 1) {
      let began = performance.now();
      const cluster = await LocalNodeCluster.start({ lock });
      node.push((performance.now() - began) / 1000);
      await cluster.stop();
      began = performance.now();
      const alone = await LocalControlPlane.start();
      plane.push((performance.now() - began) / 1000);
      await alone.stop();
    }
  } finally {
    await lock.release();
  }
  writeResult(
    against(
      fromSamples(
        'node-warm-start',
        'one-node cluster start (control plane, containerd, CoreDNS, kubelet, kube-proxy) until Node Ready',
        's',
        node,
      ),
      'the control plane alone (p50)',
      fromSamples('control-plane-start', '', 's', plane).p50!,
    ),
  );
}

interface BuildRecord {
  built: string;
  seconds: number;
  date: string;
}

/**
 * The node binaries' cold build (kubelet, kube-scheduler, kube-proxy, CoreDNS), as build.sh
 * recorded it (minutes of Go compilation, not re-run here), against the recorded control-plane
 * build. On a fresh machine one build makes both, and the two are the same record.
 */
export async function nodeColdBuild(): Promise<void> {
  const { kubelet } = await ensureControlPlaneBinaries();
  const log = join(dirname(dirname(kubelet)), 'build-times.jsonl');
  const builds = (await readFile(log, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as BuildRecord);
  const latest = (binary: string) => builds.filter((b) => b.built.split(' ').includes(binary)).at(-1);
  const nodeBuild = latest('kubelet');
  const planeBuild = latest('kube-apiserver');
  if (!nodeBuild || !planeBuild) {
    console.log(
      `node-cold-build: no build of the node binaries recorded in ${log} (delete the cache directory to measure one)`,
    );
    return;
  }
  writeResult(
    against(
      {
        benchmark: 'node-cold-build',
        metric: `cold build of ${nodeBuild.built} (${nodeBuild.date})`,
        unit: 's',
        value: nodeBuild.seconds,
        samples: 1,
      },
      `the control-plane build of ${planeBuild.built} (${planeBuild.date})`,
      planeBuild.seconds,
    ),
  );
}
