/**
 * How far a block's timestamp may run ahead of the host clock and still count as chain time (the
 * HostConfig's `chain.maxBlockTimeAheadSeconds` defaults to this). Validators refuse blocks more
 * than a few seconds in their future, and an NTP-synced host is within a second, so honest chains
 * stay well inside 5 minutes even with a drifting host clock; a forged timestamp beyond it is
 * ignored, so a lying endpoint can bring an expiry forward by at most this much.
 */
export const DEFAULT_MAX_BLOCK_TIME_AHEAD_MS = 5 * 60_000;

/** A block timestamp that was not believed, with why. */
export interface BlockTimeRefusal {
  blockTimeMs: number;
  hostNowMs: number;
  message: string;
}

/**
 * Whether a block timestamp may count as chain time: not more than `maxAheadMs` past the host
 * clock. A timestamp behind the host clock always counts (a chain that stalled is not an attack,
 * and waiting for it only delays an expiry).
 */
export function judgeBlockTime(
  blockTimeMs: number,
  hostNowMs: number,
  maxAheadMs: number,
): BlockTimeRefusal | undefined {
  const aheadMs = blockTimeMs - hostNowMs;
  if (!(aheadMs > maxAheadMs) && Number.isFinite(blockTimeMs)) return undefined;
  return {
    blockTimeMs,
    hostNowMs,
    message: `the chain reported a block at ${isoOrRaw(blockTimeMs)}, ${Math.round(aheadMs / 1000)} s ahead of the host clock (at most ${maxAheadMs / 1000} s is believed); chain time does not advance on it`,
  };
}

/** The same refusal in words that do not change from block to block (for status conditions). */
export const blockTimeAheadSummary = (maxAheadMs: number): string =>
  `the chain reports block timestamps more than ${maxAheadMs / 1000} s ahead of the host clock; they are not believed, and chain time does not advance on them`;

const isoOrRaw = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/**
 * "Now" as the chain sees it: the latest block's timestamp, extrapolated with the local clock
 * between reads. Subscriptions expire by chain time (the contract compares `block.timestamp`), so a
 * test chain moved forward with `evm_increaseTime` expires them, and a host whose clock is wrong
 * does not. When the RPC cannot be read the clock runs on for at most `maxExtrapolationMs` and then
 * stands still: an outage can delay an expiry, never bring one forward. A read whose timestamp is
 * too far ahead of the local clock (judgeBlockTime) is treated the same way, and kept in `refusal`
 * until a believable read replaces it.
 */
export class ChainClock {
  private observed?: { chainTimeMs: number; atMs: number };
  private reading?: Promise<void>;
  /** When the chain last answered (believed or not), so a refused read is not repeated at once. */
  private lastReadAtMs?: number;
  /** The latest read, when it was refused; undefined once a read is believed again. */
  refusal?: BlockTimeRefusal;

  constructor(
    /** Reads the latest block's timestamp in milliseconds. */
    private readonly readChainTimeMs: () => Promise<number>,
    private readonly options: {
      refreshMs?: number;
      maxExtrapolationMs?: number;
      localNow?: () => number;
    } = {},
  ) {}

  /** Chain time in ms, or undefined when the chain was never read (believably). */
  async now(maxAheadMs = DEFAULT_MAX_BLOCK_TIME_AHEAD_MS): Promise<number | undefined> {
    const localNow = this.options.localNow ?? Date.now;
    const refreshMs = this.options.refreshMs ?? 1_000;
    if (!this.lastReadAtMs || localNow() - this.lastReadAtMs >= refreshMs) {
      this.reading ??= this.readChainTimeMs()
        .then((chainTimeMs) => {
          const atMs = localNow();
          this.lastReadAtMs = atMs;
          this.refusal = judgeBlockTime(chainTimeMs, atMs, maxAheadMs);
          if (!this.refusal) this.observed = { chainTimeMs, atMs };
        })
        .catch(() => undefined)
        .finally(() => {
          this.reading = undefined;
        });
      await this.reading;
    }
    if (!this.observed) return undefined;
    const elapsed = Math.max(0, localNow() - this.observed.atMs);
    return this.observed.chainTimeMs + Math.min(elapsed, this.options.maxExtrapolationMs ?? 5 * 60_000);
  }
}
