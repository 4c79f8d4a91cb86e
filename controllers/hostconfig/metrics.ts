import { Gauge, Histogram, type Registry } from 'prom-client';
import type { SetupStepName } from './step.js';

/** Setup pipeline metrics, on the manager's registry (served at /metrics). */
export class SetupMetrics {
  readonly stepDuration: Histogram<'step' | 'result'>;
  readonly stepReady: Gauge<'step'>;

  constructor(registry: Registry) {
    this.stepDuration = new Histogram({
      name: 'blockhost_setup_step_duration_seconds',
      help: 'HostConfig setup steps: duration by step and result (the condition reason)',
      labelNames: ['step', 'result'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 15, 60, 300],
      registers: [registry],
    });
    this.stepReady = new Gauge({
      name: 'blockhost_setup_step_ready',
      help: 'Whether a HostConfig setup step is done (1) or not (0), as of the last reconcile',
      labelNames: ['step'],
      registers: [registry],
    });
  }

  observe(step: SetupStepName, ready: boolean, reason: string, seconds: number): void {
    this.stepDuration.observe({ step, result: reason }, seconds);
    this.stepReady.set({ step }, ready ? 1 : 0);
  }
}
