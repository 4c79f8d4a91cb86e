import type { HostConfig, Plan } from '../../lib/api/v1alpha1/index.js';
import { Backoff } from '../../lib/backoff.js';

/** Setting (or changing) this annotation on the HostConfig asks for an immediate new setup attempt. */
export const RETRY_SETUP_ANNOTATION = 'blockhost.io/retry-setup';
/** When every step is done, setup is rechecked this often (a backend that breaks later shows). */
export const RECHECK_MS = 5 * 60_000;
const RETRY_INITIAL_MS = 2_000;

interface Entry {
  trigger: string;
  retryRequest?: string;
  generation?: number;
  nextAttemptAt: number;
  backoff: Backoff;
}

export type Decision = { run: true; retryRequested: boolean } | { run: false; waitMs: number };

/**
 * When to run the pipeline. Setup writes the HostConfig's own status, and every write wakes the
 * controller again; without this gate a failing step whose message changes (a balance, a gas price)
 * would retry in a hot loop. So a pass runs when something we act on changed (the spec, a retry
 * request, a Plan) or once its backoff (2 s doubling to 5 min) or recheck timer is due.
 */
export class SetupSchedule {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  decide(host: HostConfig, plans: Plan[]): Decision {
    const key = host.metadata.uid ?? host.metadata.name ?? '';
    const retryRequest = host.metadata.annotations?.[RETRY_SETUP_ANNOTATION];
    const generation = host.metadata.generation;
    const trigger = JSON.stringify([
      generation,
      retryRequest,
      plans.map((plan) => `${plan.metadata.name}@${plan.metadata.resourceVersion}`).sort(),
    ]);
    const entry = this.entries.get(key);
    if (!entry) {
      // First sight since start: whatever retry request is stored has been acted on by this pass.
      this.entries.set(key, {
        trigger,
        retryRequest,
        generation,
        nextAttemptAt: 0,
        backoff: new Backoff(RETRY_INITIAL_MS, RECHECK_MS, 0.2),
      });
      return { run: true, retryRequested: false };
    }
    const retryRequested = retryRequest !== undefined && retryRequest !== entry.retryRequest;
    if (retryRequested || generation !== entry.generation) entry.backoff.reset();
    const changed = trigger !== entry.trigger;
    Object.assign(entry, { trigger, retryRequest, generation });
    const waitMs = entry.nextAttemptAt - this.now();
    if (changed || waitMs <= 0) return { run: true, retryRequested };
    return { run: false, waitMs };
  }

  /** Schedules the next pass after one finished; returns its delay. */
  finished(host: HostConfig, allReady: boolean): number {
    const entry = this.entries.get(host.metadata.uid ?? host.metadata.name ?? '');
    if (!entry) return RECHECK_MS;
    if (allReady) entry.backoff.reset();
    const delay = allReady ? RECHECK_MS : entry.backoff.next();
    entry.nextAttemptAt = this.now() + delay;
    return delay;
  }

  forget(host: HostConfig): void {
    this.entries.delete(host.metadata.uid ?? host.metadata.name ?? '');
  }
}
