import type { KubeObject, OwnerReference } from '../kube/object.js';
import { apiVersionOf, type ResourceType } from '../kube/resource-types.js';
import type { Request } from './controller.js';

/**
 * The owner reference that makes `owner` the managing controller of a dependent: the garbage
 * collector deletes the dependent with its owner, and foreground deletion waits for it.
 * Owners must be in the same namespace or cluster-scoped (the API server's rule).
 */
export function controllerReference(owner: KubeObject, ownerType: ResourceType): OwnerReference {
  const { name, uid } = owner.metadata;
  if (!name || !uid)
    throw new Error('an owner needs metadata.name and metadata.uid (read it from the API first)');
  return {
    apiVersion: apiVersionOf(ownerType),
    kind: ownerType.kind,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * Adds `owner` as controller of `dependent` (in place) unless it already is. Throws when another
 * object already controls it: two controllers fighting over one object is always a bug.
 */
export function setControllerReference(
  dependent: KubeObject,
  owner: KubeObject,
  ownerType: ResourceType,
): void {
  const reference = controllerReference(owner, ownerType);
  const references = dependent.metadata.ownerReferences ?? [];
  const existing = references.find((r) => r.controller);
  if (existing && existing.uid !== reference.uid) {
    throw new Error(`${dependent.metadata.name} is already controlled by ${existing.kind}/${existing.name}`);
  }
  if (!existing) dependent.metadata.ownerReferences = [...references, reference];
}

/** Requests for the controlling owner of `object` if that owner is of `ownerType` (for `owns` watches). */
export function ownerRequests(object: KubeObject, ownerType: ResourceType): Request[] {
  const apiVersion = apiVersionOf(ownerType);
  return (object.metadata.ownerReferences ?? [])
    .filter((r) => r.controller && r.kind === ownerType.kind && r.apiVersion === apiVersion)
    .map((r) =>
      ownerType.namespaced ? { namespace: object.metadata.namespace, name: r.name } : { name: r.name },
    );
}
