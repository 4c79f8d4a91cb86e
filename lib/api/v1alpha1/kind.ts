import { z } from 'zod';
import { toValidation, withCel, type CelRule, type CelValidation } from '../cel.js';

export const GROUP = 'blockhost.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * The slice of ObjectMeta our code reads. Loose, so objects read from the apiserver keep every
 * other field (uid, managedFields, ...) through a parse.
 */
export const objectMeta = z.looseObject({
  name: z.string().max(253).optional(),
  namespace: z.string().max(63).optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof objectMeta>;

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 0 shows in `kubectl get`, 1 only in `-o wide`. */
  priority?: 0 | 1;
}

/** kubectl shows Age by default only when a CRD has no columns of its own, so every kind adds it. */
const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

/** Everything about a kind that is not its schema: names, scope, columns and object-level rules. */
export interface KindNames<K extends string> {
  kind: K;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  /** Top-level description, shown by `kubectl explain <kind>`. */
  description: string;
  printerColumns: PrinterColumn[];
}

/** What crds/generate.ts needs to render one CustomResourceDefinition. */
export interface CrdDefinition extends KindNames<string> {
  categories: string[];
  spec: z.ZodType;
  status: z.ZodType;
  /** Rules on the whole object (the apiserver lets them read metadata.name). */
  rules: readonly CelValidation[];
}

/**
 * Builds the full object schema of a kind and its CRD description from one set of inputs, so the
 * zod schema and the CRD cannot disagree on names or object-level rules.
 */
export function defineKind<K extends string, Spec extends z.ZodType, Status extends z.ZodType>(
  names: KindNames<K>,
  spec: Spec,
  status: Status,
  rules: readonly CelRule<{ metadata: ObjectMeta; spec: z.output<Spec> }>[] = [],
) {
  const object = z
    .object({
      apiVersion: z.literal(API_VERSION),
      kind: z.literal(names.kind),
      metadata: objectMeta,
      spec,
      status: status.optional(),
    })
    .describe(names.description);
  // The object's output has metadata and spec; TypeScript cannot see that through zod's mapped
  // types while Spec is still a type parameter.
  const schema = withCel(object, rules as readonly CelRule<z.output<typeof object>>[]);
  const crd: CrdDefinition = {
    ...names,
    printerColumns: [...names.printerColumns, ageColumn],
    categories: ['blockhost'],
    spec,
    status,
    rules: rules.map(toValidation),
  };
  return { schema, crd };
}
