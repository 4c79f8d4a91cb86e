// Property-style: 1,000 malformed inputs per public decrypt/recover/parse function. The only
// acceptable failure is a CryptoError; a TypeError/RangeError from deep inside noble is a bug.
import { describe, expect, it } from '@jest/globals';
import {
  bytesToHex,
  CryptoError,
  decryptConnectionDetails,
  decryptUserSignature,
  decryptWithSignature,
  eciesDecrypt,
  eciesEncrypt,
  encryptWithSignature,
  hexToBytes,
  parseConnectionDetails,
  parsePrivateKey,
  parsePublicKey,
  recoverAddress,
  signatureKey,
  verifyMessage,
} from './index.js';
import { ECIES_BLOB, prng, SERVER_PRIV, SERVER_PUB, SIGNATURE, SYM_BLOB } from './test-support.js';

const RUNS = 1000;
const ADDRESS = '0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1';
const JUNK: unknown[] = [
  null,
  undefined,
  0,
  -1,
  Number.NaN,
  1n,
  true,
  {},
  [],
  [1, 2],
  Symbol('s'),
  () => 1,
  new Uint16Array(65),
  new ArrayBuffer(65),
];

/** A random malformed input: bytes, hex (odd/even, prefixed or not), text, mutated blobs, junk. */
function randomInput(rand: ReturnType<typeof prng>, valid: Uint8Array): unknown {
  const length = rand.int(200);
  switch (rand.int(8)) {
    case 0:
      return rand.bytes(length);
    case 1:
      return (rand.int(2) ? '0x' : '') + bytesToHex(rand.bytes(length), { prefix: false }).slice(rand.int(2));
    case 2:
      return String.fromCharCode(...Array.from({ length }, () => rand.int(0x10000)));
    case 3: {
      const mutated = valid.slice();
      const at = rand.int(mutated.length);
      mutated[at] = (mutated[at] ?? 0) ^ (1 << rand.int(8)); // one flipped bit
      return rand.int(2) ? mutated : bytesToHex(mutated);
    }
    case 4:
      return valid.subarray(0, rand.int(valid.length)); // truncated
    case 5: {
      const extended = new Uint8Array(valid.length + 1 + rand.int(40));
      extended.set(valid);
      extended.set(rand.bytes(extended.length - valid.length), valid.length);
      return bytesToHex(extended);
    }
    case 6:
      return Uint8Array.of(0x04, ...rand.bytes(64), ...rand.bytes(length)); // 04-prefixed junk
    default:
      return JUNK[rand.int(JUNK.length)];
  }
}

/** Runs `fn` on RUNS inputs; returns the non-CryptoError failures and how many calls threw. */
function fuzz(
  seed: number,
  valid: Uint8Array,
  fn: (input: never) => unknown,
): { bad: unknown[]; threw: number } {
  const rand = prng(seed);
  const bad: unknown[] = [];
  let threw = 0;
  for (let i = 0; i < RUNS; i++) {
    const input = randomInput(rand, valid);
    try {
      fn(input as never);
    } catch (error) {
      threw++;
      if (!(error instanceof CryptoError)) bad.push({ input: String(input as string), error });
    }
  }
  return { bad, threw };
}

const ecies = hexToBytes(ECIES_BLOB);
const sym = hexToBytes(SYM_BLOB);
const sig = hexToBytes(SIGNATURE);
const priv = hexToBytes(SERVER_PRIV);
const pub = hexToBytes(SERVER_PUB);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Decryption of anything but the untouched blob must fail (GCM forgery odds are 2^-128).
const alwaysThrows: [string, Uint8Array, (input: never) => unknown][] = [
  ['eciesDecrypt(blob)', ecies, (x) => eciesDecrypt(SERVER_PRIV, x)],
  ['eciesDecrypt(key)', priv, (x) => eciesDecrypt(x, ECIES_BLOB)],
  ['decryptUserSignature(blob)', ecies, (x) => decryptUserSignature(SERVER_PRIV, x)],
  ['decryptWithSignature(blob)', sym, (x) => decryptWithSignature(SIGNATURE, x)],
  ['decryptWithSignature(signature)', sig, (x) => decryptWithSignature(x, SYM_BLOB)],
  ['decryptConnectionDetails(blob)', sym, (x) => decryptConnectionDetails(SIGNATURE, x)],
  ['decryptConnectionDetails(signature)', sig, (x) => decryptConnectionDetails(x, SYM_BLOB)],
];

// These may legitimately succeed on some inputs (e.g. a random r‖s‖1b often recovers some key).
const mayReturn: [string, Uint8Array, (input: never) => unknown][] = [
  ['recoverAddress(signature)', sig, (x) => recoverAddress('blockhost-access', x)],
  ['recoverAddress(message)', sig, (x) => recoverAddress(x, SIGNATURE)],
  ['verifyMessage(signature)', sig, (x) => verifyMessage('m', x, ADDRESS)],
  ['verifyMessage(address)', sig, (x) => verifyMessage('m', SIGNATURE, x)],
  ['hexToBytes', sig, (x) => hexToBytes(x)],
  ['parsePrivateKey', priv, (x) => parsePrivateKey(x)],
  ['parsePublicKey', pub, (x) => parsePublicKey(x)],
  ['parseConnectionDetails', sym, (x) => parseConnectionDetails(x)],
  ['signatureKey', sig, (x) => signatureKey(x)],
  ['eciesEncrypt(key)', pub, (x) => eciesEncrypt(x, utf8('p'))],
  ['eciesEncrypt(plaintext)', pub, (x) => eciesEncrypt(SERVER_PUB, x)],
  ['encryptWithSignature(signature)', sig, (x) => encryptWithSignature(x, utf8('p'))],
];

describe('malformed inputs throw only CryptoError', () => {
  it.each(alwaysThrows.map(([name, valid, fn], i) => [name, valid, fn, i] as const))(
    '%s always throws a CryptoError',
    (_name, valid, fn, i) => {
      const { bad, threw } = fuzz(1000 + i, valid, fn);
      expect(bad).toEqual([]);
      expect(threw).toBe(RUNS);
    },
  );

  it.each(mayReturn.map(([name, valid, fn], i) => [name, valid, fn, i] as const))(
    '%s returns or throws a CryptoError',
    (_name, valid, fn, i) => {
      const { bad } = fuzz(2000 + i, valid, fn);
      expect(bad).toEqual([]);
    },
  );
});
