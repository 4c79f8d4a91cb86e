import { CryptoError, type CryptoErrorCode } from './errors.js';

/** Strict hex: optional 0x/0X prefix, even length, [0-9a-fA-F] only (no spaces, no signs). */
const HEX_BODY = /^[0-9a-fA-F]*$/;

/** True for Uint8Array (and subclasses such as Buffer), also across realms. */
export function isBytes(value: unknown): value is Uint8Array {
  return (
    value instanceof Uint8Array || (ArrayBuffer.isView(value) && value.constructor.name === 'Uint8Array')
  );
}

/**
 * Decodes hex into bytes. Throws CryptoError(`code`) for non-strings, odd length, non-hex
 * characters, or a byte length other than `length` (when given). Modules pass their own code so
 * a bad private key reads INVALID_PRIVATE_KEY rather than INVALID_HEX.
 */
export function decodeHex(
  value: unknown,
  code: CryptoErrorCode = 'INVALID_HEX',
  what = 'hex string',
  length?: number,
): Uint8Array {
  if (typeof value !== 'string') throw new CryptoError(code, `${what} must be a hex string`);
  const body = value.startsWith('0x') || value.startsWith('0X') ? value.slice(2) : value;
  if (body.length % 2 !== 0) throw new CryptoError(code, `${what} has an odd number of hex digits`);
  if (!HEX_BODY.test(body)) throw new CryptoError(code, `${what} contains non-hex characters`);
  if (length !== undefined && body.length !== length * 2) {
    throw new CryptoError(code, `${what} must be ${length} bytes (${length * 2} hex digits)`);
  }
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(body.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Accepts bytes as-is (length-checked) or decodes hex; the common "key or blob" input shape. */
export function toBytes(value: unknown, code: CryptoErrorCode, what: string, length?: number): Uint8Array {
  if (isBytes(value)) {
    if (length !== undefined && value.length !== length) {
      throw new CryptoError(code, `${what} must be ${length} bytes`);
    }
    return value;
  }
  return decodeHex(value, code, what, length);
}

/** Hex (with or without 0x) → bytes; throws CryptoError('INVALID_HEX'). */
export function hexToBytes(hex: string): Uint8Array {
  return decodeHex(hex);
}

/** Bytes → lowercase hex, `0x`-prefixed unless `prefix: false`. */
export function bytesToHex(bytes: Uint8Array, options: { prefix?: boolean } = {}): string {
  if (!isBytes(bytes)) throw new CryptoError('INVALID_HEX', 'expected a Uint8Array');
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return options.prefix === false ? hex : `0x${hex}`;
}
