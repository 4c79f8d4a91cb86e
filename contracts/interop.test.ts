// The compiled ABIs against INTEROP.md §1: every signature the original BlockHost's pages, watchers and
// NFTs rely on must exist unchanged, and the listed topic0 hashes must match.
import { describe, expect, it } from '@jest/globals';
import { parseAbiItem, toEventSelector, type Abi, type AbiParameter } from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from './generated/artifacts.js';

const subscriptionEvents = [
  'event SubscriptionCreated(uint256 indexed subscriptionId, uint256 indexed planId, address indexed subscriber, uint256 expiresAt, uint256 paidAmount, address paymentToken, bytes userEncrypted)',
  'event SubscriptionExtended(uint256 indexed subscriptionId, uint256 indexed planId, address indexed extendedBy, uint256 newExpiresAt, uint256 paidAmount, address paymentToken)',
  'event SubscriptionCancelled(uint256 indexed subscriptionId, uint256 indexed planId, address indexed subscriber)',
  'event PlanCreated(uint256 indexed planId, string name, uint256 pricePerDayUsdCents)',
  'event PlanUpdated(uint256 indexed planId, string name, uint256 pricePerDayUsdCents, bool active)',
  'event PrimaryStablecoinSet(address indexed stablecoinAddress, uint8 decimals)',
  'event PaymentMethodAdded(uint256 indexed paymentMethodId, address tokenAddress, address pairAddress, address stablecoinAddress)',
  'event PaymentMethodUpdated(uint256 indexed paymentMethodId, bool active)',
  'event FundsWithdrawn(address indexed token, address indexed to, uint256 amount)',
];

const subscriptionFunctions = [
  'function setPrimaryStablecoin(address)',
  'function createPlan(string, uint256) returns (uint256)',
  'function updatePlan(uint256, string, uint256, bool)',
  'function cancelSubscription(uint256)',
  'function addPaymentMethod(address, address, address) returns (uint256)',
  'function updatePaymentMethod(uint256, bool)',
  'function withdrawFunds(address, address)',
  'function setSlippageBps(uint256)',
  'function setMinLiquidity(uint256)',
  'function buySubscription(uint256, uint256, uint256, bytes) returns (uint256)',
  'function extendSubscription(uint256, uint256, uint256)',
  'function getSubscription(uint256) view returns (uint256 planId, address subscriber, uint256 expiresAt, bool isActive, bool cancelled)',
  'function getPlan(uint256) view returns (string name, uint256 pricePerDayUsdCents, bool active)',
  'function getPrimaryStablecoin() view returns (address)',
  'function getPaymentMethodIds() view returns (uint256[])',
  'function getPaymentMethod(uint256) view returns (address tokenAddress, address pairAddress, address stablecoinAddress, uint8 tokenDecimals, uint8 stablecoinDecimals, bool active)',
  'function calculatePayment(uint256, uint256, uint256) view returns (uint256)',
  'function getTokenPriceUsdCents(uint256) view returns (uint256)',
  'function daysRemaining(uint256) view returns (uint256)',
  'function isSubscriptionActive(uint256) view returns (bool)',
  'function getSubscriptionsBySubscriber(address) view returns (uint256[])',
  'function getTotalSubscriptionCount() view returns (uint256)',
  'function getTotalPlanCount() view returns (uint256)',
  'function owner() view returns (address)',
];

const subscriptionErrors = [
  'error PlanNotFound(uint256)',
  'error PlanNotActive(uint256)',
  'error PlanPriceMustBePositive()',
  'error SubscriptionNotFound(uint256)',
  'error SubscriptionAlreadyCancelled(uint256)',
  'error PaymentMethodNotFound(uint256)',
  'error PaymentMethodNotActive(uint256)',
  'error InvalidAddress()',
  'error DaysMustBePositive()',
  'error SlippageTooHigh()',
  'error NoBalanceToWithdraw()',
  'error TokenNotInPair()',
  'error InsufficientLiquidity()',
];

const nftSignatures = [
  'constructor(string, string)',
  'function mint(address to, bytes userEncrypted) returns (uint256)',
  'function updateUserEncrypted(uint256, bytes)',
  'function getUserEncrypted(uint256) view returns (bytes)',
  'function mintForSubscription(uint256 subscriptionId, address to, bytes userEncrypted) returns (uint256 tokenId)',
  'function getSubscriptionToken(uint256 subscriptionId) view returns (bool minted, uint256 tokenId)',
  'function ownerOf(uint256) view returns (address)',
  'function totalSupply() view returns (uint256)',
  'function tokenOfOwnerByIndex(address, uint256) view returns (uint256)',
  'function tokenByIndex(uint256) view returns (uint256)',
  'event CredentialMinted(uint256 indexed tokenId, address indexed recipient)',
  'event CredentialUpdated(uint256 indexed tokenId)',
  'event SubscriptionCredentialMinted(uint256 indexed subscriptionId, uint256 indexed tokenId, address indexed recipient)',
  'event Transfer(address indexed from, address indexed to, uint256 indexed tokenId)',
  'error SubscriptionAlreadyMinted(uint256 subscriptionId, uint256 tokenId)',
];

/** Types, indexed flags and (where the expectation names them) parameter names. */
function shape(parameters: readonly AbiParameter[], compareNames: boolean) {
  return parameters.map((parameter) => ({
    type: parameter.type,
    indexed: 'indexed' in parameter && parameter.indexed === true,
    ...(compareNames ? { name: parameter.name } : {}),
  }));
}

function expectInAbi(abi: Abi, signature: string): void {
  const expected = parseAbiItem(signature);
  const actual = abi.find(
    (item) =>
      item.type === expected.type &&
      ('name' in expected ? 'name' in item && item.name === expected.name : true),
  );
  if (actual === undefined) throw new Error(`missing from the ABI: ${signature}`);
  const named = (parameters: readonly AbiParameter[]) => parameters.some((parameter) => parameter.name);
  if ('inputs' in expected && 'inputs' in actual) {
    expect(shape(actual.inputs, named(expected.inputs))).toEqual(
      shape(expected.inputs, named(expected.inputs)),
    );
  }
  if (expected.type === 'function' && actual.type === 'function') {
    expect(shape(actual.outputs, named(expected.outputs))).toEqual(
      shape(expected.outputs, named(expected.outputs)),
    );
    expect(actual.stateMutability).toBe(expected.stateMutability);
  }
}

describe('INTEROP §1 ABI compatibility', () => {
  it.each(subscriptionEvents.concat(subscriptionFunctions, subscriptionErrors))(
    'BlockhostSubscriptions: %s',
    (signature) => expectInAbi(BlockhostSubscriptionsAbi, signature),
  );

  it.each(nftSignatures)('AccessCredentialNFT: %s', (signature) =>
    expectInAbi(AccessCredentialNFTAbi, signature),
  );

  it('keeps the topic0 hashes listed in INTEROP.md', () => {
    const topic0 = Object.fromEntries(
      BlockhostSubscriptionsAbi.filter((item) => item.type === 'event').map((item) => [
        item.name,
        toEventSelector(item),
      ]),
    );
    expect(topic0).toMatchObject({
      SubscriptionCreated: '0xf8d0042297eb90d4c0e69b16b80a93bdee5b71f0a963a1961a4de8c551958b55',
      SubscriptionExtended: '0x80f867aeffc74b04b4f387cfc5572b2a3537d8705579fb696da4019cc8069e09',
      SubscriptionCancelled: '0x66f43ba68b89239cf7af6921b9dcdaf6ce93c7223af7a53e343dbedcc082a104',
      PlanCreated: '0x135a65e1936006594178a9666e5ddf1d2099f18e72674253a206ed70ade01cc9',
    });
  });
});
