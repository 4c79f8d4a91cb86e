// BlockhostSubscriptions against a real anvil: deployment, plans, the primary stablecoin, buying,
// extending, cancelling, withdrawing, views and owner-only guards.
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
  AccessCredentialNFTAbi,
  BlockhostSubscriptionsAbi,
  BlockhostSubscriptionsBytecode,
  MockERC20Abi,
} from './generated/artifacts.js';
import {
  balanceOf,
  deployToken,
  expectRevert,
  mintToken,
  startTestChain,
  type TestChain,
} from './testing.js';

const DAY = 86_400n;
/** 50 cents/day × 30 days in 6-decimal USDC (INTEROP §1). */
const THIRTY_DAYS_BASIC = 15_000_000n;

describe('BlockhostSubscriptions', () => {
  let chain: TestChain;
  let owner: SigningWalletClient;
  let buyer: SigningWalletClient;
  let friend: SigningWalletClient;
  let treasury: SigningWalletClient;
  let deployment: BlockhostDeployment;
  let contract: { address: Address; abi: typeof BlockhostSubscriptionsAbi };

  const read = () => chain.publicClient;
  const plan = () => deployment.planIds[0]!;
  const buy = (days: bigint, from = buyer, userEncrypted: `0x${string}` = '0xc0ffee') =>
    buySubscription({
      publicClient: chain.publicClient,
      walletClient: from,
      subscriptions: deployment.subscriptions,
      planId: plan(),
      days,
      userEncrypted,
    });
  const extend = (subscriptionId: bigint, days: bigint, from = buyer) =>
    extendSubscription({
      publicClient: chain.publicClient,
      walletClient: from,
      subscriptions: deployment.subscriptions,
      subscriptionId,
      days,
    });
  const subscription = (id: bigint) =>
    read().readContract({ ...contract, functionName: 'getSubscription', args: [id] });

  beforeAll(async () => {
    chain = await startTestChain();
    [owner, buyer, friend, treasury] = chain.wallets as [
      SigningWalletClient,
      SigningWalletClient,
      SigningWalletClient,
      SigningWalletClient,
    ];
  });
  afterAll(async () => chain?.stop());

  beforeEach(async () => {
    deployment = await deployBlockhost({ publicClient: chain.publicClient, walletClient: owner });
    contract = { address: deployment.subscriptions, abi: BlockhostSubscriptionsAbi };
    for (const wallet of [buyer, friend]) {
      await mintToken(chain, deployment.stablecoin, wallet.account.address, 1_000_000_000n);
    }
  });

  describe('deployBlockhost', () => {
    it('deploys both contracts, a 6-decimal mock USDC and the default plan, owned by the deployer', async () => {
      expect(deployment.planIds).toEqual([1n]);
      expect(await read().readContract({ ...contract, functionName: 'getPlan', args: [1n] })).toEqual([
        'Basic VM',
        50n,
        true,
      ]);
      expect(await read().readContract({ ...contract, functionName: 'owner' })).toBe(owner.account.address);
      expect(await read().readContract({ ...contract, functionName: 'getPrimaryStablecoin' })).toBe(
        deployment.stablecoin,
      );
      const token = { address: deployment.stablecoin, abi: MockERC20Abi } as const;
      expect(await read().readContract({ ...token, functionName: 'decimals' })).toBe(6);
      expect(await read().readContract({ ...token, functionName: 'symbol' })).toBe('USDC');
      const nft = { address: deployment.nft, abi: AccessCredentialNFTAbi } as const;
      expect(await read().readContract({ ...nft, functionName: 'name' })).toBe('BlockhostAccess');
      expect(await read().readContract({ ...nft, functionName: 'symbol' })).toBe('BHA');
      expect(await read().readContract({ ...nft, functionName: 'owner' })).toBe(owner.account.address);
    });

    it('reports the block of the first deployment', async () => {
      expect(await read().getCode({ address: deployment.nft, blockNumber: deployment.deployBlock })).toMatch(
        /^0x.+/,
      );
      expect(
        await read().getCode({ address: deployment.nft, blockNumber: deployment.deployBlock - 1n }),
      ).toBeUndefined();
      const subscriptionsCode = await read().getCode({
        address: deployment.subscriptions,
        blockNumber: deployment.deployBlock,
      });
      expect(subscriptionsCode).toBeUndefined();
    });

    it('uses a given stablecoin and plans, taking plan ids from the PlanCreated events', async () => {
      const dai = await deployToken(chain, 'DAI', 18);
      const custom = await deployBlockhost({
        publicClient: chain.publicClient,
        walletClient: owner,
        stablecoin: { address: dai },
        plans: [
          { name: 'Small', pricePerDayUsdCents: 25n },
          { name: 'Large', pricePerDayUsdCents: 400n },
        ],
      });
      expect(custom.stablecoin).toBe(dai);
      expect(custom.planIds).toEqual([1n, 2n]);
      const at = { address: custom.subscriptions, abi: BlockhostSubscriptionsAbi } as const;
      expect(await read().readContract({ ...at, functionName: 'getPlan', args: [2n] })).toEqual([
        'Large',
        400n,
        true,
      ]);
      expect(await read().readContract({ ...at, functionName: 'getTotalPlanCount' })).toBe(2n);
      // 400 cents/day × 3 days in an 18-decimal stablecoin: 12 × 10^18.
      expect(await read().readContract({ ...at, functionName: 'calculatePayment', args: [2n, 3n, 1n] })).toBe(
        12_000_000_000_000_000_000n,
      );
    });
  });

  describe('plans', () => {
    it('creates plans with ids from 1 and emits PlanCreated', async () => {
      const receipt = await chain.tx(
        owner.writeContract({ ...contract, functionName: 'createPlan', args: ['Big VM', 275n] }),
      );
      expect(eventArgs(BlockhostSubscriptionsAbi, 'PlanCreated', receipt, contract.address)).toEqual({
        planId: 2n,
        name: 'Big VM',
        pricePerDayUsdCents: 275n,
      });
      expect(await read().readContract({ ...contract, functionName: 'getPlan', args: [2n] })).toEqual([
        'Big VM',
        275n,
        true,
      ]);
      expect(await read().readContract({ ...contract, functionName: 'getTotalPlanCount' })).toBe(2n);
    });

    it('updates a plan and emits PlanUpdated', async () => {
      const receipt = await chain.tx(
        owner.writeContract({
          ...contract,
          functionName: 'updatePlan',
          args: [1n, 'Basic VM v2', 60n, false],
        }),
      );
      expect(eventArgs(BlockhostSubscriptionsAbi, 'PlanUpdated', receipt, contract.address)).toEqual({
        planId: 1n,
        name: 'Basic VM v2',
        pricePerDayUsdCents: 60n,
        active: false,
      });
      expect(await read().readContract({ ...contract, functionName: 'getPlan', args: [1n] })).toEqual([
        'Basic VM v2',
        60n,
        false,
      ]);
    });

    it('rejects zero prices and unknown plans', async () => {
      await expectRevert(
        owner.writeContract({ ...contract, functionName: 'createPlan', args: ['Free', 0n] }),
        'PlanPriceMustBePositive',
      );
      await expectRevert(
        owner.writeContract({ ...contract, functionName: 'updatePlan', args: [1n, 'Free', 0n, true] }),
        'PlanPriceMustBePositive',
      );
      await expectRevert(
        owner.writeContract({ ...contract, functionName: 'updatePlan', args: [2n, 'Nope', 10n, true] }),
        'PlanNotFound',
        [2n],
      );
      await expectRevert(
        read().readContract({ ...contract, functionName: 'getPlan', args: [0n] }),
        'PlanNotFound',
        [0n],
      );
      await expectRevert(
        read().readContract({ ...contract, functionName: 'calculatePayment', args: [9n, 1n, 1n] }),
        'PlanNotFound',
        [9n],
      );
    });
  });

  describe('primary stablecoin', () => {
    it('prices 50 cents/day × 30 days at 15,000,000 units of 6-decimal USDC and 1 token at 100 cents', async () => {
      expect(
        await read().readContract({ ...contract, functionName: 'calculatePayment', args: [plan(), 30n, 1n] }),
      ).toBe(THIRTY_DAYS_BASIC);
      expect(
        await read().readContract({ ...contract, functionName: 'calculatePayment', args: [plan(), 1n, 1n] }),
      ).toBe(500_000n);
      expect(
        await read().readContract({ ...contract, functionName: 'getTokenPriceUsdCents', args: [1n] }),
      ).toBe(100n);
      expect(
        await read().readContract({ ...contract, functionName: 'getPaymentMethod', args: [1n] }),
      ).toEqual([deployment.stablecoin, zeroAddress, deployment.stablecoin, 6, 6, true]);
      expect(await read().readContract({ ...contract, functionName: 'getPaymentMethodIds' })).toEqual([1n]);
    });

    it('has no payment method 1 until a stablecoin is set, then emits PrimaryStablecoinSet', async () => {
      const hash = await owner.deployContract({
        abi: BlockhostSubscriptionsAbi,
        bytecode: BlockhostSubscriptionsBytecode,
      });
      const bare = {
        address: (await deployed(chain.publicClient, hash)).address,
        abi: BlockhostSubscriptionsAbi,
      } as const;
      expect(await read().readContract({ ...bare, functionName: 'getPrimaryStablecoin' })).toBe(zeroAddress);
      expect(await read().readContract({ ...bare, functionName: 'getPaymentMethodIds' })).toEqual([]);
      await expectRevert(
        read().readContract({ ...bare, functionName: 'getPaymentMethod', args: [1n] }),
        'PaymentMethodNotFound',
        [1n],
      );
      await expectRevert(
        owner.writeContract({ ...bare, functionName: 'setPrimaryStablecoin', args: [zeroAddress] }),
        'InvalidAddress',
      );
      await expectRevert(
        buyer.writeContract({ ...bare, functionName: 'setPrimaryStablecoin', args: [deployment.stablecoin] }),
        'OwnableUnauthorizedAccount',
        [buyer.account.address],
      );
      const receipt = await chain.tx(
        owner.writeContract({ ...bare, functionName: 'setPrimaryStablecoin', args: [deployment.stablecoin] }),
      );
      expect(eventArgs(BlockhostSubscriptionsAbi, 'PrimaryStablecoinSet', receipt, bare.address)).toEqual({
        stablecoinAddress: deployment.stablecoin,
        decimals: 6,
      });
      expect(await read().readContract({ ...bare, functionName: 'getPaymentMethodIds' })).toEqual([1n]);
    });
  });

  describe('buySubscription', () => {
    it('takes the exact price by transferFrom and emits SubscriptionCreated with userEncrypted', async () => {
      const before = await balanceOf(chain, deployment.stablecoin, buyer.account.address);
      const bought = await buy(30n, buyer, '0x0102030405');
      const timestamp = await chain.timestampOf(bought.receipt);
      expect({ ...bought, receipt: undefined }).toEqual({
        subscriptionId: 1n,
        planId: plan(),
        subscriber: buyer.account.address,
        expiresAt: timestamp + 30n * DAY,
        paidAmount: THIRTY_DAYS_BASIC,
        paymentToken: deployment.stablecoin,
        userEncrypted: '0x0102030405',
        receipt: undefined,
      });
      expect(await balanceOf(chain, deployment.stablecoin, buyer.account.address)).toBe(
        before - THIRTY_DAYS_BASIC,
      );
      expect(await balanceOf(chain, deployment.stablecoin, deployment.subscriptions)).toBe(THIRTY_DAYS_BASIC);
      expect(await subscription(1n)).toEqual([
        plan(),
        buyer.account.address,
        timestamp + 30n * DAY,
        true,
        false,
      ]);
      expect(
        await read().readContract({ ...contract, functionName: 'isSubscriptionActive', args: [1n] }),
      ).toBe(true);
      expect(await read().readContract({ ...contract, functionName: 'daysRemaining', args: [1n] })).toBe(30n);
    });

    it('numbers subscriptions from 1 and lists them per subscriber', async () => {
      expect((await buy(1n)).subscriptionId).toBe(1n);
      expect((await buy(2n, friend)).subscriptionId).toBe(2n);
      expect((await buy(3n)).subscriptionId).toBe(3n);
      const bySubscriber = (address: Address) =>
        read().readContract({ ...contract, functionName: 'getSubscriptionsBySubscriber', args: [address] });
      expect(await bySubscriber(buyer.account.address)).toEqual([1n, 3n]);
      expect(await bySubscriber(friend.account.address)).toEqual([2n]);
      expect(await bySubscriber(treasury.account.address)).toEqual([]);
      expect(await read().readContract({ ...contract, functionName: 'getTotalSubscriptionCount' })).toBe(3n);
    });

    it('reverts on unknown or inactive plans and methods, zero days and missing allowance', async () => {
      const buyWith = (planId: bigint, days: bigint, paymentMethodId: bigint) =>
        buyer.writeContract({
          ...contract,
          functionName: 'buySubscription',
          args: [planId, days, paymentMethodId, '0x'],
        });
      await expectRevert(buyWith(0n, 1n, 1n), 'PlanNotFound', [0n]);
      await expectRevert(buyWith(5n, 1n, 1n), 'PlanNotFound', [5n]);
      await expectRevert(buyWith(plan(), 0n, 1n), 'DaysMustBePositive');
      await expectRevert(buyWith(plan(), 1n, 0n), 'PaymentMethodNotFound', [0n]);
      await expectRevert(buyWith(plan(), 1n, 2n), 'PaymentMethodNotFound', [2n]);
      // No approval: the token's own custom error bubbles up through SafeERC20.
      await expectRevert(
        buyer.writeContract({
          address: contract.address,
          abi: [...BlockhostSubscriptionsAbi, ...MockERC20Abi.filter((item) => item.type === 'error')],
          functionName: 'buySubscription',
          args: [plan(), 30n, 1n, '0x'],
        }),
        'ERC20InsufficientAllowance',
        [deployment.subscriptions, 0n, THIRTY_DAYS_BASIC],
      );

      await chain.tx(
        owner.writeContract({ ...contract, functionName: 'updatePaymentMethod', args: [1n, false] }),
      );
      await expectRevert(buyWith(plan(), 1n, 1n), 'PaymentMethodNotActive', [1n]);
      await chain.tx(
        owner.writeContract({ ...contract, functionName: 'updatePlan', args: [1n, 'Basic VM', 50n, false] }),
      );
      await expectRevert(buyWith(plan(), 1n, 1n), 'PlanNotActive', [1n]);
      expect(await read().readContract({ ...contract, functionName: 'getTotalSubscriptionCount' })).toBe(0n);
    });
  });

  describe('extendSubscription', () => {
    it('adds days to the current expiry while active', async () => {
      const { subscriptionId, expiresAt } = await buy(5n);
      const extended = await extend(subscriptionId, 10n);
      expect({ ...extended, receipt: undefined }).toEqual({
        subscriptionId,
        planId: plan(),
        extendedBy: buyer.account.address,
        newExpiresAt: expiresAt + 10n * DAY,
        paidAmount: 5_000_000n,
        paymentToken: deployment.stablecoin,
        receipt: undefined,
      });
      expect((await subscription(subscriptionId))[2]).toBe(expiresAt + 10n * DAY);
    });

    it('counts from now, not from the old expiry, once expired', async () => {
      const { subscriptionId, expiresAt } = await buy(1n);
      await chain.increaseTime(3n * DAY);
      expect(
        await read().readContract({
          ...contract,
          functionName: 'isSubscriptionActive',
          args: [subscriptionId],
        }),
      ).toBe(false);
      expect(
        await read().readContract({ ...contract, functionName: 'daysRemaining', args: [subscriptionId] }),
      ).toBe(0n);
      const extended = await extend(subscriptionId, 2n);
      const now = await chain.timestampOf(extended.receipt);
      expect(now).toBeGreaterThanOrEqual(expiresAt + 2n * DAY);
      expect(extended.newExpiresAt).toBe(now + 2n * DAY);
      expect(await subscription(subscriptionId)).toEqual([
        plan(),
        buyer.account.address,
        now + 2n * DAY,
        true,
        false,
      ]);
    });

    it('lets a third party pay without changing the subscriber', async () => {
      const { subscriptionId, expiresAt } = await buy(1n);
      const friendBefore = await balanceOf(chain, deployment.stablecoin, friend.account.address);
      const buyerBefore = await balanceOf(chain, deployment.stablecoin, buyer.account.address);
      const extended = await extend(subscriptionId, 4n, friend);
      expect(extended.extendedBy).toBe(friend.account.address);
      expect(extended.newExpiresAt).toBe(expiresAt + 4n * DAY);
      expect(await balanceOf(chain, deployment.stablecoin, friend.account.address)).toBe(
        friendBefore - 2_000_000n,
      );
      expect(await balanceOf(chain, deployment.stablecoin, buyer.account.address)).toBe(buyerBefore);
      expect((await subscription(subscriptionId))[1]).toBe(buyer.account.address);
    });

    it('reverts on unknown, cancelled or inactive-plan subscriptions, zero days and inactive methods', async () => {
      const { subscriptionId } = await buy(1n);
      const extendWith = (id: bigint, days: bigint, paymentMethodId = 1n) =>
        buyer.writeContract({
          ...contract,
          functionName: 'extendSubscription',
          args: [id, days, paymentMethodId],
        });
      await expectRevert(extendWith(0n, 1n), 'SubscriptionNotFound', [0n]);
      await expectRevert(extendWith(2n, 1n), 'SubscriptionNotFound', [2n]);
      await expectRevert(extendWith(subscriptionId, 0n), 'DaysMustBePositive');
      await expectRevert(extendWith(subscriptionId, 1n, 3n), 'PaymentMethodNotFound', [3n]);
      await chain.tx(
        owner.writeContract({ ...contract, functionName: 'updatePaymentMethod', args: [1n, false] }),
      );
      await expectRevert(extendWith(subscriptionId, 1n), 'PaymentMethodNotActive', [1n]);
      await chain.tx(
        owner.writeContract({ ...contract, functionName: 'updatePlan', args: [1n, 'Basic VM', 50n, false] }),
      );
      await expectRevert(extendWith(subscriptionId, 1n), 'PlanNotActive', [1n]);
      await chain.tx(
        owner.writeContract({ ...contract, functionName: 'cancelSubscription', args: [subscriptionId] }),
      );
      await expectRevert(extendWith(subscriptionId, 1n), 'SubscriptionAlreadyCancelled', [subscriptionId]);
    });
  });

  describe('cancelSubscription', () => {
    it('ends the subscription now, once, owner only', async () => {
      const { subscriptionId } = await buy(10n);
      await expectRevert(
        buyer.writeContract({ ...contract, functionName: 'cancelSubscription', args: [subscriptionId] }),
        'OwnableUnauthorizedAccount',
        [buyer.account.address],
      );
      const receipt = await chain.tx(
        owner.writeContract({ ...contract, functionName: 'cancelSubscription', args: [subscriptionId] }),
      );
      expect(
        eventArgs(BlockhostSubscriptionsAbi, 'SubscriptionCancelled', receipt, contract.address),
      ).toEqual({
        subscriptionId,
        planId: plan(),
        subscriber: buyer.account.address,
      });
      const now = await chain.timestampOf(receipt);
      expect(await subscription(subscriptionId)).toEqual([plan(), buyer.account.address, now, false, true]);
      expect(
        await read().readContract({
          ...contract,
          functionName: 'isSubscriptionActive',
          args: [subscriptionId],
        }),
      ).toBe(false);
      expect(
        await read().readContract({ ...contract, functionName: 'daysRemaining', args: [subscriptionId] }),
      ).toBe(0n);
      await expectRevert(
        owner.writeContract({ ...contract, functionName: 'cancelSubscription', args: [subscriptionId] }),
        'SubscriptionAlreadyCancelled',
        [subscriptionId],
      );
      await expectRevert(
        owner.writeContract({ ...contract, functionName: 'cancelSubscription', args: [9n] }),
        'SubscriptionNotFound',
        [9n],
      );
    });
  });

  describe('views over time', () => {
    it('counts whole days remaining and expires at expiresAt', async () => {
      const { subscriptionId, expiresAt } = await buy(3n);
      await chain.increaseTime(DAY + 1n);
      const now = (await read().getBlock()).timestamp;
      expect(
        await read().readContract({ ...contract, functionName: 'daysRemaining', args: [subscriptionId] }),
      ).toBe((expiresAt - now) / DAY);
      expect((expiresAt - now) / DAY).toBe(1n);
      await chain.increaseTime(expiresAt - now);
      expect(await subscription(subscriptionId)).toEqual([
        plan(),
        buyer.account.address,
        expiresAt,
        false,
        false,
      ]);
      expect(
        await read().readContract({
          ...contract,
          functionName: 'isSubscriptionActive',
          args: [subscriptionId],
        }),
      ).toBe(false);
    });

    it('treats unknown subscriptions as inactive, and reverts on reading them', async () => {
      for (const id of [0n, 1n]) {
        expect(
          await read().readContract({ ...contract, functionName: 'isSubscriptionActive', args: [id] }),
        ).toBe(false);
        await expectRevert(subscription(id), 'SubscriptionNotFound', [id]);
        await expectRevert(
          read().readContract({ ...contract, functionName: 'daysRemaining', args: [id] }),
          'SubscriptionNotFound',
          [id],
        );
      }
    });
  });

  describe('withdrawFunds', () => {
    it('sends the whole balance to the given address, owner only', async () => {
      await buy(30n);
      await buy(2n, friend);
      const total = THIRTY_DAYS_BASIC + 1_000_000n;
      const to = treasury.account.address;
      await expectRevert(
        buyer.writeContract({
          ...contract,
          functionName: 'withdrawFunds',
          args: [deployment.stablecoin, to],
        }),
        'OwnableUnauthorizedAccount',
        [buyer.account.address],
      );
      await expectRevert(
        owner.writeContract({
          ...contract,
          functionName: 'withdrawFunds',
          args: [deployment.stablecoin, zeroAddress],
        }),
        'InvalidAddress',
      );
      await expectRevert(
        owner.writeContract({ ...contract, functionName: 'withdrawFunds', args: [zeroAddress, to] }),
        'InvalidAddress',
      );
      const receipt = await chain.tx(
        owner.writeContract({
          ...contract,
          functionName: 'withdrawFunds',
          args: [deployment.stablecoin, to],
        }),
      );
      expect(eventArgs(BlockhostSubscriptionsAbi, 'FundsWithdrawn', receipt, contract.address)).toEqual({
        token: deployment.stablecoin,
        to,
        amount: total,
      });
      expect(await balanceOf(chain, deployment.stablecoin, to)).toBe(total);
      expect(await balanceOf(chain, deployment.stablecoin, deployment.subscriptions)).toBe(0n);
      await expectRevert(
        owner.writeContract({
          ...contract,
          functionName: 'withdrawFunds',
          args: [deployment.stablecoin, to],
        }),
        'NoBalanceToWithdraw',
      );
    });
  });

  it('guards every owner function', async () => {
    const guarded = [
      () => buyer.writeContract({ ...contract, functionName: 'createPlan', args: ['X', 1n] }),
      () => buyer.writeContract({ ...contract, functionName: 'updatePlan', args: [1n, 'X', 1n, true] }),
      () => buyer.writeContract({ ...contract, functionName: 'updatePaymentMethod', args: [1n, false] }),
      () =>
        buyer.writeContract({
          ...contract,
          functionName: 'addPaymentMethod',
          args: [deployment.stablecoin, deployment.stablecoin, deployment.stablecoin],
        }),
      () => buyer.writeContract({ ...contract, functionName: 'setSlippageBps', args: [5n] }),
      () => buyer.writeContract({ ...contract, functionName: 'setMinLiquidity', args: [5n] }),
    ];
    for (const attempt of guarded) {
      await expectRevert(attempt(), 'OwnableUnauthorizedAccount', [buyer.account.address]);
    }
  });
});
