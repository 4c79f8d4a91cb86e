import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { ChainServices } from '../../../controllers/chain/services.js';
import { registerPlanController } from '../../../controllers/plan/controller.js';
import { blockhostTypes, type Plan } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { findCondition } from '../../../lib/runtime/conditions.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { updateStatus } from '../../../lib/runtime/status.js';
import { useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';

describe('plan controller', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let manager: Manager;
  let running: Promise<unknown>;
  let release: () => Promise<void>;
  const planName = `plan-test-${Date.now().toString(36)}`;

  const onChain = (id: bigint) =>
    chain.publicClient.readContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'getPlan',
      args: [id],
    });
  const planCount = () =>
    chain.publicClient.readContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'getTotalPlanCount',
    });
  const plan = () => kube.get<Plan>(blockhostTypes.plan, planName);

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'plans');
    chain = await startLocalChain();
    await useLocalChain(kube, namespace, chain);
    const log = createLogger('plan-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    registerPlanController(manager, new ChainServices(kube, namespace, log));
    running = manager.start();
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    await chain?.stop();
    await deleteNamespace(kube, namespace);
    await release?.();
  });

  it('creates the on-chain plan and records its id and a Synced condition', async () => {
    const plansBefore = await planCount();
    await kube.create<Plan>(blockhostTypes.plan, {
      apiVersion: 'blockhost.io/v1alpha1',
      kind: 'Plan',
      metadata: { name: planName },
      spec: {
        displayName: 'Big VM',
        priceUsdCentsPerDay: 120,
        active: true,
        size: { cpu: 2, memoryMiB: 4096, diskGiB: 40 },
      },
    } as Plan);
    await eventually(
      'plan synced',
      async () => findCondition((await plan()).status?.conditions, 'Synced')?.status === 'True',
    );
    const stored = await plan();
    const id = BigInt(stored.status!.onChainPlanId!);
    expect(id).toBe(plansBefore + 1n);
    expect(stored.status).toMatchObject({
      chainId: chain.anvil.chainId,
      syncedName: 'Big VM',
      syncedPriceUsdCentsPerDay: 120,
      syncedActive: true,
    });
    expect(await onChain(id)).toEqual(['Big VM', 120n, true]);
  });

  it('updates name, price and active flag when the spec changes', async () => {
    await kube.patch(
      blockhostTypes.plan,
      planName,
      undefined,
      { spec: { displayName: 'Bigger VM', priceUsdCentsPerDay: 150, active: false } },
      'merge',
    );
    const id = BigInt((await plan()).status!.onChainPlanId!);
    await eventually(
      'chain updated',
      async () =>
        JSON.stringify(await onChain(id), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) ===
        '["Bigger VM",150,false]',
    );
    await eventually(
      'status follows',
      async () =>
        (await plan()).status?.syncedName === 'Bigger VM' && (await plan()).status?.observedGeneration === 2,
    );
  });

  it('never creates a second on-chain plan, even when the recorded id is lost', async () => {
    const count = await planCount();
    const id = (await plan()).status!.onChainPlanId;
    // As if the controller had crashed after createPlan was mined but before the id was stored.
    await updateStatus<Plan>(kube, blockhostTypes.plan, { name: planName }, (latest) => {
      latest.status = { conditions: latest.status?.conditions };
    });
    await eventually('id recorded again', async () => (await plan()).status?.onChainPlanId === id);
    expect(await planCount()).toBe(count);
  });

  it('reports a Plan it cannot sync yet with a reason', async () => {
    // The same Plan with the wallet Secret gone: Synced False, ChainNotReady.
    await kube.delete(coreTypes.secret, 'blockhost-server-wallet', namespace);
    await kube.patch(
      blockhostTypes.plan,
      planName,
      undefined,
      { spec: { priceUsdCentsPerDay: 99 } },
      'merge',
    );
    await eventually(
      'not ready reported',
      async () => findCondition((await plan()).status?.conditions, 'Synced')?.reason === 'ChainNotReady',
    );
    expect(findCondition((await plan()).status?.conditions, 'Synced')?.message).toMatch(
      /blockhost-server-wallet does not exist/,
    );
  });
});
