import { describe, expect, it } from '@jest/globals';
import { pickVmid, VmidReservations } from './vmid.js';

describe('pickVmid', () => {
  it('takes the lowest free VMID of the range', () => {
    expect(pickVmid({ start: 100, end: 110 }, new Set([100, 101, 103]))).toBe(102);
  });

  it('ignores VMIDs outside the range', () => {
    expect(pickVmid({ start: 500, end: 502 }, new Set([100, 9000, 500]))).toBe(501);
  });

  it('answers undefined when the range is full', () => {
    expect(pickVmid({ start: 100, end: 102 }, new Set([100, 101, 102]))).toBeUndefined();
  });
});

describe('VmidReservations', () => {
  it('gives concurrent callers different VMIDs until they release them', () => {
    const reservations = new VmidReservations();
    const range = { start: 100, end: 199 };
    const picked = Array.from({ length: 10 }, () => reservations.reserve(range, [100, 105]));
    expect(new Set(picked).size).toBe(10);
    expect(picked).toEqual([101, 102, 103, 104, 106, 107, 108, 109, 110, 111]);
    expect(reservations.isReserved(104)).toBe(true);
    reservations.release(104);
    expect(reservations.isReserved(104)).toBe(false);
    expect(reservations.reserve(range, [100, 105])).toBe(104);
  });

  it('answers undefined when every VMID is in use or reserved', () => {
    const reservations = new VmidReservations();
    const range = { start: 100, end: 101 };
    expect(reservations.reserve(range, [100])).toBe(101);
    expect(reservations.reserve(range, [100])).toBeUndefined();
  });
});
