// Suspend and destroy act only on an expiry confirmed at head - confirmations (and, with several
// endpoints, agreed by a quorum), judged by a block timestamp the host clock can believe. Real
// control plane and anvil; the endpoints are RPC fault proxies, the first of which lies (the chain
// watcher's failover client asks it first, so its lies reach the stored Subscription).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Counter } from 'prom-client';
import type { Hex } from 'viem';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { ChainServices } from '../../../controllers/chain/services.js';
import { chainWatcherRunnable } from '../../../controllers/chain/watcher-runnable.js';
import { registerPlanController } from '../../../controllers/plan/controller.js';
import { registerSubscriptionController } from '../../../controllers/subscription/controller.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  subscriptionResourceName,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import { encryptUserSignature, publicKeyFromPrivateKey, signMessage } from '../../../lib/crypto/index.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { CountingKubeClient } from '../../bench/counting-client.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { RpcFaultProxy } from '../../harness/chain/rpc-fault-proxy.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import { forgedExpiry, forgedTimestamps } from './lies.js';

const DAY_S = 86_400;
const CONFIRMATIONS = 2;
const kube = testClient();

describe('suspend and destroy on confirmed chain facts only', () => {
  let namespace: string;
  let chain: LocalChain;
  let liar: RpcFaultProxy;
  let honest: RpcFaultProxy[];
  let manager: Manager;
  let counting: CountingKubeClient;
  let running: Promise<unknown>;
  let release: () => Promise<void>;
  const planName = `trust-${Date.now().toString(36)}`;
  const payload = encryptUserSignature(
    publicKeyFromPrivateKey(anvilPrivateKey(0)),
    signMessage(anvilPrivateKey(4), 'blockhost-access'),
  ) as Hex;

  const get = (id: bigint) =>
    kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), namespace);
  const vm = (id: bigint) =>
    kube.get<VM>(blockhostTypes.vm, subscriptionResourceName(id), namespace).catch(() => undefined);
  const condition = async (id: bigint, type: string) =>
    (await get(id)).status?.conditions?.find((c) => c.type === type);
  const touch = (id: bigint) =>
    kube.patch(
      blockhostTypes.subscription,
      subscriptionResourceName(id),
      namespace,
      { metadata: { annotations: { 'test/touch': String(Date.now()) } } },
      'merge',
    );
  /** Several reconciles, with time between them for a controller that would stop or delete. */
  const reconcileSeveralTimes = async (id: bigint) => {
    for (let i = 0; i < 3; i++) {
      await touch(id);
      await new Promise((resolve) => setTimeout(resolve, 800));
    }
  };
  const useEndpoints = (endpoints: RpcFaultProxy[]) =>
    kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { spec: { chain: { rpcEndpoints: endpoints.map((p) => p.url) } } },
      'merge',
    );
  const buy = async (days: bigint) => {
    const { subscriptionId } = await chain.buy(4, { planId: 1n, days, userEncrypted: payload });
    return subscriptionId;
  };
  const warnings = async (id: bigint) =>
    (
      await kube.list<KubeObject & { type?: string; reason?: string; regarding?: { name?: string } }>(
        coreTypes.event,
        { namespace },
      )
    ).items
      .filter((e) => e.regarding?.name === subscriptionResourceName(id) && e.type === 'Warning')
      .map((e) => e.reason);
  const refusals = async (check: string) => {
    const metric = manager.metrics.registry.getSingleMetric(
      'blockhost_chain_trust_refusals_total',
    ) as Counter;
    return (await metric.get()).values.find((v) => v.labels.check === check)?.value ?? 0;
  };

  beforeAll(async () => {
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'chain-trust');
    chain = await startLocalChain({ plans: [] });
    liar = await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 11 });
    honest = [
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 12 }),
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 13 }),
    ];
    await useLocalChain(kube, namespace, chain, {
      confirmations: CONFIRMATIONS,
      pollIntervalSeconds: 1,
      rpcEndpoints: [liar, ...honest].map((p) => p.url),
    });
    await kube.create(blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: planName },
      spec: examplePlan.spec,
    } as Plan);
    const log = createLogger('chain-trust-test');
    counting = new CountingKubeClient(kube.kubeConfig);
    manager = new Manager({ client: counting, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    const services = new ChainServices(counting, namespace, log);
    registerPlanController(manager, services);
    // No test clock: chain time is the chain's (ChainClock), as in production.
    registerSubscriptionController(manager, services);
    // The watcher's own requests (checkpoint, context checks) are not counted: it has its own client.
    manager.addRunnable('chain-watcher', chainWatcherRunnable(new ChainServices(kube, namespace, log), log));
    running = manager.start();
    await eventually(
      'plan on chain',
      async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
      60_000,
    );
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    for (const proxy of [liar, ...(honest ?? [])]) await proxy?.close();
    await chain?.stop();
    if (namespace) await deleteNamespace(kube, namespace);
    await release?.();
  });

  let lied: bigint;

  it('a lying endpoint (one of three) that says the subscription expired long ago destroys nothing', async () => {
    liar.lie = forgedExpiry(chain.deployment.subscriptions);
    lied = await buy(30n);
    // The watcher asked the liar: the stored expiry is its lie, past any grace period.
    await eventually(
      'the lie stored',
      async () => (await get(lied).catch(() => undefined))?.spec.expiresAt.startsWith('1970') ?? false,
      60_000,
    );
    await eventually('VM created', async () => (await vm(lied)) !== undefined, 60_000);
    await reconcileSeveralTimes(lied);
    expect((await vm(lied))?.spec.runStrategy).toBe('Always');
    expect((await vm(lied))?.metadata.deletionTimestamp).toBeUndefined();
    await eventually(
      'reported',
      async () => (await condition(lied, 'ExpiryConfirmed'))?.reason === 'NotYetConfirmed',
    );
    expect((await condition(lied, 'ExpiryConfirmed'))?.message).toMatch(
      /2 blocks deep, 2 of 3 endpoints agreeing/,
    );
    await eventually('Warning Event', async () => (await warnings(lied)).includes('NotYetConfirmed'));
    expect(await refusals('expiry')).toBeGreaterThan(0);
  });

  it('with two endpoints that disagree nothing changes: the VM is neither stopped nor deleted', async () => {
    await useEndpoints([liar, honest[0]!]);
    await eventually(
      'no quorum reported',
      async () => {
        await touch(lied);
        return (await condition(lied, 'ExpiryConfirmed'))?.reason === 'NoQuorum';
      },
      30_000,
    );
    await reconcileSeveralTimes(lied);
    const kept = await vm(lied);
    expect(kept?.spec.runStrategy).toBe('Always');
    expect(kept?.metadata.deletionTimestamp).toBeUndefined();
    const status = (await get(lied)).status!;
    expect(status.reason).toBe('ExpiryUnconfirmed');
    expect(status.message).toMatch(/2 different answers came back \(1 \/ 1\); 2 of 2 endpoints must agree/);
  });

  it('a forged future timestamp (the only endpoint) expires and destroys nothing', async () => {
    liar.lie = forgedTimestamps(10 * DAY_S); // past a 1-day subscription and its 7-day grace
    await useEndpoints([liar]);
    const day = await buy(1n);
    await eventually('VM created', async () => (await vm(day)) !== undefined, 60_000);
    await reconcileSeveralTimes(day);
    expect((await vm(day))?.spec.runStrategy).toBe('Always');
    expect((await get(day)).status?.phase).not.toMatch(/Suspended|Expired/);
    const trusted = await condition(day, 'ChainTimeTrusted');
    expect(trusted).toMatchObject({ status: 'False', reason: 'BlockTimestampAhead' });
    expect(trusted?.message).toMatch(/more than 300 s ahead of the host clock; they are not believed/);
    expect(await warnings(day)).toContain('BlockTimestampAhead');
    expect(await refusals('block_time')).toBeGreaterThan(0);
    // The earlier subscription (its stored expiry still the lie) is not confirmed by a forged block either.
    await reconcileSeveralTimes(lied);
    expect((await vm(lied))?.metadata.deletionTimestamp).toBeUndefined();
    liar.lie = undefined;
  });

  it('a cancellation the chain does not have at head - confirmations (one endpoint) deletes nothing; a confirmed one does', async () => {
    await useEndpoints([honest[0]!]);
    const id = await buy(30n);
    await eventually('VM created', async () => (await vm(id)) !== undefined, 60_000);
    // As a watcher would store it from a block that was then reorged away.
    await kube.patch(
      blockhostTypes.subscription,
      subscriptionResourceName(id),
      namespace,
      { spec: { cancelled: true } },
      'merge',
    );
    await eventually('reported', async () => {
      await touch(id);
      return (await condition(id, 'ExpiryConfirmed'))?.reason === 'NotYetConfirmed';
    });
    await reconcileSeveralTimes(id);
    expect((await vm(id))?.metadata.deletionTimestamp).toBeUndefined();
    expect((await vm(id))?.spec.runStrategy).toBe('Always');

    // The real cancellation, once buried under the confirmations, is acted on.
    const hash = await chain.deployer.writeContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'cancelSubscription',
      args: [id],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    await eventually(
      'VM deleted after the confirmed cancellation',
      async () => {
        const current = await vm(id);
        return current === undefined || current.metadata.deletionTimestamp !== undefined;
      },
      60_000,
    );
    // The status is written after the delete it reports.
    await eventually(
      'ExpiryConfirmed True',
      async () => (await condition(id, 'ExpiryConfirmed'))?.status === 'True',
      30_000,
    );
  });

  it('adds no Kubernetes API request to a reconcile', async () => {
    // A healthy subscription (confirmed, running) and one whose expiry is refused (no quorum).
    const ok = await buy(30n);
    await eventually('VM created', async () => (await vm(ok)) !== undefined, 60_000);
    const perReconcile = async (id: bigint) => {
      // Settle first: one-time transitions (a condition clearing) are not per-reconcile costs.
      await reconcileSeveralTimes(id);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      counting.reset();
      for (let i = 0; i < 10; i++) {
        await touch(id);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      const { requests } = counting.snapshot();
      // Only the subscription controller's own: the watcher and plan controller are counted apart.
      const mine = Object.entries(requests).filter(([key]) => !/configmaps|plans/.test(key));
      const reconciles = requests['get hostconfigs'] ?? 0;
      const total = mine.reduce((sum, [, n]) => sum + n, 0);
      return { reconciles, total, perReconcile: total / reconciles, requests: Object.fromEntries(mine) };
    };
    const healthy = await perReconcile(ok);
    await useEndpoints([liar, honest[0]!]);
    liar.lie = forgedExpiry(chain.deployment.subscriptions);
    await eventually('refused', async () => {
      await touch(lied);
      return (await condition(lied, 'ExpiryConfirmed'))?.reason === 'NoQuorum';
    });
    const refused = await perReconcile(lied);
    console.log(
      `API requests per reconcile: healthy ${JSON.stringify(healthy)}; refused ${JSON.stringify(refused)}`,
    );
    expect(healthy.reconciles).toBeGreaterThanOrEqual(5);
    expect(refused.reconciles).toBeGreaterThanOrEqual(5);
    // What every reconcile makes without these checks: the chain context (the HostConfig and the
    // two key Secrets, deployer and decrypt); the Subscription comes from the informer cache and its
    // status is written only on a change.
    const perReconcileBaseline = { 'get hostconfigs': 1, 'get secrets': 2 };
    // A reconcile already running when counting starts or still running when it ends is counted in
    // part, so each kind may be one reconcile's worth off; one more request per reconcile would be
    // ten more.
    for (const measured of [healthy, refused]) {
      expect(Object.keys(measured.requests).sort()).toEqual(Object.keys(perReconcileBaseline));
      for (const [kind, count] of Object.entries(measured.requests)) {
        const each = perReconcileBaseline[kind as keyof typeof perReconcileBaseline];
        expect(Math.abs(count - each * measured.reconciles)).toBeLessThanOrEqual(each);
      }
    }
  });
});
