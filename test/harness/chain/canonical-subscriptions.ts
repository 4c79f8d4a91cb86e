import { decodeEventLog, type Log, type PublicClient } from 'viem';
import type { BlockhostDeployment } from '../../../contracts/deploy.js';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import type { SubscriptionSpec } from '../../../lib/api/v1alpha1/index.js';

/**
 * What the Subscription specs must say according to the canonical chain up to `confirmedBlock`,
 * worked out independently of the watcher: one unlimited eth_getLogs straight from anvil plus
 * contract reads at that block. Tests compare the stored objects with it.
 */
export interface CanonicalState {
  /** Expected spec (the fields the chain dictates) by subscription id. */
  specs: Map<string, Partial<SubscriptionSpec>>;
  /** Decodable events of our contracts in [startBlock, confirmedBlock], by event name. */
  eventCounts: Map<string, number>;
}

type EventRef = SubscriptionSpec['source'];

const refOf = (log: Log): EventRef => ({
  txHash: log.transactionHash!,
  logIndex: log.logIndex!,
  blockNumber: Number(log.blockNumber),
  blockHash: log.blockHash!,
});

const isoSeconds = (seconds: bigint) =>
  new Date(Number(seconds) * 1000).toISOString().replace(/\.000Z$/, 'Z');

export async function canonicalState(
  client: PublicClient,
  deployment: BlockhostDeployment,
  confirmedBlock: bigint,
): Promise<CanonicalState> {
  const logs = await client.getLogs({
    address: [deployment.subscriptions, deployment.nft],
    fromBlock: deployment.deployBlock,
    toBlock: confirmedBlock,
  });
  const counts = new Map<string, number>();
  const events = new Map<
    string,
    { created?: Log; createdPayload?: `0x${string}`; last?: Log; kind?: string }
  >();
  for (const log of logs) {
    const abi =
      log.address.toLowerCase() === deployment.nft.toLowerCase()
        ? AccessCredentialNFTAbi
        : BlockhostSubscriptionsAbi;
    let decoded;
    try {
      decoded = decodeEventLog({ abi, data: log.data, topics: log.topics });
    } catch {
      continue;
    }
    counts.set(decoded.eventName, (counts.get(decoded.eventName) ?? 0) + 1);
    const name = decoded.eventName;
    if (name !== 'SubscriptionCreated' && name !== 'SubscriptionExtended' && name !== 'SubscriptionCancelled')
      continue;
    const args = decoded.args as { subscriptionId: bigint; userEncrypted?: `0x${string}` };
    const id = args.subscriptionId.toString();
    const entry = events.get(id) ?? events.set(id, {}).get(id)!;
    if (name === 'SubscriptionCreated') {
      entry.created = log;
      entry.createdPayload = args.userEncrypted;
    }
    entry.last = log;
    entry.kind = name;
  }

  const read = {
    address: deployment.subscriptions,
    abi: BlockhostSubscriptionsAbi,
    blockNumber: confirmedBlock,
  };
  const count = await client.readContract({ ...read, functionName: 'getTotalSubscriptionCount' });
  const specs = new Map<string, Partial<SubscriptionSpec>>();
  for (let id = 1n; id <= count; id += 1n) {
    const [planId, subscriber, expiresAt, , cancelled] = await client.readContract({
      ...read,
      functionName: 'getSubscription',
      args: [id],
    });
    const [minted, tokenId] = await client.readContract({
      address: deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getSubscriptionToken',
      args: [id],
      blockNumber: confirmedBlock,
    });
    const entry = events.get(id.toString());
    if (!entry?.created || !entry.last) throw new Error(`subscription ${id} has no SubscriptionCreated log`);
    specs.set(id.toString(), {
      subscriptionId: id.toString(),
      planId: planId.toString(),
      subscriber,
      expiresAt: isoSeconds(expiresAt),
      cancelled,
      removedByReorg: false,
      userEncrypted: entry.createdPayload ?? '0x',
      source: refOf(entry.created),
      lastEvent: {
        ...refOf(entry.last),
        kind: entry.kind as NonNullable<SubscriptionSpec['lastEvent']>['kind'],
      },
      ...(minted
        ? {
            credential: {
              tokenId: tokenId.toString(),
              holder: await client.readContract({
                address: deployment.nft,
                abi: AccessCredentialNFTAbi,
                functionName: 'ownerOf',
                args: [tokenId],
                blockNumber: confirmedBlock,
              }),
            },
          }
        : {}),
    });
  }
  return { specs, eventCounts: counts };
}

/** Decodable events of our contracts in [fromBlock, toBlock], by event name. */
export async function eventCounts(
  client: PublicClient,
  deployment: BlockhostDeployment,
  fromBlock: bigint,
  toBlock: bigint,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const logs = await client.getLogs({
    address: [deployment.subscriptions, deployment.nft],
    fromBlock,
    toBlock,
  });
  for (const log of logs) {
    const name = eventName(deployment, log);
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

function eventName(deployment: BlockhostDeployment, log: Log): string | undefined {
  const abi =
    log.address.toLowerCase() === deployment.nft.toLowerCase()
      ? AccessCredentialNFTAbi
      : BlockhostSubscriptionsAbi;
  try {
    return decodeEventLog({ abi, data: log.data, topics: log.topics }).eventName;
  } catch {
    return undefined;
  }
}

/**
 * Differences between the stored Subscription specs and the canonical chain, as readable lines
 * (empty when they match): every canonical subscription is stored with exactly the chain's facts,
 * and every other stored object is marked removedByReorg.
 */
export function differences(stored: { spec: SubscriptionSpec }[], canonical: CanonicalState): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { spec } of stored) {
    const id = spec.subscriptionId;
    if (seen.has(id)) problems.push(`subscription ${id} is stored twice`);
    seen.add(id);
    const expected = canonical.specs.get(id);
    if (!expected) {
      if (!spec.removedByReorg)
        problems.push(`subscription ${id} is not on the chain but not marked removedByReorg`);
      continue;
    }
    for (const key of new Set([...Object.keys(expected), 'credential'])) {
      const want = sortedJson(expected[key as keyof SubscriptionSpec]);
      const have = sortedJson(spec[key as keyof SubscriptionSpec]);
      if (want !== have) problems.push(`subscription ${id} ${key}: stored ${have}, chain ${want}`);
    }
  }
  for (const id of canonical.specs.keys()) if (!seen.has(id)) problems.push(`subscription ${id} is missing`);
  return problems;
}

/** JSON with object keys sorted (the API server returns custom resources with sorted keys). */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
