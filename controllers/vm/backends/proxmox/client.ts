import { Agent, fetch, type Dispatcher, type FormData } from 'undici';
import { Backoff, sleep } from '../../../../lib/backoff.js';
import type { Logger } from '../../../../lib/log.js';
import { isTransient, PveApiError } from './errors.js';

export interface PveToken {
  /** user@realm!tokenname */
  tokenId: string;
  secret: string;
}

export interface PveClientOptions {
  /** Base URL ending in /api2/json. */
  apiUrl: string;
  token: PveToken;
  /** Accept any certificate (Proxmox ships a self-signed one). */
  insecureSkipTLSVerify: boolean;
  /** PEM CA bundle to trust instead of the system store. */
  ca?: string;
  /** Replaces the connection pool built from the TLS settings (tests). */
  dispatcher?: Dispatcher;
  log: Logger;
  requestTimeoutMs?: number;
  /** Extra attempts after a transient failure (no response, 502/503, unexplained 500). */
  transientRetries?: number;
}

type ParamValue = string | number | boolean | string[] | undefined;
export type PveParams = Record<string, ParamValue>;

interface CallOptions {
  timeoutMs?: number;
  /** Overrides transientRetries, e.g. 0 for a quick probe. */
  retries?: number;
  /** Aborts the request (and any retry) when the controller gives up on the call it serves. */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** PVE takes booleans as 0/1; undefined values are left out. */
function cleanParams(params: PveParams): Record<string, string | number | string[]> {
  const out: Record<string, string | number | string[]> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  }
  return out;
}

function queryString(params: PveParams | undefined): string {
  if (!params) return '';
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(cleanParams(params))) {
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** PVE's message: the JSON body's `message` (newer versions), else the status line; plus parameter errors. */
function errorMessage(statusText: string, body: string): string {
  let parsed: { message?: unknown; errors?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // Not JSON (a proxy's HTML page): the status line is all there is.
  }
  const message = (typeof parsed.message === 'string' && parsed.message.trim()) || statusText.trim();
  const errors =
    parsed.errors && typeof parsed.errors === 'object'
      ? Object.entries(parsed.errors as Record<string, unknown>)
          .map(([param, text]) => `${param}: ${String(text).trim()}`)
          .join('; ')
      : '';
  return [message || 'no message', errors && `(${errors})`].filter(Boolean).join(' ');
}

/**
 * A small client for the PVE HTTP API with an API token: JSON bodies, `{data}` unwrapping, a timeout
 * on every request, and a few retries with backoff for transient faults. Callers build paths with
 * encodeURIComponent for every variable part.
 */
export class PveClient {
  private readonly baseUrl: string;
  private readonly authorization: string;
  private readonly dispatcher: Dispatcher;
  /** Only a pool this client built is closed by it. */
  private readonly ownedAgent?: Agent;
  private readonly requestTimeoutMs: number;
  private readonly transientRetries: number;

  constructor(private readonly options: PveClientOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, '');
    this.authorization = `PVEAPIToken=${options.token.tokenId}=${options.token.secret}`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.transientRetries = options.transientRetries ?? 4;
    if (options.dispatcher) {
      this.dispatcher = options.dispatcher;
    } else {
      this.ownedAgent = new Agent({
        connect: { rejectUnauthorized: !options.insecureSkipTLSVerify, ca: options.ca },
      });
      this.dispatcher = this.ownedAgent;
    }
  }

  get<T>(path: string, query?: PveParams, options?: CallOptions): Promise<T> {
    return this.call<T>('GET', path + queryString(query), undefined, options);
  }

  post<T>(path: string, body: PveParams = {}, options?: CallOptions): Promise<T> {
    return this.call<T>('POST', path, JSON.stringify(cleanParams(body)), options);
  }

  put<T>(path: string, body: PveParams = {}, options?: CallOptions): Promise<T> {
    return this.call<T>('PUT', path, JSON.stringify(cleanParams(body)), options);
  }

  delete<T>(path: string, query?: PveParams, options?: CallOptions): Promise<T> {
    return this.call<T>('DELETE', path + queryString(query), undefined, options);
  }

  /** multipart/form-data POST, for file uploads. */
  upload<T>(path: string, form: FormData, options?: CallOptions): Promise<T> {
    return this.call<T>('POST', path, form, options);
  }

  async close(): Promise<void> {
    await this.ownedAgent?.close();
  }

  private async call<T>(
    method: string,
    path: string,
    body: string | FormData | undefined,
    options: CallOptions = {},
  ): Promise<T> {
    const backoff = new Backoff(200, 3000);
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.once<T>(
          method,
          path,
          body,
          options.timeoutMs ?? this.requestTimeoutMs,
          options.signal,
        );
      } catch (error) {
        // An abandoned call is not a transient failure: nothing more is sent.
        options.signal?.throwIfAborted();
        if (!isTransient(error) || attempt >= (options.retries ?? this.transientRetries)) throw error;
        const delayMs = backoff.next();
        this.options.log.warn(
          { method, path, attempt: attempt + 1, delayMs, err: (error as Error).message },
          'transient Proxmox API failure, retrying',
        );
        await sleep(delayMs, options.signal);
        options.signal?.throwIfAborted();
      }
    }
  }

  private async once<T>(
    method: string,
    path: string,
    body: string | FormData | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: this.authorization, accept: 'application/json' };
    if (typeof body === 'string') headers['content-type'] = 'application/json';
    let response;
    let text;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body,
        dispatcher: this.dispatcher,
        signal: signal
          ? AbortSignal.any([AbortSignal.timeout(timeoutMs), signal])
          : AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const reason =
        error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : '';
      throw new PveApiError(method, path, 0, reason || String(error), { cause: error });
    }
    if (!response.ok)
      throw new PveApiError(method, path, response.status, errorMessage(response.statusText, text));
    this.options.log.debug({ method, path, status: response.status }, 'Proxmox API call');
    return (JSON.parse(text) as { data: T }).data;
  }
}
