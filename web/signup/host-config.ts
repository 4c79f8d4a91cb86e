import type { HostConfig } from '../../lib/api/v1alpha1/index.js';
import { contractsInUse } from '../../lib/chain/contracts.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { HttpError } from '../http/errors.js';
import { CachedRead } from '../shared/cached-read.js';
import { readHostConfig } from '../shared/host-config.js';
import { SIGNUP_RPC_PATH } from './rpc-proxy.js';

/** What the signup page needs to sell: all public, from the HostConfig (spec and status). */
export interface SignupConfig {
  chainId: number;
  /**
   * For the page's chain reads and for wallet_addEthereumChain: only this server's read-only RPC
   * proxy (a path; the page makes it absolute). The HostConfig's endpoints may carry API keys, so
   * they are never published.
   */
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
      rpcUrls: [SIGNUP_RPC_PATH],
      contracts: { subscriptions: contracts.subscriptions, nft: contracts.nft },
      serverPublicKey,
      publicSecret: host.spec.publicSecret ?? 'blockhost-access',
      ...(host.spec.signup?.hostname && { hostname: host.spec.signup.hostname }),
    },
  };
}

/** The chain the RPC proxy forwards to: server-side only. */
export interface SignupChain {
  chainId: number;
  endpoints: string[];
}

interface Snapshot {
  result: SignupConfigResult;
  chain?: SignupChain;
}

/**
 * Reads the HostConfig at most every `maxAgeMs`, so a busy signup page (and its RPC proxy) costs
 * the API server one GET per interval.
 */
export class SignupConfigSource {
  private readonly snapshot: CachedRead<Snapshot>;

  constructor(kube: KubeClient, now: () => number, maxAgeMs = 2_000) {
    this.snapshot = new CachedRead(async () => snapshotOf(await readHostConfig(kube)), now, maxAgeMs);
  }

  async get(): Promise<SignupConfigResult> {
    return (await this.snapshot.get()).result;
  }

  /** Chain id and endpoints for the proxy; 503 until the page can sell. */
  async chain(): Promise<SignupChain> {
    const { result, chain } = await this.snapshot.get();
    if ('notReady' in result || !chain) throw notSelling(result);
    return chain;
  }
}

function snapshotOf(host: HostConfig | undefined): Snapshot {
  return {
    result: signupConfigFrom(host),
    ...(host && { chain: { chainId: host.spec.chain.chainId, endpoints: host.spec.chain.rpcEndpoints } }),
  };
}

/** The 503 every signup API answers before setup published what the page needs. */
export function notSelling(result: SignupConfigResult): HttpError {
  return new HttpError(
    503,
    `This host is not selling yet: ${'notReady' in result ? result.notReady : 'its chain is unknown'}.`,
  );
}
