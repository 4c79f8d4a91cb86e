// State shared by the signup page's parts, and how their errors become messages.
import { ApiError } from '../../shared/page/api.js';
import { byId, showNotice } from '../../shared/page/dom.js';
import { WalletError, type Eip1193Provider } from '../../shared/page/wallet.js';
import { isCryptoError } from '../../../lib/crypto/index.js';
import type { SignupConfig } from '../host-config.js';
import { revertName, type OnChainPlan, type SignupChain, type Stablecoin } from './chain.js';
import { formatUnits } from './format.js';

export interface SignupPage {
  config: SignupConfig;
  chain: SignupChain;
  plans: OnChainPlan[];
  coin: Stablecoin;
  /** Set once the wallet is connected and on the right network. */
  wallet?: { provider: Eip1193Provider; account: `0x${string}` };
  /** Re-reads the visitor's subscriptions (after a purchase or an extension). */
  refreshMine(): Promise<void>;
}

const reverts: Record<string, string> = {
  PlanNotFound: 'That plan does not exist on this host.',
  PlanNotActive: 'That plan is no longer on sale.',
  SubscriptionNotFound: 'There is no subscription with that number on this host.',
  SubscriptionAlreadyCancelled: 'That subscription was cancelled and cannot be extended.',
  PaymentMethodNotActive: 'Payment in this token is switched off on this host.',
  DaysMustBePositive: 'Choose at least one day.',
};

/** A sentence for the visitor, whatever failed (wallet, server, contract or decryption). */
export function explain(error: unknown): string {
  if (error instanceof WalletError || error instanceof ApiError) return error.message;
  const reverted = revertName(error);
  if (reverted) return reverts[reverted] ?? `The contract refused the transaction (${reverted}).`;
  if (isCryptoError(error, 'DECRYPTION_FAILED'))
    return 'These connection details were not encrypted for this wallet: switch to the wallet that bought the subscription.';
  const text =
    error instanceof Error
      ? ((error as { shortMessage?: string }).shortMessage ?? error.message)
      : String(error);
  if ((error as { name?: string })?.name === 'ChainMismatchError')
    return 'Your wallet switched to another network. Switch it back and try again.';
  if (/insufficient funds/i.test(text))
    return 'Your wallet does not hold enough ETH to pay the network fee for this transaction.';
  return `Something went wrong: ${text}`;
}

/** Shows `error` in the notice box `id` and returns nothing, for use in catch handlers. */
export function fail(id: string, error: unknown): void {
  showNotice(byId(id), 'error', explain(error));
}

/** "15 USDC" */
export const amount = (page: SignupPage, value: bigint): string =>
  `${formatUnits(value, page.coin.decimals)} ${page.coin.symbol}`;

/** Throws a message naming both amounts when the wallet holds less than `price`. */
export async function requireBalance(page: SignupPage, account: `0x${string}`, price: bigint): Promise<void> {
  const balance = await page.chain.balance(page.coin.address, account);
  if (balance < price)
    throw new WalletError(
      'FAILED',
      `Insufficient balance: this costs ${amount(page, price)}, and your wallet holds ${amount(page, balance)}. Add ${page.coin.symbol} to your wallet and try again.`,
    );
}

/** Approves the contract to take `price` unless it already may. */
export async function ensureAllowance(
  page: SignupPage,
  account: `0x${string}`,
  price: bigint,
  say: (text: string) => void,
): Promise<void> {
  const allowance = await page.chain.allowance(page.coin.address, account);
  if (allowance >= price) return;
  say(`Approve the payment of ${amount(page, price)} in your wallet…`);
  await page.chain.writer(page.wallet!.provider, account).approve(page.coin.address, price);
}
