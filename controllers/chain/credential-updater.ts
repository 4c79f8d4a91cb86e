import { encodeFunctionData, type Address, type Hex, type PublicClient } from 'viem';
import { AccessCredentialNFTAbi } from '../../contracts/generated/artifacts.js';
import { decryptConnectionDetails } from '../../lib/crypto/index.js';
import type { TransactionSender } from './tx-sender.js';

/**
 * Keeps an access NFT's connection details true: re-encrypts them to the buyer's signature and
 * sends `updateUserEncrypted` through the transaction sender. The key names the token, how many
 * updates it had and the new host, so a retry (or a crash after the broadcast) sends nothing new,
 * while a later change back to an older address is still a new update.
 */
export class CredentialUpdater {
  constructor(
    private readonly sender: TransactionSender,
    private readonly chain: PublicClient,
    private readonly chainId: number,
    private readonly nft: Address,
  ) {}

  static intentKey(
    chainId: number,
    nft: Address,
    tokenId: string,
    updates: number,
    hostname: string,
  ): string {
    return `nft-update:${chainId}:${nft.toLowerCase()}:${tokenId}:${updates}:${hostname}`;
  }

  /** The host the token's connection details name on-chain, or undefined when they do not decrypt. */
  async carriedHostname(tokenId: string, signature: string): Promise<string | undefined> {
    const data = await this.chain.readContract({
      address: this.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getUserEncrypted',
      args: [BigInt(tokenId)],
    });
    try {
      return decryptConnectionDetails(signature, data).hostname;
    } catch {
      return undefined;
    }
  }

  /** Sends the update (once per key) and waits for it; a reverted update throws. */
  async update(tokenId: string, updates: number, hostname: string, userEncrypted: Hex): Promise<Hex> {
    const data = encodeFunctionData({
      abi: AccessCredentialNFTAbi,
      functionName: 'updateUserEncrypted',
      args: [BigInt(tokenId), userEncrypted],
    });
    const key = CredentialUpdater.intentKey(this.chainId, this.nft, tokenId, updates, hostname);
    const { receipt } = await this.sender.send(key, { to: this.nft, data });
    if (receipt.status !== 'success')
      throw new Error(`updateUserEncrypted for token ${tokenId} reverted (${receipt.transactionHash})`);
    return receipt.transactionHash;
  }
}
