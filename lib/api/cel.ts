import type { z } from 'zod';

/** zod metadata key that carries CEL rules; crd-schema.ts copies it into the CRD schema as-is. */
const CEL_META_KEY = 'x-kubernetes-validations';

/** One entry of a CRD schema's `x-kubernetes-validations`, as the apiserver reads it. */
export interface CelValidation {
  /** CEL expression over `self` (and `oldSelf` for transition rules) that must hold. */
  rule: string;
  /** Error shown to the client; names the field so the fix is obvious. */
  message: string;
  /** JSONPath, relative to the node carrying the rule, of the field the error is reported on. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface CelRule<T> extends CelValidation {
  /**
   * The same rule in TypeScript, so zod rejects what the apiserver would. Only transition rules
   * (those reading `oldSelf`) go without: they need the stored object, which a parse does not have.
   */
  check?: (self: T) => boolean;
}

/**
 * zod runs refinements even when a field already failed its own check (a pattern, say), so a
 * check may meet values its helpers refuse to read; a check that throws has failed, and never
 * turns a parse (an admission review) into an exception.
 */
function passes<T>(check: (self: T) => boolean, value: T): boolean {
  try {
    return check(value);
  } catch {
    return false;
  }
}

/**
 * Attaches CEL rules to a schema: the apiserver enforces them through the generated CRD, and zod
 * enforces their `check`s on parse, reporting at `fieldPath` so both name the same field.
 */
export function withCel<S extends z.ZodType>(schema: S, rules: readonly CelRule<z.output<S>>[]): S {
  const unchecked = rules.find((r) => !r.check && !r.rule.includes('oldSelf'));
  if (unchecked) throw new Error(`CEL rule needs a TypeScript check: ${unchecked.rule}`);
  const refined = schema.superRefine((value, ctx) => {
    for (const { check, message, fieldPath } of rules) {
      if (check && !passes(check, value))
        ctx.addIssue({ code: 'custom', message, path: zodPath(fieldPath), input: value });
    }
  });
  const earlier = (schema.meta()?.[CEL_META_KEY] ?? []) as CelValidation[];
  return refined.meta({ [CEL_META_KEY]: [...earlier, ...rules.map(toValidation)] });
}

/** The rule as the CRD carries it (without the TypeScript check). */
export function toValidation({ rule, message, fieldPath, reason }: CelValidation): CelValidation {
  return { rule, message, ...(fieldPath && { fieldPath }), ...(reason && { reason }) };
}

/** `.a.b` → `['a', 'b']`; only the dotted form is used in this code base. */
function zodPath(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').slice(1) : [];
}

/** Transition rule: once stored, the field keeps its value. */
export function immutable<S extends z.ZodType>(schema: S, field: string): S {
  return withCel(schema, [{ rule: 'self == oldSelf', message: `${field} is immutable` }]);
}
