// "Your subscriptions": the access NFTs the connected wallet holds now (bought or received by
// transfer) and what it bought that is still being set up, with details and extend actions.
import { api, ApiError, facePath } from '../../shared/page/api.js';
import { byId, el } from '../../shared/page/dom.js';
import type { CredentialLink } from '../credentials.js';
import { fail, type SignupPage } from './context.js';
import { revealInto } from './details.js';
import { formatExpiry } from './format.js';
import { holdingsOf, type Holding } from './holdings.js';
import { offerOfflineDecrypt } from './offline.js';

/** NFTs read per visit; a wallet holding more is told so (each costs a few RPC reads). */
export const MAX_LISTED_TOKENS = 50;

/**
 * The subscription `tokenId` was minted for. The server knows the link (the chain watcher recorded
 * it); the contract confirms it, so a wrong answer only hides a row, never shows a stranger's.
 */
async function subscriptionOfToken(page: SignupPage, tokenId: bigint): Promise<bigint | undefined> {
  let link: CredentialLink;
  try {
    link = await api<CredentialLink>(facePath(`/api/signup/credentials/${tokenId}`));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
  const subscriptionId = BigInt(link.subscriptionId);
  return (await page.chain.tokenOf(subscriptionId)) === tokenId ? subscriptionId : undefined;
}

async function readHoldings(
  page: SignupPage,
  account: `0x${string}`,
): Promise<{ holdings: Holding[]; total: bigint }> {
  const [{ tokenIds, total }, bought] = await Promise.all([
    page.chain.heldTokens(account, MAX_LISTED_TOKENS),
    page.chain.subscriptionsOf(account),
  ]);
  const [held, unminted] = await Promise.all([
    Promise.all(
      tokenIds.map(async (tokenId) => ({
        tokenId,
        subscriptionId: await subscriptionOfToken(page, tokenId),
      })),
    ),
    Promise.all(bought.map(async (id) => ((await page.chain.tokenOf(id)) === undefined ? [id] : []))),
  ]);
  return { holdings: holdingsOf(held, unminted.flat()), total };
}

function detailsButton(page: SignupPage, tokenId: bigint): HTMLElement {
  const show = el('button', { type: 'button', class: 'secondary' }, 'Connection details');
  show.addEventListener('click', () => {
    revealInto(page, tokenId, 'mine-notice').catch((error: unknown) => fail('mine-notice', error));
  });
  return show;
}

function extendButton(subscriptionId: bigint): HTMLElement {
  const extend = el('button', { type: 'button', class: 'secondary' }, 'Extend');
  extend.addEventListener('click', () => {
    byId<HTMLInputElement>('extend-id').value = subscriptionId.toString();
    byId('extend').scrollIntoView({ block: 'start' });
    byId<HTMLInputElement>('extend-days').focus();
  });
  return extend;
}

async function rowOf(page: SignupPage, account: `0x${string}`, holding: Holding): Promise<HTMLElement> {
  const actions = el('div', { class: 'row' });
  const nft = holding.tokenId === undefined ? '—' : `#${holding.tokenId}`;
  if (holding.subscriptionId === undefined) {
    actions.append(detailsButton(page, holding.tokenId));
    return el(
      'tr',
      { 'data-token': holding.tokenId.toString() },
      el('td', {}, '—'),
      el('td', {}, nft),
      el('td', {}, '—'),
      el('td', {}, 'Access credential without a subscription (such as the admin credential)', actions),
    );
  }
  const subscription = await page.chain.subscription(holding.subscriptionId);
  const plan = page.plans.find((p) => p.id === subscription.planId)?.name ?? `plan ${subscription.planId}`;
  const state = subscription.cancelled ? 'cancelled' : subscription.active ? 'active' : 'expired';
  const status = el('td', {}, `${state}, until ${formatExpiry(subscription.expiresAt)}`);
  const received = subscription.subscriber.toLowerCase() !== account.toLowerCase();
  if (holding.tokenId === undefined) {
    if (!subscription.cancelled) actions.append(el('span', { class: 'hint' }, 'VM being set up'));
  } else if (received) {
    // The details are encrypted to the buyer's signature: this wallet's cannot open them.
    status.append(
      el(
        'p',
        { class: 'hint' },
        'Received from ',
        el('span', { class: 'mono' }, subscription.subscriber),
        ". You log in with this wallet; the connection details open with the buyer's signature.",
      ),
    );
    const offline = el(
      'button',
      { type: 'button', class: 'secondary' },
      "Decrypt with the buyer's signature",
    );
    const tokenId = holding.tokenId;
    offline.addEventListener('click', () => offerOfflineDecrypt(tokenId));
    actions.append(offline);
  } else {
    actions.append(detailsButton(page, holding.tokenId));
  }
  if (!subscription.cancelled) actions.append(extendButton(holding.subscriptionId));
  status.append(actions);
  return el(
    'tr',
    {
      'data-subscription': holding.subscriptionId.toString(),
      ...(holding.tokenId !== undefined && { 'data-token': holding.tokenId.toString() }),
    },
    el('td', {}, `#${holding.subscriptionId}`),
    el('td', {}, nft),
    el('td', {}, plan),
    status,
  );
}

export async function renderMine(page: SignupPage): Promise<void> {
  const section = byId('mine');
  const list = byId('mine-list');
  if (!page.wallet) return;
  const { account } = page.wallet;
  const { holdings, total } = await readHoldings(page, account);
  section.hidden = false;
  if (holdings.length === 0) {
    list.replaceChildren(el('p', { class: 'hint' }, 'This wallet holds no subscriptions of this host.'));
    return;
  }
  const rows = await Promise.all(holdings.map((holding) => rowOf(page, account, holding)));
  list.replaceChildren(
    el('div', { id: 'mine-notice', role: 'status', hidden: '' }),
    ...(total > BigInt(MAX_LISTED_TOKENS)
      ? [el('p', { class: 'hint' }, `Showing ${MAX_LISTED_TOKENS} of the ${total} NFTs this wallet holds.`)]
      : []),
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el('tr', {}, el('th', {}, 'No.'), el('th', {}, 'NFT'), el('th', {}, 'Plan'), el('th', {}, 'Status')),
      ),
      el('tbody', {}, ...rows),
    ),
  );
}
