/**
 * "Now" as the chain sees it: the latest block's timestamp, extrapolated with the local clock
 * between reads. Subscriptions expire by chain time (the contract compares `block.timestamp`), so a
 * test chain moved forward with `evm_increaseTime` expires them, and a host whose clock is wrong
 * does not. When the RPC cannot be read the clock runs on for at most `maxExtrapolationMs` and then
 * stands still: an outage can delay an expiry, never bring one forward.
 */
export class ChainClock {
  private observed?: { chainTimeMs: number; atMs: number };
  private reading?: Promise<void>;

  constructor(
    /** Reads the latest block's timestamp in milliseconds. */
    private readonly readChainTimeMs: () => Promise<number>,
    private readonly options: {
      refreshMs?: number;
      maxExtrapolationMs?: number;
      localNow?: () => number;
    } = {},
  ) {}

  /** Chain time in ms, or undefined when the chain was never read. */
  async now(): Promise<number | undefined> {
    const localNow = this.options.localNow ?? Date.now;
    const refreshMs = this.options.refreshMs ?? 1_000;
    if (!this.observed || localNow() - this.observed.atMs >= refreshMs) {
      this.reading ??= this.readChainTimeMs()
        .then((chainTimeMs) => {
          this.observed = { chainTimeMs, atMs: localNow() };
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
