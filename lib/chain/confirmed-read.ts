import type { Hex, PublicClient } from 'viem';

/** The block a confirmed read was made at, as the agreeing endpoints reported it. */
export interface ConfirmedBlock {
  number: bigint;
  hash: Hex;
  timestampMs: number;
}

export interface Confirmed<T> {
  value: T;
  block: ConfirmedBlock;
  /** How many endpoints gave this answer, of how many asked. */
  agreeing: number;
  endpoints: number;
}

/** No quorum of endpoints gave the same answer: nothing may be destroyed, paid or granted on it. */
export class ChainDisagreement extends Error {
  override readonly name = 'ChainDisagreement';

  constructor(
    message: string,
    /** The block the read was made at, when it got that far (kept out of the message, which ends up in status). */
    readonly blockNumber?: bigint,
  ) {
    super(message);
  }
}

/** A majority: with one endpoint itself, with two both, with three two. */
export const quorumOf = (endpoints: number): number => Math.floor(endpoints / 2) + 1;

/** One endpoint's answer in comparable form, or the error it failed with. */
export type Answer = { key: string } | { error: unknown };

/**
 * The answer at least `quorum` endpoints gave, or why there is none. Pure: the read below feeds it
 * one entry per endpoint; errors never count towards any answer.
 */
export function agreedAnswer(
  answers: readonly Answer[],
  quorum: number,
): { key: string; count: number } | { disagreement: string } {
  const counts = new Map<string, number>();
  let failed = 0;
  for (const answer of answers) {
    if ('error' in answer) failed += 1;
    else counts.set(answer.key, (counts.get(answer.key) ?? 0) + 1);
  }
  const [best] = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (best && best[1] >= quorum) return { key: best[0], count: best[1] };
  const groups = [...counts.values()].sort((a, b) => b - a);
  const said =
    groups.length === 0
      ? 'no endpoint answered'
      : groups.length === 1
        ? `${groups[0]} answered alike`
        : `${groups.length} different answers came back (${groups.join(' / ')})`;
  const silent = failed > 0 ? `, ${failed} could not answer` : '';
  return { disagreement: `${said}${silent}; ${quorum} of ${answers.length} endpoints must agree` };
}

/** JSON that keeps bigints apart from numbers and strings, so equal answers compare equal. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? 'undefined';

/**
 * Reads `call` at the confirmed block on every endpoint and returns the answer a quorum agrees on,
 * with that block. The confirmed block is `confirmations` below the highest head a quorum has
 * reached, so one endpoint claiming a far head cannot move it; the answer must match in the block's
 * hash and timestamp as well as in value, so endpoints on different forks never agree. With a single
 * endpoint the quorum is that endpoint, and the read is still made `confirmations` deep.
 * Throws ChainDisagreement (with the reason) when no quorum answers alike.
 */
export async function readConfirmed<T>(
  /** One client per endpoint (not a fallback client: each must answer for itself). */
  clients: readonly PublicClient[],
  confirmations: number,
  what: string,
  call: (client: PublicClient, blockNumber: bigint) => Promise<T>,
): Promise<Confirmed<T>> {
  const quorum = quorumOf(clients.length);
  const heads = await Promise.allSettled(clients.map((c) => c.getBlockNumber({ cacheTime: 0 })));
  const known = heads
    .flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []))
    .sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  if (known.length < quorum)
    throw new ChainDisagreement(
      `cannot confirm ${what}: only ${known.length} of ${clients.length} RPC endpoints answered (${quorum} must agree)`,
    );
  const reached = known[quorum - 1]!;
  const number = reached > BigInt(confirmations) ? reached - BigInt(confirmations) : 0n;
  const results = await Promise.all(
    clients.map(async (client) => {
      try {
        const [block, value] = await Promise.all([
          client.getBlock({ blockNumber: number }),
          call(client, number),
        ]);
        const answer = {
          block: { number, hash: block.hash, timestampMs: Number(block.timestamp) * 1000 },
          value,
        };
        return { key: canonical(answer), answer };
      } catch (error) {
        return { error };
      }
    }),
  );
  const agreed = agreedAnswer(results, quorum);
  if ('disagreement' in agreed)
    throw new ChainDisagreement(`cannot confirm ${what}: ${agreed.disagreement}`, number);
  const { answer } = results.find((r) => 'key' in r && r.key === agreed.key) as {
    answer: { block: ConfirmedBlock; value: T };
  };
  return { ...answer, agreeing: agreed.count, endpoints: clients.length };
}
