import { getAddress, type Address, type PublicClient } from 'viem';
import { AccessCredentialNFTAbi } from '../../contracts/generated/artifacts.js';
import { readConfirmed, type Confirmed } from './confirmed-read.js';

/**
 * Who holds credential NFT `tokenId`, read `confirmations` deep and agreed by a quorum of the
 * endpoints (readConfirmed); null when the token does not exist there. Admin login and payouts
 * both hang on this answer, so one endpoint, or a transfer a reorg may undo, cannot decide it.
 * Throws ChainDisagreement when no quorum agrees.
 */
export function readCredentialHolder(
  clients: readonly PublicClient[],
  confirmations: number,
  nft: Address,
  tokenId: bigint,
): Promise<Confirmed<Address | null>> {
  return readConfirmed(
    clients,
    confirmations,
    `the holder of credential NFT #${tokenId}`,
    (client, blockNumber) =>
      client
        .readContract({
          address: nft,
          abi: AccessCredentialNFTAbi,
          functionName: 'ownerOf',
          args: [tokenId],
          blockNumber,
        })
        .then((owner) => getAddress(owner))
        .catch((error: unknown) => {
          // ERC721NonexistentToken: not minted (yet) at that block, an answer like any other.
          if (/NonexistentToken/.test(String(error))) return null;
          throw error;
        }),
  );
}
