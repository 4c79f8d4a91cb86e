// INTEROP §2 test vectors, byte for byte: the original's signup pages and NFTs depend on them.
import { describe, expect, it } from '@jest/globals';
import { eciesKey, sharedX } from './ecies.js';
import {
  bytesToHex,
  decryptConnectionDetails,
  decryptUserSignature,
  decryptWithSignature,
  eciesDecrypt,
  eciesEncrypt,
  encryptConnectionDetails,
  encryptUserSignature,
  encryptWithSignature,
  hexToBytes,
  parsePrivateKey,
  parsePublicKey,
  publicKeyFromPrivateKey,
  signatureKey,
} from './index.js';
import {
  AES_KEY,
  DETAILS_JSON,
  ECIES_BLOB,
  EPHEMERAL_PRIV,
  EPHEMERAL_PUB,
  IV,
  NONCE,
  SERVER_PRIV,
  SERVER_PUB,
  SHARED_X,
  SIGNATURE,
  SYM_BLOB,
  SYM_KEY,
} from './test-support.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('INTEROP §2 ECIES vectors', () => {
  it('derives the server public key from 0x01…01', () => {
    expect(publicKeyFromPrivateKey(SERVER_PRIV)).toBe(SERVER_PUB);
    expect(publicKeyFromPrivateKey('0x' + SERVER_PRIV)).toBe(SERVER_PUB);
  });

  it('derives the ephemeral public key from 0x02…02', () => {
    expect(publicKeyFromPrivateKey(EPHEMERAL_PRIV)).toBe(EPHEMERAL_PUB);
  });

  it('computes the shared x-coordinate from either side', () => {
    const fromSender = sharedX(parsePrivateKey(EPHEMERAL_PRIV), parsePublicKey(SERVER_PUB));
    const fromServer = sharedX(parsePrivateKey(SERVER_PRIV), parsePublicKey(EPHEMERAL_PUB));
    expect(bytesToHex(fromSender, { prefix: false })).toBe(SHARED_X);
    expect(bytesToHex(fromServer, { prefix: false })).toBe(SHARED_X);
  });

  it('derives the AES key with HKDF-SHA256 (empty salt and info)', () => {
    expect(bytesToHex(eciesKey(hexToBytes(SHARED_X)), { prefix: false })).toBe(AES_KEY);
  });

  it('produces the full blob from the fixed ephemeral key and iv', () => {
    const blob = eciesEncrypt(SERVER_PUB, utf8(SIGNATURE), { ephemeralPrivateKey: EPHEMERAL_PRIV, iv: IV });
    expect(bytesToHex(blob)).toBe(ECIES_BLOB);
    expect(encryptUserSignature(SERVER_PUB, SIGNATURE, { ephemeralPrivateKey: EPHEMERAL_PRIV, iv: IV })).toBe(
      ECIES_BLOB,
    );
  });

  it('decrypts the blob given as 0x hex, bare hex or bytes', () => {
    expect(text(eciesDecrypt(SERVER_PRIV, ECIES_BLOB))).toBe(SIGNATURE);
    expect(text(eciesDecrypt(SERVER_PRIV, ECIES_BLOB.slice(2)))).toBe(SIGNATURE);
    expect(text(eciesDecrypt(hexToBytes(SERVER_PRIV), hexToBytes(ECIES_BLOB)))).toBe(SIGNATURE);
    expect(decryptUserSignature(SERVER_PRIV, ECIES_BLOB)).toBe(SIGNATURE);
  });
});

describe('INTEROP §2 signature-derived vectors', () => {
  it('keys with keccak256 of the raw 65 signature bytes', () => {
    expect(bytesToHex(signatureKey(SIGNATURE), { prefix: false })).toBe(SYM_KEY);
  });

  it('produces the connection-details blob from nonce 04…04', () => {
    expect(encryptWithSignature(SIGNATURE, utf8(DETAILS_JSON), { nonce: NONCE })).toBe(SYM_BLOB);
    const details = { hostname: '2001:db8::5', port: 22, username: 'user' };
    expect(encryptConnectionDetails(SIGNATURE, details, { nonce: NONCE })).toBe(SYM_BLOB);
  });

  it('decrypts the blob back to the exact JSON and the parsed details', () => {
    expect(text(decryptWithSignature(SIGNATURE, SYM_BLOB))).toBe(DETAILS_JSON);
    expect(decryptConnectionDetails(SIGNATURE, SYM_BLOB)).toEqual({
      hostname: '2001:db8::5',
      port: 22,
      username: 'user',
    });
  });
});
