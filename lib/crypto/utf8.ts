import { CryptoError, type CryptoErrorCode } from './errors.js';

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not silently replaced with U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

export function utf8Decode(bytes: Uint8Array, code: CryptoErrorCode = 'INVALID_PLAINTEXT'): string {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new CryptoError(code, 'plaintext is not valid UTF-8', { cause: error });
  }
}
