import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { encodeFunctionData } from 'viem';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { CredentialMinter } from '../../../controllers/chain/credential-minter.js';
import { IntentStore } from '../../../controllers/chain/intent-store.js';
import { TransactionSender } from '../../../controllers/chain/tx-sender.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';

const run = promisify(execFile);

describe('transaction sender', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  const server = anvilAccount(0);

  const nonce = () => chain.publicClient.getTransactionCount({ address: server.address });
  const tokensOf = async (subscriptionId: bigint) => {
    const [minted, tokenId] = await chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getSubscriptionToken',
      args: [subscriptionId],
    });
    const total = await chain.publicClient.readContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'totalSupply',
    });
    return { minted, tokenId, total };
  };
  const buy = async () => (await chain.buy(1)).subscriptionId;

  /** Runs the mint in a child process that SIGKILLs itself at `crashAt` (or completes). */
  const mintProcess = (subscriptionId: bigint, crashAt = '') =>
    run(process.execPath, ['--import', 'tsx', 'test/fixtures/mint-once.ts'], {
      env: {
        ...process.env,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        CRASH_AT: crashAt,
        CHAIN_ID: String(chain.anvil.chainId),
        RPC_URL: chain.anvil.rpcUrl,
        NFT: chain.deployment.nft,
        SERVER_KEY: anvilPrivateKey(0),
        NAMESPACE: namespace,
        SUBSCRIPTION_ID: String(subscriptionId),
        TO: chain.wallet(1).account.address,
      },
    });

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'sender');
    chain = await startLocalChain();
  });
  afterAll(async () => {
    await chain?.stop();
    await deleteNamespace(kube, namespace);
  });

  it.each(['signed', 'persisted', 'broadcast'])(
    'a sender killed after it %s the mint mints exactly one NFT after restart',
    async (crashAt) => {
      const subscriptionId = await buy();
      const before = await tokensOf(subscriptionId);
      const nonceBefore = await nonce();
      await expect(mintProcess(subscriptionId, crashAt)).rejects.toMatchObject({ signal: 'SIGKILL' });

      const { stdout } = await mintProcess(subscriptionId);
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { tokenId: string };
      const after = await tokensOf(subscriptionId);
      expect(after.minted).toBe(true);
      expect(after.tokenId.toString()).toBe(result.tokenId);
      expect(after.total).toBe(before.total + 1n);
      // Exactly one transaction left the server wallet for this logical mint.
      expect(await nonce()).toBe(nonceBefore + 1);

      // And running it yet again changes nothing.
      await mintProcess(subscriptionId);
      expect((await tokensOf(subscriptionId)).total).toBe(after.total);
      expect(await nonce()).toBe(nonceBefore + 1);
    },
  );

  it('replaces a stuck transaction with a higher fee at the same nonce', async () => {
    const subscriptionId = await buy();
    await chain.anvil.rpc('evm_setAutomine', [false]);
    try {
      const sender = new TransactionSender({
        chain: chain.publicClient,
        chainId: chain.anvil.chainId,
        account: server,
        store: new IntentStore(kube, namespace),
        log: createLogger('stuck-test'),
        stuckAfterMs: 300,
        pollMs: 100,
      });
      const key = `test-stuck-${subscriptionId}`;
      const data = encodeFunctionData({
        abi: AccessCredentialNFTAbi,
        functionName: 'mintForSubscription',
        args: [subscriptionId, chain.wallet(1).account.address, '0x01'],
      });
      const intent = await sender.submit(key, { to: chain.deployment.nft, data });
      const waiting = sender.wait(key);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await chain.anvil.mine(1);
      const { intent: done, receipt } = await waiting;
      expect(done.attempts.length).toBeGreaterThan(1);
      expect(done.attempts.every((a) => a.hash !== undefined)).toBe(true);
      expect(BigInt(done.attempts.at(-1)!.maxFeePerGas)).toBeGreaterThan(
        BigInt(intent.attempts[0]!.maxFeePerGas),
      );
      expect(receipt.status).toBe('success');
      expect(done.attempts.map((a) => a.hash)).toContain(receipt.transactionHash);
      expect((await tokensOf(subscriptionId)).minted).toBe(true);
    } finally {
      await chain.anvil.rpc('evm_setAutomine', [true]);
    }
  });

  it('a call that would revert fails before taking a nonce', async () => {
    const subscriptionId = await buy();
    const minter = new CredentialMinter(
      new TransactionSender({
        chain: chain.publicClient,
        chainId: chain.anvil.chainId,
        account: anvilAccount(5),
        store: new IntentStore(kube, namespace),
        log: createLogger('revert-test'),
      }),
      chain.publicClient,
      chain.anvil.chainId,
      chain.deployment.nft,
    );
    // Account 5 does not own the NFT contract: mintForSubscription reverts (OwnableUnauthorizedAccount).
    await expect(minter.mint(subscriptionId, chain.wallet(1).account.address, '0x01')).rejects.toThrow(
      /OwnableUnauthorizedAccount|revert/,
    );
    expect(await chain.publicClient.getTransactionCount({ address: anvilAccount(5).address })).toBe(0);
  });
});
