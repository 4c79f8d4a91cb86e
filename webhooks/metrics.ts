import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Admission metrics; one registry per server, so tests can run several in one process. */
export class WebhookMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'blockhost_admission_requests_total',
    help: 'Admission reviews answered, by webhook (mutate, validate), kind, operation and outcome',
    labelNames: ['webhook', 'kind', 'operation', 'allowed'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'blockhost_admission_duration_seconds',
    help: 'Time to answer an admission review, lookups included',
    labelNames: ['webhook', 'kind', 'operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /** Reviews that could not be read (not an AdmissionReview v1). */
  readonly malformed = new Counter({
    name: 'blockhost_admission_malformed_requests_total',
    help: 'Requests to an admission endpoint that were not a valid AdmissionReview v1',
    labelNames: ['webhook'] as const,
    registers: [this.registry],
  });

  constructor({ processMetrics = false }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
