// Withdraw and send on the wallet page: draft → review the exact message → the wallet signs it →
// submit → poll the request object until the controller manager records its outcome.
import { parseUnits } from 'viem';
import { ApiError } from '../../shared/page/api.js';
import { byId, el, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import { connect, injectedProvider, personalSign, WalletError } from '../../shared/page/wallet.js';
import type { WalletRequestRow } from '../wallet-requests.js';
import { adminApi, dateTime, reportFailure, table } from './common.js';

export interface WalletTokens {
  stablecoin?: { address: string; symbol: string; decimals: number };
  admin: string;
}

const FINAL = new Set(['Confirmed', 'Failed', 'Refused']);
const POLL_MS = 1000;

async function refreshList(): Promise<void> {
  const { requests } = await adminApi<{ requests: WalletRequestRow[] }>('/api/wallet/requests');
  byId('wallet-requests').replaceChildren(
    requests.length === 0
      ? el('p', { class: 'hint' }, 'No requests yet.')
      : table(
          ['Requested', 'Action', 'Token', 'Amount', 'To', 'Status', 'Transaction'],
          requests.map((r) => [
            dateTime(r.createdAt),
            r.action,
            el('span', { class: 'mono' }, r.token),
            r.amount,
            el('span', { class: 'mono' }, r.to),
            el('span', { 'data-request-phase': r.name }, r.reason ? `${r.phase}: ${r.reason}` : r.phase),
            el('span', { class: 'mono' }, r.txHash ?? '—'),
          ]),
        ),
  );
}

/** Polls one request until its outcome is final; shows each phase in the notice. */
async function follow(name: string, onConfirmed: () => void): Promise<void> {
  const notice = byId('wr-notice');
  for (;;) {
    const row = await adminApi<WalletRequestRow>(`/api/wallet/requests/${name}`);
    const text = `${row.phase}${row.reason ? `: ${row.reason}` : ''}`;
    const detail = row.txHash ? `Transaction ${row.txHash}` : undefined;
    if (row.phase === 'Confirmed') {
      showNotice(notice, 'ok', `Request confirmed on-chain.`, detail);
      onConfirmed();
    } else if (FINAL.has(row.phase)) showNotice(notice, 'error', `Request ${text}`, detail);
    else showNotice(notice, 'info', `Request ${text}…`, detail);
    notice.dataset.phase = row.phase;
    await refreshList().catch(() => undefined);
    if (FINAL.has(row.phase)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function wireWalletRequests(tokens: WalletTokens, onConfirmed: () => void): void {
  const form = byId<HTMLFormElement>('wallet-request-form');
  const input = (id: string) => byId<HTMLInputElement>(id);
  const action = byId<HTMLSelectElement>('wr-action');
  const notice = byId('wr-notice');
  const confirm = byId('wr-confirm');
  const coin = tokens.stablecoin;
  byId('wr-tokens').replaceChildren(
    ...(coin ? [el('option', { value: coin.address }, coin.symbol)] : []),
    el('option', { value: 'ETH' }, 'ETH (send only)'),
  );
  if (coin) input('wr-token').value = coin.address;
  input('wr-to').value = tokens.admin;
  const sync = () => {
    byId('wr-amount-field').hidden = action.value !== 'send';
  };
  action.addEventListener('change', sync);
  sync();
  let draft: { message: string; name: string } | undefined;

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(byId<HTMLButtonElement>('wr-review'), async () => {
      clearFieldErrors(form);
      hideNotice(notice);
      const token = input('wr-token').value.trim();
      let amount = 'all';
      if (action.value === 'send') {
        const decimals =
          token.toUpperCase() === 'ETH'
            ? 18
            : coin && token.toLowerCase() === coin.address.toLowerCase()
              ? coin.decimals
              : undefined;
        const typed = input('wr-amount').value.trim();
        try {
          // Amounts are typed in the token's units; the request carries base units.
          amount = decimals === undefined ? typed : parseUnits(typed, decimals).toString();
        } catch {
          amount = typed;
        }
      }
      try {
        draft = await adminApi<{ message: string; name: string }>('/api/wallet/requests/draft', {
          method: 'POST',
          body: {
            action: action.value,
            token: token.toUpperCase() === 'ETH' ? 'ETH' : token,
            amount,
            to: input('wr-to').value.trim(),
          },
        });
        byId('wr-message').textContent = draft.message;
        confirm.hidden = false;
      } catch (error) {
        if (error instanceof ApiError && Object.keys(error.fields).length) {
          const unplaced = showFieldErrors(form, error.fields);
          showNotice(notice, 'error', error.message, unplaced.join(' '));
        } else reportFailure(error);
      }
    });
  });
  byId('wr-cancel').addEventListener('click', () => {
    confirm.hidden = true;
    draft = undefined;
  });
  const sign = byId<HTMLButtonElement>('wr-sign');
  sign.addEventListener('click', () => {
    void whileBusy(sign, async () => {
      if (!draft) return;
      const { message } = draft;
      try {
        const provider = injectedProvider();
        const account = await connect(provider);
        showNotice(notice, 'info', 'Sign the request in your wallet.');
        const signature = await personalSign(provider, account, message);
        const row = await adminApi<WalletRequestRow>('/api/wallet/requests', {
          method: 'POST',
          body: { message, signature },
        });
        confirm.hidden = true;
        draft = undefined;
        await follow(row.name, onConfirmed);
      } catch (error) {
        if (
          error instanceof WalletError ||
          (error instanceof ApiError && error.status !== 401 && error.status !== 403)
        )
          showNotice(notice, 'error', error.message);
        else reportFailure(error);
      }
    });
  });
  void refreshList().catch(reportFailure);
}
