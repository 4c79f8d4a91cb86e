import { gcm } from '@noble/ciphers/aes.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { CryptoError, wrap } from './errors.js';
import { isBytes, toBytes } from './hex.js';

/** AES-256-GCM with a 96-bit nonce and 128-bit tag, no AAD: the only AEAD both formats use. */
export const NONCE_LENGTH = 12;
export const TAG_LENGTH = 16;

/** Caller-supplied nonce (tests only) or a fresh random one. */
export function nonceOrRandom(nonce: unknown, what: string): Uint8Array {
  if (nonce === undefined) return randomBytes(NONCE_LENGTH);
  return toBytes(nonce, 'INVALID_OPTION', what, NONCE_LENGTH);
}

/** Returns ciphertext ‖ tag. */
export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (!isBytes(plaintext)) throw new CryptoError('INVALID_PLAINTEXT', 'plaintext must be a Uint8Array');
  return gcm(key, nonce).encrypt(plaintext);
}

/** Opens ciphertext ‖ tag; any failure (wrong key, tampering) is DECRYPTION_FAILED. */
export function open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  return wrap('DECRYPTION_FAILED', 'decryption failed: wrong key or tampered data', () =>
    gcm(key, nonce).decrypt(sealed),
  );
}
