import { isDeepStrictEqual } from 'node:util';
import type { BackendType, HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { FieldError } from '../field-errors.js';

/** What one kind's cross-object validation has to say. */
export interface Findings {
  errors: FieldError[];
  warnings: string[];
}

export const noFindings = (): Findings => ({ errors: [], warnings: [] });

/** One admission of a kind: the object as it will be stored and, on UPDATE, as it is stored now. */
export interface Admission<T> {
  operation: 'CREATE' | 'UPDATE';
  object: T;
  oldObject?: T;
}

/**
 * Whether `pick` differs between the new and the stored object (always on CREATE). Cross-object
 * checks run only on what a write changes, so an edit elsewhere (a new HostConfig pool, a deleted
 * Plan) never blocks unrelated updates of stored objects, such as a finalizer removal.
 */
export function changed<T>(admission: Admission<T>, pick: (object: T) => unknown): boolean {
  if (admission.operation === 'CREATE' || admission.oldObject === undefined) return true;
  return !isDeepStrictEqual(pick(admission.object), pick(admission.oldObject));
}

/** The images of the HostConfig's settings for `type`, or undefined when it has none. */
export function backendImages(host: HostConfig, type: BackendType): string[] | undefined {
  return host.spec.backend[type]?.images.map((i) => i.name);
}
