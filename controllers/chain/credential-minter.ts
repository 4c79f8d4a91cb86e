import {
  decodeErrorResult,
  encodeFunctionData,
  parseEventLogs,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';
import { AccessCredentialNFTAbi } from '../../contracts/generated/artifacts.js';
import type { TransactionSender } from './tx-sender.js';

/**
 * The NFT contract refused the mint: the call reverts at estimation (before a nonce is taken) or
 * its transaction reverted. Retrying changes nothing until the contract or its owner does.
 */
export class MintRefusedError extends Error {
  override name = 'MintRefusedError';
  constructor(
    readonly subscriptionId: bigint,
    /** The contract's custom error, decoded with its ABI, e.g. `OwnableUnauthorizedAccount`. */
    readonly contractError: string | undefined,
    /** The reverted transaction; absent when the call was refused before it was sent. */
    readonly txHash?: Hex,
    options?: ErrorOptions,
  ) {
    super(
      `mint for subscription ${subscriptionId} ${txHash ? `reverted (${txHash})` : 'refused by the contract'}${contractError ? `: ${contractError}` : ''}`,
      options,
    );
  }
}

export interface MintedCredential {
  tokenId: bigint;
  /** The mint transaction; absent when the token was found already minted on-chain. */
  txHash?: Hex;
}

/**
 * Mints a subscription's access NFT exactly once. Two guards: the transaction sender never sends a
 * second transaction for the same key, and the contract's mintForSubscription refuses a second token
 * for a subscription — so even a lost intent (deleted by hand) cannot make two NFTs.
 */
export class CredentialMinter {
  constructor(
    private readonly sender: TransactionSender,
    private readonly chain: PublicClient,
    private readonly chainId: number,
    private readonly nft: Address,
  ) {}

  static intentKey(chainId: number, nft: Address, subscriptionId: bigint): string {
    return `mint:${chainId}:${nft.toLowerCase()}:${subscriptionId}`;
  }

  async mint(
    subscriptionId: bigint,
    to: Address,
    userEncrypted: Hex,
    signal?: AbortSignal,
  ): Promise<MintedCredential> {
    const already = await this.existing(subscriptionId);
    if (already !== undefined && !(await this.sender.hasIntent(this.key(subscriptionId))))
      return { tokenId: already };
    const data = encodeFunctionData({
      abi: AccessCredentialNFTAbi,
      functionName: 'mintForSubscription',
      args: [subscriptionId, to, userEncrypted],
    });
    let receipt;
    try {
      ({ receipt } = await this.sender.send(this.key(subscriptionId), { to: this.nft, data }, signal));
    } catch (error) {
      throw refusal(subscriptionId, error) ?? error;
    }
    if (receipt.status !== 'success') {
      const tokenId = await this.existing(subscriptionId);
      if (tokenId !== undefined) return { tokenId };
      throw new MintRefusedError(subscriptionId, undefined, receipt.transactionHash);
    }
    const [event] = parseEventLogs({
      abi: AccessCredentialNFTAbi,
      eventName: 'SubscriptionCredentialMinted',
      logs: receipt.logs,
    });
    if (!event)
      throw new Error(`mint ${receipt.transactionHash} emitted no SubscriptionCredentialMinted event`);
    return { tokenId: event.args.tokenId, txHash: receipt.transactionHash };
  }

  private key(subscriptionId: bigint): string {
    return CredentialMinter.intentKey(this.chainId, this.nft, subscriptionId);
  }

  private async existing(subscriptionId: bigint): Promise<bigint | undefined> {
    const [minted, tokenId] = await this.chain.readContract({
      address: this.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getSubscriptionToken',
      args: [subscriptionId],
    });
    return minted ? tokenId : undefined;
  }
}

/**
 * A MintRefusedError when `error` is the contract reverting the call (JSON-RPC error 3 carries the
 * revert data), undefined for anything else (RPC down, wallet unfunded: the caller tells those apart).
 */
function refusal(subscriptionId: bigint, error: unknown): MintRefusedError | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const { code, data } = cause as { code?: unknown; data?: unknown };
    if (code !== 3) continue;
    let name: string | undefined;
    if (typeof data === 'string' && data.startsWith('0x') && data.length >= 10) {
      try {
        const decoded = decodeErrorResult({ abi: AccessCredentialNFTAbi, data: data as Hex });
        name = `${decoded.errorName}(${(decoded.args ?? []).map(String).join(', ')})`;
      } catch {
        name = `custom error ${data.slice(0, 10)}`;
      }
    }
    return new MintRefusedError(subscriptionId, name, undefined, { cause: error });
  }
  return undefined;
}
