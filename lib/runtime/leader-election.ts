import type { KubeClient } from '../kube/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import { coreTypes } from '../kube/resource-types.js';
import type { Logger } from '../log.js';
import { sleep } from '../backoff.js';

export interface LeaderElectionConfig {
  namespace: string;
  name: string;
  identity: string;
  /** How long a standby waits after the last observed renewal before taking over. */
  leaseDurationMs?: number;
  /** The leader gives up (stops reconciling) when it could not renew for this long; < leaseDuration. */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** metav1.MicroTime wants exactly six fractional digits. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Leader election on a coordination.k8s.io Lease with client-go's algorithm: expiry is judged by
 * the local time at which this process last saw the lease change (immune to clock skew between
 * hosts), and a leader that cannot renew within renewDeadline stops before any standby may take over.
 */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observedResourceVersion?: string;
  private observedAt = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly config: LeaderElectionConfig,
    private readonly log: Logger,
  ) {
    this.leaseDurationMs = config.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = config.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = config.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error('renewDeadline must be shorter than leaseDuration');
  }

  /**
   * Blocks until leadership is acquired (or `signal` aborts) and runs `lead` with a signal that
   * aborts when leadership ends. On a clean stop it returns once `lead` has finished and then
   * releases the lease, so a standby takes over at once but never overlaps. On lost leadership it
   * returns 'lost' at once, without waiting for `lead` (a reconcile may be inside a 30-minute
   * backend call): the caller exits the process, as controller-runtime does, and the aborted signal
   * has already stopped every backend call of this process.
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<'stopped' | 'lost'> {
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) await sleep(this.retryPeriodMs, signal);
    if (signal.aborted) return 'stopped';
    this.log.info({ lease: this.config.name, identity: this.config.identity }, 'became leader');
    const leading = new AbortController();
    const led = lead(leading.signal);
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.renewWithin(this.renewDeadlineMs - (Date.now() - lastRenew))) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew >= this.renewDeadlineMs) {
        this.log.error(
          { lease: this.config.name, identity: this.config.identity },
          'leadership lost: could not renew the lease',
        );
        leading.abort(new Error('leadership lost'));
        // Not awaited: whatever `lead` still does ends with the process.
        led.catch(() => undefined);
        return 'lost';
      }
    }
    leading.abort(new Error('shutting down'));
    await led;
    await this.release();
    return 'stopped';
  }

  /** One renewal attempt that counts as failed when the API server does not answer in time. */
  private async renewWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(false), Math.max(ms, 0))),
    );
    try {
      return await Promise.race([this.tryAcquireOrRenew().catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.config;
    const now = Date.now();
    const spec = (previous?: Lease['spec']) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime:
        previous?.holderIdentity === identity && previous.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions:
        (previous?.leaseTransitions ?? 0) +
        (previous?.holderIdentity && previous.holderIdentity !== identity ? 1 : 0),
    });
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(coreTypes.lease, name, namespace);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        const created = await this.client.create<Lease>(coreTypes.lease, {
          metadata: { name, namespace },
          spec: spec(),
        });
        this.observe(created, now);
        return true;
      } catch (createError) {
        if (isAlreadyExists(createError)) return false;
        throw createError;
      }
    }
    if (lease.metadata.resourceVersion !== this.observedResourceVersion) this.observe(lease, now);
    const holder = lease.spec?.holderIdentity;
    if (holder && holder !== identity && this.observedAt + this.leaseDurationMs > now) return false;
    try {
      const updated = await this.client.update<Lease>(coreTypes.lease, { ...lease, spec: spec(lease.spec) });
      this.observe(updated, now);
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  private observe(lease: Lease, at: number): void {
    this.observedResourceVersion = lease.metadata.resourceVersion;
    this.observedAt = at;
  }

  /** Hands the lease back (empty holder) so the next candidate need not wait for it to expire. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.config;
    try {
      const lease = await this.client.get<Lease>(coreTypes.lease, name, namespace);
      if (lease.spec?.holderIdentity !== identity) return;
      await this.client.update<Lease>(coreTypes.lease, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(Date.now()),
        },
      });
      this.log.info({ lease: name, identity }, 'released leadership');
    } catch (error) {
      this.log.warn({ lease: name, err: String(error) }, 'could not release the lease; it will expire');
    }
  }
}
