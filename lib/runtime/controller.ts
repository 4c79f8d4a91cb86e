import type { KubeObject } from '../kube/object.js';
import { objectKey, parseObjectKey } from '../kube/object.js';
import type { Logger } from '../log.js';
import type { Informer } from './informer.js';
import type { RuntimeMetrics } from './metrics.js';
import { ownerRequests } from './owners.js';
import { WorkQueue, type QueueMetrics, type RateLimiter } from './workqueue/index.js';

/** What to reconcile: the key of one object of the controller's primary type. */
export interface Request {
  namespace?: string;
  name: string;
}

/** Requeue after a delay (polling external state, scheduled expiry); nothing means "done until changed". */
export type ReconcileResult = { requeueAfterMs?: number } | void;

/** An error that retrying cannot fix (bad input): logged and counted, the key is not retried. */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

export interface ReconcileContext {
  log: Logger;
  /** Aborts when the controller stops (shutdown or lost leadership). */
  signal: AbortSignal;
}

export type Reconcile = (request: Request, context: ReconcileContext) => Promise<ReconcileResult>;

export interface Watch {
  informer: Informer<KubeObject>;
  /** Which primary objects to reconcile when a watched object changes. */
  map(object: KubeObject): Request[];
}

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  /** The primary type: each of its objects is one work-queue key. */
  for: Informer<T>;
  /** Dependents whose controller owner reference points at a primary object. */
  owns?: Informer<KubeObject>[];
  watches?: Watch[];
  reconcile: Reconcile;
  /** Reconciles in flight at once (never two for the same key). */
  workers?: number;
  rateLimiter?: RateLimiter<string>;
}

export const requestKey = (request: Request): string =>
  request.namespace ? `${request.namespace}/${request.name}` : request.name;

/**
 * controller-runtime's controller: informer events become keys in a de-duplicating, rate-limited
 * queue; workers reconcile one key at a time each; errors retry with per-key exponential backoff,
 * and an exception in a reconcile is contained and counted, never fatal.
 */
export class Controller<T extends KubeObject> {
  readonly name: string;
  private readonly queue: WorkQueue<string>;
  private readonly workers: number;

  constructor(
    private readonly options: ControllerOptions<T>,
    private readonly metrics: RuntimeMetrics,
    private readonly log: Logger,
  ) {
    this.name = options.name;
    this.workers = options.workers ?? 1;
    this.queue = new WorkQueue<string>({
      name: options.name,
      rateLimiter: options.rateLimiter,
      metrics: prometheusQueueMetrics(metrics),
    });
    const enqueue = (object: KubeObject) => this.queue.add(objectKey(object));
    options.for.addHandlers({
      onAdd: enqueue,
      onUpdate: (_old, current) => enqueue(current),
      onDelete: enqueue,
    });
    const primary = options.for.type;
    for (const owned of options.owns ?? []) {
      const enqueueOwner = (object: KubeObject) =>
        ownerRequests(object, primary).forEach((r) => this.enqueue(r));
      owned.addHandlers({
        onAdd: enqueueOwner,
        onUpdate: (_old, current) => enqueueOwner(current),
        onDelete: enqueueOwner,
      });
    }
    for (const watch of options.watches ?? []) {
      const enqueueMapped = (object: KubeObject) => watch.map(object).forEach((r) => this.enqueue(r));
      watch.informer.addHandlers({
        onAdd: enqueueMapped,
        onUpdate: (_old, current) => enqueueMapped(current),
        onDelete: enqueueMapped,
      });
    }
  }

  enqueue(request: Request): void {
    this.queue.add(requestKey(request));
  }

  /** Waits for the caches, runs the workers until `signal` aborts, then drains in-flight reconciles. */
  async run(signal: AbortSignal): Promise<void> {
    const informers = [
      this.options.for,
      ...(this.options.owns ?? []),
      ...(this.options.watches ?? []).map((w) => w.informer),
    ];
    // A stop during start-up must not leave workers running: an informer stopped before it
    // synced never syncs, and an abort listener added after the abort never fires.
    const aborted = signal.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([Promise.all(informers.map((informer) => informer.waitForSync())), aborted]);
    if (signal.aborted) {
      this.queue.shutDown();
      this.log.info({ controller: this.name }, 'stopped before the caches synced');
      return;
    }
    this.metrics.maxConcurrentReconciles.set({ controller: this.name }, this.workers);
    this.log.info({ controller: this.name, workers: this.workers }, 'starting workers');
    const stop = () => void this.queue.shutDownWithDrain();
    signal.addEventListener('abort', stop, { once: true });
    await Promise.all(Array.from({ length: this.workers }, () => this.work(signal)));
    signal.removeEventListener('abort', stop);
    this.log.info({ controller: this.name }, 'workers stopped');
  }

  private async work(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      // Stopping: finish what is in flight, start nothing new. Keys still queued are reconciled by
      // the next process (every object is listed again at start), so a backlog cannot hold a stop.
      if (signal.aborted) {
        this.queue.done(key);
        return;
      }
      this.metrics.activeWorkers.inc({ controller: this.name });
      try {
        await this.reconcileKey(key, signal);
      } finally {
        this.metrics.activeWorkers.dec({ controller: this.name });
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string, signal: AbortSignal): Promise<void> {
    const request = parseObjectKey(key);
    const log = this.log.child({ controller: this.name, key });
    const labels = { controller: this.name };
    const endTimer = this.metrics.reconcileTime.startTimer(labels);
    try {
      const result = await this.options.reconcile(request, { log, signal });
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
      } else {
        this.metrics.reconcileTotal.inc({ ...labels, result: 'success' });
      }
    } catch (error) {
      this.metrics.reconcileTotal.inc({ ...labels, result: 'error' });
      this.metrics.reconcileErrors.inc(labels);
      if (error instanceof TerminalError) {
        this.metrics.terminalReconcileErrors.inc(labels);
        this.queue.forget(key);
        log.error(
          { err: error.message },
          'reconcile failed permanently; not retrying until the object changes',
        );
      } else {
        this.queue.addRateLimited(key);
        log.warn(
          {
            err: error instanceof Error ? error.message : String(error),
            retries: this.queue.numRequeues(key),
          },
          'reconcile failed; will retry',
        );
      }
    } finally {
      endTimer();
    }
  }
}

function prometheusQueueMetrics(metrics: RuntimeMetrics): QueueMetrics {
  return {
    add: (name) => metrics.queueAdds.inc({ name }),
    depth: (name, depth) => metrics.queueDepth.set({ name }, depth),
    retry: (name) => metrics.queueRetries.inc({ name }),
    latency: (name, seconds) => metrics.queueLatency.observe({ name }, seconds),
    workDuration: (name, seconds) => metrics.workDuration.observe({ name }, seconds),
  };
}
