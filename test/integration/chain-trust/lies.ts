// What a compromised RPC provider tells: forged block timestamps and forged contract answers, as
// `lie` hooks of the RPC fault proxy (test/harness/chain/rpc-fault-proxy.ts).
import {
  decodeFunctionResult,
  encodeFunctionResult,
  toFunctionSelector,
  type Abi,
  type AbiFunction,
  type Address,
} from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import type { JsonRpcRequest } from '../../harness/chain/rpc-fault-proxy.js';

type Lie = (request: JsonRpcRequest, result: unknown) => unknown;

/** Every block this endpoint serves claims to be `aheadSeconds` in the future. */
export const forgedTimestamps =
  (aheadSeconds: number): Lie =>
  (request, result) => {
    if (!request.method.startsWith('eth_getBlockBy') || result === null || typeof result !== 'object')
      return result;
    const block = result as { timestamp: string };
    return { ...block, timestamp: `0x${(BigInt(block.timestamp) + BigInt(aheadSeconds)).toString(16)}` };
  };

/** eth_call of `functionName` on `to` answers `forge(real answer)` instead. */
function forgedCall(abi: Abi, to: Address, functionName: string, forge: (real: unknown) => unknown): Lie {
  const fn = abi.find((item): item is AbiFunction => item.type === 'function' && item.name === functionName)!;
  const selector = toFunctionSelector(fn);
  return (request, result) => {
    const call = (request.params?.[0] ?? {}) as { to?: string; data?: string; input?: string };
    const data = call.data ?? call.input ?? '';
    if (request.method !== 'eth_call' || call.to?.toLowerCase() !== to.toLowerCase()) return result;
    if (!data.startsWith(selector) || typeof result !== 'string') return result;
    const real = decodeFunctionResult({ abi: [fn], functionName, data: result as `0x${string}` });
    return encodeFunctionResult({ abi: [fn], functionName, result: forge(real) as never });
  };
}

/** getSubscription says every subscription expired at the epoch (so its grace is long over). */
export const forgedExpiry = (subscriptions: Address): Lie =>
  forgedCall(BlockhostSubscriptionsAbi, subscriptions, 'getSubscription', (real) => {
    const [planId, subscriber, , isActive, cancelled] = real as readonly unknown[];
    return [planId, subscriber, 1n, isActive, cancelled];
  });

/** ownerOf says `holder` holds every token. */
export const forgedOwner = (nft: Address, holder: Address): Lie =>
  forgedCall(AccessCredentialNFTAbi, nft, 'ownerOf', () => holder);
