import { Counter, type Registry } from 'prom-client';

/** Prometheus metrics of the login-signature controller. */
export class LoginSignatureMetrics {
  readonly outcomes: Counter<'outcome'>;

  constructor(registry: Registry) {
    // One manager per registry registers it once; a second registration (tests) reuses it.
    const existing = registry.getSingleMetric('blockhost_login_signatures_total');
    this.outcomes =
      (existing as Counter<'outcome'> | undefined) ??
      new Counter({
        name: 'blockhost_login_signatures_total',
        help: 'Wallet-signed SSH login answers handled, by outcome (Delivered or the refusal reason)',
        labelNames: ['outcome'],
        registers: [registry],
      });
  }
}
