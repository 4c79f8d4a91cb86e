import { LocalControlPlane } from '../harness/control-plane/control-plane.js';
import { ChartTools, chartDir } from '../integration/chart/helm.js';
import { fromSamples, writeResult } from './results.js';

/**
 * `helm install` of charts/blockhost with default values into a private control plane, until helm
 * returns (no --wait: no kubelet runs pods here). Each sample is a fresh release after an uninstall;
 * the CRDs, kept on uninstall, are adopted again.
 */
export async function chartInstall(runs = 5): Promise<void> {
  const plane = await LocalControlPlane.start();
  const tools = await ChartTools.create(plane.kubeconfigPath);
  const samples: number[] = [];
  try {
    for (let i = 0; i < runs; i += 1) {
      const began = performance.now();
      await tools.helm(['install', 'blockhost', chartDir, '-n', 'blockhost', '--create-namespace']);
      samples.push((performance.now() - began) / 1000);
      await tools.helm(['uninstall', 'blockhost', '-n', 'blockhost', '--wait']);
    }
  } finally {
    await tools.cleanup();
    await plane.stop();
  }
  writeResult(
    fromSamples('chart-install', 'helm install of charts/blockhost (default values)', 's', samples),
  );
}
