import type { Address, Hex, LocalAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { parsePrivateKey, publicKeyFromPrivateKey } from '../../lib/crypto/index.js';

/**
 * The host's two keys (docs/controller-state.md, "The two keys"). Each role is its own type with a
 * `role` tag, so one can never be passed where the other is expected: the deployer key carries only
 * a signing account (no raw key, so nothing can decrypt with it), the decrypt key only its raw key
 * and public key (no account, so no transaction sender accepts it).
 */

/** Owns the contracts, signs and pays for every transaction (the "server wallet"); never decrypts. */
export interface DeployerKey {
  readonly role: 'deployer';
  readonly account: LocalAccount;
  readonly address: Address;
}

/** Decrypts what customers and the admin encrypt to the host (ECIES, INTEROP §2); never signs. */
export interface DecryptKey {
  readonly role: 'decrypt';
  readonly privateKey: Hex;
  /** Uncompressed, 0x04‖X‖Y: what the signup page encrypts to (HostConfig status.serverPublicKey). */
  readonly publicKey: Hex;
  /** The key's Ethereum address, only to tell it apart from the deployer's; it never holds funds. */
  readonly address: Address;
}

/** Name of the decrypt key's Secret in the state namespace (key `privateKey`). */
export const DECRYPT_KEY_SECRET = 'blockhost-decrypt-key';

/** Key of the private key in both Secrets. */
export const PRIVATE_KEY_FIELD = 'privateKey';

/**
 * Annotation on a decrypt key Secret that holds a copy of the deployer key: a host set up with one key
 * before the roles were split keeps decrypting what its customers encrypted to that key.
 */
export const SHARED_KEY_ANNOTATION = 'blockhost.io/decrypt-key-shared-with-deployer';

/** The key in a Secret's value as 0x-hex, or undefined when it is not a secp256k1 private key. */
export function parseKeyText(text: string): Hex | undefined {
  const trimmed = text.trim();
  try {
    parsePrivateKey(trimmed);
    return (trimmed.startsWith('0x') ? trimmed : `0x${trimmed}`) as Hex;
  } catch {
    return undefined;
  }
}

export function deployerKey(privateKey: Hex): DeployerKey {
  const account = privateKeyToAccount(privateKey);
  return { role: 'deployer', account, address: account.address };
}

export function decryptKey(privateKey: Hex): DecryptKey {
  return {
    role: 'decrypt',
    privateKey,
    publicKey: `0x${publicKeyFromPrivateKey(privateKey)}`,
    address: privateKeyToAccount(privateKey).address,
  };
}

/**
 * Why the two keys must not be used together, or undefined when they may. One key in both roles is
 * allowed only when its decrypt Secret says it was carried over from a single-key host (only the
 * controller writes the state namespace); anywhere else it means someone copied the deployer key
 * into the decrypt Secret (or the reverse), which would undo the split without anyone noticing.
 */
export function keyRolesProblem(
  deployer: DeployerKey,
  decrypt: DecryptKey,
  decryptSecretAnnotations: Record<string, string> | undefined,
): string | undefined {
  if (deployer.address.toLowerCase() !== decrypt.address.toLowerCase()) return undefined;
  if (decryptSecretAnnotations?.[SHARED_KEY_ANNOTATION] === 'true') return undefined;
  return (
    `the decrypt key Secret ${DECRYPT_KEY_SECRET} holds the deployer key ${deployer.address}; ` +
    `the decrypt key must be its own key: restore the decrypt key from its backup`
  );
}
