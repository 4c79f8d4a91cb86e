import { secp256k1 } from '@noble/curves/secp256k1.js';
import { publicKeyBytesToAddress } from './address.js';
import { CryptoError, wrap, type CryptoErrorCode } from './errors.js';
import { bytesToHex, toBytes } from './hex.js';

/** A server key in the textual forms the host config and signup page use (no 0x prefixes). */
export interface ServerKey {
  /** 64 hex chars. */
  privateKey: string;
  /** Uncompressed `04‖X‖Y`, 130 hex chars. */
  publicKey: string;
  /** EIP-55 checksummed address of the key. */
  address: string;
}

/** Fresh server key from WebCrypto randomness (via noble's randomBytes). */
export function generateServerKey(): ServerKey {
  const secret = secp256k1.utils.randomSecretKey();
  const publicKey = secp256k1.getPublicKey(secret, false);
  return {
    privateKey: bytesToHex(secret, { prefix: false }),
    publicKey: bytesToHex(publicKey, { prefix: false }),
    address: publicKeyBytesToAddress(publicKey),
  };
}

/** 32 bytes (hex with/without 0x, or bytes) in [1, n-1]; throws INVALID_PRIVATE_KEY. */
export function parsePrivateKey(privateKey: string | Uint8Array): Uint8Array {
  const bytes = toBytes(privateKey, 'INVALID_PRIVATE_KEY', 'private key', 32);
  if (!secp256k1.utils.isValidSecretKey(bytes)) {
    throw new CryptoError('INVALID_PRIVATE_KEY', 'private key is zero or not below the curve order');
  }
  return bytes;
}

/**
 * Uncompressed public key (65 bytes, 0x04 prefix, on the curve). Compressed keys are refused:
 * the host publishes `04‖X‖Y`, and anything else means a wrong field was copied.
 */
export function parsePublicKey(
  publicKey: string | Uint8Array,
  code: CryptoErrorCode = 'INVALID_PUBLIC_KEY',
  what = 'public key',
): Uint8Array {
  const bytes = toBytes(publicKey, code, what, 65);
  if (bytes[0] !== 0x04) throw new CryptoError(code, `${what} must be uncompressed (start with 04)`);
  wrap(code, `${what} is not a point on secp256k1`, () => secp256k1.Point.fromBytes(bytes));
  return bytes;
}

/** Uncompressed public key (130 hex chars, no 0x) of a private key. */
export function publicKeyFromPrivateKey(privateKey: string | Uint8Array): string {
  return bytesToHex(secp256k1.getPublicKey(parsePrivateKey(privateKey), false), { prefix: false });
}

/** EIP-55 address of an uncompressed public key. */
export function addressFromPublicKey(publicKey: string | Uint8Array): string {
  return publicKeyBytesToAddress(parsePublicKey(publicKey));
}

/** EIP-55 address of a private key (the server wallet / admin test keys). */
export function addressFromPrivateKey(privateKey: string | Uint8Array): string {
  return publicKeyBytesToAddress(secp256k1.getPublicKey(parsePrivateKey(privateKey), false));
}
