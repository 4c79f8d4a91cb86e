import type { PublicClient } from 'viem';
import { BlockhostSubscriptionsAbi } from '../../contracts/generated/artifacts.js';
import type { SubscriptionSpec } from '../../lib/api/v1alpha1/index.js';
import { ChainDisagreement, readConfirmed } from '../../lib/chain/confirmed-read.js';
import type { ConditionUpdate } from '../../lib/runtime/conditions.js';
import { blockTimeAheadSummary, judgeBlockTime } from '../chain/chain-clock.js';
import { lifecycle, type Lifecycle, type VmState } from './lifecycle.js';

/** The reasons for which lifecycle stops or removes a VM on the chain's word (not the operator's). */
const ENDED_ON_CHAIN = new Set(['Expired', 'GracePeriodOver', 'Cancelled']);
const SEVERITY: Record<VmState, number> = { running: 0, stopped: 1, absent: 2 };

export interface ConfirmInput {
  spec: SubscriptionSpec;
  /** lifecycle() of the stored spec at `nowMs`, hold included. */
  state: Lifecycle;
  nowMs: number;
  graceDays: number;
  hold?: string;
  /** One client per RPC endpoint. */
  clients: readonly PublicClient[];
  confirmations: number;
  contract: `0x${string}`;
  maxBlockTimeAheadMs: number;
  /** Judge expiry by `nowMs` (a test clock) instead of the confirmed block's timestamp. */
  clockOverridden: boolean;
}

export type Confirmation =
  { state: Lifecycle; condition?: ConditionUpdate } | { unconfirmed: string; condition: ConditionUpdate };

const condition = (status: 'True' | 'False', reason: string, message: string): ConditionUpdate => ({
  type: 'ExpiryConfirmed',
  status,
  reason,
  message,
});

/**
 * Suspend and destroy only on confirmed chain facts. The stored spec (one endpoint's answer) and
 * the chain clock (the latest block) decide when to look; before a VM is stopped or removed because
 * of expiry or cancellation, the subscription is read again at head - confirmations from every
 * endpoint, a quorum must agree, and lifecycle runs on that answer at that block's timestamp. The
 * milder of the two decisions wins, so a lying endpoint, a forged timestamp or a block that is
 * reorged away can delay an expiry, never bring one forward. No quorum: nothing changes.
 * Running VMs need no check, so a healthy reconcile makes no extra request of any kind.
 */
export async function confirmLifecycle(input: ConfirmInput): Promise<Confirmation> {
  const { spec, state, graceDays, hold } = input;
  const fromChain = lifecycle(spec, input.nowMs, graceDays);
  if (fromChain.vm === 'running' || !ENDED_ON_CHAIN.has(fromChain.reason)) return { state };
  let read;
  try {
    read = await readConfirmed(
      input.clients,
      input.confirmations,
      `subscription ${spec.subscriptionId}`,
      (client, blockNumber) =>
        client
          .readContract({
            address: input.contract,
            abi: BlockhostSubscriptionsAbi,
            functionName: 'getSubscription',
            args: [BigInt(spec.subscriptionId)],
            blockNumber,
          })
          .then(([, , expiresAt, , cancelled]) => ({ expiresAt, cancelled }))
          .catch((error: unknown) => {
            // Not there at the confirmed block is an answer too (and one that destroys nothing).
            if (String((error as Error).message).includes('SubscriptionNotFound')) return null;
            throw error;
          }),
    );
  } catch (error) {
    if (!(error instanceof ChainDisagreement)) throw error;
    return { unconfirmed: error.message, condition: condition('False', 'NoQuorum', error.message) };
  }
  // No block number: the message is stored in status, and must not change with every new block.
  const at = `${input.confirmations} blocks deep, ${read.agreeing} of ${read.endpoints} endpoints agreeing`;
  if (read.value === null) {
    const message = `subscription ${spec.subscriptionId} is not on the chain ${at}`;
    return { unconfirmed: message, condition: condition('False', 'NotOnConfirmedChain', message) };
  }
  const refusal = judgeBlockTime(read.block.timestampMs, Date.now(), input.maxBlockTimeAheadMs);
  if (refusal && !input.clockOverridden) {
    const message = `the confirmed block's timestamp is not believed: ${blockTimeAheadSummary(input.maxBlockTimeAheadMs)}`;
    return { unconfirmed: message, condition: condition('False', 'BlockTimestampAhead', message) };
  }
  const confirmedSpec: SubscriptionSpec = {
    ...spec,
    expiresAt: new Date(Number(read.value.expiresAt) * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    cancelled: read.value.cancelled,
  };
  const confirmedNow = input.clockOverridden ? input.nowMs : read.block.timestampMs;
  const confirmed = lifecycle(confirmedSpec, confirmedNow, graceDays, hold);
  if (SEVERITY[confirmed.vm] < SEVERITY[state.vm]) {
    const message = `the stored facts say ${fromChain.reason}, but ${at} the chain says ${confirmed.message}`;
    return { state: confirmed, condition: condition('False', 'NotYetConfirmed', message) };
  }
  const message = `${confirmed.message}: confirmed ${at}`;
  return { state, condition: condition('True', 'Confirmed', message) };
}
