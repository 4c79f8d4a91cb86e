import type { Explained } from './failure.js';

/** What the Subscription records about the connection details its NFT carries (status.nft). */
export interface CarriedDetails {
  hostname?: string;
  updates?: number;
}

export type ConnectionDetailsStep =
  /** The NFT names the VM's address, or the VM reports none (nothing true to write). */
  | { do: 'nothing' }
  /** Not recorded yet (a mint just made, or one from before this field): read and decrypt the NFT's. */
  | { do: 'read' }
  /** Re-encrypt for `hostname` and send updateUserEncrypted; `updates` is the count before it. */
  | { do: 'update'; hostname: string; updates: number };

/**
 * Whether the NFT's connection details must change: only the VM's reported address (its status,
 * which only the VM controller writes) against what the controller recorded on the Subscription's
 * status (which only it writes). Nothing a namespace user can write takes part.
 */
export function connectionDetailsStep(
  carried: CarriedDetails | undefined,
  vmAddress: string | undefined,
): ConnectionDetailsStep {
  if (!vmAddress) return { do: 'nothing' };
  if (carried?.hostname === undefined) return { do: 'read' };
  if (carried.hostname === vmAddress) return { do: 'nothing' };
  return { do: 'update', hostname: vmAddress, updates: carried.updates ?? 0 };
}

const INSUFFICIENT_FUNDS = /insufficient funds|exceeds the balance|gas required exceeds allowance/i;

/** What the Subscription shows while an update of the NFT's connection details keeps failing. */
export function explainUpdateFailure(
  error: unknown,
  tokenId: string,
  hostname: string,
  wallet: string,
): Explained {
  const detail = String((error as Error)?.message ?? error)
    .split('\n')[0]!
    .slice(0, 300);
  if (INSUFFICIENT_FUNDS.test(detail))
    return {
      condition: 'ConnectionDetailsCurrent',
      reason: 'ServerWalletUnfunded',
      message: `NFT ${tokenId} still names an old address (the VM is now at ${hostname}): the server wallet ${wallet} cannot pay for updateUserEncrypted; send it ETH`,
    };
  return {
    condition: 'ConnectionDetailsCurrent',
    reason: 'UpdateFailed',
    message: `NFT ${tokenId} still names an old address (the VM is now at ${hostname}); updating it failed, retrying: ${detail}`,
  };
}
