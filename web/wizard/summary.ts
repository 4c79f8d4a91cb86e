/** The summary page's rows: every entered value by page, secrets left out. */
import type { SummaryRow } from './pages.js';
import type { WizardSession } from './session.js';
import { STEPS } from './steps.js';

function flatten(value: unknown, path: string, out: [string, string][]): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) {
    out.push([path, value.join(', ')]);
  } else if (typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) flatten(child, path ? `${path}.${key}` : key, out);
  } else {
    out.push([path, String(value)]);
  }
}

export function summaryRows(session: WizardSession): SummaryRow[] {
  const rows: SummaryRow[] = [];
  if (session.wallet)
    rows.push({
      page: 'wallet',
      items: [
        ['admin.wallet', session.wallet.address],
        ['publicSecret', session.wallet.publicSecret],
      ],
    });
  for (const { name } of STEPS) {
    const value = session.steps[name];
    if (value === undefined) continue;
    const items: [string, string][] = [];
    flatten(value, '', items);
    if (name === 'storage' && items.length === 0) items.push(['storage', "the node's existing storage"]);
    if (name === 'chain' && session.serverKey && session.steps.chain?.serverWallet === 'import')
      items.push(['server wallet (imported)', session.serverKey.address]);
    rows.push({ page: name, items });
  }
  return rows;
}
