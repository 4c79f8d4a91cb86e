import { describe, expect, it } from '@jest/globals';
import { bytesToHex, CryptoError, hexToBytes, isCryptoError } from './index.js';
import { expectCryptoError } from './test-support.js';

describe('hex', () => {
  it('decodes with or without 0x, in any case', () => {
    expect(hexToBytes('0x0aFf')).toEqual(Uint8Array.of(0x0a, 0xff));
    expect(hexToBytes('0X0aff')).toEqual(Uint8Array.of(0x0a, 0xff));
    expect(hexToBytes('0aff')).toEqual(Uint8Array.of(0x0a, 0xff));
    expect(hexToBytes('')).toEqual(new Uint8Array(0));
    expect(hexToBytes('0x')).toEqual(new Uint8Array(0));
  });

  it('rejects odd length, non-hex characters, whitespace, signs and non-strings', () => {
    for (const bad of ['0', '0x0', 'zz', '0xgg', ' 00', '00 ', '0x-1', '+1', '0x0x00', '１２']) {
      expectCryptoError(() => hexToBytes(bad), 'INVALID_HEX');
    }
    for (const bad of [null, undefined, 12, {}, [0]]) {
      expectCryptoError(() => hexToBytes(bad as never), 'INVALID_HEX');
    }
  });

  it('encodes lowercase, 0x-prefixed unless asked not to', () => {
    expect(bytesToHex(Uint8Array.of(0, 0xab, 0xff))).toBe('0x00abff');
    expect(bytesToHex(Uint8Array.of(0, 0xab, 0xff), { prefix: false })).toBe('00abff');
    expectCryptoError(() => bytesToHex('00' as never), 'INVALID_HEX');
  });
});

describe('CryptoError', () => {
  it('carries a code and is recognised across realms by shape', () => {
    const error = new CryptoError('INVALID_HEX', 'x');
    expect(error.name).toBe('CryptoError');
    expect(isCryptoError(error, 'INVALID_HEX')).toBe(true);
    expect(isCryptoError(error, 'DECRYPTION_FAILED')).toBe(false);
    expect(isCryptoError({ name: 'CryptoError', code: 'INVALID_HEX', message: 'x' })).toBe(true);
    expect(isCryptoError(new TypeError('x'))).toBe(false);
  });
});
