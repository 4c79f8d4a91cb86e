import { describe, expect, it } from '@jest/globals';
import { randomBytes } from '@noble/hashes/utils.js';
import {
  bytesToHex,
  CryptoError,
  decryptUserSignature,
  ECIES_OVERHEAD,
  eciesDecrypt,
  eciesEncrypt,
  encryptUserSignature,
  generateServerKey,
  hexToBytes,
} from './index.js';
import {
  CURVE_N,
  CURVE_P,
  ECIES_BLOB,
  EPHEMERAL_PRIV,
  EPHEMERAL_PUB,
  expectCryptoError,
  hex32,
  IV,
  SERVER_PRIV,
  SERVER_PUB,
  SIGNATURE,
} from './test-support.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const vector = (): Uint8Array => hexToBytes(ECIES_BLOB);
/** Encrypts arbitrary bytes with the vector's fixed ephemeral key and iv. */
const fixed = (plaintext: Uint8Array): Uint8Array =>
  eciesEncrypt(SERVER_PUB, plaintext, { ephemeralPrivateKey: EPHEMERAL_PRIV, iv: IV });

describe('eciesEncrypt / eciesDecrypt', () => {
  it('round-trips plaintexts of many sizes with fresh keys', () => {
    const server = generateServerKey();
    for (const size of [0, 1, 15, 16, 17, 132, 1000, 65_536]) {
      const plaintext = randomBytes(size);
      const blob = eciesEncrypt(server.publicKey, plaintext);
      expect(blob.length).toBe(ECIES_OVERHEAD + size);
      expect(blob[0]).toBe(0x04);
      expect(eciesDecrypt(server.privateKey, blob)).toEqual(plaintext);
    }
  });

  it('uses a fresh ephemeral key and iv per message', () => {
    const a = eciesEncrypt(SERVER_PUB, utf8('same'));
    const b = eciesEncrypt(SERVER_PUB, utf8('same'));
    expect(bytesToHex(a.subarray(0, 65))).not.toBe(bytesToHex(b.subarray(0, 65)));
    expect(bytesToHex(a.subarray(65, 77))).not.toBe(bytesToHex(b.subarray(65, 77)));
  });

  it('fails with DECRYPTION_FAILED under the wrong server key', () => {
    expectCryptoError(() => eciesDecrypt(generateServerKey().privateKey, ECIES_BLOB), 'DECRYPTION_FAILED');
  });

  it('detects every single-byte change: ephemeral key → INVALID_EPHEMERAL_KEY, rest → DECRYPTION_FAILED', () => {
    const blob = vector();
    for (let i = 0; i < blob.length; i++) {
      const tampered = blob.slice();
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      expectCryptoError(
        () => eciesDecrypt(SERVER_PRIV, tampered),
        i < 65 ? 'INVALID_EPHEMERAL_KEY' : 'DECRYPTION_FAILED',
      );
    }
  });

  it('fails with DECRYPTION_FAILED when a different valid ephemeral key is substituted', () => {
    const blob = vector();
    blob.set(hexToBytes(SERVER_PUB), 0); // valid point, wrong shared secret
    expectCryptoError(() => eciesDecrypt(SERVER_PRIV, blob), 'DECRYPTION_FAILED');
  });

  it('rejects every length below the minimum with CIPHERTEXT_TOO_SHORT', () => {
    const blob = vector();
    expect(ECIES_OVERHEAD).toBe(93);
    for (let length = 0; length < ECIES_OVERHEAD; length++) {
      expectCryptoError(() => eciesDecrypt(SERVER_PRIV, blob.subarray(0, length)), 'CIPHERTEXT_TOO_SHORT');
    }
  });

  it('rejects truncation above the minimum and appended bytes with DECRYPTION_FAILED', () => {
    const blob = vector();
    for (let length = ECIES_OVERHEAD; length < blob.length; length++) {
      expectCryptoError(() => eciesDecrypt(SERVER_PRIV, blob.subarray(0, length)), 'DECRYPTION_FAILED');
    }
    expectCryptoError(() => eciesDecrypt(SERVER_PRIV, ECIES_BLOB + '00'), 'DECRYPTION_FAILED');
  });

  it('accepts the empty plaintext (a 93-byte blob)', () => {
    const blob = fixed(new Uint8Array(0));
    expect(blob.length).toBe(93);
    expect(eciesDecrypt(SERVER_PRIV, blob)).toEqual(new Uint8Array(0));
  });

  it('rejects ephemeral keys without the 0x04 prefix', () => {
    for (const prefix of [0x00, 0x02, 0x03, 0x05, 0x06, 0x07, 0xff]) {
      const blob = vector();
      blob[0] = prefix;
      expectCryptoError(() => eciesDecrypt(SERVER_PRIV, blob), 'INVALID_EPHEMERAL_KEY');
    }
  });

  it('rejects ephemeral points that are not on the curve', () => {
    const x = EPHEMERAL_PUB.slice(2, 66);
    const y = BigInt('0x' + EPHEMERAL_PUB.slice(66));
    const points = [
      '04' + x + hex32((y + 1n) % CURVE_P), // y nudged off the curve
      '04' + hex32(0n) + hex32(0n), // (0, 0): what some encoders emit for infinity
      '04' + hex32(CURVE_P) + hex32(y), // x not a field element
      '04' + x + hex32(CURVE_P), // y not a field element
    ];
    for (const point of points) {
      const blob = vector();
      blob.set(hexToBytes(point), 0);
      expectCryptoError(() => eciesDecrypt(SERVER_PRIV, blob), 'INVALID_EPHEMERAL_KEY');
    }
  });

  it('rejects malformed hex blobs with INVALID_HEX', () => {
    for (const bad of ['0x0', 'zz', '0x' + 'g'.repeat(200), ` ${ECIES_BLOB}`, ECIES_BLOB + '\n', '0x-1']) {
      expectCryptoError(() => eciesDecrypt(SERVER_PRIV, bad), 'INVALID_HEX');
    }
    expectCryptoError(() => eciesDecrypt(SERVER_PRIV, 42 as never), 'INVALID_HEX');
  });

  it('rejects invalid server private keys with INVALID_PRIVATE_KEY', () => {
    for (const bad of [
      hex32(0n),
      hex32(CURVE_N),
      hex32(CURVE_N + 1n),
      '01'.repeat(31),
      '01'.repeat(33),
      'x',
    ]) {
      expectCryptoError(() => eciesDecrypt(bad, ECIES_BLOB), 'INVALID_PRIVATE_KEY');
    }
  });

  it('validates the public key, the options and the plaintext on encryption', () => {
    const compressed = '02' + SERVER_PUB.slice(2, 66);
    expectCryptoError(() => eciesEncrypt(compressed, utf8('x')), 'INVALID_PUBLIC_KEY');
    expectCryptoError(() => eciesEncrypt('05' + SERVER_PUB.slice(2), utf8('x')), 'INVALID_PUBLIC_KEY');
    expectCryptoError(() => eciesEncrypt(SERVER_PUB.slice(0, -2) + '00', utf8('x')), 'INVALID_PUBLIC_KEY');
    expectCryptoError(() => eciesEncrypt(SERVER_PUB, utf8('x'), { iv: '03'.repeat(11) }), 'INVALID_OPTION');
    expectCryptoError(
      () => eciesEncrypt(SERVER_PUB, utf8('x'), { ephemeralPrivateKey: hex32(0n) }),
      'INVALID_PRIVATE_KEY',
    );
    expectCryptoError(() => eciesEncrypt(SERVER_PUB, 'text' as never), 'INVALID_PLAINTEXT');
  });
});

describe('encryptUserSignature / decryptUserSignature', () => {
  it('round-trips a signature text, keeping its exact case', () => {
    const server = generateServerKey();
    const upper = '0x' + 'AB'.repeat(64) + '1c';
    expect(decryptUserSignature(server.privateKey, encryptUserSignature(server.publicKey, upper))).toBe(
      upper,
    );
  });

  it('refuses to encrypt something that is not a 0x signature', () => {
    for (const bad of [SIGNATURE.slice(2), SIGNATURE + '00', SIGNATURE.slice(0, -1), 'blockhost-access']) {
      expectCryptoError(() => encryptUserSignature(SERVER_PUB, bad), 'INVALID_SIGNATURE');
    }
  });

  it('rejects decrypted content that is not a 0x + 130-hex signature with INVALID_PLAINTEXT', () => {
    const contents = [
      utf8('hello'),
      utf8(SIGNATURE.slice(2)), // no 0x
      utf8(SIGNATURE + '\n'),
      utf8(SIGNATURE.slice(0, -1)),
      utf8(SIGNATURE.slice(0, -1) + 'g'),
      new Uint8Array(0),
      Uint8Array.of(0xff, 0xfe), // not UTF-8
    ];
    for (const content of contents) {
      expectCryptoError(() => decryptUserSignature(SERVER_PRIV, fixed(content)), 'INVALID_PLAINTEXT');
    }
  });

  it('passes ECIES errors through unchanged', () => {
    expectCryptoError(() => decryptUserSignature(SERVER_PRIV, '0x04'), 'CIPHERTEXT_TOO_SHORT');
    const error = (() => {
      try {
        decryptUserSignature(generateServerKey().privateKey, ECIES_BLOB);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('DECRYPTION_FAILED');
  });
});
