import type { KubeClient } from '../kube/client.js';
import { isNotFound } from '../kube/errors.js';
import { objectKey, type KubeObject } from '../kube/object.js';
import type { Informer } from './informer.js';

/** An own write the cache has not shown after this long is forgotten (a relist may skip its version). */
const PENDING_WRITE_MAX_MS = 30_000;

/**
 * Reads objects a controller already watches from the informer's cache instead of the API server,
 * like controller-runtime's cache-backed client, with its writes read back (read-your-own-writes).
 *
 * The contract:
 * - `get` answers from the cache, except for an object this reader was told it wrote (`wrote`)
 *   whose new resourceVersion the cache has not shown yet: that one is read from the API server.
 *   So a reconcile never acts on a copy older than its own last write (e.g. a status without the
 *   backend id it just recorded).
 * - The cache may still lag other writers' changes. Every write built from what `get` returns must
 *   therefore be guarded: an update carrying its resourceVersion, or a merge patch with
 *   metadata.resourceVersion. A stale read then ends in 409 Conflict and a retry, never a lost write.
 *   Their watch event requeues the object, so decisions made on a stale copy are looked at again.
 * - Before the cache has synced every read goes to the API server.
 * - Returned objects are copies: callers may edit them.
 */
export class CachedReader<T extends KubeObject> {
  /** Objects we wrote whose new version the cache has not shown: key → resourceVersion, when. */
  private readonly pending = new Map<string, { resourceVersion: string; at: number }>();
  /** How many gets the cache answered, and how many went to the API server. */
  readonly stats = { cached: 0, fetched: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly informer: Informer<T>,
    private readonly now: () => number = Date.now,
  ) {
    const seen = (object: T) => {
      const key = objectKey(object);
      if (this.pending.get(key)?.resourceVersion === object.metadata.resourceVersion)
        this.pending.delete(key);
    };
    informer.addHandlers({
      onAdd: seen,
      onUpdate: (_, object) => seen(object),
      onDelete: (object) => this.pending.delete(objectKey(object)),
    });
  }

  /** The object, or undefined when it does not exist. */
  async get(name: string, namespace?: string): Promise<T | undefined> {
    const key = namespace ? `${namespace}/${name}` : name;
    if (this.informer.hasSynced() && !this.awaitsOwnWrite(key)) {
      this.stats.cached += 1;
      const cached = this.informer.get(key);
      // A JSON copy, not structuredClone: objects of this realm (under jest, structuredClone's come
      // from another one, and isDeepStrictEqual then finds every status changed).
      return cached && (JSON.parse(JSON.stringify(cached)) as T);
    }
    this.stats.fetched += 1;
    return this.client.get<T>(this.informer.type, name, namespace).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  }

  /** Records `stored` (what the API server returned for one of our writes) and returns it. */
  wrote<S extends T>(stored: S): S {
    const { resourceVersion } = stored.metadata;
    // Its watch event may have come first.
    const shown = this.informer.get(objectKey(stored))?.metadata.resourceVersion === resourceVersion;
    if (resourceVersion && !shown) this.pending.set(objectKey(stored), { resourceVersion, at: this.now() });
    return stored;
  }

  private awaitsOwnWrite(key: string): boolean {
    const pending = this.pending.get(key);
    if (!pending) return false;
    if (this.now() - pending.at <= PENDING_WRITE_MAX_MS) return true;
    this.pending.delete(key);
    return false;
  }
}
