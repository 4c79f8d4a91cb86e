/** RFC 6902 operation; mutation only ever adds or replaces values. */
export interface JsonPatchOperation {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

/** A value a mutation sets at `path` (object keys from the root, e.g. ['spec', 'backend']). */
export interface Defaulted {
  path: readonly string[];
  value: unknown;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * JSON patch that sets each value on `object`, adding missing parent objects first (a patch that
 * adds `/spec/backend` to an object without `spec` would fail in the apiserver).
 */
export function patchFor(object: unknown, values: readonly Defaulted[]): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  const created = new Set<string>();
  for (const { path, value } of values) {
    let node: unknown = object;
    for (let depth = 0; depth < path.length; depth += 1) {
      const pointer =
        '/' +
        path
          .slice(0, depth + 1)
          .map(escape)
          .join('/');
      const isLeaf = depth === path.length - 1;
      const container = node as Record<string, unknown> | undefined;
      const exists = created.has(pointer) || (container !== undefined && path[depth]! in container);
      if (isLeaf) {
        ops.push({ op: exists ? 'replace' : 'add', path: pointer, value });
      } else if (!exists) {
        ops.push({ op: 'add', path: pointer, value: {} });
        created.add(pointer);
      }
      node = container?.[path[depth]!];
    }
  }
  return ops;
}
