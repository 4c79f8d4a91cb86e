/** Login messages and one-time codes (INTEROP §2 "Messages signed", §4). */
import { randomBytes } from '@noble/hashes/utils.js';
import { CryptoError } from './errors.js';

/** 31 symbols: no 0/O, 1/I/L, so codes read back unambiguously. */
export const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 6;

// Largest multiple of 31 that fits in a byte: bytes at or above it are discarded so each symbol
// has probability exactly 1/31 (plain `byte % 31` would favour the first 8 symbols).
const LIMIT = 256 - (256 % CODE_ALPHABET.length);

/**
 * Unbiased random code over CODE_ALPHABET (rejection sampling on WebCrypto bytes).
 * `random` is injectable so tests can check the sampling deterministically.
 */
export function generateCode(
  length: number = CODE_LENGTH,
  random: (bytes: number) => Uint8Array = randomBytes,
): string {
  if (!Number.isInteger(length) || length < 1 || length > 64) {
    throw new CryptoError('INVALID_OPTION', 'code length must be an integer from 1 to 64');
  }
  let code = '';
  while (code.length < length) {
    for (const byte of random(length * 2)) {
      if (byte < LIMIT && code.length < length) code += CODE_ALPHABET[byte % CODE_ALPHABET.length];
    }
  }
  return code;
}

/** Codes are case-insensitive and may be pasted with surrounding spaces. */
export function normalizeCode(code: string): string {
  if (typeof code !== 'string') throw new CryptoError('INVALID_MESSAGE', 'code must be a string');
  return code.trim().toUpperCase();
}

/** Compares a typed code with the expected one, case-insensitively, without an early exit. */
export function codesMatch(expected: string, given: string): boolean {
  const a = normalizeCode(expected);
  const b = normalizeCode(given);
  // Code length is public; only the content comparison needs to be branch-free.
  if (a.length === 0 || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// A line break or control character would let a crafted machine id or code change what the
// wallet shows the user; refuse them.
const MESSAGE_PART = /^[^\p{Cc}]+$/u;

/** `Authenticate to {machine} with code: {code}` (dashboard and SSH login). */
export function authMessage(machine: string, code: string): string {
  if (typeof machine !== 'string' || !MESSAGE_PART.test(machine)) {
    throw new CryptoError('INVALID_MESSAGE', 'machine must be a non-empty string without control characters');
  }
  if (typeof code !== 'string' || !MESSAGE_PART.test(code)) {
    throw new CryptoError('INVALID_MESSAGE', 'code must be a non-empty string without control characters');
  }
  return `Authenticate to ${machine} with code: ${code}`;
}
