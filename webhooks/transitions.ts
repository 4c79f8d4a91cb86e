import { isDeepStrictEqual } from 'node:util';
import type { CelValidation } from '../lib/api/cel.js';
import { toStructuralSchema, type StructuralSchema } from '../lib/api/crd-schema.js';
import { crdDefinitions } from '../lib/api/v1alpha1/index.js';
import type { FieldError } from './field-errors.js';

// CEL transition rules (those reading oldSelf) have no TypeScript check in lib/api: they need the
// stored object. The webhook finds them in the same generated CRD schema the apiserver gets and
// evaluates them itself, so a cluster without CEL still refuses the same updates.

type Check = (self: unknown, oldSelf: unknown) => boolean;

const num = (value: unknown, ...keys: string[]): number =>
  keys.reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], value) as number;

/** TypeScript for each transition rule text in lib/api; `self == oldSelf` is CEL equality. */
export const TRANSITION_CHECKS: Readonly<Record<string, Check>> = {
  'self == oldSelf': (self, oldSelf) => isDeepStrictEqual(self, oldSelf),
  'self.size.diskGiB >= oldSelf.size.diskGiB': (self, oldSelf) =>
    num(self, 'size', 'diskGiB') >= num(oldSelf, 'size', 'diskGiB'),
};

export interface TransitionRule extends CelValidation {
  /** Object keys from the root of the kind to the node carrying the rule. */
  path: string[];
}

/** Every transition rule under `node`; rules inside lists would need per-item correlation, which none of ours use. */
function* transitionRules(node: StructuralSchema, path: string[]): Generator<TransitionRule> {
  for (const rule of (node['x-kubernetes-validations'] ?? []) as CelValidation[]) {
    if (rule.rule.includes('oldSelf')) yield { ...rule, path };
  }
  for (const [name, child] of Object.entries(node.properties ?? {}))
    yield* transitionRules(child, [...path, name]);
  if (node.items && [...transitionRules(node.items, [])].length > 0)
    throw new Error(`transition rules inside the list at ${path.join('.')} are not supported`);
}

/** Transition rules per kind, read once from the CRD definitions. */
export const transitionRulesByKind: ReadonlyMap<string, readonly TransitionRule[]> = new Map(
  crdDefinitions.map((def) => [
    def.kind,
    [
      ...transitionRules(toStructuralSchema(def.spec), ['spec']),
      ...transitionRules(toStructuralSchema(def.status), ['status']),
    ],
  ]),
);

function at(object: unknown, path: readonly string[]): unknown {
  let node = object;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const joinPath = (path: readonly string[], fieldPath?: string) =>
  [...path, ...(fieldPath ? fieldPath.split('.').slice(1) : [])].join('.');

/**
 * Evaluates the kind's transition rules on an UPDATE from `oldObject` to `object`. As in CEL, a rule
 * runs only where both sides have the node. Beyond CEL, an immutable field (`self == oldSelf`) that
 * was set may not be removed either: CEL cannot see a removal, and a removed identity is a changed one.
 */
export function checkTransitions(kind: string, object: unknown, oldObject: unknown): FieldError[] {
  const errors: FieldError[] = [];
  for (const rule of transitionRulesByKind.get(kind) ?? []) {
    const self = at(object, rule.path);
    const oldSelf = at(oldObject, rule.path);
    if (oldSelf === undefined) continue;
    const path = joinPath(rule.path, rule.fieldPath);
    if (self === undefined) {
      if (rule.rule === 'self == oldSelf')
        errors.push({
          path,
          message: `${rule.message}: it cannot be removed once set`,
          reason: 'FieldValueForbidden',
        });
      continue;
    }
    const check = TRANSITION_CHECKS[rule.rule];
    // Unknown rules are still enforced by the apiserver's CEL; the unit test keeps this map complete.
    if (check && !check(self, oldSelf))
      errors.push({ path, message: rule.message, reason: 'FieldValueForbidden' });
  }
  return errors;
}
