// Test support for the contract suites: a fresh anvil with viem clients for its well-known accounts,
// time travel, and revert assertions that check the decoded custom error.
import { expect } from '@jest/globals';
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  http,
  type Address,
  type Hash,
  type PublicClient,
  type TransactionReceipt,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { anvil as anvilChain } from 'viem/chains';
import { Anvil, ANVIL_ACCOUNTS } from '../test/harness/chain/anvil.js';
import { confirm, deployed, type SigningWalletClient } from './deploy.js';
import { MockERC20Abi, MockERC20Bytecode } from './generated/artifacts.js';

export interface TestChain {
  anvil: Anvil;
  publicClient: PublicClient;
  /** One signing client per anvil account; [0] is the deployer/owner in every suite. */
  wallets: SigningWalletClient[];
  /** Waits for a transaction and throws unless it succeeded. */
  tx(hash: Promise<Hash>): Promise<TransactionReceipt>;
  /** Moves the chain clock forward by `seconds` and mines a block. */
  increaseTime(seconds: bigint): Promise<void>;
  timestampOf(receipt: TransactionReceipt): Promise<bigint>;
  stop(): Promise<void>;
}

export async function startTestChain(): Promise<TestChain> {
  const anvil = await Anvil.start({ chainId: anvilChain.id });
  const transport = http(anvil.rpcUrl);
  // Automine gives a block per transaction; poll receipts quickly instead of viem's 4 s default.
  const publicClient = createPublicClient({ chain: anvilChain, transport, pollingInterval: 50 });
  const wallets = ANVIL_ACCOUNTS.map(({ privateKey }) =>
    createWalletClient({ account: privateKeyToAccount(privateKey), chain: anvilChain, transport }),
  );
  return {
    anvil,
    publicClient,
    wallets,
    tx: async (hash) => confirm(publicClient, await hash),
    increaseTime: async (seconds) => {
      await anvil.rpc('evm_increaseTime', [Number(seconds)]);
      await anvil.rpc('evm_mine', []);
    },
    timestampOf: async (receipt) =>
      (await publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp,
    stop: () => anvil.stop(),
  };
}

/** Asserts that `action` reverts with the custom error `errorName` (and `args`, when given). */
export async function expectRevert(
  action: Promise<unknown>,
  errorName: string,
  args?: readonly unknown[],
): Promise<void> {
  const error = await action.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof BaseError))
    throw new Error(`expected a revert with ${errorName}, got ${String(error)}`);
  const reverted = error.walk((cause) => cause instanceof ContractFunctionRevertedError);
  if (!(reverted instanceof ContractFunctionRevertedError)) throw error;
  expect(reverted.data?.errorName).toBe(errorName);
  if (args !== undefined) expect(reverted.data?.args).toEqual(args);
}

export async function deployToken(
  chain: TestChain,
  symbol: string,
  decimals: number,
  deployer = chain.wallets[0]!,
): Promise<Address> {
  const hash = await deployer.deployContract({
    abi: MockERC20Abi,
    bytecode: MockERC20Bytecode,
    args: [`Mock ${symbol}`, symbol, decimals],
  });
  return (await deployed(chain.publicClient, hash)).address;
}

export async function mintToken(
  chain: TestChain,
  token: Address,
  to: Address,
  amount: bigint,
): Promise<void> {
  await chain.tx(
    chain.wallets[0]!.writeContract({
      address: token,
      abi: MockERC20Abi,
      functionName: 'mint',
      args: [to, amount],
    }),
  );
}

export async function balanceOf(chain: TestChain, token: Address, owner: Address): Promise<bigint> {
  return chain.publicClient.readContract({
    address: token,
    abi: MockERC20Abi,
    functionName: 'balanceOf',
    args: [owner],
  });
}
