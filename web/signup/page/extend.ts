// Extending a subscription (anyone may pay for any subscription, as on chain).
import { byId, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import { requireChain } from '../../shared/page/wallet.js';
import { revertName } from './chain.js';
import { amount, ensureAllowance, explain, requireBalance, type SignupPage } from './context.js';
import { formatExpiry, parseDays, parseSubscriptionId } from './format.js';

export function wireExtendForm(page: SignupPage): void {
  const form = byId<HTMLFormElement>('extend-form');
  const notice = byId('extend-notice');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    hideNotice(notice);
    const data = new FormData(form);
    const id = parseSubscriptionId(String(data.get('subscriptionId') ?? ''));
    const days = parseDays(String(data.get('days') ?? ''));
    const fields: Record<string, string> = {};
    if ('error' in id) fields.subscriptionId = id.error;
    if ('error' in days) fields.days = days.error;
    if (Object.keys(fields).length || 'error' in id || 'error' in days) {
      showFieldErrors(form, fields);
      return;
    }
    clearFieldErrors(form);
    if (!page.wallet) return;
    const { provider, account } = page.wallet;
    const say = (text: string) => showNotice(notice, 'info', text);
    void whileBusy(byId<HTMLButtonElement>('extend-submit'), async () => {
      try {
        await requireChain(provider, page.config.chainId);
        let subscription;
        try {
          subscription = await page.chain.subscription(id.id);
        } catch (error) {
          if (revertName(error) !== 'SubscriptionNotFound') throw error;
          showFieldErrors(form, { subscriptionId: `There is no subscription #${id.id} on this host.` });
          return;
        }
        if (subscription.cancelled) {
          showFieldErrors(form, {
            subscriptionId: `Subscription #${id.id} was cancelled; it cannot be extended.`,
          });
          return;
        }
        const price = await page.chain.price(subscription.planId, days.days);
        await requireBalance(page, account, price);
        await ensureAllowance(page, account, price, say);
        say(`Confirm the extension by ${days.days} days for ${amount(page, price)} in your wallet…`);
        await page.chain.writer(provider, account).extend(id.id, days.days);
        const after = await page.chain.subscription(id.id);
        showNotice(notice, 'ok', `Subscription #${id.id} now runs until ${formatExpiry(after.expiresAt)}.`);
        await page.refreshMine();
      } catch (error) {
        showNotice(notice, 'error', explain(error));
      }
    });
  });
}
