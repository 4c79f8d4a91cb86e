import { describe, expect, it } from '@jest/globals';
import { authMessage, CODE_ALPHABET, CODE_LENGTH, codesMatch, generateCode, normalizeCode } from './index.js';
import { expectCryptoError } from './test-support.js';

describe('authMessage', () => {
  it('builds the exact login message', () => {
    expect(authMessage('blockhost-001', 'ABC234')).toBe('Authenticate to blockhost-001 with code: ABC234');
  });

  it('refuses empty parts and control characters (a line break could disguise the message)', () => {
    for (const [machine, code] of [
      ['', 'ABC234'],
      ['m', ''],
      ['m\nSend all funds', 'ABC234'],
      ['m', 'AB\r'],
      ['m', 'A\u0000'],
    ] as const) {
      expectCryptoError(() => authMessage(machine, code), 'INVALID_MESSAGE');
    }
  });
});

describe('generateCode', () => {
  it('uses the 31-symbol alphabet without 0, O, 1, I, L', () => {
    expect(CODE_ALPHABET).toHaveLength(31);
    expect(new Set(CODE_ALPHABET).size).toBe(31);
    expect(CODE_ALPHABET).not.toMatch(/[0O1IL]/);
  });

  it('returns 6 symbols from the alphabet by default', () => {
    expect(CODE_LENGTH).toBe(6);
    for (let i = 0; i < 200; i++) expect(generateCode()).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ2-9]{6}$/);
    expect(generateCode(12)).toHaveLength(12);
  });

  it('discards bytes 248-255 instead of folding them onto the first symbols', () => {
    const queue = [248, 255, 0, 30, 31, 247, 249, 61, 62, 100];
    const source = (n: number): Uint8Array => Uint8Array.from(queue.splice(0, n));
    // 0→A, 30→9, 31→A, 247→247-7·31=30→9, 61→30→9, 62→0→A
    expect(generateCode(6, source)).toBe('A9A99A');
  });

  it('is roughly uniform (chi-squared over 60,000 symbols)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) for (const c of generateCode()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(31);
    const expected = 60_000 / 31;
    let chi2 = 0;
    for (const count of counts.values()) chi2 += (count - expected) ** 2 / expected;
    // 30 degrees of freedom: P(chi2 > 70) ≈ 5e-5, so this only fails on real bias.
    expect(chi2).toBeLessThan(70);
  });

  it('rejects silly lengths', () => {
    for (const length of [0, -1, 1.5, 65, Number.NaN])
      expectCryptoError(() => generateCode(length), 'INVALID_OPTION');
  });
});

describe('codesMatch', () => {
  it('compares case-insensitively and ignores surrounding spaces', () => {
    expect(normalizeCode(' abc234 ')).toBe('ABC234');
    expect(codesMatch('ABC234', 'abc234')).toBe(true);
    expect(codesMatch('ABC234', ' abc234\n')).toBe(true);
    expect(codesMatch('ABC234', 'ABC235')).toBe(false);
    expect(codesMatch('ABC234', 'ABC2345')).toBe(false);
    expect(codesMatch('', '')).toBe(false);
  });
});
