import type { KubeClient } from '../kube/client.js';
import { isConflict } from '../kube/errors.js';
import type { KubeObject } from '../kube/object.js';
import type { ResourceType } from '../kube/resource-types.js';
import { Backoff, sleep } from '../backoff.js';

export interface StatusUpdateOptions {
  maxAttempts?: number;
}

/**
 * Read-modify-write of the status subresource with optimistic concurrency: `mutate` gets the latest
 * object from the API server (never a cached copy) and edits its status in place, or returns false
 * to skip the write. A 409 Conflict re-reads and re-applies `mutate`, so concurrent writers of
 * different fields converge and no update is lost. Returns the stored object.
 */
export async function updateStatus<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  type: ResourceType,
  key: { name: string; namespace?: string },
  mutate: (latest: T) => boolean | void,
  { maxAttempts = 10 }: StatusUpdateOptions = {},
): Promise<T> {
  const backoff = new Backoff(5, 500);
  for (let attempt = 1; ; attempt += 1) {
    const latest = await client.get<T>(type, key.name, key.namespace);
    if (mutate(latest) === false) return latest;
    try {
      return await client.update<T>(type, latest, { subresource: 'status' });
    } catch (error) {
      if (!isConflict(error) || attempt >= maxAttempts) throw error;
      await sleep(backoff.next());
    }
  }
}
