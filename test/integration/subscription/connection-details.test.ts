// Connection details stay true (issue 13 item 3): when a VM's reachable address changes, the NFT's
// userEncrypted is re-encrypted and updated on-chain exactly once, and nobody else can trigger it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { Hex } from 'viem';
import { extendSubscription } from '../../../contracts/deploy.js';
import { CredentialUpdater } from '../../../controllers/chain/credential-updater.js';
import { IntentStore } from '../../../controllers/chain/intent-store.js';
import { ChainServices } from '../../../controllers/chain/services.js';
import { chainWatcherRunnable } from '../../../controllers/chain/watcher-runnable.js';
import { registerPlanController } from '../../../controllers/plan/controller.js';
import { registerSubscriptionController } from '../../../controllers/subscription/controller.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  subscriptionResourceName,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import {
  decryptConnectionDetails,
  encryptUserSignature,
  publicKeyFromPrivateKey,
  signMessage,
} from '../../../lib/crypto/index.js';
import { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { updateStatus } from '../../../lib/runtime/status.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';

type Event = KubeObject & { reason?: string; regarding?: { name?: string } };

describe("the NFT's connection details follow the VM's address", () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let manager: Manager;
  let running: Promise<unknown>;
  let release: () => Promise<void>;
  let subscriptionId: bigint;
  let tokenId: string;
  /** Set to make the next broadcast throw right after it (the reconcile is abandoned there). */
  let crashAfterNextBroadcast = false;
  /** The subscription controller's clock runs this far ahead of the host's (expiry without waiting days). */
  let clockOffsetMs = 0;
  const DAY_MS = 86_400_000;
  const planName = `conn-${Date.now().toString(36)}`;
  const server = anvilPrivateKey(0);
  const buyerSignature = signMessage(anvilPrivateKey(4), 'blockhost-access');

  const name = () => subscriptionResourceName(subscriptionId);
  const get = () => kube.get<Subscription>(blockhostTypes.subscription, name(), namespace);
  const nonce = () => chain.publicClient.getTransactionCount({ address: chain.deployer.account.address });
  const nftNames = async () =>
    decryptConnectionDetails(buyerSignature, await chain.readNft<Hex>('getUserEncrypted', [BigInt(tokenId)]))
      .hostname;
  const vmAt = (ipv4: string) =>
    updateStatus<VM>(kube, blockhostTypes.vm, { name: name(), namespace }, (latest) => {
      latest.status = { phase: 'Running', guestAgentConnected: true, addresses: { ipv4 } };
    });
  const recorded = async () => (await get()).status?.nft?.hostname;
  /** Nudges a reconcile now (instead of waiting up to a minute for the expiry timer). */
  const touch = () =>
    kube.patch(
      blockhostTypes.subscription,
      name(),
      namespace,
      { metadata: { annotations: { 'test/touch': String(Date.now()) } } },
      'merge',
    );
  /** Several reconciles' worth of time in which nothing may be sent. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 4000));

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'conn');
    chain = await startLocalChain({ plans: [] });
    await useLocalChain(kube, namespace, chain, { confirmations: 1, pollIntervalSeconds: 1 });
    await kube.create(blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: planName },
      spec: examplePlan.spec,
    } as Plan);
    const log = createLogger('connection-details-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    const services = new ChainServices(kube, namespace, log, undefined, (step) => {
      if (step === 'broadcast' && crashAfterNextBroadcast) {
        crashAfterNextBroadcast = false;
        throw new Error('injected crash right after the broadcast');
      }
    });
    registerPlanController(manager, services);
    registerSubscriptionController(manager, services, { now: () => Date.now() + clockOffsetMs });
    manager.addRunnable('chain-watcher', chainWatcherRunnable(services, log));
    running = manager.start();
    await eventually(
      'plan on chain',
      async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
      60_000,
    );

    const userEncrypted = encryptUserSignature(publicKeyFromPrivateKey(server), buyerSignature) as Hex;
    ({ subscriptionId } = await chain.buy(4, { planId: 1n, days: 30n, userEncrypted }));
    await chain.anvil.mine(1);
    await eventually(
      'VM created',
      () =>
        kube.get<VM>(blockhostTypes.vm, name(), namespace).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    await vmAt('192.168.122.201');
    await eventually('Active', async () => (await get()).status?.phase === 'Active', 60_000);
    tokenId = (await get()).status!.nft!.tokenId!;
    // After the mint the controller reads back what the NFT carries.
    await eventually('NFT recorded', async () => (await recorded()) === '192.168.122.201', 30_000);
  }, withHostConfigClaimWait(180_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    await chain?.stop();
    await deleteNamespace(kube, namespace);
    await release?.();
  });

  it('a re-IP sends exactly one updateUserEncrypted, and the NFT decrypts to the new address', async () => {
    expect(await nftNames()).toBe('192.168.122.201');
    const before = await nonce();
    await vmAt('192.168.122.202');
    await eventually('NFT updated', async () => (await recorded()) === '192.168.122.202', 30_000);
    expect(await nftNames()).toBe('192.168.122.202');
    const { status } = await get();
    expect(status?.nft?.updates).toBe(1);
    // Updated, then Current on the next reconcile.
    expect(status?.conditions?.find((c) => c.type === 'ConnectionDetailsCurrent')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('names 192.168.122.202'),
    });
    const events = (await kube.list<Event>(coreTypes.event, { namespace })).items;
    expect(events.some((e) => e.reason === 'ConnectionDetailsUpdated' && e.regarding?.name === name())).toBe(
      true,
    );
    await settle();
    expect(await nonce()).toBe(before + 1);
  });

  it('a reconcile abandoned right after the broadcast still sends one transaction', async () => {
    const before = await nonce();
    crashAfterNextBroadcast = true;
    await vmAt('192.168.122.203');
    await eventually('NFT updated', async () => (await recorded()) === '192.168.122.203', 60_000);
    expect(crashAfterNextBroadcast).toBe(false); // the crash did happen
    expect(await nftNames()).toBe('192.168.122.203');
    await settle();
    expect(await nonce()).toBe(before + 1);
    const key = CredentialUpdater.intentKey(
      chain.anvil.chainId,
      chain.deployment.nft,
      tokenId,
      1,
      '192.168.122.203',
    );
    expect((await new IntentStore(kube, namespace).get(key))?.attempts).toHaveLength(1);
  });

  it('moving back to an earlier address is a new update too', async () => {
    const before = await nonce();
    await vmAt('192.168.122.202');
    await eventually('NFT updated', async () => (await recorded()) === '192.168.122.202', 30_000);
    expect(await nftNames()).toBe('192.168.122.202');
    await settle();
    expect(await nonce()).toBe(before + 1);
  });

  it('the web server (or a namespace user with its VM rights) cannot move the address the NFT names', async () => {
    // A service account with exactly the web server's rights on VMs (charts/blockhost/templates/web/rbac.yaml).
    const sa = 'web-like';
    await kube.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
      body: { metadata: { name: sa } },
    });
    await kube.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, {
      body: {
        metadata: { name: sa },
        rules: [
          {
            apiGroups: ['blockhost.io'],
            resources: ['vms'],
            verbs: ['get', 'list', 'watch', 'patch', 'delete'],
          },
        ],
      },
    });
    await kube.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
      body: {
        metadata: { name: sa },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
      },
    });
    const { status } = await kube.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`,
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } },
    );
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [kube.kubeConfig.getCurrentCluster()!],
      users: [{ name: sa, token: status.token }],
      contexts: [{ name: sa, cluster: kube.kubeConfig.getCurrentCluster()!.name, user: sa }],
      currentContext: sa,
    });
    const web = new KubeClient(config);
    const before = await nonce();
    const forged = {
      status: { phase: 'Running', guestAgentConnected: true, addresses: { ipv4: '203.0.113.66' } },
    };

    // The status subresource is not theirs to write...
    await expect(
      web.patch(blockhostTypes.vm, name(), namespace, forged, 'merge', { subresource: 'status' }),
    ).rejects.toMatchObject({ status: 403 });
    // ...and status in a patch of the object itself is dropped by the API server.
    await web.patch(blockhostTypes.vm, name(), namespace, forged, 'merge');
    const vm = await kube.get<VM>(blockhostTypes.vm, name(), namespace);
    expect(vm.status?.addresses?.ipv4).toBe('192.168.122.202');
    // Nor can they write the Subscription's record of what the NFT names.
    await expect(
      web.patch(
        blockhostTypes.subscription,
        name(),
        namespace,
        { status: { nft: { tokenId, hostname: 'x', updates: 0 } } },
        'merge',
        { subresource: 'status' },
      ),
    ).rejects.toMatchObject({ status: 403 });

    await settle();
    expect(await nonce()).toBe(before);
    expect(await nftNames()).toBe('192.168.122.202');
    expect(await recorded()).toBe('192.168.122.202');
  });

  it('an extension after the grace period re-creates the VM elsewhere: one update to its new address', async () => {
    const expiresAt = Date.parse((await get()).spec.expiresAt);
    clockOffsetMs = expiresAt - Date.now() + 8 * DAY_MS;
    await touch();
    await eventually(
      'expired and VM deleted',
      async () =>
        (await get()).status?.phase === 'Expired' &&
        !(await kube.get<VM>(blockhostTypes.vm, name(), namespace).then(
          () => true,
          () => false,
        )),
      60_000,
    );
    const before = await nonce();
    await extendSubscription({
      publicClient: chain.publicClient,
      walletClient: chain.wallet(5),
      subscriptions: chain.deployment.subscriptions,
      subscriptionId,
      days: 60n,
    });
    await chain.anvil.mine(1);
    await eventually(
      'VM re-created',
      () =>
        kube.get<VM>(blockhostTypes.vm, name(), namespace).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    await vmAt('192.168.122.210');
    await eventually('NFT updated', async () => (await recorded()) === '192.168.122.210', 60_000);
    expect(await nftNames()).toBe('192.168.122.210');
    expect((await get()).status?.phase).toBe('Active');
    await settle();
    // The extension was paid from another wallet: the server wallet sent only the update.
    expect(await nonce()).toBe(before + 1);
    clockOffsetMs = 0;
  });
});
