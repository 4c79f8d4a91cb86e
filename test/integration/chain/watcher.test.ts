import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { extendSubscription } from '../../../contracts/deploy.js';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { ChainWatcher, type ChainWatcherConfig } from '../../../controllers/chain/watcher.js';
import {
  blockhostTypes,
  subscriptionResourceName,
  type Subscription,
} from '../../../lib/api/v1alpha1/index.js';
import { ChainMetrics } from '../../../lib/chain/metrics.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { encryptUserSignature, publicKeyFromPrivateKey, signMessage } from '../../../lib/crypto/index.js';
import { decryptKey } from '../../../controllers/wallet/keys.js';
import { anvilPrivateKey } from '../../harness/chain/anvil.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

const CONFIRMATIONS = 3;

describe('chain watcher', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let config: ChainWatcherConfig;
  const log = createLogger('watcher-test');

  const watcher = (metrics?: ChainMetrics) => new ChainWatcher(kube, config, log, metrics);
  const subscriptions = async () =>
    (await kube.list<Subscription>(blockhostTypes.subscription, { namespace })).items.sort(
      (a, b) => Number(a.spec.subscriptionId) - Number(b.spec.subscriptionId),
    );
  const buy = (buyer: number, days = 30n, userEncrypted: `0x${string}` = '0x1234') =>
    chain.buy(buyer, { days, userEncrypted });

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(client(), 'watcher');
    chain = await startLocalChain();
    config = {
      chainId: chain.anvil.chainId,
      endpoints: [chain.anvil.rpcUrl],
      contracts: { subscriptions: chain.deployment.subscriptions, nft: chain.deployment.nft },
      confirmations: CONFIRMATIONS,
      startBlock: chain.deployment.deployBlock,
      namespace,
      pollIntervalMs: 200,
    };
  });
  const client = () => kube;

  afterAll(async () => {
    await chain?.stop();
    await deleteNamespace(kube, namespace);
  });

  it('stores confirmed purchases only, with the on-chain facts', async () => {
    const first = await buy(1);
    await buy(2, 7n, `0x04${'ab'.repeat(224)}`);
    await watcher().catchUp();
    // Still within the confirmations: nothing yet.
    expect(await subscriptions()).toHaveLength(0);

    await chain.anvil.mine(CONFIRMATIONS);
    const metrics = new ChainMetrics(new Registry());
    await watcher(metrics).catchUp();
    const stored = await subscriptions();
    expect(stored.map((s) => s.metadata.name)).toEqual([
      subscriptionResourceName(1),
      subscriptionResourceName(2),
    ]);
    const [one] = stored;
    expect(one?.spec).toMatchObject({
      chainId: chain.anvil.chainId,
      contract: chain.deployment.subscriptions,
      subscriptionId: '1',
      planId: '1',
      subscriber: chain.wallet(1).account.address,
      expiresAt: new Date(Number(first.expiresAt) * 1000).toISOString().replace('.000Z', 'Z'),
      userEncrypted: '0x1234',
      cancelled: false,
      removedByReorg: false,
      source: { txHash: first.receipt.transactionHash, blockNumber: Number(first.receipt.blockNumber) },
    });
    expect(stored[1]?.spec.userEncrypted).toBe(`0x04${'ab'.repeat(224)}`);
    expect(
      (await metrics.eventsIngested.get()).values.find((v) => v.labels.event === 'SubscriptionCreated')
        ?.value,
    ).toBe(2);
  });

  it('follows extensions and cancellations to the contract’s absolute expiry', async () => {
    const extended = await extendSubscription({
      publicClient: chain.publicClient,
      walletClient: chain.wallet(3),
      subscriptions: chain.deployment.subscriptions,
      subscriptionId: 1n,
      days: 10n,
    });
    const cancel = await chain.deployer.writeContract({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'cancelSubscription',
      args: [2n],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash: cancel });
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher().catchUp();
    const [one, two] = await subscriptions();
    expect(one?.spec.expiresAt).toBe(
      new Date(Number(extended.newExpiresAt) * 1000).toISOString().replace('.000Z', 'Z'),
    );
    expect(one?.spec.lastEvent?.kind).toBe('SubscriptionExtended');
    expect(two?.spec.cancelled).toBe(true);
    expect(two?.spec.lastEvent?.kind).toBe('SubscriptionCancelled');
  });

  it('stores an oversized payload as a recorded error and carries on with later events', async () => {
    await buy(1, 30n, `0x${'ff'.repeat(2000)}`);
    await buy(2);
    await chain.anvil.mine(CONFIRMATIONS);
    await watcher().catchUp();
    const stored = await subscriptions();
    expect(stored).toHaveLength(4);
    expect(stored[2]?.spec.userEncrypted).toBe('0x');
    expect(stored[2]?.spec.payloadError).toMatch(/2000 bytes; at most 1024/);
    expect(stored[3]?.spec.payloadError).toBeUndefined();
  });

  it('records payloads the server key cannot decrypt, and accepts ones it can', async () => {
    const serverKey = anvilPrivateKey(0);
    const signature = signMessage(anvilPrivateKey(1), 'blockhost-access');
    await buy(1, 30n, encryptUserSignature(publicKeyFromPrivateKey(serverKey), signature) as `0x${string}`);
    await buy(2, 30n, `0x04${'00'.repeat(120)}`);
    await chain.anvil.mine(CONFIRMATIONS);
    await new ChainWatcher(kube, { ...config, decrypt: decryptKey(serverKey) }, log).catchUp();
    const stored = await subscriptions();
    expect(stored).toHaveLength(6);
    expect(stored[4]?.spec.payloadError).toBeUndefined();
    expect(stored[5]?.spec.payloadError).toMatch(
      /cannot be decrypted with the server key \(INVALID_EPHEMERAL_KEY\)/,
    );
  });
});
