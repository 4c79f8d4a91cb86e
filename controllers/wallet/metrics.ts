import { Counter, type Registry } from 'prom-client';

/** Prometheus metrics of the wallet-request controller. */
export class WalletRequestMetrics {
  readonly requests: Counter<'action' | 'outcome'>;

  constructor(registry: Registry) {
    // One manager per registry registers it once; a second registration (tests) reuses it.
    const existing = registry.getSingleMetric('blockhost_wallet_requests_total');
    this.requests =
      (existing as Counter<'action' | 'outcome'> | undefined) ??
      new Counter({
        name: 'blockhost_wallet_requests_total',
        help: 'Signed wallet requests (withdraw/send) finished, by action and outcome (Confirmed, Failed, Refused)',
        labelNames: ['action', 'outcome'],
        registers: [registry],
      });
  }
}
