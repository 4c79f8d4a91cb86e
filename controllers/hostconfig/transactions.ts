import { formatEther, formatGwei, type Address, type PublicClient, type TransactionReceipt } from 'viem';
import type { TxRequest } from '../chain/tx-sender.js';
import type { DeployerKey } from '../wallet/keys.js';
import { StepError, type HostConfigStep, type SetupContext, type SetupStepName } from './step.js';

/** Gas limit head-room the transaction sender adds to every estimate (it signs with gas × 1.2). */
const GAS_MARGIN = (gas: bigint) => (gas * 12n) / 10n;

const INSUFFICIENT_FUNDS = /insufficient funds|exceeds balance|gas required exceeds allowance/i;

/**
 * Refuses, before any nonce is taken, to send `requests` from a wallet that cannot pay for them:
 * the message gives the address, what it holds and what it needs, so the operator can fund it.
 * `extraGas` covers follow-up calls that cannot be estimated yet (they need a deployed contract).
 */
export async function requireFunds(
  rpc: PublicClient,
  from: Address,
  requests: TxRequest[],
  what: string,
  extraGas = 0n,
): Promise<void> {
  const [balance, fees] = await Promise.all([rpc.getBalance({ address: from }), rpc.estimateFeesPerGas()]);
  let gas = extraGas;
  let value = 0n;
  for (const request of requests) {
    try {
      gas += GAS_MARGIN(
        await rpc.estimateGas({ account: from, to: request.to, data: request.data, value: request.value }),
      );
    } catch (error) {
      // Some nodes refuse even to estimate for an empty wallet; that is the same answer.
      if (!INSUFFICIENT_FUNDS.test((error as Error).message)) throw error;
      throw insufficient(from, balance, undefined, what);
    }
    value += request.value ?? 0n;
  }
  const needed = gas * fees.maxFeePerGas + value;
  if (balance < needed)
    throw insufficient(from, balance, { needed, gas, maxFeePerGas: fees.maxFeePerGas }, what);
}

function insufficient(
  from: Address,
  balance: bigint,
  need: { needed: bigint; gas: bigint; maxFeePerGas: bigint } | undefined,
  what: string,
): StepError {
  const holds = `the server wallet ${from} holds ${formatEther(balance)} ETH`;
  return new StepError(
    'InsufficientFunds',
    need
      ? `${holds} but ${what} needs about ${formatEther(need.needed)} ETH (${need.gas} gas at up to ${formatGwei(need.maxFeePerGas)} gwei): send at least ${formatEther(need.needed - balance)} ETH to ${from}`
      : `${holds}, not enough for ${what}: send ETH to ${from}`,
  );
}

export interface SetupTransaction {
  /** Deterministic: the same logical transaction always has the same key, so it is sent at most once. */
  key: string;
  request: TxRequest;
  /** For messages: "deploying AccessCredentialNFT". */
  what: string;
  step: SetupStepName;
  /** Where a fault-injection test may kill the process, right after the broadcast. */
  crashPoint?: HostConfigStep;
  /** Checks funds for more than this one transaction (e.g. every deployment still to come). */
  fundsFor?: { requests: TxRequest[]; extraGas: bigint; what: string };
}

/**
 * Sends a setup transaction through the server wallet's transaction sender and waits for it. The
 * sender persists the signed transaction before it is broadcast, so after a crash the same transaction
 * (same nonce, same resulting contract address) is waited for again instead of a new one being sent.
 */
export async function sendSetupTransaction(
  context: SetupContext,
  server: DeployerKey,
  transaction: SetupTransaction,
): Promise<TransactionReceipt> {
  const { chain, host, signal } = context;
  const target = {
    chainId: host.spec.chain.chainId,
    endpoints: host.spec.chain.rpcEndpoints,
    deployer: server,
  };
  const sender = chain.sender(target);
  if (!(await sender.hasIntent(transaction.key))) {
    const funds = transaction.fundsFor ?? {
      requests: [transaction.request],
      extraGas: 0n,
      what: transaction.what,
    };
    await requireFunds(chain.client(target), server.address, funds.requests, funds.what, funds.extraGas);
  }
  const intent = await sender.submit(transaction.key, transaction.request);
  if (transaction.crashPoint) context.onStep?.(transaction.crashPoint);
  // Mined long ago (a recheck): no progress write, so a True condition does not flicker.
  if (intent.state === 'pending')
    await context.progress(
      transaction.step,
      'TransactionPending',
      `${transaction.what}: waiting for transaction ${intent.attempts.at(-1)?.hash} (nonce ${intent.nonce}) to be mined`,
    );
  const { receipt } = await sender.wait(transaction.key, signal);
  if (receipt.status !== 'success')
    throw new StepError(
      'TransactionReverted',
      `${transaction.what}: transaction ${receipt.transactionHash} reverted`,
    );
  return receipt;
}
