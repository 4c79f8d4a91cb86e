// BlockHost as an operator runs it: the chart installed with Helm on a real node (kubelet,
// containerd, runc, CNI) from the images built here, every component in its pod on its own
// ServiceAccount. The API server calls the webhook through its Service, the web server answers on a
// NodePort, and a purchase on anvil becomes a running libvirt guest (the controller pod reaches the
// host's libvirtd through the socket mount) and an NFT that decrypts to its address — also when the
// controller pod is killed at the create and mint steps, and across a `helm upgrade`.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Hex } from 'viem';
import { CredentialMinter } from '../../../controllers/chain/credential-minter.js';
import { IntentStore } from '../../../controllers/chain/intent-store.js';
import { LibvirtBackend } from '../../../controllers/vm/backends/libvirt/driver.js';
import { VM_FINALIZER } from '../../../controllers/vm/controller.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  subscriptionResourceName,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { decryptConnectionDetails, signMessage } from '../../../lib/crypto/index.js';
import { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { buyAsCustomer } from '../../harness/chain/purchase.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { CLUSTER_LOCK_WAIT_MS, eventually, testClient } from '../../harness/kube.js';
import { LibvirtEnvironment } from '../../harness/libvirt/environment.js';
import { virsh } from '../../harness/libvirt/libvirtd.js';
import { LocalNodeCluster, NODE_LOCK_WAIT_MS } from '../../harness/node/node.js';
import {
  componentOf,
  NodeRelease,
  openLibvirtShop,
  podReady,
  RELEASE,
  stateNamespaceOf,
} from '../../harness/node/release.js';

/** Random, because libvirt domain names start with the VM's namespace and libvirtd is shared. */
const NAMESPACE = `bh-pods-${Date.now().toString(36)}`;
const PLAN = 'pods-plan';

let node: LocalNodeCluster;
let kube: KubeClient;
let release: NodeRelease;
let chain: LocalChain;
let libvirt: LibvirtEnvironment;

const buyerKey = anvilPrivateKey(4);
const buyerSignature = signMessage(buyerKey, 'blockhost-access');

const subscriptionOf = (id: bigint) =>
  kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), NAMESPACE);
const vmOf = (id: bigint) => kube.get<VM>(blockhostTypes.vm, subscriptionResourceName(id), NAMESPACE);
const exists = (read: Promise<unknown>) =>
  read.then(
    () => true,
    () => false,
  );

const buy = () => buyAsCustomer(chain, 4, buyerSignature);

/**
 * Active, its libvirt domain running, and its NFT's data decrypting to the VM's address. Then, by
 * default, an operator's hold stops the guest: idle guests under TCG still take CPU, which the
 * next purchase's boot needs on a small machine.
 */
async function expectServed(id: bigint, { hold = true } = {}): Promise<void> {
  await eventually('Active', async () => (await subscriptionOf(id)).status?.phase === 'Active', 480_000);
  const vm = await vmOf(id);
  const domain = LibvirtBackend.domainName({ namespace: NAMESPACE, name: vm.metadata.name! });
  expect((await virsh(libvirt.daemon.uri, ['domstate', domain])).trim()).toBe('running');
  const tokenId = BigInt((await subscriptionOf(id)).status!.nft!.tokenId!);
  expect(await chain.readNft<string>('ownerOf', [tokenId])).toBe(chain.wallet(4).account.address);
  const details = decryptConnectionDetails(
    buyerSignature,
    await chain.readNft<Hex>('getUserEncrypted', [tokenId]),
  );
  expect(details).toEqual({ hostname: vm.spec.network?.ipv4, port: 22, username: 'admin' });
  if (hold)
    await kube.patch(
      blockhostTypes.vm,
      vm.metadata.name!,
      NAMESPACE,
      { spec: { hold: 'test: served; its CPU goes to the next boot' } },
      'merge',
    );
}

beforeAll(
  async () => {
    // The guest lock before the node lock: a file waiting for the node (seconds of use) never
    // waits behind this file's turn for the guests too.
    libvirt = await LibvirtEnvironment.start({ guestImage: true, guestLock: testClient() });
    node = await LocalNodeCluster.start();
    kube = KubeClient.fromFile(node.kubeconfigPath);
    // Pods reach anvil at the node's address; the controller pod reaches libvirtd through its socket.
    chain = await startLocalChain({ plans: [], host: node.nodeIp });
    release = await NodeRelease.install(node, { namespace: NAMESPACE, libvirt: true });
  },
  NODE_LOCK_WAIT_MS + CLUSTER_LOCK_WAIT_MS + 1_200_000,
);

afterAll(async () => {
  // The controller removes its VMs' domains while it still runs (VM finalizers).
  if (kube && chain) {
    for (const vm of (
      await kube.list<VM>(blockhostTypes.vm, { namespace: NAMESPACE }).catch(() => ({ items: [] }))
    ).items)
      await kube.delete(blockhostTypes.vm, vm.metadata.name!, NAMESPACE).catch(() => undefined);
  }
  await libvirt?.stop([NAMESPACE]);
  await chain?.stop();
  await release?.cleanup();
  await node?.stop();
}, 600_000);

describe('the chart on a real node', () => {
  it('runs every component Ready, each on its own ServiceAccount', async () => {
    const all = await release.pods();
    expect(all.map(componentOf).sort()).toEqual(['controller', 'web', 'webhook']);
    for (const pod of all) {
      expect(podReady(pod)).toBe(true);
      expect(pod.spec.serviceAccountName).toBe(`${RELEASE}-${componentOf(pod)}`);
    }
  });

  it('serves the web pod on a NodePort of the node', async () => {
    const url = await release.webUrl();
    await eventually(
      'web /healthz on the NodePort',
      async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true,
      30_000,
    );
  });

  it('has the API server call the webhook pod through its Service', async () => {
    // The valid plan passes the webhook pod; a plan naming an unknown image does not.
    await openLibvirtShop(kube, NAMESPACE, chain, libvirt, PLAN);
    const plan = structuredClone(examplePlan) as Plan;
    plan.metadata = { name: 'refused-plan' };
    plan.spec.size.image = 'no-such-image';
    // Only the webhook knows the HostConfig's images: the refusal is its own words.
    await expect(kube.create(blockhostTypes.plan, plan)).rejects.toThrow(
      /admission webhook "validate\.webhooks\.blockhost\.io" denied the request: .*must be one of the images/,
    );
  });

  // One purchase for both (each boot of a TCG guest takes minutes): served from the controller pod,
  // and exactly once although that pod dies at the create and at the mint step.
  it('turns a purchase into one running libvirt guest and one NFT from the controller pod, though the pod dies at the create and at the mint step', async () => {
    const supply = await chain.readNft<bigint>('totalSupply');
    const domains = (await libvirt.domains(NAMESPACE)).length;
    const id = await buy();
    await eventually('the VM object', () => exists(vmOf(id)), 120_000);
    await release.killControllerPod();
    const mintIntent = IntentStore.objectName(
      CredentialMinter.intentKey(chain.anvil.chainId, chain.deployment.nft, id),
    );
    await eventually(
      'the mint intent',
      () => exists(kube.get(coreTypes.configMap, mintIntent, stateNamespaceOf(NAMESPACE))),
      480_000,
    );
    await release.killControllerPod();
    await expectServed(id);
    expect(await chain.readNft<bigint>('totalSupply')).toBe(supply + 1n);
    expect((await libvirt.domains(NAMESPACE)).length).toBe(domains + 1);
  }, 1_200_000);

  it('rolls out a helm upgrade without losing a purchase made during the rollout', async () => {
    const supply = await chain.readNft<bigint>('totalSupply');
    const [before] = await release.pods('controller');
    // Together, so a failed purchase never leaves the upgrade's rejection unhandled.
    const [, id] = await Promise.all([release.upgrade(['--set', 'controller.logLevel=debug']), buy()]);
    // The old pod may still be terminating when helm returns: the new one replaces it.
    await eventually(
      'only the new controller pod',
      async () => {
        const now = await release.pods('controller');
        return now.length === 1 && now[0]!.metadata.name !== before?.metadata.name && podReady(now[0]!);
      },
      120_000,
    );
    await expectServed(id, { hold: false });
    expect(await chain.readNft<bigint>('totalSupply')).toBe(supply + 1n);
  }, 900_000);

  it('leaves customer VMs as they are on helm uninstall (CRDs and objects kept)', async () => {
    const domainStates = async () =>
      Promise.all(
        (await libvirt.domains(NAMESPACE)).map(async (domain) =>
          (await virsh(libvirt.daemon.uri, ['domstate', domain])).trim(),
        ),
      );
    // Held guests finish shutting down first, so the states compared below are settled ones.
    await eventually(
      'held guests shut off',
      async () => (await domainStates()).every((state) => state === 'running' || state === 'shut off'),
      180_000,
    );
    const before = await domainStates();
    expect(before).toContain('running');
    await release.uninstall();
    // The Deployments are gone at once; their pods follow through garbage collection.
    await eventually('no BlockHost pod left', async () => (await release.pods()).length === 0, 120_000);
    const vms = (await kube.list<VM>(blockhostTypes.vm, { namespace: NAMESPACE })).items;
    expect(vms.length).toBe(before.length);
    // Their finalizer stays: deleting one now waits for a controller to remove its backend VM.
    for (const vm of vms) expect(vm.metadata.finalizers).toContain(VM_FINALIZER);
    expect(await domainStates()).toEqual(before);
  }, 300_000);
});
