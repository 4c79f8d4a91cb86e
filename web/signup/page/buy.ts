// Buying: plan and days → signature → ECIES to the server key → approve → buySubscription →
// follow the purchase until the NFT is minted → decrypt its connection details.
import { encryptUserSignature } from '../../../lib/crypto/index.js';
import { byId, el, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import { personalSign, requireChain, toWalletError, WalletError } from '../../shared/page/wallet.js';
import { amount, ensureAllowance, explain, requireBalance, type SignupPage } from './context.js';
import { revealInto } from './details.js';
import { followPurchase, type FollowUpdate } from './follow.js';
import { formatCents, parseDays } from './format.js';

/** The purchase being followed survives a reload: the page picks it up again. */
const PENDING_KEY = 'blockhost.pendingPurchase';

export function renderPlanChoices(page: SignupPage): void {
  const choices = byId('plan-choices');
  page.plans.forEach((plan, index) => {
    const input = el('input', {
      type: 'radio',
      name: 'planId',
      value: plan.id.toString(),
      id: `plan-${plan.id}`,
    });
    if (index === 0) input.checked = true;
    choices.append(
      el(
        'label',
        { class: 'choice', for: `plan-${plan.id}` },
        input,
        el('span', {}, plan.name),
        el('span', { class: 'price' }, `${formatCents(plan.centsPerDay)} / day`),
      ),
    );
  });
}

function readForm(form: HTMLFormElement): { planId: bigint; days: bigint } | undefined {
  const fields: Record<string, string> = {};
  const plan = new FormData(form).get('planId');
  if (typeof plan !== 'string') fields.planId = 'Choose a plan.';
  const days = parseDays(String(new FormData(form).get('days') ?? ''));
  if ('error' in days) fields.days = days.error;
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return undefined;
  }
  clearFieldErrors(form);
  return { planId: BigInt(plan as string), days: (days as { days: bigint }).days };
}

/** Keeps the total under the form current as plan and days change. */
async function updateTotal(page: SignupPage, form: HTMLFormElement): Promise<void> {
  const total = byId('buy-total');
  const plan = new FormData(form).get('planId');
  const days = parseDays(String(new FormData(form).get('days') ?? ''));
  if (typeof plan !== 'string' || 'error' in days) {
    total.textContent = '';
    return;
  }
  const price = await page.chain.price(BigInt(plan), days.days);
  total.textContent = `Total: ${amount(page, price)} for ${days.days} day${days.days === 1n ? '' : 's'}.`;
}

function describeProgress(update: FollowUpdate): string {
  switch (update.state) {
    case 'unseen':
      return 'Payment confirmed. Waiting for the host to see your purchase on the chain (it waits for a few confirmations)…';
    case 'provisioning':
      return update.phase === 'Pending'
        ? 'The host has your purchase and is preparing your VM…'
        : 'Your VM is being created and started…';
    case 'ready':
      return 'Your VM is running and your access NFT is minted.';
    case 'failed':
      return `The host could not set up your VM: ${update.message}`;
  }
}

/**
 * Follows subscription `id` in the progress section until its NFT exists, then decrypts the
 * details when a wallet is connected (else asks for one).
 */
export async function follow(page: SignupPage, id: bigint): Promise<void> {
  const section = byId('progress');
  const notice = byId('progress-notice');
  section.hidden = false;
  localStorage.setItem(PENDING_KEY, id.toString());
  const title = `Subscription #${id}: `;
  const result = await followPurchase(id, (update) =>
    showNotice(notice, update.state === 'failed' ? 'error' : 'info', title + describeProgress(update)),
  );
  localStorage.removeItem(PENDING_KEY);
  await page.refreshMine();
  if (result.state === 'failed') return;
  if (!page.wallet) {
    showNotice(notice, 'ok', `${title}your VM is ready. Connect your wallet to see its connection details.`);
    return;
  }
  try {
    await revealInto(page, result.tokenId, 'progress-notice');
  } catch (error) {
    showNotice(
      notice,
      'error',
      explain(error),
      'Use “Connection details” under Your subscriptions to try again.',
    );
  }
}

/** A purchase a previous visit left in progress, if any. */
export function pendingPurchase(): bigint | undefined {
  const stored = localStorage.getItem(PENDING_KEY);
  return stored && /^[1-9][0-9]*$/.test(stored) ? BigInt(stored) : undefined;
}

export function wireBuyForm(page: SignupPage): void {
  const form = byId<HTMLFormElement>('buy-form');
  const notice = byId('buy-notice');
  const refresh = () =>
    updateTotal(page, form).catch(() => {
      byId('buy-total').textContent = '';
    });
  form.addEventListener('input', () => void refresh());
  void refresh();

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    hideNotice(notice);
    const input = readForm(form);
    if (!input || !page.wallet) return;
    const { provider, account } = page.wallet;
    const say = (text: string) => showNotice(notice, 'info', text);
    void whileBusy(byId<HTMLButtonElement>('buy-submit'), async () => {
      try {
        await requireChain(provider, page.config.chainId);
        const price = await page.chain.price(input.planId, input.days);
        await requireBalance(page, account, price);
        say(
          'Sign the message in your wallet: it proves this wallet is yours and keys your connection details.',
        );
        let signature: string;
        try {
          signature = await personalSign(provider, account, page.config.publicSecret);
        } catch (error) {
          const walletError = toWalletError(error, 'sign');
          if (walletError.code !== 'REJECTED') throw walletError;
          throw new WalletError(
            'REJECTED',
            'You rejected the signature request, so nothing was bought. Buy again when you are ready to sign.',
          );
        }
        const userEncrypted = encryptUserSignature(page.config.serverPublicKey, signature) as `0x${string}`;
        await ensureAllowance(page, account, price, say);
        say(`Confirm the purchase of ${input.days} days for ${amount(page, price)} in your wallet…`);
        const id = await page.chain.writer(provider, account).buy(input.planId, input.days, userEncrypted);
        showNotice(notice, 'ok', `Paid: subscription #${id} is yours.`);
        void page.refreshMine();
        await follow(page, id);
      } catch (error) {
        showNotice(notice, 'error', explain(error));
      }
    });
  });
}
