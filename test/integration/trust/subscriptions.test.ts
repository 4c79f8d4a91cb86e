// Trust boundary: Subscriptions. Only the chain watcher's namespace is acted on; a Subscription
// someone creates in another namespace (the same on-chain facts, or forged ones) makes the
// subscription controller do nothing at all.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ChainServices } from '../../../controllers/chain/services.js';
import { registerSubscriptionController } from '../../../controllers/subscription/controller.js';
import { exampleSubscription } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type Subscription } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../../harness/kube.js';

describe('a Subscription in another namespace', () => {
  let kube: KubeClient;
  let release: string;
  let tenant: string;
  let manager: Manager;
  let running: Promise<unknown>;

  beforeAll(async () => {
    kube = testClient();
    release = await createTestNamespace(kube, 'trust-subs');
    tenant = await createTestNamespace(kube, 'trust-tenant');
    const log = createLogger('trust-subscriptions');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    registerSubscriptionController(manager, new ChainServices(kube, release, log));
    running = manager.start();
  });
  afterAll(async () => {
    manager?.stop();
    await running;
    for (const namespace of [release, tenant]) await deleteNamespace(kube, namespace);
  });

  it('is ignored by the subscription controller, while the watcher namespace one is acted on', async () => {
    // A payload error makes the controller's verdict immediate (Failed) and free of side effects,
    // whatever else the shared cluster holds (HostConfig, Plans).
    const subscription = (namespace: string) =>
      kube.create<Subscription>(blockhostTypes.subscription, {
        ...structuredClone(exampleSubscription),
        metadata: { name: 'blockhost-007', namespace },
        spec: { ...structuredClone(exampleSubscription.spec), payloadError: 'test payload' },
      } as Subscription);
    await subscription(tenant);
    await subscription(release);
    const phase = async (namespace: string) =>
      (await kube.get<Subscription>(blockhostTypes.subscription, 'blockhost-007', namespace)).status?.phase;
    await eventually(
      'the release namespace Subscription judged',
      async () => (await phase(release)) === 'Failed',
    );
    // The controller saw both creations at once; give a wrongly watching one more time anyway.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await phase(tenant)).toBeUndefined();
  });
});
