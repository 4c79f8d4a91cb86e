import type { Address, Hex, LocalAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import { contractsInUse } from '../../lib/chain/contracts.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';

/** Everything the chain-facing controllers need, resolved from the HostConfig and the wallet Secret. */
export interface ChainContext {
  chainId: number;
  endpoints: string[];
  confirmations: number;
  pollIntervalMs: number;
  contracts: { subscriptions: Address; nft: Address };
  startBlock: bigint;
  server: LocalAccount;
  /** The same key as `server`, for decrypting customer payloads (ECIES). */
  serverPrivateKey: Hex;
}

export type ChainContextResult = { context: ChainContext } | { notReady: string };

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

/**
 * Reads the chain settings: contracts from HostConfig status (deployed or adopted by setup), or from
 * spec when the operator named existing ones; the server key from its Secret in `namespace`.
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
  const secretName = chain.serverWallet?.secretRef?.name ?? 'blockhost-server-wallet';
  let secret: Secret;
  try {
    secret = await kube.get<Secret>(coreTypes.secret, secretName, namespace);
  } catch (error) {
    if (isNotFound(error)) return { notReady: `Secret ${namespace}/${secretName} does not exist yet` };
    throw error;
  }
  const encoded = secret.data?.privateKey;
  if (!encoded) return { notReady: `Secret ${namespace}/${secretName} has no privateKey` };
  const key = Buffer.from(encoded, 'base64').toString('utf8').trim();
  const hex = (key.startsWith('0x') ? key : `0x${key}`) as Hex;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
    return { notReady: `Secret ${namespace}/${secretName} privateKey is not 32 bytes of hex` };
  return {
    context: {
      chainId: chain.chainId,
      endpoints: chain.rpcEndpoints,
      confirmations: chain.confirmations ?? 12,
      pollIntervalMs: (chain.pollIntervalSeconds ?? 5) * 1000,
      contracts: { subscriptions: contracts.subscriptions as Address, nft: contracts.nft as Address },
      startBlock: BigInt(contracts.startBlock ?? 0),
      server: privateKeyToAccount(hex),
      serverPrivateKey: hex,
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
    context.server.address,
  ]);
