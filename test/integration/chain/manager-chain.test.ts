import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  subscriptionResourceName,
  type Plan,
  type Subscription,
} from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { freePort } from '../../harness/processes.js';
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

describe('controller manager with a chain', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let manager: ChildProcess;
  let release: () => Promise<void>;
  let metricsUrl: string;
  const planName = `e2e-${Date.now().toString(36)}`;

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'e2e-chain');
    chain = await startLocalChain();
    await useLocalChain(kube, namespace, chain, { confirmations: 1, pollIntervalSeconds: 1 });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    manager = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'controllers/main.ts',
        `--health-port=${port}`,
        '--health-host=127.0.0.1',
        `--leader-election-namespace=${namespace}`,
      ],
      {
        env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
        stdio: 'inherit',
      },
    );
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    manager?.kill('SIGTERM');
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    await chain?.stop();
    await deleteNamespace(kube, namespace);
    await release?.();
  });

  it('mirrors a purchase into a Subscription and syncs a Plan, from the HostConfig alone', async () => {
    await kube.create(blockhostTypes.plan, {
      ...structuredClone(examplePlan),
      metadata: { name: planName },
      status: undefined,
    } as unknown as Plan);
    const bought = await chain.buy(2, { userEncrypted: '0xabcdef' });
    await chain.anvil.mine(1);
    const name = subscriptionResourceName(bought.subscriptionId);
    await eventually(
      'subscription mirrored',
      async () =>
        kube.get<Subscription>(blockhostTypes.subscription, name, namespace).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    const subscription = await kube.get<Subscription>(blockhostTypes.subscription, name, namespace);
    expect(subscription.spec).toMatchObject({
      subscriber: chain.wallet(2).account.address,
      userEncrypted: '0xabcdef',
    });
    await eventually(
      'plan synced',
      async () => Boolean((await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId),
      60_000,
    );
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(
      /blockhost_chain_events_ingested_total\{chain_id="31337",event="SubscriptionCreated"\} 1/,
    );
    expect(metrics).toMatch(/blockhost_chain_processed_block\{chain_id="31337"\} [1-9]/);
  });
});
