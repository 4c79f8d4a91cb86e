import type { z } from 'zod';
import {
  hostConfigSchema,
  planSchema,
  subscriptionSchema,
  vmSchema,
  type HostConfig,
  type Plan,
  type Subscription,
  type VM,
} from '../../lib/api/v1alpha1/index.js';
import { fieldErrorsFromZod, newErrorsOnly, type FieldError } from '../field-errors.js';
import type { Lookups } from '../lookups.js';
import { checkTransitions } from '../transitions.js';
import type { Admission, Findings } from './findings.js';
import { validateHostConfig } from './hostconfig.js';
import { validatePlan } from './plan.js';
import { validateStatusUpdate } from './status.js';
import { validateSubscription } from './subscription.js';
import { validateVm } from './vm.js';

export interface ValidationOptions {
  /** Namespace the chain watcher writes Subscriptions to. */
  releaseNamespace?: string;
}

const schemas: Record<string, z.ZodType> = {
  HostConfig: hostConfigSchema,
  Plan: planSchema,
  Subscription: subscriptionSchema,
  VM: vmSchema,
};

export const validatedKinds = Object.keys(schemas);

function crossObject(
  kind: string,
  admission: Admission<unknown>,
  lookups: Lookups,
  options: ValidationOptions,
): Promise<Findings> {
  switch (kind) {
    case 'HostConfig':
      return validateHostConfig(admission as Admission<HostConfig>, lookups);
    case 'Plan':
      return validatePlan(admission as Admission<Plan>, lookups);
    case 'Subscription':
      return validateSubscription(admission as Admission<Subscription>, lookups, options);
    default:
      return validateVm(admission as Admission<VM>, lookups);
  }
}

export interface ValidationInput {
  kind: string;
  operation: string;
  subResource?: string;
  object: unknown;
  oldObject?: unknown;
}

/**
 * Everything the validating webhook checks, in order: our zod schema (the same rules the CRD
 * carries, so a cluster without CEL still refuses bad objects), the CRD's transition rules, then
 * the checks across objects that no schema can express. Cross-object checks run only on objects
 * the schema accepts.
 */
export async function validateAdmission(
  input: ValidationInput,
  lookups: Lookups,
  options: ValidationOptions = {},
): Promise<Findings> {
  const warnings: string[] = [];
  // Own keys only: a kind named "constructor" must not find Object.prototype's.
  const schema = Object.hasOwn(schemas, input.kind) ? schemas[input.kind] : undefined;
  if (!schema || (input.operation !== 'CREATE' && input.operation !== 'UPDATE'))
    return { errors: [], warnings };
  if (input.subResource === 'status') {
    const errors =
      input.operation === 'UPDATE' ? validateStatusUpdate(input.kind, input.object, input.oldObject) : [];
    return { errors, warnings };
  }
  if (input.subResource) return { errors: [], warnings };

  const parsed = schema.safeParse(input.object);
  let errors: FieldError[] = parsed.success ? [] : fieldErrorsFromZod(parsed.error);
  const isUpdate = input.operation === 'UPDATE' && input.oldObject !== undefined;
  const parsedOld = isUpdate ? schema.safeParse(input.oldObject) : undefined;
  if (parsedOld && !parsedOld.success) errors = newErrorsOnly(errors, fieldErrorsFromZod(parsedOld.error));
  if (isUpdate) errors.push(...checkTransitions(input.kind, input.object, input.oldObject));
  if (errors.length > 0 || !parsed.success) return { errors, warnings };

  const admission: Admission<unknown> = {
    operation: input.operation,
    object: parsed.data,
    // A stored object our schema refuses is judged as if absent: its repair is checked like a new
    // object, and no check has to read fields it may not have.
    ...(parsedOld?.success && { oldObject: parsedOld.data }),
  };
  return crossObject(input.kind, admission, lookups, options);
}
