// fetch for page scripts: JSON in and out, the session's CSRF token on every state-changing call,
// and the server's error shape ({ error, fields }) as an ApiError.
import { meta } from './dom.js';

/** Same header name as the server's CSRF_HEADER (web/http/sessions.ts). */
const CSRF_HEADER = 'x-csrf-token';

let csrfToken: string | undefined;

/** After a login the server returns the new session's token; later calls send it. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/**
 * A URL under this page's face: `facePath('/api/login')` is `/admin/api/login` when the admin face
 * is mounted at /admin (the prefix is configurable, so never hard-code it in page scripts).
 */
export function facePath(path: string): string {
  return `${meta('prefix') ?? ''}${path}`;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Field path → message, for showFieldErrors. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
}

/** Calls the server; resolves with the parsed JSON, or throws ApiError with the server's message. */
export async function api<T>(url: string, { method = 'GET', body, signal }: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = csrfToken ?? meta('csrf');
  if (method !== 'GET' && token) headers[CSRF_HEADER] = token;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = parsed as { error?: string; fields?: Record<string, string> } | undefined;
    throw new ApiError(response.status, error?.error ?? `HTTP ${response.status}`, error?.fields ?? {});
  }
  return parsed as T;
}
