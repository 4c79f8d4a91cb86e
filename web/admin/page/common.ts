// What every dashboard page shares: API calls that send the visitor back to the login page when the
// session ended, the sign-out button, and formatting.
import { formatUnits } from 'viem';
import { api, ApiError, facePath } from '../../shared/page/api.js';
import { byId, showNotice } from '../../shared/page/dom.js';

/** Where a 401 or 403 sends the visitor: the login page. */
export function toLogin(): void {
  window.location.assign(facePath('/login'));
}

/**
 * Calls the dashboard API. A 401 (no session) goes to the login page; a 403 (the wallet no longer
 * holds the admin NFT, so the server ended the session) shows the server's reason first.
 */
export async function adminApi<T>(url: string, options: Parameters<typeof api>[1] = {}): Promise<T> {
  try {
    return await api<T>(facePath(url), options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      toLogin();
    } else if (error instanceof ApiError && error.status === 403) {
      showNotice(
        byId('notice'),
        'error',
        error.message,
        'Sign in again with the wallet that holds the admin NFT.',
      );
      byId('notice').scrollIntoView();
    }
    throw error;
  }
}

/** Shows a failed load in the page's notice (403s already did). */
export function reportFailure(error: unknown): void {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
  showNotice(byId('notice'), 'error', error instanceof Error ? error.message : String(error));
}

export function wireLogout(): void {
  byId('logout').addEventListener('click', () => {
    void api(facePath('/api/logout'), { method: 'POST', body: {} })
      .catch(() => undefined)
      .finally(toLogin);
  });
}

/** `123456789` base units with `decimals` → `123.456789`, trailing zeros trimmed. */
export function units(value: string | undefined, decimals: number): string {
  return value === undefined ? '—' : formatUnits(BigInt(value), decimals);
}

export function dateTime(iso: string | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** `<dt>term</dt><dd>value</dd>` pairs into a `dl`. */
export function fillDetails(list: HTMLElement, pairs: [string, string | Node][]): void {
  list.replaceChildren(
    ...pairs.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.append(value);
      return [dt, dd];
    }),
  );
}

/** A table with a header row; cells are text or nodes. */
export function table(headers: string[], rows: (string | Node)[][], caption?: string): HTMLTableElement {
  const element = document.createElement('table');
  if (caption) element.createCaption().textContent = caption;
  const head = element.createTHead().insertRow();
  for (const header of headers) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = header;
    head.append(th);
  }
  const body = element.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().append(cell);
  }
  return element;
}
