// Trust boundary: transaction intents. The server key signs only intents this sender wrote; a
// ConfigMap planted under an intent's name (or among the pending ones) is refused, never signed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { encodeFunctionData, keccak256, type Hex } from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { CredentialMinter } from '../../../controllers/chain/credential-minter.js';
import { IntentStore, type Intent } from '../../../controllers/chain/intent-store.js';
import {
  MAX_NONCE_GAP,
  TransactionSender,
  UntrustedIntentError,
} from '../../../controllers/chain/tx-sender.js';
import { Registry } from 'prom-client';
import { ChainMetrics } from '../../../lib/chain/metrics.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { anvilAccount } from '../../harness/chain/anvil.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

describe('forged transaction intents', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  const server = anvilAccount(0);
  const attacker = anvilAccount(5);
  const log = createLogger('trust-intents');
  const metrics = new ChainMetrics(new Registry());
  const refusals = async () =>
    (await metrics.txIntentsRefused.get()).values.reduce((sum, v) => sum + v.value, 0);

  const sender = () =>
    new TransactionSender({
      chain: chain.publicClient,
      chainId: chain.anvil.chainId,
      account: server,
      store: new IntentStore(kube, namespace),
      log,
      metrics,
      // Replace at once: a trusted stuck intent is re-signed by the server key on the first poll.
      stuckAfterMs: 0,
      pollMs: 100,
    });
  const serverNonce = () =>
    chain.publicClient.getTransactionCount({ address: server.address, blockTag: 'pending' });

  /** An intent as someone without the server key can write it: fields claim the server wallet. */
  async function forge(key: string, fields: { to: Hex; data: Hex; nonce: number }, signer = attacker) {
    const fees = await chain.publicClient.estimateFeesPerGas();
    const base = { chainId: chain.anvil.chainId, value: '0', gas: '200000', ...fields };
    const raw = await signer.signTransaction({
      type: 'eip1559',
      chainId: base.chainId,
      nonce: base.nonce,
      to: base.to,
      data: base.data,
      value: 0n,
      gas: 200_000n,
      ...fees,
    });
    const intent: Intent = {
      key,
      ...base,
      from: server.address,
      attempts: [
        {
          hash: keccak256(raw),
          raw,
          maxFeePerGas: String(fees.maxFeePerGas),
          maxPriorityFeePerGas: String(fees.maxPriorityFeePerGas),
          signedAt: '2020-01-01T00:00:00Z',
        },
      ],
      state: 'pending',
    };
    await new IntentStore(kube, namespace).create(intent);
  }

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'trust-intents');
    chain = await startLocalChain();
  });
  afterAll(async () => {
    await chain?.stop();
    await deleteNamespace(kube, namespace);
  });

  it('refuses a forged intent under the next mint key: the server key never signs its withdrawFunds', async () => {
    const { subscriptionId } = await chain.buy(1);
    const key = CredentialMinter.intentKey(chain.anvil.chainId, chain.deployment.nft, subscriptionId);
    const nonce = await serverNonce();
    await forge(key, {
      to: chain.deployment.subscriptions,
      data: encodeFunctionData({
        abi: BlockhostSubscriptionsAbi,
        functionName: 'withdrawFunds',
        args: [chain.deployment.stablecoin, attacker.address],
      }),
      nonce,
    });
    const minter = new CredentialMinter(
      sender(),
      chain.publicClient,
      chain.anvil.chainId,
      chain.deployment.nft,
    );
    const before = await refusals();
    const mint = minter.mint(subscriptionId, chain.wallet(1).account.address, '0x1234');
    await expect(mint).rejects.toThrow(UntrustedIntentError);
    // The operator's alert: blockhost_tx_intents_refused_total counts it.
    expect(await refusals()).toBeGreaterThan(before);
    // Give a (wrongly) trusting sender time to replace and broadcast: nothing left the server wallet.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await serverNonce()).toBe(nonce);
  });

  it('ignores a forged pending intent with a huge nonce: the next transaction takes the real nonce', async () => {
    const nonce = await serverNonce();
    await forge('forged:stall', { to: chain.deployment.nft, data: '0x', nonce: 1_000_000 });
    const before = await refusals();
    const intent = await sender().submit('trust:after-stall', {
      to: chain.deployment.nft,
      data: encodeFunctionData({ abi: AccessCredentialNFTAbi, functionName: 'totalSupply' }),
    });
    expect(intent.nonce).toBe(nonce);
    expect(await refusals()).toBeGreaterThan(before);
  });

  it('ignores even a server-signed pending intent far above the pending nonce', async () => {
    const nonce = await serverNonce();
    await forge(
      'forged:far-ahead',
      { to: chain.deployment.nft, data: '0x', nonce: nonce + MAX_NONCE_GAP + 10 },
      server,
    );
    const intent = await sender().submit('trust:after-far-ahead', {
      to: chain.deployment.nft,
      data: encodeFunctionData({ abi: AccessCredentialNFTAbi, functionName: 'totalSupply' }),
    });
    expect(intent.nonce).toBe(nonce);
  });
});
