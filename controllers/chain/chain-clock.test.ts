import { describe, expect, it } from '@jest/globals';
import { ChainClock } from './chain-clock.js';

describe('chain clock', () => {
  const setup = (reads: (number | Error)[]) => {
    let local = 1_000_000;
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
    expect(await clock.now()).toBe(50_000_000);
    advance(2_000);
    expect(await clock.now()).toBe(50_002_000); // cached read, extrapolated
    expect(calls()).toBe(1);
    advance(3_000);
    expect(await clock.now()).toBe(90_000_000); // refreshed: the chain jumped (evm_increaseTime)
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
