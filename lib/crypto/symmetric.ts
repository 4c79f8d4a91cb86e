/**
 * INTEROP §2 signature-derived encryption (connection details in the NFT, config backups):
 *   key  = keccak256(raw 65 signature bytes)
 *   blob = nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16), as 0x hex, no AAD
 * Only the holder of the wallet can re-create the signature, hence the key.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { NONCE_LENGTH, TAG_LENGTH, nonceOrRandom, open, seal } from './aead.js';
import { CryptoError } from './errors.js';
import { bytesToHex, toBytes } from './hex.js';
import { signatureBytes } from './signature.js';
import { utf8Decode, utf8Encode } from './utf8.js';

/** Smallest valid blob: nonce and tag around an empty plaintext. */
export const SYMMETRIC_OVERHEAD = NONCE_LENGTH + TAG_LENGTH;

/** keccak256 of the raw signature bytes; `0x`, no prefix, any hex case all give the same key. */
export function signatureKey(signature: string | Uint8Array): Uint8Array {
  return keccak_256(signatureBytes(signature));
}

/** Encrypts bytes under a signature; returns `0x` hex. `nonce` is for test vectors only. */
export function encryptWithSignature(
  signature: string | Uint8Array,
  plaintext: Uint8Array,
  options: { nonce?: string | Uint8Array } = {},
): string {
  const key = signatureKey(signature);
  try {
    const nonce = nonceOrRandom(options.nonce, 'nonce');
    const sealed = seal(key, nonce, plaintext);
    const out = new Uint8Array(NONCE_LENGTH + sealed.length);
    out.set(nonce, 0);
    out.set(sealed, NONCE_LENGTH);
    return bytesToHex(out);
  } finally {
    key.fill(0);
  }
}

/** Decrypts a blob (hex with/without 0x, or bytes); CIPHERTEXT_TOO_SHORT / DECRYPTION_FAILED. */
export function decryptWithSignature(signature: string | Uint8Array, blob: string | Uint8Array): Uint8Array {
  const key = signatureKey(signature);
  try {
    const bytes = toBytes(blob, 'INVALID_HEX', 'ciphertext');
    if (bytes.length < SYMMETRIC_OVERHEAD) {
      throw new CryptoError(
        'CIPHERTEXT_TOO_SHORT',
        `ciphertext is ${bytes.length} bytes; at least ${SYMMETRIC_OVERHEAD} are needed`,
      );
    }
    return open(key, bytes.subarray(0, NONCE_LENGTH), bytes.subarray(NONCE_LENGTH));
  } finally {
    key.fill(0);
  }
}

/** How the customer reaches their VM; stored encrypted in the access NFT. */
export interface ConnectionDetails {
  hostname: string;
  port: number;
  username: string;
}

// Non-empty, at most 255 chars, no whitespace or control characters (nothing that could break
// an ssh command line built from it).
const TOKEN = /^[^\s\p{Cc}]{1,255}$/u;

/** Structural check (no zod: this module ships to the browser and must stay small). */
export function isConnectionDetails(value: unknown): value is ConnectionDetails {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.hostname === 'string' &&
    TOKEN.test(v.hostname) &&
    typeof v.username === 'string' &&
    TOKEN.test(v.username) &&
    typeof v.port === 'number' &&
    Number.isInteger(v.port) &&
    v.port >= 1 &&
    v.port <= 65535
  );
}

/** Compact JSON in the fixed key order hostname, port, username (the INTEROP vector's bytes). */
export function encodeConnectionDetails(details: ConnectionDetails): string {
  if (!isConnectionDetails(details)) {
    throw new CryptoError('INVALID_PLAINTEXT', 'connection details need hostname, port (1-65535), username');
  }
  const { hostname, port, username } = details;
  return JSON.stringify({ hostname, port, username });
}

/**
 * Parses connection-details JSON. Any JSON spacing is accepted (the original wrote Python's
 * `json.dumps` style with spaces); extra keys are ignored and dropped.
 */
export function parseConnectionDetails(json: string): ConnectionDetails {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new CryptoError('INVALID_PLAINTEXT', 'connection details are not JSON', { cause: error });
  }
  if (!isConnectionDetails(value)) {
    throw new CryptoError('INVALID_PLAINTEXT', 'connection details need hostname, port (1-65535), username');
  }
  return { hostname: value.hostname, port: value.port, username: value.username };
}

export function encryptConnectionDetails(
  signature: string | Uint8Array,
  details: ConnectionDetails,
  options: { nonce?: string | Uint8Array } = {},
): string {
  return encryptWithSignature(signature, utf8Encode(encodeConnectionDetails(details)), options);
}

export function decryptConnectionDetails(
  signature: string | Uint8Array,
  blob: string | Uint8Array,
): ConnectionDetails {
  return parseConnectionDetails(utf8Decode(decryptWithSignature(signature, blob)));
}
