import { z } from 'zod';

/** A node of a Kubernetes structural OpenAPI v3 schema (the subset our CRDs use). */
export interface StructuralSchema {
  description?: string;
  type: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: unknown[];
}

type JsonSchema = Record<string, unknown>;

const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

/**
 * zod string formats → the Kubernetes format that validates them, and whether zod's own pattern
 * must stay: Kubernetes' ipv4/ipv6/cidr formats accept either family, and its hostname and
 * date-time checks are exact (zod's hostname pattern uses lookahead, which Go's RE2 rejects).
 */
const FORMATS: Record<string, { format: string; keepPattern: boolean }> = {
  ipv4: { format: 'ipv4', keepPattern: true },
  ipv6: { format: 'ipv6', keepPattern: true },
  cidrv4: { format: 'cidr', keepPattern: true },
  cidrv6: { format: 'cidr', keepPattern: true },
  uri: { format: 'uri', keepPattern: true },
  hostname: { format: 'hostname', keepPattern: false },
  'date-time': { format: 'date-time', keepPattern: false },
};

/** Keywords copied as they are, in the order they are written out. */
const SCALAR_KEYWORDS = [
  'enum',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'minItems',
  'maxItems',
  'default',
] as const;
const EXTENSIONS = [
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
] as const;
const HANDLED = new Set<string>([
  'description',
  'type',
  'format',
  'pattern',
  'properties',
  'required',
  'items',
  'additionalProperties',
  ...SCALAR_KEYWORDS,
  ...EXTENSIONS,
]);

/**
 * Converts a zod schema to a structural schema for a CRD. Descriptions come from `.describe()` /
 * `.meta({ description })`, CEL rules from `withCel` (cel.ts), list types from `.meta()`. Throws,
 * naming the path, on anything a CRD cannot express or that lacks a description.
 */
export function toStructuralSchema(schema: z.ZodType): StructuralSchema {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' });
  return convert(json, '<root>', true);
}

function convert(node: JsonSchema, path: string, isField: boolean): StructuralSchema {
  const unknown = Object.keys(node).filter((k) => !HANDLED.has(k) && k !== '$schema');
  if (unknown.length > 0)
    throw new Error(`${path}: cannot express ${unknown.join(', ')} in a structural schema`);
  const { type, description } = node;
  if (typeof type !== 'string' || !TYPES.has(type))
    throw new Error(`${path}: needs a single type, got ${String(type)}`);
  if (isField && typeof description !== 'string')
    throw new Error(`${path}: needs a description (.describe())`);

  const out: Record<string, unknown> = {};
  if (description !== undefined) out.description = description;
  out.type = type;
  let pattern = node.pattern;
  if (node.format !== undefined) {
    const mapped = FORMATS[node.format as string];
    if (!mapped) throw new Error(`${path}: format ${String(node.format)} has no Kubernetes equivalent`);
    out.format = mapped.format;
    if (!mapped.keepPattern) pattern = undefined;
  }
  if (pattern !== undefined) out.pattern = pattern;
  for (const key of SCALAR_KEYWORDS) {
    if (node[key] !== undefined && !isSafeIntegerBound(type, key, node[key])) out[key] = node[key];
  }

  const properties = node.properties as Record<string, JsonSchema> | undefined;
  if (properties) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([name, child]) => [name, convert(child, `${path}.${name}`, true)]),
    );
  }
  if (Array.isArray(node.required) && node.required.length > 0) out.required = node.required;
  if (node.items !== undefined) out.items = convert(node.items as JsonSchema, `${path}[]`, false);
  // `false` is zod's strictness marker and is implied by pruning; a schema means a map.
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
    if (properties) throw new Error(`${path}: properties and additionalProperties cannot be combined`);
    out.additionalProperties = convert(node.additionalProperties as JsonSchema, `${path}{}`, false);
  }
  for (const key of EXTENSIONS) if (node[key] !== undefined) out[key] = node[key];
  const result = out as unknown as StructuralSchema;
  if (isPlainObject(result.default)) result.default = withNestedDefaults(result.default, result);
  return result;
}

/**
 * `.prefault({})` yields `default: {}`, but the apiserver checks CEL rules against a default as
 * written, without applying the defaults inside it; so write those out.
 */
function withNestedDefaults(
  value: Record<string, unknown>,
  schema: StructuralSchema,
): Record<string, unknown> {
  const filled = { ...value };
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (filled[name] === undefined && child.default !== undefined) filled[name] = child.default;
    const current = filled[name];
    if (isPlainObject(current)) filled[name] = withNestedDefaults(current, child);
  }
  return filled;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** z.int() bounds itself to ±(2^53-1); that says nothing a reader needs. */
function isSafeIntegerBound(type: string, key: string, value: unknown): boolean {
  return (
    type === 'integer' &&
    ((key === 'minimum' && value === Number.MIN_SAFE_INTEGER) ||
      (key === 'maximum' && value === Number.MAX_SAFE_INTEGER))
  );
}
