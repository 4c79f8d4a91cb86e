import { describe, expect, it } from '@jest/globals';
import { ChainClock, judgeBlockTime } from './chain-clock.js';

describe('chain clock', () => {
  const setup = (reads: (number | Error)[]) => {
    let local = 49_990_000; // just behind the chain's first block, like a synced host
    let calls = 0;
    const clock = new ChainClock(
      async () => {
        const next = reads[Math.min(calls++, reads.length - 1)]!;
        if (next instanceof Error) throw next;
        return next;
      },
      { refreshMs: 5_000, maxExtrapolationMs: 60_000, localNow: () => local },
    );
    return { clock, advance: (ms: number) => (local += ms), calls: () => calls };
  };

  it('is undefined until the chain was read once', async () => {
    const { clock } = setup([new Error('rpc down')]);
    expect(await clock.now()).toBeUndefined();
  });

  it('follows the chain, not the local clock, and extrapolates between reads', async () => {
    const { clock, advance, calls } = setup([50_000_000, 90_000_000]);
    // A test chain moved days ahead (evm_increaseTime) is believed under a wide enough tolerance.
    const tolerance = 86_400_000;
    expect(await clock.now(tolerance)).toBe(50_000_000);
    advance(2_000);
    expect(await clock.now(tolerance)).toBe(50_002_000); // cached read, extrapolated
    expect(calls()).toBe(1);
    advance(3_000);
    expect(await clock.now(tolerance)).toBe(90_000_000); // refreshed: the chain jumped
  });

  it('stands still after the extrapolation cap while the RPC fails', async () => {
    const { clock, advance } = setup([50_000_000, new Error('rpc down')]);
    await clock.now();
    advance(30_000);
    expect(await clock.now()).toBe(50_030_000);
    advance(10 * 60_000);
    expect(await clock.now()).toBe(50_060_000);
  });
});

describe('judgeBlockTime: which block timestamps count as chain time', () => {
  const host = Date.parse('2026-01-01T00:00:00Z');
  const minute = 60_000;
  it.each([
    ['the host clock exactly', host, 5 * minute, true],
    ['behind the host clock (a stalled chain)', host - 3 * 86_400_000, 5 * minute, true],
    ['ahead by less than the tolerance', host + 4 * minute, 5 * minute, true],
    ['ahead by exactly the tolerance', host + 5 * minute, 5 * minute, true],
    ['ahead by one ms more than the tolerance', host + 5 * minute + 1, 5 * minute, false],
    ['a forged timestamp eight days ahead', host + 8 * 86_400_000, 5 * minute, false],
    [
      'eight days ahead under a test chain tolerance of 30 days',
      host + 8 * 86_400_000,
      30 * 86_400_000,
      true,
    ],
    ['not a number', Number.NaN, 5 * minute, false],
  ])('%s: believed %s', (_case, block, tolerance, believed) => {
    const refusal = judgeBlockTime(block, host, tolerance);
    expect(refusal === undefined).toBe(believed);
    if (refusal) expect(refusal.message).toContain('ahead of the host clock');
  });
});

describe('chain clock and future timestamps', () => {
  it('never advances on a block too far ahead of the local clock, and says so until a believable read', async () => {
    let local = 1_000_000_000;
    const reads = [local + 1_000, local + 86_400_000, local + 7_000];
    let calls = 0;
    const clock = new ChainClock(async () => reads[Math.min(calls++, reads.length - 1)]!, {
      refreshMs: 5_000,
      localNow: () => local,
    });
    expect(await clock.now(60_000)).toBe(local + 1_000);
    expect(clock.refusal).toBeUndefined();
    local += 5_000;
    // The forged read: chain time goes on from the last believed read, as in an outage.
    expect(await clock.now(60_000)).toBe(1_000_001_000 + 5_000);
    expect(clock.refusal?.blockTimeMs).toBe(1_000_000_000 + 86_400_000);
    local += 1_000;
    expect(await clock.now(60_000)).toBe(1_000_001_000 + 6_000);
    expect(calls).toBe(2); // a refused read is not retried before refreshMs either
    local += 5_000;
    expect(await clock.now(60_000)).toBe(1_000_000_000 + 7_000);
    expect(clock.refusal).toBeUndefined();
  });

  it('stays unread while the only reads are too far ahead', async () => {
    const clock = new ChainClock(async () => Date.now() + 3_600_000);
    expect(await clock.now()).toBeUndefined();
    expect(clock.refusal?.message).toMatch(/3600 s ahead of the host clock \(at most 300 s is believed\)/);
  });
});
