// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IUniswapV2Pair} from "./interfaces/IUniswapV2Pair.sol";

/**
 * @title BlockhostSubscriptions
 * @notice Sells VM subscriptions priced in USD cents per day, paid in ERC-20 tokens. The owner (the server
 *         wallet) manages plans and payment methods and withdraws the proceeds; the server watches the events.
 * @dev Plan and subscription ids start at 1. Payment method 1 is the primary stablecoin; methods 2+ are
 *      tokens priced from a Uniswap V2 pair against a stablecoin.
 *
 *      Pricing (all divisions are integer divisions; usdCents = pricePerDayUsdCents * days):
 *        method 1:  amount = usdCents * 10^stableDecimals / 100                                   (rounded down)
 *        method 2+: base   = usdCents * 10^stableDecimals * tokenReserve / (100 * stableReserve)  (rounded up)
 *                   amount = base + base * slippageBps / 10000                                    (rounded down)
 *      A pair must hold the token and the stablecoin (TokenNotInPair), a non-zero token reserve, and a
 *      stablecoin reserve, normalised to 6 decimals, of at least minLiquidityUsd (InsufficientLiquidity).
 */
contract BlockhostSubscriptions is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 public constant STABLECOIN_PAYMENT_ID = 1;
    uint256 public constant MAX_SLIPPAGE_BPS = 1000;

    struct Plan {
        string name;
        uint256 pricePerDayUsdCents;
        bool active;
    }

    struct Subscription {
        uint256 planId;
        uint256 expiresAt;
        address subscriber;
        bool cancelled;
    }

    struct PaymentMethod {
        address tokenAddress;
        address pairAddress; // address(0) for the primary stablecoin
        address stablecoinAddress;
        uint8 tokenDecimals;
        uint8 stablecoinDecimals;
        bool active;
    }

    /// @notice Markup on pair-priced payments, in basis points.
    uint256 public slippageBps = 100;
    /// @notice Least stablecoin a pair must hold to be trusted for pricing, in 6-decimal units ($10,000).
    uint256 public minLiquidityUsd = 10_000 * 1e6;

    uint256 private _nextPlanId = 1;
    uint256 private _nextSubscriptionId = 1;
    uint256 private _nextPaymentMethodId = 2;

    mapping(uint256 planId => Plan) private _plans;
    mapping(uint256 subscriptionId => Subscription) private _subscriptions;
    mapping(uint256 paymentMethodId => PaymentMethod) private _paymentMethods;
    mapping(address subscriber => uint256[]) private _subscriptionsBySubscriber;
    uint256[] private _pairPaymentMethodIds;

    event PlanCreated(uint256 indexed planId, string name, uint256 pricePerDayUsdCents);
    event PlanUpdated(uint256 indexed planId, string name, uint256 pricePerDayUsdCents, bool active);
    event SubscriptionCreated(
        uint256 indexed subscriptionId,
        uint256 indexed planId,
        address indexed subscriber,
        uint256 expiresAt,
        uint256 paidAmount,
        address paymentToken,
        bytes userEncrypted
    );
    event SubscriptionExtended(
        uint256 indexed subscriptionId,
        uint256 indexed planId,
        address indexed extendedBy,
        uint256 newExpiresAt,
        uint256 paidAmount,
        address paymentToken
    );
    event SubscriptionCancelled(uint256 indexed subscriptionId, uint256 indexed planId, address indexed subscriber);
    event PrimaryStablecoinSet(address indexed stablecoinAddress, uint8 decimals);
    event PaymentMethodAdded(
        uint256 indexed paymentMethodId, address tokenAddress, address pairAddress, address stablecoinAddress
    );
    event PaymentMethodUpdated(uint256 indexed paymentMethodId, bool active);
    event FundsWithdrawn(address indexed token, address indexed to, uint256 amount);
    event SlippageUpdated(uint256 oldSlippageBps, uint256 newSlippageBps);
    event MinLiquidityUpdated(uint256 oldMinLiquidity, uint256 newMinLiquidity);

    error PlanNotFound(uint256 planId);
    error PlanNotActive(uint256 planId);
    error PlanPriceMustBePositive();
    error SubscriptionNotFound(uint256 subscriptionId);
    error SubscriptionAlreadyCancelled(uint256 subscriptionId);
    error PaymentMethodNotFound(uint256 paymentMethodId);
    error PaymentMethodNotActive(uint256 paymentMethodId);
    error InvalidAddress();
    error DaysMustBePositive();
    error SlippageTooHigh();
    error NoBalanceToWithdraw();
    error TokenNotInPair();
    error InsufficientLiquidity();

    constructor() Ownable(msg.sender) {}

    // ---------------------------------------------------------------- owner

    /// @notice Sets (or replaces) payment method 1, priced 1 token = 1 USD.
    function setPrimaryStablecoin(address stablecoinAddress) external onlyOwner {
        if (stablecoinAddress == address(0)) revert InvalidAddress();
        uint8 decimals = IERC20Metadata(stablecoinAddress).decimals();
        _paymentMethods[STABLECOIN_PAYMENT_ID] = PaymentMethod({
            tokenAddress: stablecoinAddress,
            pairAddress: address(0),
            stablecoinAddress: stablecoinAddress,
            tokenDecimals: decimals,
            stablecoinDecimals: decimals,
            active: true
        });
        emit PrimaryStablecoinSet(stablecoinAddress, decimals);
    }

    function createPlan(string calldata name, uint256 pricePerDayUsdCents)
        external
        onlyOwner
        returns (uint256 planId)
    {
        if (pricePerDayUsdCents == 0) revert PlanPriceMustBePositive();
        planId = _nextPlanId++;
        _plans[planId] = Plan({name: name, pricePerDayUsdCents: pricePerDayUsdCents, active: true});
        emit PlanCreated(planId, name, pricePerDayUsdCents);
    }

    function updatePlan(uint256 planId, string calldata name, uint256 pricePerDayUsdCents, bool active)
        external
        onlyOwner
    {
        _requirePlan(planId);
        if (pricePerDayUsdCents == 0) revert PlanPriceMustBePositive();
        _plans[planId] = Plan({name: name, pricePerDayUsdCents: pricePerDayUsdCents, active: active});
        emit PlanUpdated(planId, name, pricePerDayUsdCents, active);
    }

    /// @notice Ends a subscription now, without refund; it can no longer be extended.
    function cancelSubscription(uint256 subscriptionId) external onlyOwner {
        Subscription storage sub = _requireSubscription(subscriptionId);
        if (sub.cancelled) revert SubscriptionAlreadyCancelled(subscriptionId);
        sub.cancelled = true;
        sub.expiresAt = block.timestamp;
        emit SubscriptionCancelled(subscriptionId, sub.planId, sub.subscriber);
    }

    /// @notice Accepts `tokenAddress`, priced from the Uniswap V2 pair `pairAddress` against `stablecoinAddress`.
    function addPaymentMethod(address tokenAddress, address pairAddress, address stablecoinAddress)
        external
        onlyOwner
        returns (uint256 paymentMethodId)
    {
        if (
            tokenAddress == address(0) || pairAddress == address(0) || stablecoinAddress == address(0)
                || tokenAddress == stablecoinAddress
        ) revert InvalidAddress();
        _requirePairTokens(pairAddress, tokenAddress, stablecoinAddress);

        paymentMethodId = _nextPaymentMethodId++;
        _paymentMethods[paymentMethodId] = PaymentMethod({
            tokenAddress: tokenAddress,
            pairAddress: pairAddress,
            stablecoinAddress: stablecoinAddress,
            tokenDecimals: IERC20Metadata(tokenAddress).decimals(),
            stablecoinDecimals: IERC20Metadata(stablecoinAddress).decimals(),
            active: true
        });
        _pairPaymentMethodIds.push(paymentMethodId);
        emit PaymentMethodAdded(paymentMethodId, tokenAddress, pairAddress, stablecoinAddress);
    }

    function updatePaymentMethod(uint256 paymentMethodId, bool active) external onlyOwner {
        _requirePaymentMethod(paymentMethodId).active = active;
        emit PaymentMethodUpdated(paymentMethodId, active);
    }

    /// @notice Sends this contract's whole balance of `tokenAddress` to `to`.
    function withdrawFunds(address tokenAddress, address to) external onlyOwner {
        if (tokenAddress == address(0) || to == address(0)) revert InvalidAddress();
        uint256 balance = IERC20(tokenAddress).balanceOf(address(this));
        if (balance == 0) revert NoBalanceToWithdraw();
        IERC20(tokenAddress).safeTransfer(to, balance);
        emit FundsWithdrawn(tokenAddress, to, balance);
    }

    function setSlippageBps(uint256 newSlippageBps) external onlyOwner {
        if (newSlippageBps > MAX_SLIPPAGE_BPS) revert SlippageTooHigh();
        emit SlippageUpdated(slippageBps, newSlippageBps);
        slippageBps = newSlippageBps;
    }

    /// @param newMinLiquidity In 6-decimal stablecoin units, whatever the pair's stablecoin decimals.
    function setMinLiquidity(uint256 newMinLiquidity) external onlyOwner {
        emit MinLiquidityUpdated(minLiquidityUsd, newMinLiquidity);
        minLiquidityUsd = newMinLiquidity;
    }

    // ---------------------------------------------------------------- buyers

    /**
     * @notice Buys `days_` days of `planId`, paid with `paymentMethodId` by transferFrom (approve
     *         `calculatePayment(...)` first). `userEncrypted` is only emitted, never stored.
     */
    function buySubscription(uint256 planId, uint256 days_, uint256 paymentMethodId, bytes calldata userEncrypted)
        external
        nonReentrant
        returns (uint256 subscriptionId)
    {
        _requireActivePlan(planId);
        (uint256 amount, address token) = _quote(planId, days_, paymentMethodId);

        subscriptionId = _nextSubscriptionId++;
        uint256 expiresAt = block.timestamp + days_ * 1 days;
        _subscriptions[subscriptionId] =
            Subscription({planId: planId, expiresAt: expiresAt, subscriber: msg.sender, cancelled: false});
        _subscriptionsBySubscriber[msg.sender].push(subscriptionId);

        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit SubscriptionCreated(subscriptionId, planId, msg.sender, expiresAt, amount, token, userEncrypted);
    }

    /// @notice Adds `days_` days from the later of the current expiry and now. Anyone may pay for anyone.
    function extendSubscription(uint256 subscriptionId, uint256 days_, uint256 paymentMethodId)
        external
        nonReentrant
    {
        Subscription storage sub = _requireSubscription(subscriptionId);
        if (sub.cancelled) revert SubscriptionAlreadyCancelled(subscriptionId);
        uint256 planId = sub.planId;
        _requireActivePlan(planId);
        (uint256 amount, address token) = _quote(planId, days_, paymentMethodId);

        uint256 newExpiresAt = Math.max(sub.expiresAt, block.timestamp) + days_ * 1 days;
        sub.expiresAt = newExpiresAt;

        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit SubscriptionExtended(subscriptionId, planId, msg.sender, newExpiresAt, amount, token);
    }

    // ---------------------------------------------------------------- views

    function getSubscription(uint256 subscriptionId)
        external
        view
        returns (uint256 planId, address subscriber, uint256 expiresAt, bool isActive, bool cancelled)
    {
        Subscription storage sub = _requireSubscription(subscriptionId);
        return (sub.planId, sub.subscriber, sub.expiresAt, _isActive(sub), sub.cancelled);
    }

    function getPlan(uint256 planId)
        external
        view
        returns (string memory name, uint256 pricePerDayUsdCents, bool active)
    {
        Plan storage plan = _requirePlan(planId);
        return (plan.name, plan.pricePerDayUsdCents, plan.active);
    }

    /// @return The primary stablecoin, or address(0) when none is set.
    function getPrimaryStablecoin() external view returns (address) {
        return _paymentMethods[STABLECOIN_PAYMENT_ID].tokenAddress;
    }

    /// @return ids 1 first (when the primary stablecoin is set), then every pair method, active or not.
    function getPaymentMethodIds() external view returns (uint256[] memory ids) {
        bool hasStablecoin = _paymentMethods[STABLECOIN_PAYMENT_ID].tokenAddress != address(0);
        uint256 offset = hasStablecoin ? 1 : 0;
        ids = new uint256[](_pairPaymentMethodIds.length + offset);
        if (hasStablecoin) ids[0] = STABLECOIN_PAYMENT_ID;
        for (uint256 i = 0; i < _pairPaymentMethodIds.length; i++) {
            ids[i + offset] = _pairPaymentMethodIds[i];
        }
    }

    function getPaymentMethod(uint256 paymentMethodId)
        external
        view
        returns (
            address tokenAddress,
            address pairAddress,
            address stablecoinAddress,
            uint8 tokenDecimals,
            uint8 stablecoinDecimals,
            bool active
        )
    {
        PaymentMethod storage pm = _requirePaymentMethod(paymentMethodId);
        return (
            pm.tokenAddress, pm.pairAddress, pm.stablecoinAddress, pm.tokenDecimals, pm.stablecoinDecimals, pm.active
        );
    }

    /// @notice Token amount `buySubscription`/`extendSubscription` would take now (plan/method active or not).
    function calculatePayment(uint256 planId, uint256 days_, uint256 paymentMethodId)
        external
        view
        returns (uint256)
    {
        _requirePlan(planId);
        return _price(_plans[planId].pricePerDayUsdCents * days_, _requirePaymentMethod(paymentMethodId));
    }

    /**
     * @notice Price of one whole token in USD cents, rounded down: 100 for the primary stablecoin, else
     *         stableReserve * 100 * 10^tokenDecimals / (tokenReserve * 10^stableDecimals). No liquidity floor,
     *         but an empty token reserve reverts with InsufficientLiquidity.
     */
    function getTokenPriceUsdCents(uint256 paymentMethodId) external view returns (uint256) {
        PaymentMethod storage pm = _requirePaymentMethod(paymentMethodId);
        if (pm.pairAddress == address(0)) return 100;
        (uint256 tokenReserve, uint256 stableReserve) = _pairReserves(pm);
        if (tokenReserve == 0) revert InsufficientLiquidity();
        return Math.mulDiv(stableReserve * 100, 10 ** pm.tokenDecimals, tokenReserve * 10 ** pm.stablecoinDecimals);
    }

    /// @return Whole days left; 0 when expired or cancelled.
    function daysRemaining(uint256 subscriptionId) external view returns (uint256) {
        Subscription storage sub = _requireSubscription(subscriptionId);
        return _isActive(sub) ? (sub.expiresAt - block.timestamp) / 1 days : 0;
    }

    /// @return False for unknown ids too.
    function isSubscriptionActive(uint256 subscriptionId) external view returns (bool) {
        return _exists(subscriptionId) && _isActive(_subscriptions[subscriptionId]);
    }

    function getSubscriptionsBySubscriber(address subscriber) external view returns (uint256[] memory) {
        return _subscriptionsBySubscriber[subscriber];
    }

    function getTotalSubscriptionCount() external view returns (uint256) {
        return _nextSubscriptionId - 1;
    }

    function getTotalPlanCount() external view returns (uint256) {
        return _nextPlanId - 1;
    }

    // ---------------------------------------------------------------- internals

    function _quote(uint256 planId, uint256 days_, uint256 paymentMethodId)
        private
        view
        returns (uint256 amount, address token)
    {
        if (days_ == 0) revert DaysMustBePositive();
        PaymentMethod storage pm = _requirePaymentMethod(paymentMethodId);
        if (!pm.active) revert PaymentMethodNotActive(paymentMethodId);
        return (_price(_plans[planId].pricePerDayUsdCents * days_, pm), pm.tokenAddress);
    }

    /// @dev The pricing rules of the contract NatSpec above.
    function _price(uint256 usdCents, PaymentMethod storage pm) private view returns (uint256) {
        uint256 stableUnits = usdCents * 10 ** pm.stablecoinDecimals;
        if (pm.pairAddress == address(0)) return stableUnits / 100;

        (uint256 tokenReserve, uint256 stableReserve) = _pairReserves(pm);
        if (tokenReserve == 0 || _toSixDecimals(stableReserve, pm.stablecoinDecimals) < minLiquidityUsd) {
            revert InsufficientLiquidity();
        }
        uint256 base = Math.mulDiv(stableUnits, tokenReserve, 100 * stableReserve, Math.Rounding.Ceil);
        return base + (base * slippageBps) / 10_000;
    }

    /// @dev Reserves ordered (token, stablecoin); re-checks the pair's tokens, since pricing trusts them.
    function _pairReserves(PaymentMethod storage pm)
        private
        view
        returns (uint256 tokenReserve, uint256 stableReserve)
    {
        IUniswapV2Pair pair = IUniswapV2Pair(pm.pairAddress);
        bool tokenIsToken0 = _requirePairTokens(address(pair), pm.tokenAddress, pm.stablecoinAddress);
        (uint112 reserve0, uint112 reserve1,) = pair.getReserves();
        return tokenIsToken0 ? (uint256(reserve0), uint256(reserve1)) : (uint256(reserve1), uint256(reserve0));
    }

    /// @return tokenIsToken0 Whether `token` is the pair's token0 (else it is token1).
    function _requirePairTokens(address pairAddress, address token, address stablecoin)
        private
        view
        returns (bool tokenIsToken0)
    {
        IUniswapV2Pair pair = IUniswapV2Pair(pairAddress);
        address token0 = pair.token0();
        address token1 = pair.token1();
        if (token0 == token && token1 == stablecoin) return true;
        if (token0 == stablecoin && token1 == token) return false;
        revert TokenNotInPair();
    }

    function _toSixDecimals(uint256 amount, uint8 decimals) private pure returns (uint256) {
        if (decimals > 6) return amount / 10 ** (decimals - 6);
        return amount * 10 ** (6 - decimals);
    }

    function _isActive(Subscription storage sub) private view returns (bool) {
        return !sub.cancelled && sub.expiresAt > block.timestamp;
    }

    function _exists(uint256 subscriptionId) private view returns (bool) {
        return subscriptionId != 0 && subscriptionId < _nextSubscriptionId;
    }

    function _requireSubscription(uint256 subscriptionId) private view returns (Subscription storage) {
        if (!_exists(subscriptionId)) revert SubscriptionNotFound(subscriptionId);
        return _subscriptions[subscriptionId];
    }

    function _requirePlan(uint256 planId) private view returns (Plan storage) {
        if (planId == 0 || planId >= _nextPlanId) revert PlanNotFound(planId);
        return _plans[planId];
    }

    function _requireActivePlan(uint256 planId) private view {
        if (!_requirePlan(planId).active) revert PlanNotActive(planId);
    }

    function _requirePaymentMethod(uint256 paymentMethodId) private view returns (PaymentMethod storage pm) {
        pm = _paymentMethods[paymentMethodId];
        // Method 1 exists once a stablecoin is set; pair methods exist once added.
        if (pm.tokenAddress == address(0)) revert PaymentMethodNotFound(paymentMethodId);
    }
}
