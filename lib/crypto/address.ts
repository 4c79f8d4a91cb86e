import { keccak_256 } from '@noble/hashes/sha3.js';
import { CryptoError } from './errors.js';
import { bytesToHex } from './hex.js';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * `0x` + 40 hex digits. With `strict`, a mixed-case address must carry a correct EIP-55
 * checksum (all-lowercase/all-uppercase carry none and pass), catching typos in pasted addresses.
 */
export function isAddress(value: unknown, options: { strict?: boolean } = {}): value is string {
  if (typeof value !== 'string' || !ADDRESS.test(value)) return false;
  if (!options.strict) return true;
  const body = value.slice(2);
  if (body === body.toLowerCase() || body === body.toUpperCase()) return true;
  return value === checksum(body.toLowerCase());
}

/** EIP-55: uppercase a hex letter when the matching nibble of keccak256(lowercase hex) is >= 8. */
function checksum(lowerBody: string): string {
  const hash = keccak_256(new TextEncoder().encode(lowerBody));
  let out = '0x';
  for (let i = 0; i < 40; i++) {
    const nibble = ((hash[i >> 1] ?? 0) >> (i % 2 === 0 ? 4 : 0)) & 0x0f;
    const char = lowerBody[i] ?? '';
    out += nibble >= 8 ? char.toUpperCase() : char;
  }
  return out;
}

/** Returns the EIP-55 checksummed form of any-case address; throws INVALID_ADDRESS. */
export function toChecksumAddress(address: string): string {
  if (!isAddress(address)) throw new CryptoError('INVALID_ADDRESS', 'address must be 0x + 40 hex digits');
  return checksum(address.slice(2).toLowerCase());
}

/** Case-insensitive address equality (GECOS/ownerOf values may be lowercase or checksummed). */
export function addressesEqual(a: string, b: string): boolean {
  return toChecksumAddress(a) === toChecksumAddress(b);
}

/** Ethereum address of a validated uncompressed public key (65 bytes, 0x04 prefix). */
export function publicKeyBytesToAddress(publicKey: Uint8Array): string {
  const hash = keccak_256(publicKey.subarray(1));
  return checksum(bytesToHex(hash.subarray(12), { prefix: false }));
}
