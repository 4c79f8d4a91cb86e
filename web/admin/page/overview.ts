// Overview: host, chain lag, phases, revenue and the 30-day charts.
import type { OverviewResponse } from '../overview.js';
import { byId, el } from '../../shared/page/dom.js';
import { barChart } from './charts.js';
import { adminApi, fillDetails, reportFailure, table, units } from './common.js';

type Overview = OverviewResponse;

interface Series {
  day: string;
  added: number;
  total: number;
}

function phaseTable(title: string, counts: Record<string, number>): HTMLElement {
  return el(
    'div',
    { class: 'phase-table' },
    table(
      ['Phase', 'Count'],
      Object.entries(counts).map(([p, n]) => [p, String(n)]),
      title,
    ),
  );
}

function renderRevenue(revenue: Overview['revenue']): void {
  const list = byId('revenue-details');
  if ('error' in revenue) {
    fillDetails(list, [['Revenue', `Unavailable: ${revenue.error}`]]);
    return;
  }
  const { byToken, purchases, extensions, fromBlock, toBlock, partial } = revenue.revenue;
  const coin = revenue.stablecoin;
  const amounts = Object.entries(byToken).map(([token, amount]): [string, string] =>
    coin && token === coin.address.toLowerCase()
      ? [`Paid in ${coin.symbol}`, `${units(amount, coin.decimals)} ${coin.symbol}`]
      : [`Paid in token ${token}`, `${amount} base units`],
  );
  fillDetails(list, [
    ...(amounts.length ? amounts : [['Paid', coin ? `0 ${coin.symbol}` : '0'] as [string, string]]),
    ['Purchases', String(purchases)],
    ['Extensions', String(extensions)],
    ['Blocks', `${fromBlock} to ${toBlock}${partial ? ' (older blocks not counted)' : ''}`],
  ]);
}

export async function overviewPage(): Promise<void> {
  try {
    const [overview, charts] = await Promise.all([
      adminApi<Overview>('/api/overview'),
      adminApi<{ vms: Series[]; purchases: Series[] }>('/api/charts'),
    ]);
    const { host, chain } = overview;
    fillDetails(byId('host-details'), [
      ['Name', host.hostname ?? '(no public host name set)'],
      ['Setup', host.ready ? 'Ready' : `In progress${host.message ? `: ${host.message}` : ''}`],
      ['VM backend', host.backend],
      ['Signup page', host.signupUrl ?? '—'],
      ['Server wallet', el('span', { class: 'mono' }, host.serverAddress ?? '—')],
    ]);
    fillDetails(byId('chain-details'), [
      ['Chain id', String(host.chainId)],
      ['Chain head', chain.head ?? '—'],
      ['Watcher checkpoint', chain.checkpoint ?? '—'],
      [
        'Lag',
        chain.lagBlocks !== undefined
          ? `${chain.lagBlocks} blocks (${chain.confirmations} confirmations wanted)`
          : (chain.error ?? '—'),
      ],
    ]);
    byId('phase-tables').replaceChildren(
      phaseTable('Subscriptions', overview.subscriptions),
      phaseTable('VMs', overview.vms),
    );
    renderRevenue(overview.revenue);
    barChart(
      byId('vm-chart'),
      'VMs existing at the end of each day (VMs destroyed since are not counted)',
      charts.vms.map((p) => ({ label: p.day.slice(5), value: p.total })),
    );
    barChart(
      byId('purchase-chart'),
      'Purchases seen per day (Subscription objects created)',
      charts.purchases.map((p) => ({ label: p.day.slice(5), value: p.added })),
    );
  } catch (error) {
    reportFailure(error);
  }
}
