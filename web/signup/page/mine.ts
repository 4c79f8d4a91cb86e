// "Your subscriptions": what the connected wallet bought, with details and extend actions.
import { byId, el } from '../../shared/page/dom.js';
import { fail, type SignupPage } from './context.js';
import { revealInto } from './details.js';
import { formatExpiry } from './format.js';

export async function renderMine(page: SignupPage): Promise<void> {
  const section = byId('mine');
  const list = byId('mine-list');
  if (!page.wallet) return;
  const ids = await page.chain.subscriptionsOf(page.wallet.account);
  section.hidden = false;
  if (ids.length === 0) {
    list.replaceChildren(el('p', { class: 'hint' }, 'This wallet has no subscriptions here yet.'));
    return;
  }
  const rows = await Promise.all(
    [...ids].reverse().map(async (id) => {
      const [subscription, tokenId] = await Promise.all([
        page.chain.subscription(id),
        page.chain.tokenOf(id),
      ]);
      const plan =
        page.plans.find((p) => p.id === subscription.planId)?.name ?? `plan ${subscription.planId}`;
      const state = subscription.cancelled ? 'cancelled' : subscription.active ? 'active' : 'expired';
      const actions = el('div', { class: 'row' });
      if (tokenId !== undefined) {
        const show = el('button', { type: 'button', class: 'secondary' }, 'Connection details');
        show.addEventListener('click', () => {
          revealInto(page, tokenId, 'mine-notice').catch((error: unknown) => fail('mine-notice', error));
        });
        actions.append(show);
      } else if (!subscription.cancelled) {
        actions.append(el('span', { class: 'hint' }, 'VM being set up'));
      }
      if (!subscription.cancelled) {
        const extend = el('button', { type: 'button', class: 'secondary' }, 'Extend');
        extend.addEventListener('click', () => {
          byId<HTMLInputElement>('extend-id').value = id.toString();
          byId('extend').scrollIntoView({ block: 'start' });
          byId<HTMLInputElement>('extend-days').focus();
        });
        actions.append(extend);
      }
      return el(
        'tr',
        { 'data-subscription': id.toString() },
        el('td', {}, `#${id}`),
        el('td', {}, plan),
        el('td', {}, `${state}, until ${formatExpiry(subscription.expiresAt)}`),
        el('td', {}, actions),
      );
    }),
  );
  list.replaceChildren(
    el('div', { id: 'mine-notice', role: 'status', hidden: '' }),
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el('tr', {}, el('th', {}, 'No.'), el('th', {}, 'Plan'), el('th', {}, 'Status'), el('th', {}, '')),
      ),
      el('tbody', {}, ...rows),
    ),
  );
}
