/**
 * INTEROP §2 ECIES to the server key:
 *   blob = ephemeralPub(65, 04‖X‖Y) ‖ iv(12) ‖ AES-256-GCM ciphertext ‖ tag(16)
 *   key  = HKDF-SHA256(ikm = x-coordinate of ECDH(ephemeral, server), salt = "", info = "", 32)
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { NONCE_LENGTH, TAG_LENGTH, nonceOrRandom, open, seal } from './aead.js';
import { CryptoError } from './errors.js';
import { bytesToHex, isBytes, toBytes } from './hex.js';
import { parsePrivateKey, parsePublicKey } from './keys.js';
import { isSignatureText } from './signature.js';
import { utf8Decode, utf8Encode } from './utf8.js';

const PUBLIC_KEY_LENGTH = 65;
/** Smallest valid blob: ephemeral key, iv and tag around an empty plaintext. */
export const ECIES_OVERHEAD = PUBLIC_KEY_LENGTH + NONCE_LENGTH + TAG_LENGTH;

/** Fixed ephemeral key / iv, for test vectors only; production callers pass nothing. */
export interface EciesEncryptOptions {
  ephemeralPrivateKey?: string | Uint8Array;
  iv?: string | Uint8Array;
}

/** x-coordinate of ECDH(privateKey, publicKey); inputs already validated. Exported for the vectors. */
export function sharedX(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  // Compressed shared point = prefix ‖ x; the scheme uses x alone.
  return secp256k1.getSharedSecret(privateKey, publicKey, true).subarray(1);
}

/** HKDF-SHA256(ikm = x, empty salt, empty info) → 32-byte AES key. Exported for the vectors. */
export function eciesKey(x: Uint8Array): Uint8Array {
  return hkdf(sha256, x, new Uint8Array(0), new Uint8Array(0), 32);
}

function deriveKey(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const x = sharedX(privateKey, publicKey);
  const key = eciesKey(x);
  x.fill(0);
  return key;
}

/** Encrypts `plaintext` bytes to the server's uncompressed public key (hex or bytes). */
export function eciesEncrypt(
  serverPublicKey: string | Uint8Array,
  plaintext: Uint8Array,
  options: EciesEncryptOptions = {},
): Uint8Array {
  if (!isBytes(plaintext)) throw new CryptoError('INVALID_PLAINTEXT', 'plaintext must be a Uint8Array');
  const serverKey = parsePublicKey(serverPublicKey);
  const ephemeral =
    options.ephemeralPrivateKey === undefined
      ? secp256k1.utils.randomSecretKey()
      : parsePrivateKey(options.ephemeralPrivateKey);
  const iv = nonceOrRandom(options.iv, 'iv');
  const key = deriveKey(ephemeral, serverKey);
  try {
    const sealed = seal(key, iv, plaintext);
    const out = new Uint8Array(PUBLIC_KEY_LENGTH + NONCE_LENGTH + sealed.length);
    out.set(secp256k1.getPublicKey(ephemeral, false), 0);
    out.set(iv, PUBLIC_KEY_LENGTH);
    out.set(sealed, PUBLIC_KEY_LENGTH + NONCE_LENGTH);
    return out;
  } finally {
    key.fill(0);
  }
}

/**
 * Decrypts a blob (hex with/without 0x, or bytes) with the server private key. Throws
 * CIPHERTEXT_TOO_SHORT, INVALID_EPHEMERAL_KEY (not 0x04 / not on the curve), DECRYPTION_FAILED.
 */
export function eciesDecrypt(serverPrivateKey: string | Uint8Array, blob: string | Uint8Array): Uint8Array {
  const privateKey = parsePrivateKey(serverPrivateKey);
  const bytes = toBytes(blob, 'INVALID_HEX', 'ciphertext');
  if (bytes.length < ECIES_OVERHEAD) {
    throw new CryptoError(
      'CIPHERTEXT_TOO_SHORT',
      `ciphertext is ${bytes.length} bytes; at least ${ECIES_OVERHEAD} are needed`,
    );
  }
  const ephemeral = parsePublicKey(
    bytes.subarray(0, PUBLIC_KEY_LENGTH),
    'INVALID_EPHEMERAL_KEY',
    'ephemeral public key',
  );
  const iv = bytes.subarray(PUBLIC_KEY_LENGTH, PUBLIC_KEY_LENGTH + NONCE_LENGTH);
  const key = deriveKey(privateKey, ephemeral);
  try {
    return open(key, iv, bytes.subarray(PUBLIC_KEY_LENGTH + NONCE_LENGTH));
  } finally {
    key.fill(0);
  }
}

/**
 * Signup side: ECIES-encrypts the customer's personal_sign signature text (`0x` + 130 hex, as
 * the wallet returned it) to the server key; the `0x` hex result is `userEncrypted`.
 */
export function encryptUserSignature(
  serverPublicKey: string | Uint8Array,
  signature: string,
  options: EciesEncryptOptions = {},
): string {
  if (!isSignatureText(signature)) {
    throw new CryptoError('INVALID_SIGNATURE', 'signature must be 0x followed by 130 hex digits');
  }
  return bytesToHex(eciesEncrypt(serverPublicKey, utf8Encode(signature), options));
}

/**
 * Host side: decrypts `userEncrypted` and returns the customer's signature text exactly as it
 * was encrypted. Anything other than `0x` + 130 hex digits is INVALID_PLAINTEXT (the signup page
 * encrypted the wrong thing); the signature itself is not verified here.
 */
export function decryptUserSignature(
  serverPrivateKey: string | Uint8Array,
  userEncrypted: string | Uint8Array,
): string {
  const text = utf8Decode(eciesDecrypt(serverPrivateKey, userEncrypted));
  if (!isSignatureText(text)) {
    throw new CryptoError('INVALID_PLAINTEXT', 'decrypted data is not a 0x-prefixed 65-byte signature');
  }
  return text;
}
