import { describe, expect, it } from '@jest/globals';
import { randomBytes } from '@noble/hashes/utils.js';
import {
  bytesToHex,
  decryptConnectionDetails,
  decryptWithSignature,
  encodeConnectionDetails,
  encryptConnectionDetails,
  encryptWithSignature,
  hexToBytes,
  isConnectionDetails,
  parseConnectionDetails,
  signatureKey,
  SYMMETRIC_OVERHEAD,
} from './index.js';
import { expectCryptoError, NONCE, SIGNATURE, SYM_BLOB, SYM_KEY } from './test-support.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('signatureKey', () => {
  it('normalises 0x, bare, upper-case and byte signatures to the same key', () => {
    for (const form of [SIGNATURE, SIGNATURE.slice(2), SIGNATURE.toUpperCase(), hexToBytes(SIGNATURE)]) {
      expect(bytesToHex(signatureKey(form), { prefix: false })).toBe(SYM_KEY);
    }
  });

  it('rejects anything that is not 65 bytes of hex with INVALID_SIGNATURE', () => {
    for (const bad of [
      SIGNATURE.slice(0, -2),
      SIGNATURE + '00',
      SIGNATURE.slice(0, -1),
      'hello',
      '',
      new Uint8Array(64),
    ]) {
      expectCryptoError(() => signatureKey(bad), 'INVALID_SIGNATURE');
    }
  });
});

describe('encryptWithSignature / decryptWithSignature', () => {
  it('round-trips random plaintexts under random signatures', () => {
    for (const size of [0, 1, 16, 55, 4096]) {
      const signature = bytesToHex(randomBytes(65));
      const plaintext = randomBytes(size);
      const blob = encryptWithSignature(signature, plaintext);
      expect(blob).toMatch(/^0x[0-9a-f]+$/);
      expect(hexToBytes(blob).length).toBe(SYMMETRIC_OVERHEAD + size);
      expect(decryptWithSignature(signature, blob)).toEqual(plaintext);
      expect(decryptWithSignature(signature.slice(2), blob.slice(2))).toEqual(plaintext);
    }
  });

  it('uses a fresh nonce per message', () => {
    const a = encryptWithSignature(SIGNATURE, utf8('same'));
    const b = encryptWithSignature(SIGNATURE, utf8('same'));
    expect(a.slice(0, 26)).not.toBe(b.slice(0, 26));
  });

  it('fails with DECRYPTION_FAILED under another signature (even one differing only in v)', () => {
    expectCryptoError(
      () => decryptWithSignature(SIGNATURE.slice(0, -2) + '1c', SYM_BLOB),
      'DECRYPTION_FAILED',
    );
    expectCryptoError(() => decryptWithSignature(bytesToHex(randomBytes(65)), SYM_BLOB), 'DECRYPTION_FAILED');
  });

  it('detects every single-byte change with DECRYPTION_FAILED', () => {
    const blob = hexToBytes(SYM_BLOB);
    for (let i = 0; i < blob.length; i++) {
      const tampered = blob.slice();
      tampered[i] = (tampered[i] ?? 0) ^ 0x80;
      expectCryptoError(() => decryptWithSignature(SIGNATURE, tampered), 'DECRYPTION_FAILED');
    }
  });

  it('rejects every length below nonce + tag with CIPHERTEXT_TOO_SHORT, longer truncations with DECRYPTION_FAILED', () => {
    const blob = hexToBytes(SYM_BLOB);
    expect(SYMMETRIC_OVERHEAD).toBe(28);
    for (let length = 0; length < blob.length; length++) {
      expectCryptoError(
        () => decryptWithSignature(SIGNATURE, blob.subarray(0, length)),
        length < SYMMETRIC_OVERHEAD ? 'CIPHERTEXT_TOO_SHORT' : 'DECRYPTION_FAILED',
      );
    }
  });

  it('rejects malformed hex blobs and options', () => {
    for (const bad of ['0x123', 'nothex', SYM_BLOB + ' ']) {
      expectCryptoError(() => decryptWithSignature(SIGNATURE, bad), 'INVALID_HEX');
    }
    expectCryptoError(
      () => encryptWithSignature(SIGNATURE, utf8('x'), { nonce: NONCE + '04' }),
      'INVALID_OPTION',
    );
    expectCryptoError(() => encryptWithSignature(SIGNATURE, 'text' as never), 'INVALID_PLAINTEXT');
  });
});

describe('connection details', () => {
  const details = { hostname: '2001:db8::5', port: 22, username: 'user' };

  it('encodes compact JSON in hostname, port, username order whatever the input order', () => {
    expect(encodeConnectionDetails({ username: 'user', port: 22, hostname: '2001:db8::5' })).toBe(
      '{"hostname":"2001:db8::5","port":22,"username":"user"}',
    );
  });

  it("parses the original's spaced JSON and drops extra keys", () => {
    expect(
      parseConnectionDetails('{"hostname": "2001:db8::5", "port": 22, "username": "user", "x": 1}'),
    ).toEqual(details);
  });

  it('round-trips through encryption', () => {
    const signature = bytesToHex(randomBytes(65));
    const vm = { hostname: 'vm-7.example.org', port: 2222, username: 'admin' };
    expect(decryptConnectionDetails(signature, encryptConnectionDetails(signature, vm))).toEqual(vm);
  });

  it('refuses invalid details with INVALID_PLAINTEXT', () => {
    const bad: unknown[] = [
      null,
      [],
      'text',
      { ...details, port: 0 },
      { ...details, port: 65536 },
      { ...details, port: 22.5 },
      { ...details, port: '22' },
      { ...details, hostname: '' },
      { ...details, hostname: 'a b' },
      { ...details, username: 'user\n' },
      { hostname: 'h', port: 22 },
    ];
    for (const value of bad) {
      expect(isConnectionDetails(value)).toBe(false);
      expectCryptoError(() => encodeConnectionDetails(value as never), 'INVALID_PLAINTEXT');
      expectCryptoError(() => parseConnectionDetails(JSON.stringify(value) ?? ''), 'INVALID_PLAINTEXT');
    }
    expect(isConnectionDetails(details)).toBe(true);
  });

  it('reports non-JSON or non-UTF-8 decrypted content as INVALID_PLAINTEXT', () => {
    for (const content of [utf8('not json'), utf8('{"hostname":"h"'), Uint8Array.of(0xc3, 0x28)]) {
      const blob = encryptWithSignature(SIGNATURE, content);
      expectCryptoError(() => decryptConnectionDetails(SIGNATURE, blob), 'INVALID_PLAINTEXT');
    }
  });
});
