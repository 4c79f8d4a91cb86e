import type { HostConfig } from '../../lib/api/v1alpha1/index.js';
import { contractsInUse } from '../../lib/chain/contracts.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { HttpError } from '../http/errors.js';
import { readHostConfig } from '../shared/host-config.js';

/** What the dashboard needs of the chain to know who the admin is and to read balances. */
export interface AdminChain {
  chainId: number;
  endpoints: string[];
  nft: `0x${string}`;
  subscriptions?: `0x${string}`;
  stablecoin?: `0x${string}`;
  startBlock?: number;
  /** Token id of the admin credential NFT: the one setup minted, else the one spec names. */
  credentialTokenId: bigint;
  /** Depth at which the admin holder is read (spec.chain.confirmations). */
  confirmations: number;
}

/** The HostConfig, or 503 with the reason the dashboard cannot work yet. */
export async function requireHostConfig(kube: KubeClient): Promise<HostConfig> {
  const host = await readHostConfig(kube);
  if (!host) throw new HttpError(503, 'This host has not been set up yet: finish the setup wizard first.');
  return host;
}

/** Pure: the chain facts of `host`, or a 503 naming what setup has not done yet. */
export function adminChainOf(host: HostConfig): AdminChain {
  const contracts = contractsInUse(host);
  if (!contracts?.nft) throw new HttpError(503, 'The admin credential contract is not deployed yet.');
  const stablecoin = host.status?.contracts?.stablecoin ?? host.spec.chain.stablecoin;
  return {
    chainId: host.spec.chain.chainId,
    endpoints: host.spec.chain.rpcEndpoints,
    nft: contracts.nft as `0x${string}`,
    ...(contracts.subscriptions && { subscriptions: contracts.subscriptions as `0x${string}` }),
    ...(stablecoin && { stablecoin: stablecoin as `0x${string}` }),
    ...(contracts.startBlock !== undefined && { startBlock: contracts.startBlock }),
    credentialTokenId: BigInt(host.status?.adminCredentialTokenId ?? host.spec.admin.credentialTokenId),
    confirmations: host.spec.chain.confirmations ?? 12,
  };
}

/** Used in the login message when the HostConfig names no public address at all. */
export const DEFAULT_MACHINE_NAME = 'blockhost';

/**
 * The machine name in the login message, from the HostConfig only: the public host name the
 * operator gave the signup page, else the host of the signup URL (the operator's, else the one
 * setup published). Never the request's Host header: anyone can send any Host, and the message an
 * admin signs must name this machine, not what a phishing page told the browser to say.
 */
export function machineName(host: HostConfig): string {
  const hostname = host.spec.signup?.hostname;
  if (hostname) return hostname;
  for (const url of [host.spec.signup?.url, host.status?.signupUrl]) {
    if (!url) continue;
    try {
      return new URL(url).hostname;
    } catch {
      // Schema-validated URLs always parse; an unparsable one falls through to the next source.
    }
  }
  return DEFAULT_MACHINE_NAME;
}
