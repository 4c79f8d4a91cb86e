// BlockHost in pods on the harness node: helm install until every pod is Ready, each component's
// memory as the kubelet measures it (against the chart's limit), and purchase → Active through the
// controller pod against the same purchase with the controller manager in-process (admin
// credentials, the harness's way), both on the same node, chain and libvirt guest image.
import { registerControllers } from '../../controllers/setup.js';
import { blockhostTypes, subscriptionResourceName, type Subscription } from '../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../lib/crypto/index.js';
import { KubeClient } from '../../lib/kube/client.js';
import { createLogger } from '../../lib/log.js';
import { Manager } from '../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../lib/runtime/metrics.js';
import { anvilPrivateKey } from '../harness/chain/anvil.js';
import { buyAsCustomer } from '../harness/chain/purchase.js';
import { startLocalChain } from '../harness/chain/local-chain.js';
import { LibvirtEnvironment } from '../harness/libvirt/environment.js';
import { LocalNodeCluster } from '../harness/node/node.js';
import { NodeRelease, openLibvirtShop, RELEASE, stateNamespaceOf } from '../harness/node/release.js';
import { waitFor } from '../harness/processes.js';
import { against, writeResult } from './results.js';

const NAMESPACE = 'bench-pods';
const MIB = 2 ** 20;
/** The chart's default memory limits (charts/blockhost/values.yaml), the reference for each pod. */
const MEMORY_LIMIT_MIB: Record<string, number> = { controller: 512, webhook: 256, web: 384 };

interface MemoryStats {
  workingSetBytes?: number;
  rssBytes?: number;
}

interface StatsSummary {
  pods: { podRef: { name: string; namespace: string }; containers?: { memory?: MemoryStats }[] }[];
}

/** A pod's memory as the sum of its containers' (the pod-level figure is often missing on cgroup v1). */
const podMemory = (pod: StatsSummary['pods'][number], field: keyof MemoryStats) =>
  (pod.containers ?? []).reduce((sum, container) => sum + (container.memory?.[field] ?? 0), 0);

const log = createLogger('bench-pods', { level: process.env.LOG_LEVEL ?? 'warn' });

export async function podsBench(): Promise<void> {
  const node = await LocalNodeCluster.start();
  const kube = KubeClient.fromFile(node.kubeconfigPath);
  const [chain, libvirt] = await Promise.all([
    startLocalChain({ plans: [], host: node.nodeIp }),
    LibvirtEnvironment.start({ guestImage: true }),
  ]);
  let release: NodeRelease | undefined;
  try {
    release = await NodeRelease.install(node, { namespace: NAMESPACE, libvirt: true });
    writeResult(
      against(
        {
          benchmark: 'pods-helm-install',
          metric: 'helm install --wait of the chart on the node until every pod is Ready',
          unit: 's',
          value: release.helmInstallMs / 1000,
          samples: 1,
        },
        'the --timeout the tests allow',
        300,
      ),
    );

    const summary = JSON.parse(
      await release.tools.kubectl(['get', '--raw', `/api/v1/nodes/${node.nodeName}/proxy/stats/summary`]),
    ) as StatsSummary;
    for (const pod of summary.pods.filter((p) => p.podRef.namespace === NAMESPACE)) {
      const component = Object.keys(MEMORY_LIMIT_MIB).find((c) =>
        pod.podRef.name.startsWith(`${RELEASE}-${c}-`),
      );
      if (!component) continue;
      writeResult(
        against(
          {
            benchmark: `pods-memory-${component}`,
            metric: `${component} pod working set after install (kubelet stats; RSS ${Math.round(podMemory(pod, 'rssBytes') / MIB)} MiB)`,
            unit: 'MiB',
            value: podMemory(pod, 'workingSetBytes') / MIB,
            samples: 1,
          },
          'its memory limit in the chart',
          MEMORY_LIMIT_MIB[component]!,
        ),
      );
    }

    await openLibvirtShop(kube, NAMESPACE, chain, libvirt, 'bench-pods');

    const buyerSignature = signMessage(anvilPrivateKey(4), 'blockhost-access');
    const purchaseToActiveMs = async () => {
      const subscriptionId = await buyAsCustomer(chain, 4, buyerSignature);
      const began = performance.now();
      const name = subscriptionResourceName(subscriptionId);
      await waitFor(
        `${name} Active`,
        async () =>
          (await kube.get<Subscription>(blockhostTypes.subscription, name, NAMESPACE)).status?.phase ===
          'Active',
        { timeoutMs: 600_000, intervalMs: 200 },
      );
      return performance.now() - began;
    };

    const throughPods = await purchaseToActiveMs();
    // The same purchase with the controller manager in this process instead of its pod.
    await release.tools.kubectl([
      'scale',
      'deployment',
      `${RELEASE}-controller`,
      '-n',
      NAMESPACE,
      '--replicas=0',
    ]);
    await waitFor('the controller pod gone', async () => (await release!.pods('controller')).length === 0, {
      timeoutMs: 120_000,
    });
    const manager = new Manager({
      client: kube,
      log,
      metrics: new RuntimeMetrics({ processMetrics: false }),
    });
    registerControllers(manager, { namespace: NAMESPACE, stateNamespace: stateNamespaceOf(NAMESPACE), log });
    const running = manager.start();
    try {
      const inProcess = await purchaseToActiveMs();
      writeResult(
        against(
          {
            benchmark: 'pods-purchase-to-active',
            metric:
              'purchase mined → Subscription Active with the controller manager in its pod (libvirt guest boot under TCG included)',
            unit: 's',
            value: throughPods / 1000,
            samples: 1,
          },
          'the same with the controller manager in-process',
          inProcess / 1000,
        ),
      );
    } finally {
      manager.stop();
      await running;
    }
  } finally {
    await release?.cleanup();
    await libvirt.stop([NAMESPACE]);
    await chain.stop();
    await node.stop();
  }
}
