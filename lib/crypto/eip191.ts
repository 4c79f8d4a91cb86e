/**
 * EIP-191 personal_sign (version 0x45): keccak256("\x19Ethereum Signed Message:\n" + byteLength
 * + message), signatures as 65-byte r‖s‖v hex.
 *
 * Accepted on recovery (same as viem's recoverMessageAddress, ecrecover): v ∈ {27, 28} and the
 * bare recovery ids {0, 1} some hardware wallets return. Refused: other v values (EIP-155 style
 * v ≥ 35 never applies to personal_sign), r/s zero or ≥ n, and high-s (s > n/2). viem and
 * ecrecover accept high-s, but no wallet produces it (EIP-2 makes low-s canonical, as do
 * OpenZeppelin's ECDSA.recover and noble); refusing it removes signature malleability.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { publicKeyBytesToAddress, toChecksumAddress } from './address.js';
import { CryptoError, wrap } from './errors.js';
import { bytesToHex, isBytes } from './hex.js';
import { parsePrivateKey } from './keys.js';
import { signatureBytes } from './signature.js';
import { utf8Encode } from './utf8.js';

/** A string is signed as its UTF-8 text (never interpreted as hex); bytes are signed raw. */
export type SignableMessage = string | Uint8Array;

function messageDigest(message: SignableMessage): Uint8Array {
  let body: Uint8Array;
  if (typeof message === 'string') body = utf8Encode(message);
  else if (isBytes(message)) body = message;
  else throw new CryptoError('INVALID_MESSAGE', 'message must be a string or a Uint8Array');
  const prefix = utf8Encode(`\x19Ethereum Signed Message:\n${body.length}`);
  const data = new Uint8Array(prefix.length + body.length);
  data.set(prefix, 0);
  data.set(body, prefix.length);
  return keccak_256(data);
}

/** The EIP-191 hash that wallets sign, as `0x` hex. */
export function hashMessage(message: SignableMessage): string {
  return bytesToHex(messageDigest(message));
}

/** personal_sign: deterministic (RFC 6979), low-s, v = 27/28; `0x` + 130 hex (equals viem's). */
export function signMessage(privateKey: string | Uint8Array, message: SignableMessage): string {
  const key = parsePrivateKey(privateKey);
  const digest = messageDigest(message);
  // noble's 'recovered' format is recovery ‖ r ‖ s; Ethereum wants r ‖ s ‖ (27 + recovery).
  const sig = secp256k1.sign(digest, key, { prehash: false, format: 'recovered' });
  const out = new Uint8Array(65);
  out.set(sig.subarray(1), 0);
  out[64] = 27 + (sig[0] ?? 0);
  return bytesToHex(out);
}

/** EIP-55 address that signed `message`; throws INVALID_SIGNATURE / INVALID_MESSAGE. */
export function recoverAddress(message: SignableMessage, signature: string | Uint8Array): string {
  const digest = messageDigest(message);
  const bytes = signatureBytes(signature);
  const v = bytes[64] ?? -1;
  let recovery: number;
  if (v === 27 || v === 28) recovery = v - 27;
  else if (v === 0 || v === 1) recovery = v;
  else throw new CryptoError('INVALID_SIGNATURE', `signature v must be 27, 28, 0 or 1 (got ${v})`);
  const sig = wrap('INVALID_SIGNATURE', 'signature r or s is out of range', () =>
    secp256k1.Signature.fromBytes(bytes.subarray(0, 64), 'compact').addRecoveryBit(recovery),
  );
  if (sig.hasHighS())
    throw new CryptoError('INVALID_SIGNATURE', 'signature has a high s value (non-canonical)');
  const point = wrap('INVALID_SIGNATURE', 'signature does not recover to a public key', () =>
    sig.recoverPublicKey(digest),
  );
  return publicKeyBytesToAddress(point.toBytes(false));
}

/**
 * True when `signature` over `message` recovers to `expectedAddress` (compared case-insensitively,
 * no checksum required). A malformed signature or address throws rather than returning false, so
 * callers can tell "garbage" from "signed by another wallet".
 */
export function verifyMessage(
  message: SignableMessage,
  signature: string | Uint8Array,
  expectedAddress: string,
): boolean {
  const expected = toChecksumAddress(expectedAddress);
  return recoverAddress(message, signature) === expected;
}
