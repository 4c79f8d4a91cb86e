// A server wallet low on gas is a HostConfig condition, an Event and a metric (issue 12 item 5).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { encodeFunctionData, parseEther, parseGwei } from 'viem';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { MINT_GAS, serverWalletLowCondition } from '../../../controllers/chain/server-wallet.js';
import { ChainServices } from '../../../controllers/chain/services.js';
import { transactionRunnable } from '../../../controllers/chain/tx-runnable.js';
import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
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

type Event = KubeObject & { reason?: string; type?: string; regarding?: { kind?: string; uid?: string } };
const address = '0x00000000000000000000000000000000000000aa';

describe('serverWalletLowCondition: True below the threshold, False at or above it', () => {
  const fee = parseGwei('2');
  const threshold = 20n * MINT_GAS * fee;
  it.each<[string, bigint, number, string | undefined]>([
    ['empty wallet', 0n, 20, 'True'],
    ['one wei short', threshold - 1n, 20, 'True'],
    ['exactly enough', threshold, 20, 'False'],
    ['plenty', parseEther('1'), 20, 'False'],
    ['check turned off', 0n, 0, undefined],
  ])('%s', (_what, balanceWei, mints, status) => {
    const condition = serverWalletLowCondition({ address, balanceWei, maxFeePerGasWei: fee, mints });
    expect(condition?.status).toBe(status);
    if (condition) expect(condition.message).toContain(address);
  });
});

describe('server wallet balance watch', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let release: () => Promise<void>;
  const log = createLogger('server-wallet-test');

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'wallet-low');
    chain = await startLocalChain();
    await useLocalChain(kube, namespace, chain, { confirmations: 1 });
  }, withHostConfigClaimWait(120_000));
  afterAll(async () => {
    await chain?.stop();
    await deleteNamespace(kube, namespace);
    await release?.();
  });

  const host = () => kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
  const lowCondition = async () =>
    (await host()).status?.conditions?.find((c) => c.type === 'ServerWalletLow');
  /** Events about this file's HostConfig (earlier runs' HostConfigs had the same name). */
  const events = async (reason: string) => {
    const uid = (await host()).metadata.uid;
    return (await kube.list<Event>(coreTypes.event, { namespace: 'default' })).items.filter(
      (e) => e.reason === reason && e.regarding?.kind === 'HostConfig' && e.regarding.uid === uid,
    );
  };

  it('a mint costs less gas than MINT_GAS assumes', async () => {
    const { subscriptionId } = await chain.buy(1);
    const gas = await chain.publicClient.estimateGas({
      account: chain.deployer.account,
      to: chain.deployment.nft,
      data: encodeFunctionData({
        abi: AccessCredentialNFTAbi,
        functionName: 'mintForSubscription',
        // A connection-details payload is about 100 bytes.
        args: [subscriptionId, chain.wallet(1).account.address, `0x${'ab'.repeat(120)}`],
      }),
    });
    expect(gas).toBeLessThan(MINT_GAS);
  });

  it('sets ServerWalletLow with a Warning Event and the balance gauge, and clears it once funded', async () => {
    const server = chain.deployer.account.address;
    const setBalance = (wei: bigint) =>
      chain.anvil.rpc('anvil_setBalance', [server, `0x${wei.toString(16)}`]);
    const registry = new Registry();
    const services = new ChainServices(kube, namespace, log);
    const stop = new AbortController();
    await setBalance(1000n);
    const running = transactionRunnable(services, registry, log, { walletCheckMs: 300 })(stop.signal);
    try {
      await eventually('ServerWalletLow True', async () => (await lowCondition())?.status === 'True', 30_000);
      expect((await lowCondition())?.message).toContain(server);
      await eventually('Warning Event', async () =>
        (await events('ServerWalletLow')).some((e) => e.type === 'Warning'),
      );
      expect(await registry.getSingleMetricAsString('blockhost_wallet_balance')).toMatch(
        /blockhost_wallet_balance\{role="server",token="ETH"\} 1e-15/,
      );
      // Setup's Ready does not depend on it: it is not a setup step.
      expect((await host()).status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '').not.toContain(
        'ServerWalletLow',
      );

      await setBalance(parseEther('50'));
      await eventually(
        'ServerWalletLow False',
        async () => (await lowCondition())?.status === 'False',
        30_000,
      );
      await eventually('Normal Event', async () => (await events('ServerWalletFunded')).length > 0);
      expect(await registry.getSingleMetricAsString('blockhost_wallet_balance')).toMatch(
        /blockhost_wallet_balance\{role="server",token="ETH"\} 50$/m,
      );
    } finally {
      stop.abort();
      await running;
      await setBalance(parseEther('10000'));
    }
  });

  it('at start (or leader takeover) resumes a transaction stored but never broadcast, with nothing else sent', async () => {
    const to = '0x00000000000000000000000000000000000bee01';
    const server = chain.deployer.account.address;
    const nonceBefore = await chain.publicClient.getTransactionCount({ address: server });
    // A manager killed right after it stored the intent: the nonce is reserved, the network saw nothing.
    await expect(
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'test/integration/chain/fixtures/send-tx.ts'],
        {
          env: {
            ...process.env,
            LOG_LEVEL: 'warn',
            CRASH_AT: 'persisted',
            CHAIN_ID: String(chain.anvil.chainId),
            RPC_URL: chain.anvil.rpcUrl,
            SERVER_KEY: anvilPrivateKey(0),
            NAMESPACE: namespace,
            KEY: 'resume-at-start',
            TO: to,
            VALUE: '1000',
          },
        },
      ),
    ).rejects.toMatchObject({ signal: 'SIGKILL' });
    expect(await chain.publicClient.getBalance({ address: to })).toBe(0n);

    const services = new ChainServices(kube, namespace, log);
    const stop = new AbortController();
    const running = transactionRunnable(services, new Registry(), log, { walletCheckMs: 300 })(stop.signal);
    try {
      await eventually(
        'resumed and mined',
        async () => (await chain.publicClient.getBalance({ address: to })) === 1000n,
        30_000,
      );
      expect(await chain.publicClient.getTransactionCount({ address: server })).toBe(nonceBefore + 1);
    } finally {
      stop.abort();
      await running;
    }
  });

  it('caps fees at spec.chain.maxFeePerGasGwei, and says so with a FeeCapReached Event on the HostConfig', async () => {
    const services = new ChainServices(kube, namespace, log, undefined, undefined, namespace, {
      stuckAfterMs: 200,
      pollMs: 100,
    });
    expect(await services.feeCapWei()).toBe(parseGwei('500'));
    await kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { spec: { chain: { maxFeePerGasGwei: 7.5 } } },
      'merge',
    );
    expect(await services.feeCapWei()).toBe(parseGwei('7.5'));

    const resolved = await services.context();
    if (!('context' in resolved)) throw new Error(resolved.notReady);
    const sender = services.sender(resolved.context);
    const to = '0x00000000000000000000000000000000000bee02';
    await chain.anvil.rpc('evm_setAutomine', [false]);
    try {
      await sender.submit('fee-cap-event', { to, data: '0x', value: 1000n });
      await chain.anvil.rpc('anvil_setNextBlockBaseFeePerGas', [`0x${parseGwei('100').toString(16)}`]);
      await chain.anvil.mine(1);
      const waiting = sender.wait('fee-cap-event');
      waiting.catch(() => undefined); // awaited below; closeSenders() ends it if an expectation fails first
      await eventually(
        'FeeCapReached Event',
        async () => (await events('FeeCapReached')).some((e) => e.type === 'Warning'),
        30_000,
      );
      await chain.anvil.rpc('anvil_setNextBlockBaseFeePerGas', [`0x${parseGwei('1').toString(16)}`]);
      const mining = setInterval(() => void chain.anvil.mine(1).catch(() => undefined), 300);
      try {
        const { receipt } = await waiting;
        expect(receipt.effectiveGasPrice).toBeLessThanOrEqual(parseGwei('7.5'));
      } finally {
        clearInterval(mining);
      }
    } finally {
      services.closeSenders();
      await chain.anvil.rpc('evm_setAutomine', [true]);
    }
  });
});
