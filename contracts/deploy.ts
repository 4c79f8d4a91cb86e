// Deploys the BlockHost contracts with viem, and small typed helpers for the calls other code and
// tests make. Every id comes from a receipt's event, never from a counter read afterwards.
import {
  erc20Abi,
  getAddress,
  isAddressEqual,
  parseEventLogs,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type ContractEventName,
  type Hash,
  type Hex,
  type ParseEventLogsReturnType,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from 'viem';
import {
  AccessCredentialNFTAbi,
  AccessCredentialNFTBytecode,
  BlockhostSubscriptionsAbi,
  BlockhostSubscriptionsBytecode,
  MockERC20Abi,
  MockERC20Bytecode,
} from './generated/artifacts.js';

/** A wallet client that can sign and knows its chain: what deployments and writes need. */
export type SigningWalletClient = WalletClient<Transport, Chain, Account>;

export const NFT_NAME = 'BlockhostAccess';
export const NFT_SYMBOL = 'BHA';
/** Payment method 1 is always the primary stablecoin. */
export const STABLECOIN_PAYMENT_METHOD_ID = 1n;

export interface PlanSpec {
  name: string;
  pricePerDayUsdCents: bigint;
}

/** The wizard's default plan. */
export const DEFAULT_PLANS: readonly PlanSpec[] = [{ name: 'Basic VM', pricePerDayUsdCents: 50n }];

export interface DeployBlockhostOptions {
  publicClient: PublicClient;
  walletClient: SigningWalletClient;
  /** The primary stablecoin; omitted: a fresh MockERC20 "USDC" with 6 decimals (local/dev chains only). */
  stablecoin?: { address: Address };
  plans?: readonly PlanSpec[];
}

export interface BlockhostDeployment {
  subscriptions: Address;
  nft: Address;
  stablecoin: Address;
  planIds: bigint[];
  /** Block of the first deployment: where a log watcher starts. */
  deployBlock: bigint;
}

/** Waits for `hash` and throws unless it succeeded. */
export async function confirm(publicClient: PublicClient, hash: Hash): Promise<TransactionReceipt> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`);
  return receipt;
}

/** The arguments of the first `eventName` log that `address` emitted in `receipt`. */
export function eventArgs<const abi extends Abi, eventName extends ContractEventName<abi>>(
  abi: abi,
  eventName: eventName,
  receipt: TransactionReceipt,
  address: Address,
): ParseEventLogsReturnType<abi, eventName, true>[number]['args'] {
  const logs = receipt.logs.filter((log) => isAddressEqual(log.address, address));
  const [log] = parseEventLogs<abi, true, eventName>({ abi, eventName, logs });
  if (log === undefined)
    throw new Error(`no ${eventName} event from ${address} in ${receipt.transactionHash}`);
  return log.args;
}

/** The checksummed address (receipts carry it lowercased) and block of a deployment. */
export async function deployed(
  publicClient: PublicClient,
  hash: Hash,
): Promise<{ address: Address; block: bigint }> {
  const receipt = await confirm(publicClient, hash);
  if (!receipt.contractAddress) throw new Error(`deployment ${hash} created no contract`);
  return { address: getAddress(receipt.contractAddress), block: receipt.blockNumber };
}

export async function deployBlockhost({
  publicClient,
  walletClient,
  stablecoin,
  plans = DEFAULT_PLANS,
}: DeployBlockhostOptions): Promise<BlockhostDeployment> {
  const nft = await deployed(
    publicClient,
    await walletClient.deployContract({
      abi: AccessCredentialNFTAbi,
      bytecode: AccessCredentialNFTBytecode,
      args: [NFT_NAME, NFT_SYMBOL],
    }),
  );
  const subscriptions = await deployed(
    publicClient,
    await walletClient.deployContract({
      abi: BlockhostSubscriptionsAbi,
      bytecode: BlockhostSubscriptionsBytecode,
    }),
  );
  const stablecoinAddress =
    stablecoin?.address ??
    (
      await deployed(
        publicClient,
        await walletClient.deployContract({
          abi: MockERC20Abi,
          bytecode: MockERC20Bytecode,
          args: ['USD Coin', 'USDC', 6],
        }),
      )
    ).address;

  const write = { address: subscriptions.address, abi: BlockhostSubscriptionsAbi } as const;
  await confirm(
    publicClient,
    await walletClient.writeContract({
      ...write,
      functionName: 'setPrimaryStablecoin',
      args: [stablecoinAddress],
    }),
  );
  const planIds: bigint[] = [];
  for (const plan of plans) {
    const hash = await walletClient.writeContract({
      ...write,
      functionName: 'createPlan',
      args: [plan.name, plan.pricePerDayUsdCents],
    });
    const receipt = await confirm(publicClient, hash);
    planIds.push(eventArgs(BlockhostSubscriptionsAbi, 'PlanCreated', receipt, subscriptions.address).planId);
  }
  return {
    subscriptions: subscriptions.address,
    nft: nft.address,
    stablecoin: stablecoinAddress,
    planIds,
    deployBlock: nft.block,
  };
}

interface PaymentOptions {
  publicClient: PublicClient;
  /** The payer; must hold the payment token. */
  walletClient: SigningWalletClient;
  subscriptions: Address;
  days: bigint;
  paymentMethodId?: bigint;
}

/** Approves exactly what the contract will charge for `days` of `planId` now. */
async function approvePayment(
  {
    publicClient,
    walletClient,
    subscriptions,
    days,
    paymentMethodId = STABLECOIN_PAYMENT_METHOD_ID,
  }: PaymentOptions,
  planId: bigint,
): Promise<void> {
  const read = { address: subscriptions, abi: BlockhostSubscriptionsAbi } as const;
  const [token] = await publicClient.readContract({
    ...read,
    functionName: 'getPaymentMethod',
    args: [paymentMethodId],
  });
  const amount = await publicClient.readContract({
    ...read,
    functionName: 'calculatePayment',
    args: [planId, days, paymentMethodId],
  });
  await confirm(
    publicClient,
    await walletClient.writeContract({
      address: token,
      abi: erc20Abi,
      functionName: 'approve',
      args: [subscriptions, amount],
    }),
  );
}

/** Approve + buySubscription; returns the SubscriptionCreated event's arguments and the receipt. */
export async function buySubscription(options: PaymentOptions & { planId: bigint; userEncrypted?: Hex }) {
  const { publicClient, walletClient, subscriptions, planId, days, userEncrypted = '0x' } = options;
  const paymentMethodId = options.paymentMethodId ?? STABLECOIN_PAYMENT_METHOD_ID;
  await approvePayment(options, planId);
  const hash = await walletClient.writeContract({
    address: subscriptions,
    abi: BlockhostSubscriptionsAbi,
    functionName: 'buySubscription',
    args: [planId, days, paymentMethodId, userEncrypted],
  });
  const receipt = await confirm(publicClient, hash);
  return { ...eventArgs(BlockhostSubscriptionsAbi, 'SubscriptionCreated', receipt, subscriptions), receipt };
}

/** Approve + extendSubscription (any payer); returns the SubscriptionExtended event's arguments and the receipt. */
export async function extendSubscription(options: PaymentOptions & { subscriptionId: bigint }) {
  const { publicClient, walletClient, subscriptions, subscriptionId, days } = options;
  const paymentMethodId = options.paymentMethodId ?? STABLECOIN_PAYMENT_METHOD_ID;
  const read = { address: subscriptions, abi: BlockhostSubscriptionsAbi } as const;
  const [planId] = await publicClient.readContract({
    ...read,
    functionName: 'getSubscription',
    args: [subscriptionId],
  });
  await approvePayment(options, planId);
  const hash = await walletClient.writeContract({
    ...read,
    functionName: 'extendSubscription',
    args: [subscriptionId, days, paymentMethodId],
  });
  const receipt = await confirm(publicClient, hash);
  return { ...eventArgs(BlockhostSubscriptionsAbi, 'SubscriptionExtended', receipt, subscriptions), receipt };
}
