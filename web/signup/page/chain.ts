// The signup page's view of the chain: reads through the host's RPC endpoint (so plans show before
// a wallet connects), writes through the visitor's wallet.
import {
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  erc20Abi,
  fallback,
  http,
  parseEventLogs,
  type Address,
  type Chain,
  type Hash,
  type Hex,
  type PublicClient,
  type WalletClient,
} from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import type { Eip1193Provider } from '../../shared/page/wallet.js';
import type { SignupConfig } from '../host-config.js';

/** Payment method 1 is always the primary stablecoin (INTEROP §1). */
export const STABLECOIN_METHOD = 1n;

export interface OnChainPlan {
  id: bigint;
  name: string;
  centsPerDay: bigint;
}

export interface Stablecoin {
  address: Address;
  symbol: string;
  decimals: number;
}

export interface OnChainSubscription {
  id: bigint;
  planId: bigint;
  subscriber: Address;
  expiresAt: bigint;
  active: boolean;
  cancelled: boolean;
}

/** A custom error a contract reverted with, by name (PlanNotActive, SubscriptionNotFound, …). */
export function revertName(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 10; depth += 1) {
    const name = (e as { data?: { errorName?: unknown } }).data?.errorName;
    if (typeof name === 'string') return name;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export class SignupChain {
  readonly chain: Chain;
  readonly reader: PublicClient;
  private readonly subscriptions: Address;
  private readonly nft: Address;

  constructor(readonly config: SignupConfig) {
    this.chain = defineChain({
      id: config.chainId,
      name: `Chain ${config.chainId}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: config.rpcUrls } },
    });
    this.reader = createPublicClient({
      chain: this.chain,
      transport: fallback(config.rpcUrls.map((url) => http(url))),
      pollingInterval: 1_000,
    });
    this.subscriptions = config.contracts.subscriptions as Address;
    this.nft = config.contracts.nft as Address;
  }

  private read<T>(functionName: string, args: unknown[] = [], nft = false): Promise<T> {
    return this.reader.readContract({
      address: nft ? this.nft : this.subscriptions,
      abi: nft ? AccessCredentialNFTAbi : BlockhostSubscriptionsAbi,
      functionName,
      args,
    } as never) as Promise<T>;
  }

  /** Active plans, in id order. */
  async plans(): Promise<OnChainPlan[]> {
    const count = await this.read<bigint>('getTotalPlanCount');
    const plans: OnChainPlan[] = [];
    for (let id = 1n; id <= count; id += 1n) {
      const [name, centsPerDay, active] = await this.read<[string, bigint, boolean]>('getPlan', [id]);
      if (active) plans.push({ id, name, centsPerDay });
    }
    return plans;
  }

  async stablecoin(): Promise<Stablecoin> {
    const address = await this.read<Address>('getPrimaryStablecoin');
    const token = { address, abi: erc20Abi } as const;
    const [symbol, decimals] = await Promise.all([
      this.reader.readContract({ ...token, functionName: 'symbol' }),
      this.reader.readContract({ ...token, functionName: 'decimals' }),
    ]);
    return { address, symbol, decimals };
  }

  /** What the contract charges for `days` of `planId` in the stablecoin's smallest unit. */
  price(planId: bigint, days: bigint): Promise<bigint> {
    return this.read<bigint>('calculatePayment', [planId, days, STABLECOIN_METHOD]);
  }

  balance(token: Address, owner: Address): Promise<bigint> {
    return this.reader.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [owner],
    });
  }

  allowance(token: Address, owner: Address): Promise<bigint> {
    return this.reader.readContract({
      address: token,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [owner, this.subscriptions],
    });
  }

  async subscription(id: bigint): Promise<OnChainSubscription> {
    const [planId, subscriber, expiresAt, active, cancelled] = await this.read<
      [bigint, Address, bigint, boolean, boolean]
    >('getSubscription', [id]);
    return { id, planId, subscriber, expiresAt, active, cancelled };
  }

  subscriptionsOf(owner: Address): Promise<readonly bigint[]> {
    return this.read<readonly bigint[]>('getSubscriptionsBySubscriber', [owner]);
  }

  /** The access NFT minted for a subscription, if any. */
  async tokenOf(subscriptionId: bigint): Promise<bigint | undefined> {
    const [minted, tokenId] = await this.read<[boolean, bigint]>(
      'getSubscriptionToken',
      [subscriptionId],
      true,
    );
    return minted ? tokenId : undefined;
  }

  /**
   * The access NFTs `owner` holds now, whoever bought them (ERC721Enumerable), lowest index first;
   * at most `limit` of them, and how many there are in all.
   */
  async heldTokens(owner: Address, limit: number): Promise<{ tokenIds: bigint[]; total: bigint }> {
    const total = await this.read<bigint>('balanceOf', [owner], true);
    const count = Number(total < BigInt(limit) ? total : BigInt(limit));
    const tokenIds = await Promise.all(
      Array.from({ length: count }, (_, index) =>
        this.read<bigint>('tokenOfOwnerByIndex', [owner, BigInt(index)], true),
      ),
    );
    return { tokenIds, total };
  }

  userEncrypted(tokenId: bigint): Promise<Hex> {
    return this.read<Hex>('getUserEncrypted', [tokenId], true);
  }

  /** Writes from the visitor's wallet; viem refuses to send when the wallet is on another chain. */
  writer(provider: Eip1193Provider, account: Address): ChainWriter {
    return new ChainWriter(
      this,
      createWalletClient({ chain: this.chain, transport: custom(provider), account }),
    );
  }

  get subscriptionsAddress(): Address {
    return this.subscriptions;
  }
}

export class ChainWriter {
  constructor(
    private readonly chain: SignupChain,
    private readonly wallet: WalletClient,
  ) {}

  private async mined(hash: Hash) {
    const receipt = await this.chain.reader.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`transaction ${hash} failed on chain`);
    return receipt;
  }

  async approve(token: Address, amount: bigint): Promise<void> {
    const hash = await this.wallet.writeContract({
      address: token,
      abi: erc20Abi,
      functionName: 'approve',
      args: [this.chain.subscriptionsAddress, amount],
      account: this.wallet.account!,
      chain: this.chain.chain,
    });
    await this.mined(hash);
  }

  /** buySubscription; resolves with the new subscription id from the receipt's SubscriptionCreated. */
  async buy(planId: bigint, days: bigint, userEncrypted: Hex): Promise<bigint> {
    const hash = await this.wallet.writeContract({
      address: this.chain.subscriptionsAddress,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'buySubscription',
      args: [planId, days, STABLECOIN_METHOD, userEncrypted],
      account: this.wallet.account!,
      chain: this.chain.chain,
    });
    const receipt = await this.mined(hash);
    const [created] = parseEventLogs({
      abi: BlockhostSubscriptionsAbi,
      eventName: 'SubscriptionCreated',
      logs: receipt.logs.filter(
        (log) => log.address.toLowerCase() === this.chain.subscriptionsAddress.toLowerCase(),
      ),
    });
    if (!created) throw new Error(`the purchase ${hash} emitted no SubscriptionCreated event`);
    return created.args.subscriptionId;
  }

  async extend(subscriptionId: bigint, days: bigint): Promise<void> {
    const hash = await this.wallet.writeContract({
      address: this.chain.subscriptionsAddress,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'extendSubscription',
      args: [subscriptionId, days, STABLECOIN_METHOD],
      account: this.wallet.account!,
      chain: this.chain.chain,
    });
    await this.mined(hash);
  }
}
