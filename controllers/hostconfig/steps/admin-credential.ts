import {
  BaseError,
  ContractFunctionRevertedError,
  encodeFunctionData,
  isAddressEqual,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { encryptConnectionDetails } from '../../../lib/crypto/index.js';
import { publicHostAddress } from '../host-address.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';
import { sendSetupTransaction } from '../transactions.js';

/** The login user of the host the admin credential's connection details name (INTEROP §5). */
const ADMIN_USERNAME = 'admin';

/**
 * AdminCredentialMinted: the admin credential NFT (spec.admin.credentialTokenId, 0 = the contract's
 * first mint) exists. Minted at most once per NFT contract: the mint's intent key is fixed, and a
 * token that already exists is never minted again, whoever holds it now (admin rights follow the
 * token, so a transfer is fine). It carries the host's connection details encrypted with the admin's
 * signature, like a customer's access NFT (INTEROP §2).
 */
export async function adminCredentialStep(context: SetupContext): Promise<StepResult> {
  const { deployer: server, contracts } = context.state;
  if (!server) return notReady('WaitingForKeys', 'waiting for the server wallet (KeysReady)');
  if (!contracts) return notReady('WaitingForContracts', 'waiting for the contracts (ContractsReady)');
  const { host, chain } = context;
  const { admin, chain: settings } = host.spec;
  const tokenId = BigInt(admin.credentialTokenId);
  const target = { chainId: settings.chainId, endpoints: settings.rpcEndpoints, deployer: server };
  const rpc = chain.client(target);
  const key = `setup-admin-mint:${settings.chainId}:${contracts.nft.toLowerCase()}`;
  const mint = (userEncrypted: Hex) =>
    sendSetupTransaction(context, server, {
      key,
      request: {
        to: contracts.nft,
        data: encodeFunctionData({
          abi: AccessCredentialNFTAbi,
          functionName: 'mint',
          args: [admin.wallet as Address, userEncrypted],
        }),
      },
      what: `minting admin credential token ${tokenId} to ${admin.wallet}`,
      step: 'AdminCredentialMinted',
      crashPoint: 'adminMintBroadcast',
    });

  // A mint sent before (maybe by a process that crashed) is waited for, never repeated.
  const sentBefore = await chain.sender(target).hasIntent(key);
  // The stored, signed transaction is what gets waited for: the request given here is not used.
  if (sentBefore) await mint('0x');
  else if ((await holderOf(rpc, contracts.nft, tokenId)) === undefined) {
    const next = await rpc.readContract({
      address: contracts.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'totalSupply',
    });
    if (next !== tokenId)
      return notReady(
        'TokenIdUnavailable',
        `spec.admin.credentialTokenId is ${tokenId}, which does not exist, and the next mint would be token ${next}: set it to the admin's existing token`,
      );
    const address = await publicHostAddress(context.kube, host);
    if ('unknown' in address)
      return notReady(
        'HostAddressUnknown',
        `the admin credential carries the host's address: ${address.unknown}`,
      );
    await mint(
      encryptConnectionDetails(admin.signature, {
        hostname: address.address,
        port: 22,
        username: ADMIN_USERNAME,
      }) as Hex,
    );
  }

  const holder = await holderOf(rpc, contracts.nft, tokenId);
  if (holder === undefined)
    return notReady(
      'UnexpectedTokenId',
      `the admin credential was minted, but spec.admin.credentialTokenId ${tokenId} does not exist: set it to the token the admin holds`,
    );
  const moved = !isAddressEqual(holder, admin.wallet as Address);
  return ready(
    'Minted',
    `admin credential token ${tokenId} is held by ${holder}${moved ? ` (not spec.admin.wallet: admin rights follow the token)` : ''}`,
    { adminCredentialTokenId: tokenId.toString() },
  );
}

/** ownerOf, or undefined when the token does not exist (the contract reverts). */
async function holderOf(rpc: PublicClient, nft: Address, tokenId: bigint): Promise<Address | undefined> {
  try {
    return await rpc.readContract({
      address: nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'ownerOf',
      args: [tokenId],
    });
  } catch (error) {
    if (error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionRevertedError))
      return undefined;
    throw error;
  }
}
