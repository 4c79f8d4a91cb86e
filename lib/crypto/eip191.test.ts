import { describe, expect, it } from '@jest/globals';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { recoverMessageAddress, verifyMessage as viemVerifyMessage, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  addressFromPrivateKey,
  authMessage,
  bytesToHex,
  hashMessage,
  hexToBytes,
  recoverAddress,
  signMessage,
  verifyMessage,
} from './index.js';
import { CURVE_N, expectCryptoError, hex32, SERVER_PRIV } from './test-support.js';

const SERVER_ADDRESS = '0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1';
// Signatures produced by viem's privateKeyToAccount(0x01…01).signMessage (deterministic RFC 6979).
const SIG_PUBLIC_SECRET =
  '0x3c5d066be66b53b9e1685859cb1ea4c961acc1ad44ebcacee2e815822f0a729411507c1f6b33e70767b3c51adf93c1f1a16103145d2537ad15d4dc2bca28da601c';
const SIG_AUTH =
  '0x6fb175be83a7db99eb4c00d58aeb2b6a52afa0ad8d2bfdf2a72806bc43b36c3f5893e908cdcbd3ac227065135cdb533c75a2e3ff629cf9c9bde5a3cd5ebdb2071b';
const AUTH = 'Authenticate to blockhost-001 with code: ABC234';

/** Replaces the v byte of a 0x signature. */
const withV = (signature: string, v: number): string =>
  signature.slice(0, 130) + v.toString(16).padStart(2, '0');

describe('hashMessage', () => {
  it('matches the published EIP-191 hashes (viem and ethers docs)', () => {
    expect(hashMessage('hello world')).toBe(
      '0xd9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68',
    );
    expect(hashMessage('Hello World')).toBe(
      '0xa1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2',
    );
    expect(hashMessage('')).toBe('0x5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad');
  });

  it('prefixes the UTF-8 byte length, not the character count', () => {
    const message = 'héllo ✓';
    expect(hashMessage(message)).toBe(hashMessage(new TextEncoder().encode(message)));
    expect(hashMessage(message)).not.toBe(hashMessage('hello ✓'));
  });
});

describe('signMessage / recoverAddress', () => {
  it('signs the public secret and the login message exactly like viem', () => {
    expect(addressFromPrivateKey(SERVER_PRIV)).toBe(SERVER_ADDRESS);
    expect(signMessage(SERVER_PRIV, 'blockhost-access')).toBe(SIG_PUBLIC_SECRET);
    expect(signMessage(SERVER_PRIV, authMessage('blockhost-001', 'ABC234'))).toBe(SIG_AUTH);
    expect(recoverAddress('blockhost-access', SIG_PUBLIC_SECRET)).toBe(SERVER_ADDRESS);
    expect(recoverAddress(AUTH, SIG_AUTH)).toBe(SERVER_ADDRESS);
  });

  it('agrees with viem on random keys and messages (text and raw bytes)', async () => {
    const messages: (string | Uint8Array)[] = [
      '',
      'blockhost-access',
      'ünïcødé ✓ 🚀',
      'x'.repeat(1000),
      randomBytes(77),
    ];
    for (let i = 0; i < 10; i++) {
      const key = bytesToHex(secp256k1.utils.randomSecretKey()) as Hex;
      const account = privateKeyToAccount(key);
      for (const message of messages) {
        const viemMessage = typeof message === 'string' ? message : { raw: message };
        const ours = signMessage(key, message);
        expect(ours).toBe(await account.signMessage({ message: viemMessage }));
        expect(recoverAddress(message, ours)).toBe(account.address);
        expect(await recoverMessageAddress({ message: viemMessage, signature: ours as Hex })).toBe(
          account.address,
        );
        expect(
          await viemVerifyMessage({ address: account.address, message: viemMessage, signature: ours as Hex }),
        ).toBe(true);
      }
    }
  });

  it('accepts v as 27/28 or 0/1, as viem does', async () => {
    const v = Number.parseInt(SIG_AUTH.slice(130), 16);
    const bare = withV(SIG_AUTH, v - 27);
    expect(recoverAddress(AUTH, bare)).toBe(SERVER_ADDRESS);
    expect(await recoverMessageAddress({ message: AUTH, signature: bare as Hex })).toBe(SERVER_ADDRESS);
    // Flipping the parity recovers some other key.
    expect(recoverAddress(AUTH, withV(SIG_AUTH, v === 27 ? 28 : 27))).not.toBe(SERVER_ADDRESS);
  });

  it('rejects any other v with INVALID_SIGNATURE', () => {
    for (const v of [2, 3, 26, 29, 35, 36, 37, 38, 255]) {
      expectCryptoError(() => recoverAddress(AUTH, withV(SIG_AUTH, v)), 'INVALID_SIGNATURE');
    }
  });

  it('rejects high-s signatures, which viem would still accept', async () => {
    const r = SIG_AUTH.slice(2, 66);
    const s = BigInt('0x' + SIG_AUTH.slice(66, 130));
    const v = Number.parseInt(SIG_AUTH.slice(130), 16);
    const highS = '0x' + r + hex32(CURVE_N - s) + (v === 27 ? '1c' : '1b');
    expect(await recoverMessageAddress({ message: AUTH, signature: highS as Hex })).toBe(SERVER_ADDRESS);
    expectCryptoError(() => recoverAddress(AUTH, highS), 'INVALID_SIGNATURE');
  });

  it('rejects r or s out of range and r that is no x-coordinate', () => {
    const s = SIG_AUTH.slice(66, 130);
    const r = SIG_AUTH.slice(2, 66);
    let notX = 1n; // smallest r for which x³ + 7 has no square root
    while (secp256k1.utils.isValidPublicKey(hexToBytes('02' + hex32(notX)), true)) notX++;
    for (const bad of [
      '0x' + hex32(0n) + s + '1b',
      '0x' + r + hex32(0n) + '1b',
      '0x' + hex32(CURVE_N) + s + '1b',
      '0x' + r + hex32(CURVE_N) + '1b',
      '0x' + 'ff'.repeat(64) + '1b',
      '0x' + hex32(notX) + s + '1b',
    ]) {
      expectCryptoError(() => recoverAddress(AUTH, bad), 'INVALID_SIGNATURE');
    }
  });

  it('rejects malformed signatures and messages', () => {
    for (const bad of ['', '0x', SIG_AUTH.slice(0, -2), SIG_AUTH + '00', SIG_AUTH.replace('6f', 'zz')]) {
      expectCryptoError(() => recoverAddress(AUTH, bad), 'INVALID_SIGNATURE');
    }
    expectCryptoError(() => recoverAddress(42 as never, SIG_AUTH), 'INVALID_MESSAGE');
    expectCryptoError(() => signMessage(hex32(0n), AUTH), 'INVALID_PRIVATE_KEY');
  });
});

describe('verifyMessage', () => {
  it('compares addresses case-insensitively', () => {
    for (const address of [
      SERVER_ADDRESS,
      SERVER_ADDRESS.toLowerCase(),
      '0x' + SERVER_ADDRESS.slice(2).toUpperCase(),
    ]) {
      expect(verifyMessage(AUTH, SIG_AUTH, address)).toBe(true);
    }
  });

  it('returns false for another wallet or another message', () => {
    expect(verifyMessage(AUTH, SIG_AUTH, '0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf')).toBe(false);
    expect(verifyMessage(AUTH.replace('ABC234', 'ABC235'), SIG_AUTH, SERVER_ADDRESS)).toBe(false);
  });

  it('throws for a malformed address or signature', () => {
    expectCryptoError(() => verifyMessage(AUTH, SIG_AUTH, SERVER_ADDRESS.slice(0, -1)), 'INVALID_ADDRESS');
    expectCryptoError(() => verifyMessage(AUTH, SIG_AUTH.slice(0, -2), SERVER_ADDRESS), 'INVALID_SIGNATURE');
  });
});
