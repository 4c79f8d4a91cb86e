import type { z } from 'zod';

/** One reason to refuse an object, on the field it is about (`spec.ipv4Pool.start`, `spec.images[1]`). */
export interface FieldError {
  /** Field path as the apiserver prints it; empty for rules on the whole object. */
  path: string;
  message: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueNotFound';
}

/** `['spec', 'images', 1, 'name']` → `spec.images[1].name`. */
export function fieldPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? String(s) : `.${String(s)}`))
    .join('');
}

export function fieldErrorsFromZod(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: fieldPath(issue.path), message: issue.message }));
}

/** `spec.a: msg; spec.b: msg`, the text kubectl shows after "denied the request:". */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
}

const key = (e: FieldError) => `${e.path}\u0000${e.message}`;

/**
 * Validation ratcheting, as the apiserver does for CRDs: on UPDATE, an error the stored object
 * already had is not the writer's fault (the rule may be newer than the object) and must not block
 * unrelated changes such as removing a finalizer.
 */
export function newErrorsOnly(errors: FieldError[], errorsOfOld: FieldError[]): FieldError[] {
  const old = new Set(errorsOfOld.map(key));
  return errors.filter((e) => !old.has(key(e)));
}
