import { describe, expect, it } from '@jest/globals';
import { parseQuantity, quantityToGiB, quantityToMiB } from './quantity.js';

describe('Kubernetes quantities', () => {
  it.each([
    ['2Gi', 2 * 2 ** 30],
    ['512Mi', 512 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1G', 1e9],
    ['1e9', 1e9],
    ['1000', 1000],
    ['100m', 0.1],
  ])('%s is %d', (quantity, value) => {
    expect(parseQuantity(quantity)).toBe(value);
  });

  it('rounds sizes down to whole units', () => {
    expect(quantityToMiB('2Gi')).toBe(2048);
    expect(quantityToGiB('10Gi')).toBe(10);
    expect(quantityToGiB('10G')).toBe(9);
  });

  it.each(['', 'Gi', '2 Gi', '2Xi', '1.2.3'])('rejects "%s"', (quantity) => {
    expect(() => parseQuantity(quantity)).toThrow(/not a Kubernetes quantity/);
  });
});
