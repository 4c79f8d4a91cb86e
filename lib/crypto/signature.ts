import { toBytes } from './hex.js';

/** A 65-byte r‖s‖v signature as wallets return it from personal_sign: `0x` + 130 hex digits. */
const SIGNATURE_TEXT = /^0x[0-9a-fA-F]{130}$/;

export const SIGNATURE_LENGTH = 65;

export function isSignatureText(value: unknown): value is string {
  return typeof value === 'string' && SIGNATURE_TEXT.test(value);
}

/** Raw 65 signature bytes from hex (with or without 0x) or bytes; throws INVALID_SIGNATURE. */
export function signatureBytes(signature: string | Uint8Array): Uint8Array {
  return toBytes(signature, 'INVALID_SIGNATURE', 'signature', SIGNATURE_LENGTH);
}
