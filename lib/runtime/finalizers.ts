import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import type { ResourceType } from '../kube/resource-types.js';

/**
 * Finalizer edits are merge patches carrying the resourceVersion we read: the API server rejects
 * them with 409 if the object changed meanwhile, so a concurrent edit of the list is never lost.
 */
async function patchFinalizers<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
  finalizers: string[],
): Promise<T> {
  const { name = '', namespace, resourceVersion } = object.metadata;
  return client.patch<T>(type, name, namespace, { metadata: { finalizers, resourceVersion } }, 'merge');
}

export const hasFinalizer = (object: KubeObject, finalizer: string): boolean =>
  object.metadata.finalizers?.includes(finalizer) ?? false;

/** Adds `finalizer` before any external resource is created, so deletion always waits for cleanup. */
export async function ensureFinalizer<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(object, finalizer)) return object;
  return patchFinalizers(client, type, object, [...(object.metadata.finalizers ?? []), finalizer]);
}

/** Removes `finalizer` once cleanup is complete; the API server then finishes the deletion. */
export async function removeFinalizer<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  object: T,
  finalizer: string,
): Promise<T> {
  if (!hasFinalizer(object, finalizer)) return object;
  return patchFinalizers(
    client,
    type,
    object,
    (object.metadata.finalizers ?? []).filter((f) => f !== finalizer),
  );
}

export const isBeingDeleted = (object: KubeObject): boolean => Boolean(object.metadata.deletionTimestamp);
