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

/** The JSON patch that fills in the defaults `object` takes from other objects (empty for most kinds). */
export async function mutateAdmission(input: MutationInput, lookups: Lookups): Promise<Mutation> {
  const none = { patch: [], warnings: [] };
  if (input.subResource || (input.operation !== 'CREATE' && input.operation !== 'UPDATE')) return none;
  if (input.kind === 'VM') {
    const { values, warnings } = await defaultVm(
      input.object as VMInput,
      input.operation === 'UPDATE' ? (input.oldObject as VM | undefined) : undefined,
      lookups,
    );
    return { patch: patchFor(input.object, values), warnings };
  }
  return none;
}
