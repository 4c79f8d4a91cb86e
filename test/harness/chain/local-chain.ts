import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { createPublicClient, createWalletClient, http, type Chain, type Hex, type PublicClient } from 'viem';
import {
  buySubscription,
  deployBlockhost,
  type BlockhostDeployment,
  type PlanSpec,
  type SigningWalletClient,
} from '../../../contracts/deploy.js';
import { MockERC20Abi } from '../../../contracts/generated/artifacts.js';
import { Anvil, ANVIL_ACCOUNT_COUNT, anvilAccount, type AnvilOptions } from './anvil.js';

/** anvil with BlockHost's contracts, a mock USDC and the default plan deployed, and funded test wallets. */
export interface LocalChain {
  anvil: Anvil;
  chain: Chain;
  publicClient: PublicClient;
  /** Account 0: deploys and owns the contracts (the server wallet). */
  deployer: SigningWalletClient;
  deployment: BlockhostDeployment;
  /** A wallet of anvil account `index` (1.. are customers), holding 1,000,000 mock USDC. */
  wallet(index: number): SigningWalletClient;
  /** Approve + buySubscription from account `buyer` (default plan: the first deployed one). */
  buy(
    buyer: number,
    options?: { days?: bigint; userEncrypted?: Hex; planId?: bigint },
  ): ReturnType<typeof buySubscription>;
  /** Calls a view function of the AccessCredentialNFT contract. */
  readNft<T>(functionName: string, args?: unknown[]): Promise<T>;
  /**
   * Mines an empty block every `intervalMs` until stop() while automine is on, as a live chain
   * does: what is read at head - confirmations (expiry, the admin holder) confirms without anyone
   * transacting.
   */
  keepMining(intervalMs: number): void;
  stop(): Promise<void>;
}

/** `plans`: on-chain plans to create at deployment (default: the wizard's "Basic VM"). */
export async function startLocalChain({
  plans,
  ...options
}: AnvilOptions & { plans?: readonly PlanSpec[] } = {}): Promise<LocalChain> {
  const anvil = await Anvil.start(options);
  const chain: Chain = {
    id: anvil.chainId,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [anvil.rpcUrl] } },
  };
  const transport = http(anvil.rpcUrl);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 });
  const wallet = (index: number): SigningWalletClient => {
    if (index < 0 || index >= ANVIL_ACCOUNT_COUNT) throw new Error(`no anvil account ${index}`);
    return createWalletClient({ chain, transport, account: anvilAccount(index) });
  };
  const deployer = wallet(0);
  try {
    const deployment = await deployBlockhost({ publicClient, walletClient: deployer, plans });
    for (let index = 1; index < ANVIL_ACCOUNT_COUNT; index += 1) {
      const hash = await deployer.writeContract({
        address: deployment.stablecoin,
        abi: MockERC20Abi,
        functionName: 'mint',
        args: [anvilAccount(index).address, 1_000_000n * 10n ** 6n],
      });
      await publicClient.waitForTransactionReceipt({ hash });
    }
    const buy: LocalChain['buy'] = (
      buyer,
      { days = 30n, userEncrypted = '0x', planId = deployment.planIds[0] } = {},
    ) => {
      if (planId === undefined) throw new Error('no plan was deployed; pass planId');
      return buySubscription({
        publicClient,
        walletClient: wallet(buyer),
        subscriptions: deployment.subscriptions,
        planId,
        days,
        userEncrypted,
      });
    };
    const readNft = <T>(functionName: string, args: unknown[] = []) =>
      publicClient.readContract({
        address: deployment.nft,
        abi: AccessCredentialNFTAbi,
        functionName,
        args,
      } as never) as Promise<T>;
    let ticker: NodeJS.Timeout | undefined;
    return {
      anvil,
      chain,
      publicClient,
      deployer,
      deployment,
      wallet,
      buy,
      readNft,
      keepMining: (intervalMs) => {
        // Only while automine is on: a test that turned it off (or to interval mining) makes its
        // own blocks, e.g. 500 purchases in exactly one.
        const tick = async () => {
          if (await anvil.rpc('anvil_getAutomine', [])) await anvil.mine(1);
        };
        // unref: a test file that forgets stop() must not keep its jest worker alive.
        ticker ??= setInterval(() => void tick().catch(() => undefined), intervalMs).unref();
      },
      stop: () => {
        clearInterval(ticker);
        return anvil.stop();
      },
    };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}
