import type { z } from 'zod';
import { HttpError } from './errors.js';

/** Where a value came from, so the error says which part of the request was wrong. */
export type RequestPart = 'body' | 'query' | 'params' | 'headers';

/**
 * Parses an untrusted value with a zod schema: the parsed (typed, defaulted) value, or a 400
 * HttpError `{ error, fields }` whose keys are the dotted paths of the offending fields
 * (`""` for the value itself). Use it on every body, query and params a route reads.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: RequestPart = 'body',
): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) {
    const path = issue.path.map(String).join('.');
    // The first problem of a field is the one to fix first; later ones are often consequences.
    fields[path] ??= issue.message;
  }
  const count = Object.keys(fields).length;
  throw new HttpError(400, `invalid request ${part}: ${count} field${count === 1 ? '' : 's'} to fix`, fields);
}
