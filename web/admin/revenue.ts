import { parseAbiItem, type PublicClient } from 'viem';

const PURCHASE_EVENTS = [
  parseAbiItem(
    'event SubscriptionCreated(uint256 indexed subscriptionId, uint256 indexed planId, address indexed subscriber, uint256 expiresAt, uint256 paidAmount, address paymentToken, bytes userEncrypted)',
  ),
  parseAbiItem(
    'event SubscriptionExtended(uint256 indexed subscriptionId, uint256 indexed planId, address indexed extendedBy, uint256 newExpiresAt, uint256 paidAmount, address paymentToken)',
  ),
] as const;

/** Blocks per eth_getLogs call: small enough for public RPC providers' range limits. */
const CHUNK = 5_000n;
/** At most this many calls per scan; beyond that the total is marked partial rather than hang a page. */
const MAX_CHUNKS = 200n;

export interface Revenue {
  /** Sum of paidAmount per payment token (base units, decimal string). */
  byToken: Record<string, string>;
  purchases: number;
  extensions: number;
  fromBlock: string;
  toBlock: string;
  /** True when the scan stopped early (older blocks not counted). */
  partial: boolean;
}

/**
 * Revenue as the chain records it: every SubscriptionCreated/Extended event's paidAmount, summed
 * per payment token, from the contracts' start block to `head`. The most recent blocks win when the
 * range is too long to scan.
 */
export async function scanRevenue(
  client: PublicClient,
  contract: `0x${string}`,
  startBlock: bigint,
  head: bigint,
): Promise<Revenue> {
  const byToken = new Map<string, bigint>();
  let purchases = 0;
  let extensions = 0;
  const earliest = head + 1n - CHUNK * MAX_CHUNKS;
  const from = startBlock > earliest ? startBlock : earliest < 0n ? 0n : earliest;
  for (let start = from; start <= head; start += CHUNK) {
    const end = start + CHUNK - 1n < head ? start + CHUNK - 1n : head;
    const logs = await client.getLogs({
      address: contract,
      events: PURCHASE_EVENTS,
      fromBlock: start,
      toBlock: end,
    });
    for (const log of logs) {
      if (log.removed) continue;
      const token = log.args.paymentToken!.toLowerCase();
      byToken.set(token, (byToken.get(token) ?? 0n) + log.args.paidAmount!);
      if (log.eventName === 'SubscriptionCreated') purchases += 1;
      else extensions += 1;
    }
  }
  return {
    byToken: Object.fromEntries([...byToken].map(([token, amount]) => [token, amount.toString()])),
    purchases,
    extensions,
    fromBlock: from.toString(),
    toBlock: head.toString(),
    partial: from > startBlock,
  };
}
