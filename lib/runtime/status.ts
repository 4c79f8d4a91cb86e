import type { KubeClient } from '../kube/client.js';
import { isConflict } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { ResourceType } from '../kube/resource-types.js';
import { Backoff, sleep } from '../backoff.js';
import type { CachedReader } from './cached-reader.js';

export interface StatusUpdateOptions<T extends KubeObject> {
  maxAttempts?: number;
  /**
   * Reads the first attempt's object from the cache (cached-reader.ts) instead of the API server,
   * and is told of the write. A status `mutate` leaves as it is then costs no request at all; a
   * cached copy that is stale costs a 409 and a retry on the API server's copy.
   */
  reader?: CachedReader<T>;
}

/**
 * Read-modify-write of the status subresource with optimistic concurrency: `mutate` gets the latest
 * object (from the API server, or the reader's read-your-writes cache) and edits its status in
 * place, or returns false to skip the write. A 409 Conflict re-reads from the API server and
 * re-applies `mutate`, so concurrent writers of different fields converge and no update is lost.
 * Returns the stored object.
 */
export async function updateStatus<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  type: ResourceType,
  key: { name: string; namespace?: string },
  mutate: (latest: T) => boolean | void,
  { maxAttempts = 10, reader }: StatusUpdateOptions<T> = {},
): Promise<T> {
  const backoff = new Backoff(5, 500);
  for (let attempt = 1; ; attempt += 1) {
    const latest =
      (attempt === 1 ? await reader?.get(key.name, key.namespace) : undefined) ??
      (await client.get<T>(type, key.name, key.namespace));
    if (mutate(latest) === false) return latest;
    try {
      const stored = await client.update<T>(type, latest, { subresource: 'status' });
      return reader ? reader.wrote(stored) : stored;
    } catch (error) {
      if (!isConflict(error) || attempt >= maxAttempts) throw error;
      await sleep(backoff.next());
    }
  }
}
