// Fault injection on the whole flow: the controller manager (its own process) is SIGKILLed right
// after the backend created the VM but before the status write, right after the mint transaction was
// broadcast but before it was recorded, and in the middle of a destroy. A fresh manager then
// finishes the job with exactly one backend VM and one NFT. The backend is the Proxmox API fake: it
// lives in the test process, so it outlives the killed manager as a real Proxmox would.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  subscriptionResourceName,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { adminCredentialMinted, useLocalChain } from '../../harness/chain/host-config.js';
import { buyAsCustomer } from '../../harness/chain/purchase.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { proxmoxSettingsFor } from '../../harness/proxmox/settings.js';

const TEMPLATE_VMID = 9000;

interface ManagerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('crash recovery of the controller manager', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let fake: FakeProxmox;
  let release: () => Promise<void>;
  let current: ManagerProcess | undefined;
  const planName = `crash-${Date.now().toString(36)}`;
  const signature = signMessage(anvilPrivateKey(4), 'blockhost-access');

  const startManager = (crashAt = ''): ManagerProcess => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/controller-manager.ts'], {
      env: {
        ...process.env,
        NAMESPACE: namespace,
        CRASH_AT: crashAt,
        LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    current = { child, exited };
    return current;
  };
  const stopManager = async () => {
    if (!current) return;
    if (current.child.exitCode === null && current.child.signalCode === null) current.child.kill('SIGTERM');
    await current.exited;
    current = undefined;
  };
  const subscription = (id: bigint) =>
    kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), namespace);
  const vmObjects = async () => (await kube.list<VM>(blockhostTypes.vm, { namespace })).items;
  const backendVms = () => fake.vms().filter((vm) => !vm.template);
  const nft = <T>(functionName: string, args: unknown[] = []) => chain.readNft<T>(functionName, args);
  const buy = () => buyAsCustomer(chain, 4, signature);

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'crash');
    fake = await FakeProxmox.start({
      templates: [{ vmid: TEMPLATE_VMID, name: 'debian-12-cloud' }],
      agentDelayMs: 300,
      taskDurationMs: 50,
    });
    await kube.create(coreTypes.secret, {
      metadata: { name: 'pve-token', namespace },
      stringData: { tokenId: DEFAULT_TOKEN.tokenId, secret: DEFAULT_TOKEN.secret },
    } as KubeObject);
    chain = await startLocalChain({ plans: [] });
    await useLocalChain(
      kube,
      namespace,
      chain,
      { confirmations: 1, pollIntervalSeconds: 1 },
      {
        ipv6: { mode: 'none', allocationSize: 64 },
        backend: {
          type: 'proxmox',
          proxmox: proxmoxSettingsFor(fake, TEMPLATE_VMID, {
            tokenSecretRef: { name: 'pve-token' },
            // The fake's certificate is self-signed, as a fresh Proxmox install's is.
            insecureSkipTLSVerify: true,
          }),
        },
      },
    );
    await kube.create(blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: planName },
      spec: { ...examplePlan.spec, size: { cpu: 1, memoryMiB: 1024, diskGiB: 10, image: 'debian-12' } },
    } as Plan);
    // A clean manager puts the plan on chain and mints the admin credential (setup) first: a crash
    // at "broadcast" must hit the subscription's mint.
    startManager();
    await eventually(
      'plan on chain',
      async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
      60_000,
    );
    await adminCredentialMinted(kube);
    await stopManager();
  }, withHostConfigClaimWait(180_000));

  afterAll(async () => {
    if (namespace) {
      startManager();
      await deleteNamespace(kube, namespace).catch(() => undefined);
    }
    await stopManager();
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    await chain?.stop();
    await fake?.stop();
    await release?.();
  }, 180_000);

  it.each(['backendCreated', 'broadcast'])(
    'killed at %s, a restarted manager finishes with one backend VM and one NFT',
    async (crashAt) => {
      const vmsBefore = backendVms().length;
      const supplyBefore = await nft<bigint>('totalSupply');
      const crashing = startManager(crashAt);
      const id = await buy();
      expect(await crashing.exited).toMatchObject({ signal: 'SIGKILL' });

      startManager();
      await eventually('Active', async () => (await subscription(id)).status?.phase === 'Active', 120_000);
      await stopManager();
      expect(backendVms()).toHaveLength(vmsBefore + 1);
      expect(
        (await vmObjects()).filter((vm) => vm.metadata.name === subscriptionResourceName(id)),
      ).toHaveLength(1);
      expect(await nft<bigint>('totalSupply')).toBe(supplyBefore + 1n);
      const [minted, tokenId] = await nft<[boolean, bigint]>('getSubscriptionToken', [id]);
      expect(minted).toBe(true);
      expect((await subscription(id)).status?.nft?.tokenId).toBe(tokenId.toString());
    },
    240_000,
  );

  it('killed in the middle of a destroy, a restarted manager removes the backend VM and lets the VM go', async () => {
    const [target] = await vmObjects();
    const id = BigInt(target!.spec.subscriptionRef!.name.replace(/\D/g, ''));
    const vmid = Number(target!.status?.backendId);
    expect(fake.vm(vmid)).toBeDefined();

    const crashing = startManager('backendDeleteStarted');
    const hash = await chain.deployer.writeContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'cancelSubscription',
      args: [id],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    await chain.anvil.mine(1);
    expect(await crashing.exited).toMatchObject({ signal: 'SIGKILL' });

    startManager();
    await eventually('Cancelled', async () => (await subscription(id)).status?.phase === 'Cancelled', 60_000);
    await eventually(
      'VM object gone',
      async () => !(await vmObjects()).some((vm) => vm.metadata.uid === target!.metadata.uid),
      60_000,
    );
    await stopManager();
    expect(fake.vm(vmid)).toBeUndefined();
    expect(fake.isoVolumes().filter((v) => v.includes(String(vmid)))).toEqual([]);
  }, 240_000);
});
