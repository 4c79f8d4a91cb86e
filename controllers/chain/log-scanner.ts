import type { Address, Log, PublicClient } from 'viem';

/** Provider messages that mean "ask for fewer blocks", not "this endpoint is broken". */
const RANGE_ERROR = /range|too many|limit|exceed|too large|query returned more than|-32005|block range/i;

export interface ScanResult {
  /** Last block actually covered (the range may have been shortened). */
  to: bigint;
  logs: Log[];
}

/**
 * eth_getLogs over our contracts in block ranges that adapt to the provider: a range the provider
 * refuses is halved at once (no backoff: it is not a failure), and after a run of successes the
 * range doubles back towards the maximum. Results are checked (inside the range, from our
 * contracts), de-duplicated by (block hash, log index) and sorted, because proxies and load
 * balancers do return duplicates and shuffled lists.
 */
export class LogScanner {
  private span: bigint;
  private successes = 0;

  constructor(
    private readonly client: PublicClient,
    private readonly addresses: Address[],
    /** The most blocks asked for in one request. */
    readonly maxSpan = 2000n,
  ) {
    this.span = maxSpan;
  }

  get currentSpan(): bigint {
    return this.span;
  }

  async scan(from: bigint, to: bigint): Promise<ScanResult> {
    for (;;) {
      const end = from + this.span - 1n < to ? from + this.span - 1n : to;
      try {
        const logs = await this.client.getLogs({ address: this.addresses, fromBlock: from, toBlock: end });
        this.grow();
        return { to: end, logs: this.clean(logs, from, end) };
      } catch (error) {
        if (!RANGE_ERROR.test(errorText(error)) || this.span === 1n) throw error;
        this.span = this.span / 2n > 0n ? this.span / 2n : 1n;
        this.successes = 0;
      }
    }
  }

  private grow(): void {
    this.successes += 1;
    if (this.successes >= 4 && this.span < this.maxSpan) {
      this.span = this.span * 2n > this.maxSpan ? this.maxSpan : this.span * 2n;
      this.successes = 0;
    }
  }

  private clean(logs: Log[], from: bigint, to: bigint): Log[] {
    const ours = new Set(this.addresses.map((a) => a.toLowerCase()));
    const unique = new Map<string, Log>();
    for (const log of logs) {
      if (log.removed || log.blockNumber === null || log.logIndex === null || log.blockHash === null)
        continue;
      if (log.blockNumber < from || log.blockNumber > to) {
        throw new Error(`provider returned a log of block ${log.blockNumber} for range ${from}-${to}`);
      }
      if (!ours.has(log.address.toLowerCase()))
        throw new Error(`provider returned a log of foreign contract ${log.address}`);
      unique.set(`${log.blockHash}:${log.logIndex}`, log);
    }
    return [...unique.values()].sort((a, b) =>
      a.blockNumber === b.blockNumber
        ? (a.logIndex ?? 0) - (b.logIndex ?? 0)
        : a.blockNumber! < b.blockNumber!
          ? -1
          : 1,
    );
  }
}

/** viem wraps provider errors; the provider's own words are in the details/cause chain. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth += 1) {
    const e = current as { message?: string; details?: string; code?: number; cause?: unknown };
    parts.push(String(e.message ?? ''), String(e.details ?? ''), String(e.code ?? ''));
    current = e.cause;
  }
  return parts.join(' ');
}
