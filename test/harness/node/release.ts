// BlockHost as an operator installs it, on the harness node: the images built here (images/app)
// imported into the node's containerd and the chart installed with Helm, each component in its own
// pod on its own ServiceAccount. Used by the pods tests, `npm run bench` and `npm start --real-node`.
import { ensureAppImages, IMAGE_NAMES, type AppImages } from '../../../images/app/app-images.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  type HostConfigSpec,
  type Plan,
} from '../../../lib/api/v1alpha1/index.js';
import { KubeClient } from '../../../lib/kube/client.js';
import { adminCredentialMinted, useLocalChain } from '../chain/host-config.js';
import type { LocalChain } from '../chain/local-chain.js';
import type { LibvirtEnvironment } from '../libvirt/environment.js';
import { APP_UID } from '../../../images/app/layers.js';
import { ChartTools, chartDir } from '../../integration/chart/helm.js';
import { eventually } from '../kube.js';
import { grantPodAccess } from '../libvirt/libvirtd.js';
import type { LocalNodeCluster } from './node.js';

export const RELEASE = 'blockhost';
/** The chart's default controller state namespace for a release in `namespace` (docs/controller-state.md). */
export const stateNamespaceOf = (namespace: string) => `${namespace}-system`;

/** What a shop sells: the backend's HostConfig fields and the plan's image and size. */
export interface ShopOffer {
  spec: Partial<HostConfigSpec>;
  plan: Plan['spec']['size'];
}

/**
 * Sets the host up to sell `offer` (no IPv6: the throw-away bridge routes none) with one plan,
 * until the plan is on chain and setup minted the admin credential (so NFT counts start after it).
 */
export async function openShop(
  kube: KubeClient,
  namespace: string,
  chain: LocalChain,
  offer: ShopOffer,
  planName: string,
): Promise<void> {
  // The server wallet Secret goes where the chart's controller keeps its key.
  await useLocalChain(
    kube,
    stateNamespaceOf(namespace),
    chain,
    { confirmations: 1, pollIntervalSeconds: 1 },
    { ipv6: { mode: 'none', allocationSize: 64 }, ...offer.spec },
  );
  await kube.create(blockhostTypes.plan, {
    apiVersion: API_VERSION,
    kind: 'Plan',
    metadata: { name: planName },
    spec: { ...examplePlan.spec, size: offer.plan },
  } as Plan);
  await eventually(
    'plan on chain',
    async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId !== undefined,
    120_000,
  );
  await adminCredentialMinted(kube, 120_000);
}

/** openShop for libvirt guests of the product's image. */
export const openLibvirtShop = (
  kube: KubeClient,
  namespace: string,
  chain: LocalChain,
  libvirt: LibvirtEnvironment,
  planName: string,
): Promise<void> =>
  openShop(
    kube,
    namespace,
    chain,
    {
      spec: { backend: { type: 'libvirt', libvirt: libvirt.settings }, ipv4Pool: libvirt.ipv4Pool },
      plan: { cpu: 1, memoryMiB: 1024, diskGiB: 3, image: 'debian' },
    },
    planName,
  );

export interface ReleasePod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { serviceAccountName?: string };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

export const podReady = (pod: ReleasePod): boolean =>
  pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export const componentOf = (pod: ReleasePod): string | undefined =>
  pod.metadata.labels?.['app.kubernetes.io/component'];

export interface ReleaseOptions {
  namespace: string;
  /** Mount the host's libvirtd socket into the controller pod (the libvirt backend). */
  libvirt?: boolean;
  /** Grant the controller the KubeVirt backend's RBAC. */
  kubevirt?: boolean;
  /** Called with each step, for progress output. */
  progress?: (line: string) => void;
}

export class NodeRelease {
  /** How long `helm install --wait` took (images already imported): until every pod was Ready. */
  helmInstallMs = 0;

  private constructor(
    readonly node: LocalNodeCluster,
    readonly namespace: string,
    /** helm and kubectl bound to the node's cluster. */
    readonly tools: ChartTools,
    readonly images: AppImages,
    /** The values file of the install, reused by upgrades. */
    private readonly valuesFile: string,
  ) {}

  /** Builds (or reuses) the images, imports them and runs `helm install --wait`. */
  static async install(
    node: LocalNodeCluster,
    { namespace, libvirt = false, kubevirt = false, progress = () => undefined }: ReleaseOptions,
  ): Promise<NodeRelease> {
    const tools = await ChartTools.create(node.kubeconfigPath);
    progress('building the container images (the first build takes about two minutes)');
    const images = await ensureAppImages({ progress });
    progress('importing the images into the node');
    for (const name of IMAGE_NAMES) await node.importImage(images.images[name].tar);
    const values = await tools.valuesFile({
      controller: {
        ...(libvirt && { libvirt: { enabled: true, supplementalGroups: [await grantPodAccess(APP_UID)] } }),
        ...(kubevirt && { kubevirt: { enabled: true } }),
      },
      // The Traefik Ingress is k3s's; here the web server answers on a NodePort.
      web: { service: { type: 'NodePort' }, ingress: { enabled: false } },
    });
    const release = new NodeRelease(node, namespace, tools, images, values);
    progress('helm install (waits until every pod is Ready)');
    const began = performance.now();
    await release.helm('install', ['--create-namespace']);
    release.helmInstallMs = performance.now() - began;
    await release.admissionServed(KubeClient.fromFile(node.kubeconfigPath));
    return release;
  }

  /**
   * Waits until the API server reaches the webhook pod through its Service: `--wait` returns when
   * the pod is Ready, but kube-proxy programs the Service up to about a second later, and until
   * then every write of our kinds is refused (failurePolicy Fail). A dry-run Plan create asks.
   */
  private async admissionServed(kube: KubeClient): Promise<void> {
    const plan = { ...structuredClone(examplePlan), metadata: { name: 'admission-probe' } } as Plan;
    await eventually(
      'the webhook answering through its Service',
      () =>
        kube.create(blockhostTypes.plan, plan, { dryRun: true }).then(
          () => true,
          (error: unknown) => {
            // Only "not reachable yet" is worth waiting out; a refusal is an answer.
            if (/failed calling webhook/.test(String(error))) return false;
            throw error;
          },
        ),
      60_000,
    );
  }

  /** `helm upgrade` with the install's values plus `args` (e.g. --set a=b), waiting for the rollout. */
  upgrade(args: string[]): Promise<string> {
    return this.helm('upgrade', args);
  }

  private async helm(command: 'install' | 'upgrade', args: string[]): Promise<string> {
    try {
      return await this.helmCommand(command, args);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await this.unreadyPodReport()}`, { cause: error });
    }
  }

  /** Why pods are not Ready: each one's phase, container states and last log lines (for a failed --wait). */
  private async unreadyPodReport(): Promise<string> {
    const pods = await this.pods().catch(() => []);
    const lines: string[] = [];
    for (const pod of pods.filter((p) => !podReady(p))) {
      const describe = await this.tools
        .kubectl(['get', 'pod', pod.metadata.name, '-n', this.namespace, '-o', 'jsonpath={.status}'])
        .catch((error: unknown) => String(error));
      const logs = await this.tools
        .kubectl(['logs', pod.metadata.name, '-n', this.namespace, '--all-containers', '--tail=20'])
        .catch((error: unknown) => String(error));
      lines.push(`pod ${pod.metadata.name} not Ready: ${describe}`, logs);
    }
    return lines.length > 0 ? lines.join('\n') : 'every pod of the release is Ready';
  }

  private helmCommand(command: 'install' | 'upgrade', args: string[]): Promise<string> {
    return this.tools.helm([
      command,
      RELEASE,
      chartDir,
      '-n',
      this.namespace,
      '-f',
      this.valuesFile,
      ...this.images.helmArgs,
      ...args,
      '--wait',
      '--timeout',
      '300s',
    ]);
  }

  async uninstall(): Promise<void> {
    await this.tools.helm(['uninstall', RELEASE, '-n', this.namespace, '--wait']);
  }

  /** The release's pods, or one component's. */
  async pods(component?: string): Promise<ReleasePod[]> {
    const selector = component ? ['-l', `app.kubernetes.io/component=${component}`] : [];
    const list = JSON.parse(
      await this.tools.kubectl(['get', 'pods', '-n', this.namespace, ...selector, '-o', 'json']),
    ) as { items: ReleasePod[] };
    return list.items;
  }

  /** Deletes the controller pod at once (no grace period: a crash) and waits for its Ready replacement. */
  async killControllerPod(): Promise<void> {
    const [victim] = await this.pods('controller');
    if (!victim) throw new Error('no controller pod to kill');
    await this.tools.kubectl([
      'delete',
      'pod',
      victim.metadata.name,
      '-n',
      this.namespace,
      '--grace-period=0',
      '--force',
    ]);
    await eventually(
      'a new controller pod Ready',
      async () =>
        (await this.pods('controller')).some((p) => p.metadata.name !== victim.metadata.name && podReady(p)),
      120_000,
    );
  }

  /** The web server's URL on the node's NodePort. */
  async webUrl(): Promise<string> {
    const port = await this.tools.kubectl([
      'get',
      'service',
      `${RELEASE}-web`,
      '-n',
      this.namespace,
      '-o',
      'jsonpath={.spec.ports[0].nodePort}',
    ]);
    return `http://${this.node.nodeIp}:${Number(port)}`;
  }

  async cleanup(): Promise<void> {
    await this.tools.cleanup();
  }
}
