/** Shared INTEROP §2 vectors and assertions for the lib/crypto tests (not part of the API). */
import { expect } from '@jest/globals';
import { CryptoError, type CryptoErrorCode } from './errors.js';

export const SERVER_PRIV = '01'.repeat(32);
export const SERVER_PUB =
  '041b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f70beaf8f588b541507fed6a642c5ab42dfdf8120a7f639de5122d47a69a8e8d1';
export const EPHEMERAL_PRIV = '02'.repeat(32);
export const EPHEMERAL_PUB =
  '044d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d07662a3eada2d0fe208b6d257ceb0f064284662e857f57b66b54c198bd310ded36d0';
export const SHARED_X = 'd0158a38faf6118af133af12d9bfa388eab4a08d1a2088ea6e6ec1269e03567f';
export const AES_KEY = '7069efd65d14e7bf01bf13578b3e54ad7b75ab72dee8c94df868f9da2e35f6f5';
export const IV = '030303030303030303030303';
/** The customer's signature text: the ECIES plaintext and the symmetric key material. */
export const SIGNATURE = '0x' + '11'.repeat(32) + '22'.repeat(32) + '1b';
export const ECIES_BLOB =
  '0x' +
  EPHEMERAL_PUB +
  IV +
  'a1a2a2bf95f58905c62983b95a53d65bd4114526099a40b436214738b582029d180278c3fdc27c6dc0a808f50400d0855dee986d9a7dc9fff8c14dbf579fb523b891f2bd15b703edc0c0076e4d0772c4df49fbed8e6e83e18cfe3922b6c30d424d5d6f256ea737d1c421cbf564f1694cc0451235c60eccb00a477ac36a50b63530fdba228822fad1aee2ba8545dc322ba40945c1';
export const SYM_KEY = '3e08d279b716e71308a6a4595832bf8cdcee211e19bafe26cbf0a637bbb9758c';
export const NONCE = '040404040404040404040404';
export const SYM_BLOB =
  '0x' +
  NONCE +
  '677387464c9287b7cee65f6a00eb921bd81cd015f65774fbd39c99abb4f80dfd4d01a9c407fdc1a252639cb26bd655ef01b3b3a817c9482e744b81fb3cc713da642d91c666df';
export const DETAILS_JSON = '{"hostname":"2001:db8::5","port":22,"username":"user"}';

/** secp256k1 group order n and field prime p. */
export const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const CURVE_P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;

export const hex32 = (n: bigint): string => n.toString(16).padStart(64, '0');

/** What `fn` threw (undefined when it returned). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Asserts `fn` throws a CryptoError with exactly `code`. */
export function expectCryptoError(fn: () => unknown, code: CryptoErrorCode): void {
  const error = thrownBy(fn);
  expect(error).toBeInstanceOf(CryptoError);
  expect((error as CryptoError).code).toBe(code);
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */
export function prng(seed: number): { int(max: number): number; bytes(n: number): Uint8Array } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number): number => Math.floor(next() * max);
  return {
    int,
    bytes: (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256)),
  };
}
