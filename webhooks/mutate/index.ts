import type { VM } from '../../lib/api/v1alpha1/index.js';
import { patchFor, type JsonPatchOperation } from '../json-patch.js';
import type { Lookups } from '../lookups.js';
import { defaultVm, type VMInput } from './vm.js';

/**
 * Plural resource names of the kinds that have defaults from other objects; registration.ts sends
 * only these to the mutating webhook, so the other kinds do not depend on it.
 */
export const MUTATED_RESOURCES = ['vms'] as const;

export interface MutationInput {
  kind: string;
  operation: string;
  subResource?: string;
  object: unknown;
  oldObject?: unknown;
}

export interface Mutation {
  patch: JsonPatchOperation[];
  warnings: string[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object the defaults can be read from and patched into: a map whose spec (if any) is a map. */
const hasObjectShape = (value: unknown): boolean =>
  isRecord(value) && (value.spec === undefined || isRecord(value.spec));

/**
 * The JSON patch that fills in the defaults `object` takes from other objects (empty for most
 * kinds). An object of the wrong shape gets no defaults: the validating webhook refuses it with
 * the schema's field errors, which say far more than a defaulting failure could.
 */
export async function mutateAdmission(input: MutationInput, lookups: Lookups): Promise<Mutation> {
  const none = { patch: [], warnings: [] };
  if (input.subResource || (input.operation !== 'CREATE' && input.operation !== 'UPDATE')) return none;
  if (input.kind === 'VM' && hasObjectShape(input.object)) {
    const stored = input.oldObject;
    const old =
      input.operation === 'UPDATE' && isRecord(stored) && isRecord(stored.spec) ? stored : undefined;
    const { values, warnings } = await defaultVm(input.object as VMInput, old as VM | undefined, lookups);
    return { patch: patchFor(input.object, values), warnings };
  }
  return none;
}
