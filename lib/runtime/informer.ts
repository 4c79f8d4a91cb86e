import type { KubeClient } from '../kube/client.js';
import { isGone, KubeApiError } from '../kube/errors.js';
import { objectKey, type KubeObject } from '../kube/object.js';
import { typeKey, type ResourceType } from '../kube/resource-types.js';
import type { Logger } from '../log.js';
import { Backoff, sleep } from '../backoff.js';

export interface InformerHandlers<T extends KubeObject> {
  onAdd?(object: T): void;
  onUpdate?(previous: T, current: T): void;
  onDelete?(object: T): void;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** Re-deliver every cached object as an update this often (0 = never): level-triggered safety net. */
  resyncMs?: number;
  /** A watch that sends nothing (not even a bookmark) for this long is treated as dead. */
  inactivityTimeoutMs?: number;
  backoff?: Backoff;
}

/**
 * `object` without metadata.managedFields (server-side apply bookkeeping, 38–45 % of a cached
 * object), as controller-runtime's cache transform drops it: no controller reads it, and an update
 * that omits it leaves the stored field as it is, so a cached object written back loses nothing.
 */
function withoutManagedFields<T extends KubeObject>(object: T): T {
  delete (object.metadata as { managedFields?: unknown }).managedFields;
  return object;
}

/**
 * List-then-watch cache of one resource type, shaped like client-go's shared informer.
 * The watch survives anything: a server-side timeout re-watches from the last resourceVersion, a 410
 * Gone relists (and emits the differences as add/update/delete), any other error retries with capped
 * jittered backoff, and a connection that goes silent is aborted and re-established. Cached objects
 * carry no managedFields (see withoutManagedFields).
 */
export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion: string | undefined;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  private running?: Promise<void>;
  /** How often the cache was rebuilt from a list, and how often a watch had to be re-established. */
  readonly stats = { lists: 0, watchRestarts: 0 };

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly log: Logger,
    private readonly options: InformerOptions = {},
  ) {}

  get name(): string {
    return this.options.namespace ? `${typeKey(this.type)}@${this.options.namespace}` : typeKey(this.type);
  }

  addHandlers(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
    // Late subscribers see what is already cached, as with client-go.
    for (const object of this.store.values()) handlers.onAdd?.(object);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Runs until `signal` aborts. Safe to call more than once; later calls share the first run. */
  start(signal: AbortSignal): Promise<void> {
    this.running ??= this.run(signal);
    return this.running;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const backoff = this.options.backoff ?? new Backoff();
    const resync = this.options.resyncMs
      ? setInterval(() => this.resync(), this.options.resyncMs)
      : undefined;
    try {
      while (!signal.aborted) {
        try {
          if (this.resourceVersion === undefined) await this.relist();
          if (signal.aborted) break;
          await this.watchOnce(signal);
          backoff.reset();
        } catch (error) {
          if (signal.aborted) break;
          this.stats.watchRestarts += 1;
          if (isGone(error)) {
            this.log.info({ informer: this.name }, 'resourceVersion too old (410 Gone); relisting');
            this.resourceVersion = undefined;
            continue;
          }
          const delay = backoff.next();
          this.log.warn(
            { informer: this.name, err: String(error), retryInMs: Math.round(delay) },
            'watch failed; retrying',
          );
          await sleep(delay, signal);
        }
      }
    } finally {
      clearInterval(resync);
    }
  }

  private async relist(): Promise<void> {
    const list = await this.client.list<T>(this.type, {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
    });
    this.stats.lists += 1;
    const fresh = new Map(list.items.map((item) => [objectKey(item), withoutManagedFields(item)] as const));
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit((h) => h.onDelete?.(old));
      }
    }
    for (const [key, item] of fresh) this.upsert(key, item);
    this.resourceVersion = list.metadata.resourceVersion;
    if (!this.synced) {
      this.synced = true;
      this.syncWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const events = this.client.watch<T>(
      this.type,
      {
        namespace: this.options.namespace,
        labelSelector: this.options.labelSelector,
        resourceVersion: this.resourceVersion,
        // Servers end watches on their own; a random length spreads reconnects out.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        inactivityTimeoutMs: this.options.inactivityTimeoutMs,
      },
      signal,
    );
    for await (const event of events) {
      switch (event.type) {
        case 'ADDED':
        case 'MODIFIED':
          this.upsert(objectKey(event.object), event.object);
          break;
        case 'DELETED': {
          const key = objectKey(event.object);
          this.store.delete(key);
          this.emit((h) => h.onDelete?.(event.object));
          break;
        }
        case 'BOOKMARK':
          break;
        case 'ERROR': {
          const status = event.object as unknown as { code?: number; reason?: string; message?: string };
          throw new KubeApiError(status.code ?? 500, status.reason ?? '', status.message ?? 'watch error');
        }
      }
      this.resourceVersion = event.object.metadata.resourceVersion ?? this.resourceVersion;
    }
  }

  private upsert(key: string, received: T): void {
    const object = withoutManagedFields(received);
    const previous = this.store.get(key);
    this.store.set(key, object);
    if (!previous) this.emit((h) => h.onAdd?.(object));
    else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) {
      this.emit((h) => h.onUpdate?.(previous, object));
    }
  }

  private resync(): void {
    for (const object of this.store.values()) this.emit((h) => h.onUpdate?.(object, object));
  }

  /** A throwing handler must not break the cache or the other handlers. */
  private emit(call: (handlers: InformerHandlers<T>) => void): void {
    for (const handlers of this.handlers) {
      try {
        call(handlers);
      } catch (error) {
        this.log.error({ informer: this.name, err: String(error) }, 'event handler threw');
      }
    }
  }
}
