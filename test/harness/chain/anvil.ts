import { createRequire } from 'node:module';
import { toHex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../processes.js';

/** anvil's default mnemonic: its accounts are well-known test keys, never for real funds. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';
export const ANVIL_ACCOUNT_COUNT = 10;

/** Account `index` of anvil's mnemonic (0 deploys; others are customers in tests). */
export function anvilAccount(index: number) {
  return mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
}

/** The private key of account `index`, for code that takes keys (the server wallet Secret). */
export function anvilPrivateKey(index: number): `0x${string}` {
  const key = anvilAccount(index).getHdKey().privateKey;
  if (!key) throw new Error(`no key for anvil account ${index}`);
  return toHex(key);
}

export interface AnvilOptions {
  chainId?: number;
  /** Seconds between blocks; omitted: a block per transaction (automine). */
  blockTime?: number;
  /**
   * Keep only the recent states in memory and never write older ones to disk. Mining thousands of
   * blocks is then about twice as fast, but eth_call at old blocks fails.
   */
  recentStatesOnly?: boolean;
  /** The address to listen on (default loopback); pods on the harness node need the bridge's. */
  host?: string;
}

/** The anvil binary from the platform package that @foundry-rs/anvil installs. */
function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'anvil');
}

/** A real EVM node (anvil from npm) on loopback (or a given address), for tests, the local stack and benchmarks. */
export class Anvil {
  private constructor(
    private readonly process: ManagedProcess,
    private readonly dir: string,
    readonly rpcUrl: string,
    readonly chainId: number,
  ) {}

  static async start({
    chainId = 31337,
    blockTime,
    recentStatesOnly,
    host = '127.0.0.1',
  }: AnvilOptions = {}): Promise<Anvil> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'blockhost-anvil-'));
    const args = ['--host', host, '--port', String(port), '--chain-id', String(chainId), '--silent'];
    if (blockTime !== undefined) args.push('--block-time', String(blockTime));
    if (recentStatesOnly) args.push('--max-persisted-states', '0');
    const process = startProcess('anvil', anvilBinary(), args, join(dir, 'anvil.log'));
    const rpcUrl = `http://${host}:${port}`;
    const anvil = new Anvil(process, dir, rpcUrl, chainId);
    await waitFor('anvil JSON-RPC', async () => (await anvil.rpc('eth_chainId', [])) !== undefined, {
      timeoutMs: 30_000,
      abortIf: () => (process.child.exitCode !== null ? `anvil exited; see ${process.logPath}` : undefined),
    });
    return anvil;
  }

  /** A raw JSON-RPC call (anvil_* and evm_* methods included). */
  async rpc<T = unknown>(method: string, params: unknown[]): Promise<T> {
    const response = await fetch(this.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await response.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  }

  async mine(blocks = 1): Promise<void> {
    await this.rpc('anvil_mine', [`0x${blocks.toString(16)}`]);
  }

  /**
   * Replaces the newest `depth` blocks by as many new ones (a reorg to a chain of the same height).
   * `txs` go into the new blocks: [raw signed transaction, block offset 0..depth-1]; transactions of
   * the replaced blocks not listed are gone (anvil does not return them to the pool).
   */
  async reorg(depth: number, txs: [`0x${string}`, number][] = []): Promise<void> {
    await this.rpc('anvil_reorg', [depth, txs]);
  }

  /** Removes the newest `depth` blocks (the chain becomes shorter); their transactions are gone. */
  async rollback(depth: number): Promise<void> {
    await this.rpc('anvil_rollback', [depth]);
  }

  /** The signed bytes of a mined transaction, to put it into a reorg's new blocks. */
  async rawTransaction(hash: `0x${string}`): Promise<`0x${string}`> {
    return this.rpc<`0x${string}`>('eth_getRawTransactionByHash', [hash]);
  }

  async stop(): Promise<void> {
    await this.process.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The first four accounts with their keys, for code that wants both at hand. */
export const ANVIL_ACCOUNTS = Array.from({ length: 4 }, (_, index) => ({
  address: anvilAccount(index).address,
  privateKey: anvilPrivateKey(index),
}));
