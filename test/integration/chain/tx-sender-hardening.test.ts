// Transaction sender hardening (issue 12 item 5): a crash never leaves a nonce gap, transient RPC
// errors never end a send, and replacement fees stop at the cap.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { parseGwei, type Address } from 'viem';
import { IntentStore, type Intent } from '../../../controllers/chain/intent-store.js';
import { TransactionSender, type TxSenderOptions } from '../../../controllers/chain/tx-sender.js';
import { ChainMetrics } from '../../../lib/chain/metrics.js';
import { createChainClient } from '../../../lib/chain/rpc.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import { Anvil, anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { faultSeed, RpcFaultProxy } from '../../harness/chain/rpc-fault-proxy.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../../harness/kube.js';

const run = promisify(execFile);
const SERVER = 2;
const server = anvilAccount(SERVER);

describe('transaction sender hardening', () => {
  let kube: KubeClient;
  let namespace: string;
  let anvil: Anvil;
  const log = createLogger('tx-hardening-test');
  let recipientIndex = 0;
  /** A fresh address per logical transaction, so its balance counts how often that one ran. */
  const recipient = (): Address => `0x${(0xbeef0000 + (recipientIndex += 1)).toString(16).padStart(40, '0')}`;
  const client = () => createChainClient({ chainId: anvil.chainId, endpoints: [anvil.rpcUrl] });
  const nonce = () => client().getTransactionCount({ address: server.address });
  const balance = (address: Address) => client().getBalance({ address });
  const sender = (options: Partial<TxSenderOptions> = {}) =>
    new TransactionSender({
      chain: client(),
      chainId: anvil.chainId,
      account: server,
      store: new IntentStore(kube, namespace),
      log,
      pollMs: 100,
      ...options,
    });

  /** One send in a child process that SIGKILLs itself at `crashAt`; resolves with its output. */
  const sendProcess = (key: string, to: Address, crashAt = '', timeout = 60_000) =>
    run(process.execPath, ['--import', 'tsx', 'test/integration/chain/fixtures/send-tx.ts'], {
      timeout,
      env: {
        ...process.env,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
        CRASH_AT: crashAt,
        CHAIN_ID: String(anvil.chainId),
        RPC_URL: anvil.rpcUrl,
        SERVER_KEY: anvilPrivateKey(SERVER),
        NAMESPACE: namespace,
        KEY: key,
        TO: to,
        VALUE: '1000',
      },
    });

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'tx-hardening');
    anvil = await Anvil.start();
  });
  afterAll(async () => {
    await anvil?.stop();
    await deleteNamespace(kube, namespace);
  });

  describe('a sender killed at each point leaves exactly one transaction per key and no nonce gap', () => {
    it.each(['signed', 'persisted', 'broadcast', 'receipt'])('killed after %s', async (crashAt) => {
      const first = { key: `resume-${crashAt}-first`, to: recipient() };
      const later = { key: `resume-${crashAt}-later`, to: recipient() };
      const nonceBefore = await nonce();
      await expect(sendProcess(first.key, first.to, crashAt)).rejects.toMatchObject({ signal: 'SIGKILL' });

      // The restarted process sends only a later transaction and never asks about the first: it
      // must be mined all the same (no gap behind a nonce reserved but never broadcast).
      const { stdout } = await sendProcess(later.key, later.to, '', 30_000);
      expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ status: 'success' });
      // Killed before its intent was stored, the first reserved nothing: it is sent when its owner returns.
      if (crashAt !== 'signed')
        await eventually(
          'the first transaction mined',
          async () => (await balance(first.to)) === 1000n,
          20_000,
        );

      // The first one's owner comes back: it finds its transaction, and nothing is sent again.
      await sendProcess(first.key, first.to);
      expect(await balance(first.to)).toBe(1000n);
      expect(await balance(later.to)).toBe(1000n);
      // A crash before the intent was stored reserved no nonce; every other point used exactly one.
      expect(await nonce()).toBe(nonceBefore + 2);
      const store = new IntentStore(kube, namespace);
      expect((await store.get(first.key))?.state).toBe('mined');
      expect((await store.get(later.key))?.state).toBe('mined');
    });
  });

  describe('transient RPC errors are retried, never final', () => {
    let proxy: RpcFaultProxy;
    const seed = faultSeed();
    afterAll(() => proxy?.close());

    it(`completes every send through an endpoint that fails 40 % of requests and times out some (seed ${seed})`, async () => {
      proxy = await RpcFaultProxy.start(anvil.rpcUrl, { seed, errorRate: 0.4, slowRate: 0.1, slowMs: 1500 });
      const registry = new Registry();
      const metrics = new ChainMetrics(registry);
      const flaky = new TransactionSender({
        chain: createChainClient({ chainId: anvil.chainId, endpoints: [proxy.url], timeoutMs: 1000 }),
        chainId: anvil.chainId,
        account: server,
        store: new IntentStore(kube, namespace),
        log,
        pollMs: 100,
        metrics,
      });
      const targets = Array.from({ length: 5 }, (_, i) => ({ key: `flaky-${seed}-${i}`, to: recipient() }));
      for (const { key, to } of targets) {
        // As a reconciler does: a submit that failed before its intent was stored is tried again.
        for (let attempt = 0; ; attempt += 1) {
          try {
            await flaky.submit(key, { to, data: '0x', value: 1000n });
            break;
          } catch (error) {
            if (attempt >= 30) throw error;
          }
        }
        // wait itself never gives up on a transient error.
        const { receipt } = await flaky.wait(key);
        expect(receipt.status).toBe('success');
      }
      flaky.close();
      for (const { to } of targets) expect(await balance(to)).toBe(1000n);
      const injected = proxy.stats.http500 + proxy.stats.rpcError + proxy.stats.slow;
      const retried = (await registry.getSingleMetricAsString('blockhost_tx_rpc_retries_total')).match(
        /\} (\d+)$/m,
      )?.[1];
      log.info({ injected, stats: proxy.stats, retried, requests: proxy.requests }, 'RPC faults');
      expect(injected).toBeGreaterThan(0);
      expect(Number(retried)).toBeGreaterThan(0);
    });

    it('a receipt the endpoint does not return yet (null while mined) does not fail the transaction', async () => {
      const lagging = await RpcFaultProxy.start(anvil.rpcUrl, { seed });
      const until = Date.now() + 3000;
      lagging.lie = (request, result) =>
        request.method === 'eth_getTransactionReceipt' && Date.now() < until ? null : result;
      const patient = new TransactionSender({
        chain: createChainClient({ chainId: anvil.chainId, endpoints: [lagging.url] }),
        chainId: anvil.chainId,
        account: server,
        store: new IntentStore(kube, namespace),
        log,
        pollMs: 100,
        foreignNonceAfterMs: 10_000,
      });
      const to = recipient();
      const { intent, receipt } = await patient.send('lagging-receipt', { to, data: '0x', value: 1000n });
      patient.close();
      await lagging.close();
      // With pollMs 100, 3 s of null receipts: the old rule (10 polls) had marked it failed.
      expect(lagging.lies).toBeGreaterThan(10);
      expect(receipt.status).toBe('success');
      expect(intent.state).toBe('mined');
      expect(await balance(to)).toBe(1000n);
    });
  });

  it('replacement fees stop at the cap during a gas price spike, and the transaction waits and says so', async () => {
    const cap = parseGwei('5');
    const capped: Intent[] = [];
    await anvil.rpc('evm_setAutomine', [false]);
    const spiky = sender({ stuckAfterMs: 200, feeCap: async () => cap, onFeeCapped: (i) => capped.push(i) });
    try {
      const to = recipient();
      const first = await spiky.submit('fee-cap', { to, data: '0x', value: 1000n });
      expect(BigInt(first.attempts[0]!.maxFeePerGas)).toBeLessThan(cap);
      // The spike: the next block's base fee is 100 gwei (our transaction cannot be in it).
      await anvil.rpc('anvil_setNextBlockBaseFeePerGas', [`0x${parseGwei('100').toString(16)}`]);
      await anvil.mine(1);
      const waiting = spiky.wait('fee-cap');
      waiting.catch(() => undefined); // awaited below; close() ends it if an expectation fails first
      await eventually('waiting at the cap', async () => capped.length > 0, 30_000);
      const store = new IntentStore(kube, namespace);
      const atCap = (await store.get('fee-cap'))!;
      expect(atCap.attempts.length).toBeGreaterThan(1);
      for (const attempt of atCap.attempts) expect(BigInt(attempt.maxFeePerGas)).toBeLessThanOrEqual(cap);
      expect(BigInt(atCap.attempts.at(-1)!.maxFeePerGas)).toBe(cap);
      // Still stuck, long past stuckAfterMs: no further bump, and said once.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await store.get('fee-cap'))!.attempts.length).toBe(atCap.attempts.length);
      expect(capped.map((i) => i.key)).toEqual(['fee-cap']);

      // Fees fall: the capped transaction goes through.
      await anvil.rpc('anvil_setNextBlockBaseFeePerGas', [`0x${parseGwei('1').toString(16)}`]);
      const mining = setInterval(() => void anvil.mine(1).catch(() => undefined), 300);
      try {
        const { receipt } = await waiting;
        expect(receipt.status).toBe('success');
        expect(receipt.effectiveGasPrice).toBeLessThanOrEqual(cap);
      } finally {
        clearInterval(mining);
      }
      expect(await balance(to)).toBe(1000n);
    } finally {
      spiky.close();
      await anvil.rpc('evm_setAutomine', [true]);
    }
  });
});
