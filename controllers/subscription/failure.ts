import type { VM } from '../../lib/api/v1alpha1/index.js';
import { MintRefusedError } from '../chain/credential-minter.js';

/** Something that keeps a subscription from being served, as the reconcile met it. */
export type Failure =
  | {
      kind: 'mint';
      error: unknown;
      subscriptionId: string;
      chainId: number;
      /** The server wallet that sends the mint. */
      wallet: string;
      /** The AccessCredentialNFT contract. */
      nft: string;
    }
  | { kind: 'vm'; vm: string; reason: string; message: string }
  /** Any other error a reconcile threw (creating the VM, reading the chain). */
  | { kind: 'reconcile'; error: unknown };

/** What the Subscription says about a failure: `condition` False with `reason`, and the same on Ready. */
export interface Explained {
  condition: 'NFTMinted' | 'VMReady' | 'ConnectionDetailsCurrent' | 'Ready';
  /** CamelCase; also the Subscription's status.reason and the Warning Event's reason. */
  reason: string;
  /** What failed and what to do about it. Stable across retries, so repeated Events fold into one. */
  message: string;
}

/** How nodes and viem word a sender that cannot pay for gas (anvil, geth, reth, viem's own check). */
const INSUFFICIENT_FUNDS = /insufficient funds|exceeds the balance|gas required exceeds allowance/i;
const MAX_DETAIL = 300;

/**
 * The one mapping from a failure to what the Subscription shows. Pure: the caller classifies
 * nothing itself, and every reason an operator can meet is in this function's table test.
 */
export function explainFailure(failure: Failure): Explained {
  if (failure.kind === 'vm')
    return {
      condition: 'VMReady',
      reason: failure.reason,
      message: `VM ${failure.vm} reports ${failure.reason}: ${failure.message} (the VM controller retries with backoff; see kubectl describe vm ${failure.vm})`,
    };
  if (failure.kind === 'reconcile')
    return {
      condition: 'Ready',
      reason: 'ReconcileFailed',
      message: `the subscription controller failed: ${summary(failure.error)} (retried with backoff)`,
    };
  const { error, chainId, wallet, nft, subscriptionId } = failure;
  const mint = (reason: string, message: string): Explained => ({ condition: 'NFTMinted', reason, message });
  if (error instanceof MintRefusedError) {
    if (error.txHash)
      return mint(
        'MintReverted',
        `the mint transaction ${error.txHash} for subscription ${subscriptionId} reverted on chain ${chainId}; it is not sent again while its transaction intent records the revert: inspect the transaction`,
      );
    if (error.contractError?.startsWith('OwnableUnauthorizedAccount'))
      return mint(
        'MintRefused',
        `the NFT contract ${nft} on chain ${chainId} refuses mints from the server wallet ${wallet}, which is not its owner: transfer the contract's ownership to ${wallet} (retried with backoff)`,
      );
    return mint(
      'MintRefused',
      `the NFT contract ${nft} on chain ${chainId} refuses the mint for subscription ${subscriptionId}: ${error.contractError ?? 'it reverts without a reason'} (retried with backoff)`,
    );
  }
  const messages = causes(error);
  if (messages.some((m) => INSUFFICIENT_FUNDS.test(m)))
    return mint(
      'ServerWalletUnfunded',
      `the server wallet ${wallet} on chain ${chainId} cannot pay the gas for the mint: send ETH to ${wallet} (the mint is retried with backoff, and sent once)`,
    );
  if (error instanceof Error && error.name === 'UntrustedIntentError')
    return mint('MintIntentRefused', `${error.message}: the mint is not sent; remove or repair that intent`);
  return mint(
    'MintFailed',
    `minting the NFT on chain ${chainId} failed: ${summary(error)} (retried with backoff)`,
  );
}

/**
 * The VM's own report of a backend error (the VM controller sets Ready=False with the driver's
 * reason, e.g. AddressInUse, BackendError), or undefined while it is merely on its way.
 */
export function vmFailure(vm: VM): Extract<Failure, { kind: 'vm' }> | undefined {
  const ready = vm.status?.conditions?.find((c) => c.type === 'Ready');
  if (!ready || ready.status !== 'False' || ready.reason === 'Reconciling') return undefined;
  return { kind: 'vm', vm: vm.metadata.name!, reason: ready.reason, message: ready.message };
}

const summary = (error: unknown) =>
  [...new Set(causes(error))].join(': ').slice(0, MAX_DETAIL) || 'unknown error';

/** The first line of each message down the cause chain (viem's own messages span many lines). */
function causes(error: unknown): string[] {
  const messages: string[] = [];
  for (let cause = error; cause !== undefined && cause !== null && messages.length < 8;) {
    const { shortMessage, message } = cause as { shortMessage?: unknown; message?: unknown };
    const text = typeof shortMessage === 'string' ? shortMessage : typeof message === 'string' ? message : '';
    if (text) messages.push(text.split('\n')[0]!);
    else if (typeof cause !== 'object') messages.push(String(cause));
    cause = typeof cause === 'object' ? (cause as { cause?: unknown }).cause : undefined;
  }
  return messages;
}
