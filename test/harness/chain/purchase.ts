import type { Hex } from 'viem';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { encryptUserSignature, publicKeyFromPrivateKey } from '../../../lib/crypto/index.js';
import { anvilPrivateKey } from './anvil.js';
import type { LocalChain } from './local-chain.js';

/**
 * A purchase as the signup page makes it: 30 days of on-chain plan 1 bought by anvil account
 * `buyer`, with the buyer's wallet signature encrypted to the server key (anvil account 0), and a
 * block mined on top. Returns the subscription id.
 */
export async function buyAsCustomer(chain: LocalChain, buyer: number, signature: string): Promise<bigint> {
  const server = publicKeyFromPrivateKey(anvilPrivateKey(0));
  const { subscriptionId } = await chain.buy(buyer, {
    planId: 1n,
    days: 30n,
    userEncrypted: encryptUserSignature(server, signature) as Hex,
  });
  await chain.anvil.mine(1);
  return subscriptionId;
}

/** Anvil account `holder` transfers NFT `tokenId` to `to`, with a block mined on top (the watcher's confirmation). */
export async function transferNft(
  chain: LocalChain,
  holder: number,
  to: Hex,
  tokenId: bigint,
): Promise<void> {
  const hash = await chain.wallet(holder).writeContract({
    address: chain.deployment.nft,
    abi: AccessCredentialNFTAbi,
    functionName: 'transferFrom',
    args: [chain.wallet(holder).account.address, to, tokenId],
  });
  await chain.publicClient.waitForTransactionReceipt({ hash });
  await chain.anvil.mine(1);
}
