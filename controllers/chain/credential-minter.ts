import { encodeFunctionData, parseEventLogs, type Address, type Hex, type PublicClient } from 'viem';
import { AccessCredentialNFTAbi } from '../../contracts/generated/artifacts.js';
import type { TransactionSender } from './tx-sender.js';

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
    const { receipt } = await this.sender.send(this.key(subscriptionId), { to: this.nft, data }, signal);
    if (receipt.status !== 'success') {
      const tokenId = await this.existing(subscriptionId);
      if (tokenId !== undefined) return { tokenId };
      throw new Error(`mint for subscription ${subscriptionId} reverted (${receipt.transactionHash})`);
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
