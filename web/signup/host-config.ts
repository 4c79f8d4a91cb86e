import type { HostConfig } from '../../lib/api/v1alpha1/index.js';
import { contractsInUse } from '../../lib/chain/contracts.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { originOf } from '../http/security.js';
import { readHostConfig } from '../shared/host-config.js';

/** What the signup page needs to sell: all public, from the HostConfig (spec and status). */
export interface SignupConfig {
  chainId: number;
  /** For the page's chain reads and for wallet_addEthereumChain. */
  rpcUrls: string[];
  contracts: { subscriptions: string; nft: string };
  /** Uncompressed server key (0x04…) the page ECIES-encrypts the customer's signature to. */
  serverPublicKey: string;
  /** The message customers sign; its signature keys their connection details. */
  publicSecret: string;
  /** Public name of this host, when the operator set one. */
  hostname?: string;
}

export type SignupConfigResult = { config: SignupConfig } | { notReady: string };

/** Why the page cannot sell yet, or what it needs; pure, so it is tested without a cluster. */
export function signupConfigFrom(host: HostConfig | undefined): SignupConfigResult {
  if (!host) return { notReady: 'it has not been set up yet' };
  const contracts = contractsInUse(host);
  if (!contracts?.subscriptions || !contracts.nft) return { notReady: 'the contracts are not deployed yet' };
  const serverPublicKey = host.status?.serverPublicKey;
  if (!serverPublicKey) return { notReady: 'the server key has not been published yet' };
  return {
    config: {
      chainId: host.spec.chain.chainId,
      rpcUrls: host.spec.chain.rpcEndpoints,
      contracts: { subscriptions: contracts.subscriptions, nft: contracts.nft },
      serverPublicKey,
      publicSecret: host.spec.publicSecret ?? 'blockhost-access',
      ...(host.spec.signup?.hostname && { hostname: host.spec.signup.hostname }),
    },
  };
}

/**
 * Reads the HostConfig at most every `maxAgeMs`, so a busy signup page costs the API server one
 * GET per interval. Keeps the RPC origins of the last read for the CSP (read synchronously).
 */
export class SignupConfigSource {
  private last?: { at: number; result: SignupConfigResult };
  private pending?: Promise<SignupConfigResult>;

  constructor(
    private readonly kube: KubeClient,
    private readonly now: () => number,
    private readonly maxAgeMs = 2_000,
  ) {}

  async get(): Promise<SignupConfigResult> {
    if (this.last && this.now() - this.last.at < this.maxAgeMs) return this.last.result;
    this.pending ??= this.read().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Origins of the chain's RPC endpoints as last read (for connect-src). */
  rpcOrigins(): string[] {
    const result = this.last?.result;
    if (!result || !('config' in result)) return [];
    return result.config.rpcUrls.map(originOf).filter((origin): origin is string => origin !== undefined);
  }

  private async read(): Promise<SignupConfigResult> {
    const result = signupConfigFrom(await readHostConfig(this.kube));
    this.last = { at: this.now(), result };
    return result;
  }
}
