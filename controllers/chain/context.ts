import type { Address, Hex } from 'viem';
import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import { contractsInUse } from '../../lib/chain/contracts.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import {
  DECRYPT_KEY_SECRET,
  decryptKey,
  deployerKey,
  keyRolesProblem,
  parseKeyText,
  PRIVATE_KEY_FIELD,
  type DecryptKey,
  type DeployerKey,
} from '../wallet/keys.js';

/** Everything the chain-facing controllers need, resolved from the HostConfig and the key Secrets. */
export interface ChainContext {
  chainId: number;
  endpoints: string[];
  confirmations: number;
  pollIntervalMs: number;
  contracts: { subscriptions: Address; nft: Address };
  startBlock: bigint;
  /** Signs and pays for every transaction (the transaction sender's only account). */
  deployer: DeployerKey;
  /** Decrypts customer payloads (ECIES); cannot sign. */
  decrypt: DecryptKey;
}

export type ChainContextResult = { context: ChainContext } | { notReady: string };

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

/** The key in Secret `namespace/name`, or why there is none yet. */
async function readKey(
  kube: KubeClient,
  namespace: string,
  name: string,
): Promise<{ key: Hex; annotations?: Record<string, string> } | { notReady: string }> {
  let secret: Secret;
  try {
    secret = await kube.get<Secret>(coreTypes.secret, name, namespace);
  } catch (error) {
    if (isNotFound(error)) return { notReady: `Secret ${namespace}/${name} does not exist yet` };
    throw error;
  }
  const encoded = secret.data?.[PRIVATE_KEY_FIELD];
  if (!encoded) return { notReady: `Secret ${namespace}/${name} has no ${PRIVATE_KEY_FIELD}` };
  const key = parseKeyText(Buffer.from(encoded, 'base64').toString('utf8'));
  if (!key)
    return { notReady: `Secret ${namespace}/${name} ${PRIVATE_KEY_FIELD} is not a secp256k1 private key` };
  return { key, annotations: secret.metadata.annotations };
}

/**
 * Reads the chain settings: contracts from HostConfig status (deployed or adopted by setup), or from
 * spec when the operator named existing ones; the deployer and decrypt keys from their Secrets in
 * `namespace` (refused when they hold one key without being a single-key host's, see keyRolesProblem).
 * Returns why not when something is still missing, so callers can report it as a condition.
 */
export async function resolveChainContext(kube: KubeClient, namespace: string): Promise<ChainContextResult> {
  let host: HostConfig;
  try {
    host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
  } catch (error) {
    if (isNotFound(error)) return { notReady: 'there is no HostConfig yet' };
    throw error;
  }
  const { chain } = host.spec;
  const contracts = contractsInUse(host);
  if (!contracts?.subscriptions || !contracts.nft) return { notReady: 'the contracts are not deployed yet' };
  const deployerSecret = await readKey(
    kube,
    namespace,
    chain.serverWallet?.secretRef?.name ?? 'blockhost-server-wallet',
  );
  if ('notReady' in deployerSecret) return deployerSecret;
  const decryptSecret = await readKey(kube, namespace, DECRYPT_KEY_SECRET);
  if ('notReady' in decryptSecret) return decryptSecret;
  const deployer = deployerKey(deployerSecret.key);
  const decrypt = decryptKey(decryptSecret.key);
  const problem = keyRolesProblem(deployer, decrypt, decryptSecret.annotations);
  if (problem) return { notReady: problem };
  return {
    context: {
      chainId: chain.chainId,
      endpoints: chain.rpcEndpoints,
      confirmations: chain.confirmations ?? 12,
      pollIntervalMs: (chain.pollIntervalSeconds ?? 5) * 1000,
      contracts: { subscriptions: contracts.subscriptions as Address, nft: contracts.nft as Address },
      startBlock: BigInt(contracts.startBlock ?? 0),
      deployer,
      decrypt,
    },
  };
}

/** Identity of a context: a change means long-running users (the watcher) must restart. */
export const contextFingerprint = (context: ChainContext): string =>
  JSON.stringify([
    context.chainId,
    context.endpoints,
    context.confirmations,
    context.pollIntervalMs,
    context.contracts,
    String(context.startBlock),
    context.deployer.address,
    context.decrypt.address,
  ]);
