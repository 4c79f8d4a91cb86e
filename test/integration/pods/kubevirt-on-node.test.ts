// The KubeVirt backend as the chart runs it on a real node: the controller manager in its pod, on its
// ServiceAccount with the chart's KubeVirt RBAC, creates the VirtualMachine; the KubeVirt simulator
// (KubeVirt's own controllers cannot run here; the real-KubeVirt issue replaces it) turns it into a
// VMI whose launcher pod the kubelet really runs, and the controller reaches the guest agent through
// pods/exec → API server → kubelet → `virsh` in that pod, whose guest is the simulator's.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Hex } from 'viem';
import {
  kubevirtTypes,
  type Pod,
  type VirtualMachineInstance,
} from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import {
  blockhostTypes,
  subscriptionResourceName,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { decryptConnectionDetails, signMessage } from '../../../lib/crypto/index.js';
import { KubeClient } from '../../../lib/kube/client.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { buyAsCustomer, transferNft } from '../../harness/chain/purchase.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { eventually } from '../../harness/kube.js';
import { startExecRelay, type ExecRelay } from '../../harness/kubevirt/exec-relay.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';
import { KubevirtSimulator } from '../../harness/kubevirt/simulator.js';
import { LocalNodeCluster, NODE_LOCK_WAIT_MS, NODE_NAME } from '../../harness/node/node.js';
import { NodeRelease, openShop } from '../../harness/node/release.js';

const NAMESPACE = `bh-kubevirt-pods-${Date.now().toString(36)}`;
const PLAN = 'kubevirt-pods-plan';

let node: LocalNodeCluster;
let kube: KubeClient;
let release: NodeRelease;
let chain: LocalChain;
let relay: ExecRelay;
let simulator: KubevirtSimulator;
let id: bigint;

const buyerSignature = signMessage(anvilPrivateKey(4), 'blockhost-access');
const subscription = () =>
  kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), NAMESPACE);
const vm = () => kube.get<VM>(blockhostTypes.vm, subscriptionResourceName(id), NAMESPACE);
const launcherPods = async () =>
  (
    await kube.list<Pod>(kubevirtTypes.pod, {
      namespace: NAMESPACE,
      labelSelector: 'kubevirt.io=virt-launcher',
    })
  ).items;
const runningLauncher = async (): Promise<Pod | undefined> =>
  (await launcherPods()).find((pod) => pod.status?.phase === 'Running' && !pod.metadata.deletionTimestamp);
const gecos = async () =>
  simulator
    .guest((await vm()).metadata.name!, NAMESPACE)
    ?.users()
    .find((user) => user.name === 'admin')?.gecos;
/** Whether the guest's GECOS is `expected`; when not, throws what the guest and the VM say (for the timeout). */
const gecosIs = async (expected: string) => {
  const actual = await gecos();
  if (actual === expected) return true;
  const synced = (await vm()).status?.conditions?.find((c) => c.type === 'OwnerSynced');
  throw new Error(`the guest has ${actual}; OwnerSynced: ${JSON.stringify(synced)}`);
};

beforeAll(async () => {
  node = await LocalNodeCluster.start();
  kube = KubeClient.fromFile(node.kubeconfigPath);
  await installKubevirtCrds(kube);
  // Pods reach anvil and the virsh relay at the node's address.
  chain = await startLocalChain({ plans: [], host: node.nodeIp });
  release = await NodeRelease.install(node, { namespace: NAMESPACE, kubevirt: true });
  relay = await startExecRelay(node.nodeIp, (...call) => simulator.launcherExec(...call));
  simulator = await KubevirtSimulator.start({
    kube,
    namespace: NAMESPACE,
    // The controller image has Node for the relaying virsh; the node already holds it.
    realPods: { image: release.images.images.controller.ref, relayUrl: relay.url },
  });
  await openShop(
    kube,
    NAMESPACE,
    chain,
    {
      spec: {
        backend: {
          type: 'kubevirt',
          kubevirt: { images: [{ name: 'demo', containerDisk: 'quay.io/containerdisks/debian:12' }] },
        },
      },
      plan: { cpu: 1, memoryMiB: 1024, diskGiB: 10, image: 'demo' },
    },
    PLAN,
  );
}, NODE_LOCK_WAIT_MS + 900_000);

afterAll(async () => {
  // The controller still runs: it removes its VirtualMachines (VM finalizers) before the node goes.
  if (kube) {
    for (const object of (
      await kube.list<VM>(blockhostTypes.vm, { namespace: NAMESPACE }).catch(() => ({ items: [] }))
    ).items)
      await kube.delete(blockhostTypes.vm, object.metadata.name!, NAMESPACE).catch(() => undefined);
    await eventually(
      'VMs finalized',
      async () => (await kube.list<VM>(blockhostTypes.vm, { namespace: NAMESPACE })).items.length === 0,
      60_000,
    ).catch(() => undefined);
  }
  await simulator?.stop();
  await relay?.stop();
  await chain?.stop();
  await release?.cleanup();
  await node?.stop();
}, 300_000);

describe('the KubeVirt backend from the chart on a real node', () => {
  it('turns a purchase into a VirtualMachine whose launcher pod the kubelet runs, and an NFT with that pod IP', async () => {
    const supply = await chain.readNft<bigint>('totalSupply');
    id = await buyAsCustomer(chain, 4, buyerSignature);
    await eventually('Active', async () => (await subscription()).status?.phase === 'Active', 240_000);
    const pod = await runningLauncher();
    expect(pod?.spec?.nodeName).toBe(NODE_NAME);
    const vmi = await kube.get<VirtualMachineInstance>(
      kubevirtTypes.virtualMachineInstance,
      (await vm()).metadata.name!,
      NAMESPACE,
    );
    expect(Object.keys(vmi.status?.activePods ?? {})).toEqual([pod?.metadata.uid]);
    // On the pod network the guest's address is the launcher pod's: the NFT says so.
    const tokenId = BigInt((await subscription()).status!.nft!.tokenId!);
    expect(await chain.readNft<bigint>('totalSupply')).toBe(supply + 1n);
    expect(
      decryptConnectionDetails(buyerSignature, await chain.readNft<Hex>('getUserEncrypted', [tokenId])),
    ).toEqual({ hostname: pod?.status?.podIP, port: 22, username: 'admin' });
  }, 300_000);

  it("writes the guest's GECOS through pods/exec into the launcher pod, and follows the NFT to a new holder", async () => {
    const tokenId = BigInt((await subscription()).status!.nft!.tokenId!);
    const buyer = chain.wallet(4).account.address;
    await eventually('GECOS in the guest', () => gecosIs(`wallet=${buyer},nft=${tokenId}`), 120_000);
    const to = chain.wallet(6).account.address;
    await transferNft(chain, 4, to, tokenId);
    await eventually('GECOS follows the NFT', () => gecosIs(`wallet=${to},nft=${tokenId}`), 120_000);
  }, 300_000);

  it("stops on the operator's hold (its launcher pod goes) and starts in a new launcher pod when lifted", async () => {
    const before = await runningLauncher();
    const name = (await vm()).metadata.name!;
    await kube.patch(blockhostTypes.vm, name, NAMESPACE, { spec: { hold: 'test: stop it' } }, 'merge');
    await eventually('launcher pod gone', async () => (await launcherPods()).length === 0, 120_000);
    await eventually('VM Stopped', async () => (await vm()).status?.phase === 'Stopped', 60_000);
    await kube.patch(blockhostTypes.vm, name, NAMESPACE, { spec: { hold: null } }, 'merge');
    await eventually('VM Running again', async () => (await vm()).status?.phase === 'Running', 120_000);
    const after = await runningLauncher();
    expect(after?.metadata.uid).not.toBe(before?.metadata.uid);
    expect(after?.spec?.nodeName).toBe(NODE_NAME);
    // A containerDisk root boots afresh from the cloud-init Secret: the new guest must name the NFT's
    // current holder, not the buyer (who would otherwise get back in).
    const tokenId = BigInt((await subscription()).status!.nft!.tokenId!);
    const holder = chain.wallet(6).account.address;
    await eventually('GECOS in the new guest', () => gecosIs(`wallet=${holder},nft=${tokenId}`), 120_000);
    // The new launcher pod has a new IP: the NFT's connection details follow it (updateUserEncrypted).
    await eventually(
      "the NFT names the new pod's IP",
      async () =>
        decryptConnectionDetails(buyerSignature, await chain.readNft<Hex>('getUserEncrypted', [tokenId]))
          .hostname === after?.status?.podIP,
      120_000,
    );
  }, 300_000);
});
