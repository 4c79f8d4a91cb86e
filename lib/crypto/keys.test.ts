import { describe, expect, it } from '@jest/globals';
import { privateKeyToAddress } from 'viem/accounts';
import {
  addressesEqual,
  addressFromPrivateKey,
  addressFromPublicKey,
  generateServerKey,
  isAddress,
  parsePrivateKey,
  parsePublicKey,
  publicKeyFromPrivateKey,
  toChecksumAddress,
} from './index.js';
import { CURVE_N, expectCryptoError, hex32, SERVER_PUB } from './test-support.js';

// The EIP-55 specification's test cases.
const EIP55 = [
  '0x52908400098527886E0F7030069857D2E4169EE7',
  '0x8617E340B3D01FA5F11F306F4090FD50E238070D',
  '0xde709f2102306220921060314715629080e2fb77',
  '0x27b1fdb04752bbc536007a920d24acb045561c26',
  '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
  '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
  '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB',
  '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb',
];

describe('server keys', () => {
  it('generates a 64-hex private key, a 130-hex 04 public key and its address', () => {
    const key = generateServerKey();
    expect(key.privateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(key.publicKey).toMatch(/^04[0-9a-f]{128}$/);
    expect(publicKeyFromPrivateKey(key.privateKey)).toBe(key.publicKey);
    expect(addressFromPublicKey(key.publicKey)).toBe(key.address);
    expect(key.address).toBe(privateKeyToAddress(`0x${key.privateKey}`));
    expect(generateServerKey().privateKey).not.toBe(key.privateKey);
  });

  it('derives well-known addresses', () => {
    expect(addressFromPrivateKey(hex32(1n))).toBe('0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf');
    expect(addressFromPublicKey(SERVER_PUB)).toBe('0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1');
  });

  it('accepts private keys 1 … n-1 and rejects everything else', () => {
    expect(parsePrivateKey(hex32(CURVE_N - 1n))).toHaveLength(32);
    for (const bad of [
      hex32(0n),
      hex32(CURVE_N),
      'ff'.repeat(32),
      '01'.repeat(31),
      '01'.repeat(33),
      '0x',
      'zz',
    ]) {
      expectCryptoError(() => parsePrivateKey(bad), 'INVALID_PRIVATE_KEY');
    }
    expectCryptoError(() => parsePrivateKey(undefined as never), 'INVALID_PRIVATE_KEY');
  });

  it('accepts only uncompressed on-curve public keys', () => {
    expect(parsePublicKey('0x' + SERVER_PUB)).toHaveLength(65);
    for (const bad of [
      '02' + SERVER_PUB.slice(2, 66),
      '06' + SERVER_PUB.slice(2),
      SERVER_PUB.slice(0, -1) + '0',
      '04',
    ]) {
      expectCryptoError(() => parsePublicKey(bad), 'INVALID_PUBLIC_KEY');
    }
  });
});

describe('EIP-55 addresses', () => {
  it('checksums the specification vectors from any case', () => {
    for (const address of EIP55) {
      expect(toChecksumAddress(address.toLowerCase())).toBe(address);
      expect(toChecksumAddress('0x' + address.slice(2).toUpperCase())).toBe(address);
      expect(isAddress(address, { strict: true })).toBe(true);
    }
  });

  it('strict mode rejects a mixed-case address with one letter in the wrong case', () => {
    const wrong = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD';
    expect(isAddress(wrong)).toBe(true);
    expect(isAddress(wrong, { strict: true })).toBe(false);
  });

  it('rejects malformed addresses', () => {
    for (const bad of ['', '0x', EIP55[0]?.slice(0, -1), (EIP55[0] ?? '') + '0', 'x'.repeat(42), 42]) {
      expect(isAddress(bad)).toBe(false);
    }
    expectCryptoError(() => toChecksumAddress('0x123'), 'INVALID_ADDRESS');
  });

  it('compares addresses case-insensitively', () => {
    expect(addressesEqual(EIP55[4] ?? '', (EIP55[4] ?? '').toLowerCase())).toBe(true);
    expect(addressesEqual(EIP55[4] ?? '', EIP55[5] ?? '')).toBe(false);
  });
});
