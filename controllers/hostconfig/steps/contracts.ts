import {
  encodeDeployData,
  encodeFunctionData,
  getAddress,
  isAddressEqual,
  zeroAddress,
  type Address,
  type PublicClient,
} from 'viem';
import {
  AccessCredentialNFTAbi,
  AccessCredentialNFTBytecode,
  BlockhostSubscriptionsAbi,
  BlockhostSubscriptionsBytecode,
} from '../../../contracts/generated/artifacts.js';
import { NFT_NAME, NFT_SYMBOL } from '../../../contracts/deploy.js';
import { USDC_BY_CHAIN_ID } from '../../../lib/api/v1alpha1/index.js';
import { findDeploymentBlock } from '../deployment-block.js';
import { notReady, ready, StepError, type SetupContext, type StepResult } from '../step.js';
import { sendSetupTransaction } from '../transactions.js';
import type { TxRequest } from '../../chain/tx-sender.js';
import type { DeployerKey } from '../../wallet/keys.js';

type Which = 'nft' | 'subscriptions';

const CONTRACTS: Record<Which, { name: string; request: TxRequest }> = {
  nft: {
    name: 'AccessCredentialNFT',
    request: {
      data: encodeDeployData({
        abi: AccessCredentialNFTAbi,
        bytecode: AccessCredentialNFTBytecode,
        args: [NFT_NAME, NFT_SYMBOL],
      }),
    },
  },
  subscriptions: {
    name: 'BlockhostSubscriptions',
    request: {
      data: encodeDeployData({ abi: BlockhostSubscriptionsAbi, bytecode: BlockhostSubscriptionsBytecode }),
    },
  },
};
/** setPrimaryStablecoin cannot be estimated before the contract exists; this covers it generously. */
const SET_STABLECOIN_GAS = 150_000n;

/**
 * ContractsReady: the RPC serves the configured chain; given contracts have code, are owned by the
 * server wallet and (the NFT) mint exactly once per subscription; absent ones are deployed (deploy: true) from the server wallet, at most once per
 * wallet and chain even across crashes (the transaction sender's intent is stored before the
 * broadcast and fixes nonce and address); the subscriptions contract's primary stablecoin is set.
 */
export async function contractsStep(context: SetupContext): Promise<StepResult> {
  const server = context.state.deployer;
  if (!server) return notReady('WaitingForKeys', 'waiting for the server wallet (KeysReady)');
  const { chain: settings } = context.host.spec;
  const rpc = context.chain.client({ chainId: settings.chainId, endpoints: settings.rpcEndpoints });

  const served = await rpc.getChainId();
  if (served !== settings.chainId)
    return notReady(
      'ChainIdMismatch',
      `spec.chain.chainId is ${settings.chainId} but spec.chain.rpcEndpoints serve chain ${served}`,
    );

  const given = settings.contracts ?? {};
  for (const which of ['nft', 'subscriptions'] as const) {
    const address = given[which];
    if (address && !(await hasCode(rpc, address as Address)))
      return notReady(
        'NoContractCode',
        `spec.chain.contracts.${which}: there is no contract at ${address} on chain ${settings.chainId}`,
      );
  }

  const missing = (['nft', 'subscriptions'] as const).filter((which) => !given[which]);
  const deployed: Partial<Record<Which, { address: Address; block: number }>> = {};
  for (const which of missing) {
    const stillToDeploy = missing.filter((w) => deployed[w] === undefined);
    deployed[which] = await deploy(context, server, which, stillToDeploy);
  }
  const addresses = {
    nft: deployed.nft?.address ?? getAddress(given.nft!),
    subscriptions: deployed.subscriptions?.address ?? getAddress(given.subscriptions!),
  };

  for (const which of ['nft', 'subscriptions'] as const)
    await requireOwner(rpc, which, addresses[which], server);
  if (given.nft) await requireExactlyOnceMint(rpc, addresses.nft, server);

  const stablecoin = await ensureStablecoin(
    context,
    server,
    rpc,
    addresses.subscriptions,
    !given.subscriptions,
  );
  const startBlock = await startBlockOf(rpc, given, deployed);
  context.state.contracts = { ...addresses, stablecoin, startBlock };
  const verb = missing.length > 0 ? 'deployed' : 'verified';
  return ready(
    missing.length > 0 ? 'ContractsDeployed' : 'ContractsVerified',
    `${verb}: BlockhostSubscriptions ${addresses.subscriptions}, AccessCredentialNFT ${addresses.nft}, stablecoin ${stablecoin}, scanning from block ${startBlock}`,
    { contracts: { ...addresses, stablecoin, startBlock } },
  );
}

async function deploy(
  context: SetupContext,
  server: DeployerKey,
  which: Which,
  stillToDeploy: Which[],
): Promise<{ address: Address; block: number }> {
  const { chainId } = context.host.spec.chain;
  const { name, request } = CONTRACTS[which];
  // Keyed by wallet and chain, not by HostConfig uid: a HostConfig deleted and applied again adopts
  // the earlier deployment (and its subscriptions) instead of paying for a second one.
  const receipt = await sendSetupTransaction(context, server, {
    key: `setup-deploy:${chainId}:${server.address.toLowerCase()}:${which}`,
    request,
    what: `deploying ${name}`,
    step: 'ContractsReady',
    crashPoint: 'deployBroadcast',
    fundsFor: {
      requests: stillToDeploy.map((w) => CONTRACTS[w].request),
      extraGas: SET_STABLECOIN_GAS,
      what: `deploying ${stillToDeploy.map((w) => CONTRACTS[w].name).join(' and ')}`,
    },
  });
  if (!receipt.contractAddress)
    throw new StepError('DeployFailed', `deploying ${name}: ${receipt.transactionHash} created no contract`);
  context.log.info({ contract: name, address: receipt.contractAddress }, 'contract deployed');
  return { address: getAddress(receipt.contractAddress), block: Number(receipt.blockNumber) };
}

async function hasCode(rpc: PublicClient, address: Address): Promise<boolean> {
  const code = await rpc.getCode({ address });
  return code !== undefined && code !== '0x';
}

/** Plans and mints are owner-only: contracts the server wallet does not own are useless to it. */
async function requireOwner(rpc: PublicClient, which: Which, address: Address, server: DeployerKey) {
  let owner: Address;
  try {
    owner = await rpc.readContract({
      address,
      abi: which === 'nft' ? AccessCredentialNFTAbi : BlockhostSubscriptionsAbi,
      functionName: 'owner',
    });
  } catch (error) {
    throw new StepError(
      'NotBlockhostContract',
      `spec.chain.contracts.${which}: ${address} does not answer owner(); is it a ${CONTRACTS[which].name}?`,
      { cause: error },
    );
  }
  if (!isAddressEqual(owner, server.address))
    throw new StepError(
      'NotOwner',
      `spec.chain.contracts.${which}: ${address} is owned by ${owner}, not by the server wallet ${server.address}`,
    );
}

/** A subscription id no mint can have used: probing with it changes nothing and finds nothing. */
const UNUSED_SUBSCRIPTION_ID = 2n ** 256n - 1n;

/**
 * Mints go through mintForSubscription, which the contract refuses a second time for the same
 * subscription, and getSubscriptionToken finds a mint a crash hid. The original BlockHost's
 * AccessCredentialNFT has neither (only mint(address,bytes)): refused here, before any purchase
 * would fail to mint. Both are probed with calls (a view, and a simulation from the server wallet),
 * which send nothing.
 */
async function requireExactlyOnceMint(rpc: PublicClient, nft: Address, server: DeployerKey) {
  const unsupported = (missing: string, cause: unknown) =>
    new StepError(
      'UnsupportedContract',
      `spec.chain.contracts.nft: ${nft} has no ${missing}: an AccessCredentialNFT of the original BlockHost ` +
        'cannot mint exactly once per subscription; remove spec.chain.contracts.nft to deploy a current one',
      { cause },
    );
  try {
    await rpc.readContract({
      address: nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getSubscriptionToken',
      args: [UNUSED_SUBSCRIPTION_ID],
    });
  } catch (error) {
    throw unsupported('getSubscriptionToken(uint256)', error);
  }
  try {
    await rpc.simulateContract({
      account: server.address,
      address: nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'mintForSubscription',
      args: [UNUSED_SUBSCRIPTION_ID, server.address, '0x'],
    });
  } catch (error) {
    throw unsupported('mintForSubscription(uint256,address,bytes)', error);
  }
}

/**
 * The primary stablecoin (payment method 1). Set when spec.chain.stablecoin asks for another one, or
 * on contracts we deployed (USDC of the chain by default); contracts given as they are keep theirs.
 */
async function ensureStablecoin(
  context: SetupContext,
  server: DeployerKey,
  rpc: PublicClient,
  subscriptions: Address,
  deployedByUs: boolean,
): Promise<Address> {
  const { chainId, stablecoin } = context.host.spec.chain;
  const read = () =>
    rpc.readContract({
      address: subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'getPrimaryStablecoin',
    });
  const current = await read();
  const desired = stablecoin ?? (deployedByUs ? USDC_BY_CHAIN_ID[chainId] : undefined);
  if (desired && !isAddressEqual(current, desired as Address)) {
    if (!(await hasCode(rpc, desired as Address)))
      throw new StepError(
        'NoStablecoinCode',
        `spec.chain.stablecoin: there is no token contract at ${desired} on chain ${chainId}`,
      );
    await sendSetupTransaction(context, server, {
      // Keyed by what we want and what we saw: a later change gets its own transaction.
      key: `setup-stablecoin:${chainId}:${subscriptions.toLowerCase()}:${desired.toLowerCase()}:${current.toLowerCase()}`,
      request: {
        to: subscriptions,
        data: encodeFunctionData({
          abi: BlockhostSubscriptionsAbi,
          functionName: 'setPrimaryStablecoin',
          args: [desired as Address],
        }),
      },
      what: `setting the primary stablecoin to ${desired}`,
      step: 'ContractsReady',
    });
    return getAddress(await read());
  }
  if (isAddressEqual(current, zeroAddress))
    throw new StepError(
      'NoStablecoin',
      `${subscriptions} has no primary stablecoin: set spec.chain.stablecoin to the ERC-20 token customers pay with`,
    );
  return getAddress(current);
}

/** Where the chain watcher starts: the earliest block holding one of our contracts. */
async function startBlockOf(
  rpc: PublicClient,
  given: { subscriptions?: string; nft?: string; startBlock?: number },
  deployed: Partial<Record<Which, { block: number }>>,
): Promise<number> {
  const blocks = Object.values(deployed).map((d) => d.block);
  if (given.subscriptions || given.nft) {
    if (given.startBlock !== undefined) blocks.push(given.startBlock);
    else
      for (const which of ['nft', 'subscriptions'] as const) {
        const address = given[which];
        if (address)
          blocks.push(await findDeploymentBlock(rpc, address as Address, `spec.chain.contracts.${which}`));
      }
  }
  return Math.min(...blocks);
}
