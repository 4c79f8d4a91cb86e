import { describe, expect, it } from '@jest/globals';
import type { ObservedVm } from '../backend.js';
import { needsResize } from './resize.js';

const size = { cpu: 2, memoryMiB: 2048, diskGiB: 20 };
const observed = (overrides: Partial<ObservedVm>): ObservedVm => ({
  id: 'd1',
  power: 'Running',
  guestAgentConnected: true,
  addresses: {},
  ...overrides,
});

describe('needsResize', () => {
  it.each([
    ['matching', { cpu: 2, memoryMiB: 2048, diskGiB: 20 }, false],
    ['more CPUs wanted', { cpu: 1, memoryMiB: 2048, diskGiB: 20 }, true],
    ['fewer CPUs wanted', { cpu: 4, memoryMiB: 2048, diskGiB: 20 }, true],
    ['other memory', { cpu: 2, memoryMiB: 1024, diskGiB: 20 }, true],
    ['a smaller disk grows', { cpu: 2, memoryMiB: 2048, diskGiB: 10 }, true],
    ['a larger disk never shrinks', { cpu: 2, memoryMiB: 2048, diskGiB: 40 }, false],
    ['nothing reported is taken as matching', {}, false],
  ])('%s: %s', (_case, reported, expected) => {
    expect(needsResize(observed(reported), size)).toBe(expected);
  });
});
