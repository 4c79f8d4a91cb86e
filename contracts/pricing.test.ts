// Pair-priced payment methods (2+) against a real anvil: Uniswap V2 reserve pricing in both token
// orders and several decimal counts, rounding, slippage, the liquidity floor and pair validation.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { zeroAddress, type Address } from 'viem';
import {
  buySubscription,
  deployBlockhost,
  deployed,
  eventArgs,
  extendSubscription,
  type BlockhostDeployment,
  type SigningWalletClient,
} from './deploy.js';
import {
  BlockhostSubscriptionsAbi,
  MockUniswapV2PairAbi,
  MockUniswapV2PairBytecode,
} from './generated/artifacts.js';
import {
  balanceOf,
  deployToken,
  expectRevert,
  mintToken,
  startTestChain,
  type TestChain,
} from './testing.js';

const E18 = 10n ** 18n;
const E6 = 10n ** 6n;

/** The contract's pair formula, written out independently (see README.md). */
function pairAmount(
  usdCents: bigint,
  stableDecimals: bigint,
  tokenReserve: bigint,
  stableReserve: bigint,
  bps = 100n,
) {
  const numerator = usdCents * 10n ** stableDecimals * tokenReserve;
  const denominator = 100n * stableReserve;
  const base = (numerator + denominator - 1n) / denominator;
  return base + (base * bps) / 10_000n;
}

describe('BlockhostSubscriptions pair pricing', () => {
  let chain: TestChain;
  let owner: SigningWalletClient;
  let buyer: SigningWalletClient;
  let friend: SigningWalletClient;
  let deployment: BlockhostDeployment;
  let contract: { address: Address; abi: typeof BlockhostSubscriptionsAbi };
  let weth: Address;
  let pair: Address;

  const read = () => chain.publicClient;
  const plan = () => deployment.planIds[0]!;
  const quote = (days: bigint, paymentMethodId: bigint) =>
    read().readContract({
      ...contract,
      functionName: 'calculatePayment',
      args: [plan(), days, paymentMethodId],
    });
  const price = (paymentMethodId: bigint) =>
    read().readContract({ ...contract, functionName: 'getTokenPriceUsdCents', args: [paymentMethodId] });
  const ownerWrite = async (functionName: 'setSlippageBps' | 'setMinLiquidity', value: bigint) =>
    chain.tx(owner.writeContract({ ...contract, functionName, args: [value] }));

  async function deployPair(
    token0: Address,
    token1: Address,
    reserve0: bigint,
    reserve1: bigint,
  ): Promise<Address> {
    const hash = await owner.deployContract({
      abi: MockUniswapV2PairAbi,
      bytecode: MockUniswapV2PairBytecode,
      args: [token0, token1],
    });
    const address = (await deployed(chain.publicClient, hash)).address;
    await setReserves(address, reserve0, reserve1);
    return address;
  }

  async function setReserves(address: Address, reserve0: bigint, reserve1: bigint): Promise<void> {
    await chain.tx(
      owner.writeContract({
        address,
        abi: MockUniswapV2PairAbi,
        functionName: 'setReserves',
        args: [reserve0, reserve1],
      }),
    );
  }

  async function addPaymentMethod(
    token: Address,
    pairAddress: Address,
    stablecoin: Address,
  ): Promise<bigint> {
    const receipt = await chain.tx(
      owner.writeContract({
        ...contract,
        functionName: 'addPaymentMethod',
        args: [token, pairAddress, stablecoin],
      }),
    );
    return eventArgs(BlockhostSubscriptionsAbi, 'PaymentMethodAdded', receipt, contract.address)
      .paymentMethodId;
  }

  beforeAll(async () => {
    chain = await startTestChain();
    [owner, buyer, friend] = chain.wallets as [SigningWalletClient, SigningWalletClient, SigningWalletClient];
  });
  afterAll(async () => chain?.stop());

  beforeEach(async () => {
    deployment = await deployBlockhost({ publicClient: chain.publicClient, walletClient: owner });
    contract = { address: deployment.subscriptions, abi: BlockhostSubscriptionsAbi };
    weth = await deployToken(chain, 'WETH', 18);
    // 100 WETH against 300,000 USDC: 1 WETH = $3,000.
    pair = await deployPair(weth, deployment.stablecoin, 100n * E18, 300_000n * E6);
  });

  it('adds a payment method from 2 up and prices from the reserves', async () => {
    const receipt = await chain.tx(
      owner.writeContract({
        ...contract,
        functionName: 'addPaymentMethod',
        args: [weth, pair, deployment.stablecoin],
      }),
    );
    expect(eventArgs(BlockhostSubscriptionsAbi, 'PaymentMethodAdded', receipt, contract.address)).toEqual({
      paymentMethodId: 2n,
      tokenAddress: weth,
      pairAddress: pair,
      stablecoinAddress: deployment.stablecoin,
    });
    expect(await read().readContract({ ...contract, functionName: 'getPaymentMethod', args: [2n] })).toEqual([
      weth,
      pair,
      deployment.stablecoin,
      18,
      6,
      true,
    ]);
    expect(await read().readContract({ ...contract, functionName: 'getPaymentMethodIds' })).toEqual([1n, 2n]);
    expect(await price(2n)).toBe(300_000n);
    // $15 at $3,000 per WETH is 0.005 WETH, plus the default 1% slippage.
    expect(await quote(30n, 2n)).toBe(5_050_000_000_000_000n);
    expect(await quote(30n, 2n)).toBe(pairAmount(1500n, 6n, 100n * E18, 300_000n * E6));
  });

  it('reads the reserves in either token order', async () => {
    const reversed = await deployPair(deployment.stablecoin, weth, 300_000n * E6, 100n * E18);
    expect(await addPaymentMethod(weth, pair, deployment.stablecoin)).toBe(2n);
    expect(await addPaymentMethod(weth, reversed, deployment.stablecoin)).toBe(3n);
    expect(await price(3n)).toBe(300_000n);
    expect(await quote(30n, 3n)).toBe(5_050_000_000_000_000n);
    expect(await read().readContract({ ...contract, functionName: 'getPaymentMethodIds' })).toEqual([
      1n,
      2n,
      3n,
    ]);
  });

  it('rounds the base amount up and the slippage down', async () => {
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    await setReserves(pair, 7n * E18, 30_001n * E6);
    expect(await quote(3n, 2n)).toBe(353_488_217_059_432n);
    expect(await quote(3n, 2n)).toBe(pairAmount(150n, 6n, 7n * E18, 30_001n * E6));
    // $30,001 / 7 WETH = 428,585.71… cents, rounded down.
    expect(await price(2n)).toBe(428_585n);
  });

  it('applies the configured slippage up to 1000 bps', async () => {
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    const receipt = await ownerWrite('setSlippageBps', 250n);
    expect(eventArgs(BlockhostSubscriptionsAbi, 'SlippageUpdated', receipt, contract.address)).toEqual({
      oldSlippageBps: 100n,
      newSlippageBps: 250n,
    });
    expect(await read().readContract({ ...contract, functionName: 'slippageBps' })).toBe(250n);
    expect(await quote(30n, 2n)).toBe(5_125_000_000_000_000n);
    await ownerWrite('setSlippageBps', 1000n);
    expect(await quote(30n, 2n)).toBe(5_500_000_000_000_000n);
    await ownerWrite('setSlippageBps', 0n);
    expect(await quote(30n, 2n)).toBe(5_000_000_000_000_000n);
    await expectRevert(
      owner.writeContract({ ...contract, functionName: 'setSlippageBps', args: [1001n] }),
      'SlippageTooHigh',
    );
    // Slippage never touches the primary stablecoin.
    expect(await quote(30n, 1n)).toBe(15_000_000n);
  });

  it('requires $10,000 of 6-decimal stablecoin in the pair', async () => {
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    expect(await read().readContract({ ...contract, functionName: 'minLiquidityUsd' })).toBe(10_000n * E6);
    await setReserves(pair, E18, 10_000n * E6);
    expect(await quote(1n, 2n)).toBe(pairAmount(50n, 6n, E18, 10_000n * E6));
    await setReserves(pair, E18, 10_000n * E6 - 1n);
    await expectRevert(quote(1n, 2n), 'InsufficientLiquidity');
    await mintToken(chain, weth, buyer.account.address, E18);
    await expectRevert(
      buyer.writeContract({ ...contract, functionName: 'buySubscription', args: [plan(), 1n, 2n, '0x'] }),
      'InsufficientLiquidity',
    );
    // The spot price view has no floor.
    expect(await price(2n)).toBe(999_999n);
  });

  it('normalises 18- and 2-decimal stablecoins to 6 decimals for the floor', async () => {
    const dai = await deployToken(chain, 'DAI', 18);
    const wbtc = await deployToken(chain, 'WBTC', 8);
    // 10 WBTC against 600,000 DAI: 1 WBTC = $60,000.
    const daiPair = await deployPair(wbtc, dai, 10n * 10n ** 8n, 600_000n * E18);
    const wbtcMethod = await addPaymentMethod(wbtc, daiPair, dai);
    expect(await price(wbtcMethod)).toBe(6_000_000n);
    expect(await quote(30n, wbtcMethod)).toBe(25_250n);
    await setReserves(daiPair, 10n ** 8n, 10_000n * E18);
    expect(await quote(30n, wbtcMethod)).toBe(pairAmount(1500n, 18n, 10n ** 8n, 10_000n * E18));
    // 9,999.999999999999999999 DAI normalises to 9,999.999999.
    await setReserves(daiPair, 10n ** 8n, 10_000n * E18 - 1n);
    await expectRevert(quote(30n, wbtcMethod), 'InsufficientLiquidity');

    const gusd = await deployToken(chain, 'GUSD', 2);
    const gusdPair = await deployPair(weth, gusd, E18, 1_000_000n);
    const gusdMethod = await addPaymentMethod(weth, gusdPair, gusd);
    expect(await quote(1n, gusdMethod)).toBe(pairAmount(50n, 2n, E18, 1_000_000n));
    await setReserves(gusdPair, E18, 999_999n);
    await expectRevert(quote(1n, gusdMethod), 'InsufficientLiquidity');
  });

  it('lets the owner move the floor, and refuses empty token reserves', async () => {
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    await setReserves(pair, 2n * E18, 100n * E6);
    await expectRevert(quote(1n, 2n), 'InsufficientLiquidity');
    const receipt = await ownerWrite('setMinLiquidity', 100n * E6);
    expect(eventArgs(BlockhostSubscriptionsAbi, 'MinLiquidityUpdated', receipt, contract.address)).toEqual({
      oldMinLiquidity: 10_000n * E6,
      newMinLiquidity: 100n * E6,
    });
    // $0.50 at $50 per WETH: 0.01 WETH + 1%.
    expect(await quote(1n, 2n)).toBe(10_100_000_000_000_000n);
    await setReserves(pair, 0n, 100n * E6);
    await expectRevert(quote(1n, 2n), 'InsufficientLiquidity');
    await expectRevert(price(2n), 'InsufficientLiquidity');
  });

  it('rejects pairs that do not hold the token and the stablecoin, also after the fact', async () => {
    const dai = await deployToken(chain, 'DAI', 18);
    await expectRevert(
      owner.writeContract({ ...contract, functionName: 'addPaymentMethod', args: [weth, pair, dai] }),
      'TokenNotInPair',
    );
    await expectRevert(
      owner.writeContract({
        ...contract,
        functionName: 'addPaymentMethod',
        args: [dai, pair, deployment.stablecoin],
      }),
      'TokenNotInPair',
    );
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    await chain.tx(
      owner.writeContract({
        address: pair,
        abi: MockUniswapV2PairAbi,
        functionName: 'setTokens',
        args: [weth, dai],
      }),
    );
    await expectRevert(quote(1n, 2n), 'TokenNotInPair');
    await expectRevert(price(2n), 'TokenNotInPair');
  });

  it('rejects zero addresses and a token priced against itself', async () => {
    const add = (token: Address, pairAddress: Address, stablecoin: Address) =>
      owner.writeContract({
        ...contract,
        functionName: 'addPaymentMethod',
        args: [token, pairAddress, stablecoin],
      });
    await expectRevert(add(zeroAddress, pair, deployment.stablecoin), 'InvalidAddress');
    await expectRevert(add(weth, zeroAddress, deployment.stablecoin), 'InvalidAddress');
    await expectRevert(add(weth, pair, zeroAddress), 'InvalidAddress');
    await expectRevert(add(deployment.stablecoin, pair, deployment.stablecoin), 'InvalidAddress');
  });

  it('disables and re-enables a method', async () => {
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    const receipt = await chain.tx(
      owner.writeContract({ ...contract, functionName: 'updatePaymentMethod', args: [2n, false] }),
    );
    expect(eventArgs(BlockhostSubscriptionsAbi, 'PaymentMethodUpdated', receipt, contract.address)).toEqual({
      paymentMethodId: 2n,
      active: false,
    });
    expect(
      (await read().readContract({ ...contract, functionName: 'getPaymentMethod', args: [2n] }))[5],
    ).toBe(false);
    await expectRevert(
      buyer.writeContract({ ...contract, functionName: 'buySubscription', args: [plan(), 1n, 2n, '0x'] }),
      'PaymentMethodNotActive',
      [2n],
    );
    expect(await quote(30n, 2n)).toBe(5_050_000_000_000_000n);
    await expectRevert(
      owner.writeContract({ ...contract, functionName: 'updatePaymentMethod', args: [3n, true] }),
      'PaymentMethodNotFound',
      [3n],
    );
    await chain.tx(
      owner.writeContract({ ...contract, functionName: 'updatePaymentMethod', args: [2n, true] }),
    );
    expect(await read().readContract({ ...contract, functionName: 'getPaymentMethodIds' })).toEqual([1n, 2n]);
  });

  it('buys and extends with the pair token, and withdraws it', async () => {
    await addPaymentMethod(weth, pair, deployment.stablecoin);
    for (const wallet of [buyer, friend]) await mintToken(chain, weth, wallet.account.address, E18);
    const payment = {
      publicClient: chain.publicClient,
      subscriptions: contract.address,
      paymentMethodId: 2n,
    };
    const bought = await buySubscription({ ...payment, walletClient: buyer, planId: plan(), days: 30n });
    expect(bought.paidAmount).toBe(5_050_000_000_000_000n);
    expect(bought.paymentToken).toBe(weth);
    const extended = await extendSubscription({
      ...payment,
      walletClient: friend,
      subscriptionId: bought.subscriptionId,
      days: 10n,
    });
    expect(extended.paidAmount).toBe(1_683_333_333_333_333n);
    expect(extended.newExpiresAt).toBe(bought.expiresAt + 10n * 86_400n);
    expect(await balanceOf(chain, weth, friend.account.address)).toBe(E18 - 1_683_333_333_333_333n);
    const total = 5_050_000_000_000_000n + 1_683_333_333_333_333n;
    expect(await balanceOf(chain, weth, contract.address)).toBe(total);
    await chain.tx(
      owner.writeContract({
        ...contract,
        functionName: 'withdrawFunds',
        args: [weth, owner.account.address],
      }),
    );
    expect(await balanceOf(chain, weth, owner.account.address)).toBe(total);
  });
});
