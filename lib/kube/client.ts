import { KubeConfig, RequestContext, type HttpMethod } from '@kubernetes/client-node';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fetch, type Dispatcher } from 'undici';
import { sleep } from '../backoff.js';
import { KubeApiError } from './errors.js';
import type { KubeList, KubeObject } from './object.js';
import { apiVersionOf, type ResourceType } from './resource-types.js';

const MAX_THROTTLE_RETRIES = 10;
/** Reads retried after the connection failed under them (a server closing pooled connections). */
const MAX_CONNECTION_RETRIES = 3;

/**
 * The connection failed before an answer came: reset, closed by the server (HTTP/2 GOAWAY, an API
 * server restart or its load shedding of long-lived connections) or refused. A read is safe to send
 * again; a write is not (it may have been applied), so only GETs are retried, as client-go does.
 */
export function isConnectionFailure(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return (
    error instanceof TypeError &&
    typeof cause?.code === 'string' &&
    ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(cause.code)
  );
}

export type PatchType = 'merge' | 'json' | 'apply';

const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  namespace?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  labelSelector?: string;
  /** Abort the watch when no byte (event or bookmark) arrives for this long: a silently dead connection. */
  inactivityTimeoutMs?: number;
}

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WriteOptions {
  dryRun?: boolean;
  fieldManager?: string;
}

export interface PatchOptions extends WriteOptions {
  subresource?: 'status';
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
}

/**
 * A small generic REST client for any resource type, on top of client-node's KubeConfig (which
 * handles kubeconfig files, in-cluster config and every auth method). It returns plain JSON objects
 * and throws KubeApiError with the server's Status, so controllers can branch on conflicts and 404s.
 */
export class KubeClient {
  /**
   * client-node builds a new undici Agent for every request, so no connection (and no TLS session)
   * is ever reused. The TLS settings do not change during a client's life, so we keep the first
   * Agent and let it pool connections; auth headers are still computed per request (tokens rotate).
   */
  private dispatcher?: Dispatcher;

  constructor(
    readonly kubeConfig: KubeConfig,
    /** Limit for every request except watches; a pooled connection that went dead fails fast. */
    private readonly requestTimeoutMs = 30_000,
  ) {}

  /** KUBECONFIG / ~/.kube/config, or the in-cluster service account. */
  static fromDefault(): KubeClient {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    return new KubeClient(kc);
  }

  static fromFile(path: string): KubeClient {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    return new KubeClient(kc);
  }

  path(
    type: ResourceType,
    { namespace, name, subresource }: { namespace?: string; name?: string; subresource?: string } = {},
  ): string {
    const base = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    const item = name ? `/${encodeURIComponent(name)}` : '';
    return `${base}${ns}/${type.plural}${item}${subresource ? `/${subresource}` : ''}`;
  }

  async get<T extends KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T> {
    return this.request<T>('GET', this.path(type, { name, namespace }));
  }

  async list<T extends KubeObject>(type: ResourceType, options: ListOptions = {}): Promise<KubeList<T>> {
    const { namespace, ...query } = options;
    return this.request<KubeList<T>>('GET', this.path(type, { namespace }), { query });
  }

  async create<T extends KubeObject>(type: ResourceType, object: T, options: WriteOptions = {}): Promise<T> {
    const body = { apiVersion: apiVersionOf(type), kind: type.kind, ...object };
    return this.request<T>('POST', this.path(type, { namespace: object.metadata.namespace }), {
      body,
      query: writeQuery(options),
    });
  }

  /** PUT; the object's resourceVersion makes it a compare-and-swap (409 Conflict when stale). */
  async update<T extends KubeObject>(
    type: ResourceType,
    object: T,
    options: WriteOptions & { subresource?: 'status' } = {},
  ): Promise<T> {
    const { name, namespace } = object.metadata;
    const body = { apiVersion: apiVersionOf(type), kind: type.kind, ...object };
    return this.request<T>('PUT', this.path(type, { name, namespace, subresource: options.subresource }), {
      body,
      query: writeQuery(options),
    });
  }

  async patch<T extends KubeObject>(
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    patchType: PatchType,
    options: PatchOptions = {},
  ): Promise<T> {
    const query: Record<string, string | undefined> = writeQuery(options);
    if (options.force !== undefined) query.force = String(options.force);
    return this.request<T>('PATCH', this.path(type, { name, namespace, subresource: options.subresource }), {
      body: patch,
      contentType: patchContentTypes[patchType],
      query,
    });
  }

  async delete(
    type: ResourceType,
    name: string,
    namespace?: string,
    options: DeleteOptions = {},
  ): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...options };
    await this.request('DELETE', this.path(type, { name, namespace }), { body });
  }

  /**
   * Streams watch events until the server ends the watch, the signal aborts, or the connection goes
   * quiet for longer than `inactivityTimeoutMs` (bookmarks keep a healthy watch talking).
   */
  async *watch<T extends KubeObject>(
    type: ResourceType,
    options: WatchOptions,
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent<T>> {
    const { namespace, inactivityTimeoutMs = 90_000, ...rest } = options;
    // Stopped before the watch began: an abort listener added now would never fire.
    if (signal?.aborted) return;
    const controller = new AbortController();
    const abort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', abort, { once: true });
    let quietTimer: NodeJS.Timeout | undefined;
    let body: Readable | undefined;
    const touch = () => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(
        () => controller.abort(new Error(`watch silent for ${inactivityTimeoutMs} ms`)),
        inactivityTimeoutMs,
      );
    };
    try {
      touch();
      const query = { ...rest, watch: 'true', allowWatchBookmarks: 'true' };
      const response = await this.send('GET', this.path(type, { namespace }), {
        query,
        signal: controller.signal,
        ownConnection: true,
      });
      if (!response.body) throw new Error('watch response has no body');
      body = Readable.fromWeb(response.body as WebReadableStream);
      body.on('data', touch);
      for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
        if (line.trim() === '') continue;
        yield JSON.parse(line) as WatchEvent<T>;
      }
      if (controller.signal.aborted && !signal?.aborted) throw controller.signal.reason;
    } catch (error) {
      if (signal?.aborted) return;
      throw controller.signal.aborted ? controller.signal.reason : error;
    } finally {
      clearTimeout(quietTimer);
      signal?.removeEventListener('abort', abort);
      // Aborting makes the body stream emit an AbortError nobody reads any more; swallow it there.
      body?.on('error', () => undefined).destroy();
      controller.abort();
    }
  }

  async request<T>(
    method: string,
    path: string,
    {
      body,
      query,
      contentType,
    }: { body?: unknown; query?: Record<string, string | number | undefined>; contentType?: string } = {},
  ): Promise<T> {
    const response = await this.send(method, path, {
      body,
      query,
      contentType,
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(
    method: string,
    path: string,
    {
      body,
      query,
      contentType = 'application/json',
      signal,
      ownConnection = false,
    }: {
      body?: unknown;
      query?: Record<string, string | number | undefined>;
      contentType?: string;
      signal?: AbortSignal;
      /** A connection of its own, closed with the request: a watch must not park on (or leave behind) a pooled socket. */
      ownConnection?: boolean;
    },
  ) {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const context = new RequestContext(url.toString(), method as HttpMethod);
    await this.kubeConfig.applySecurityAuthentication(context);
    const headers: Record<string, string> = { ...context.getHeaders(), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = contentType;
    const fresh = context.getDispatcher() as Dispatcher | undefined;
    const dispatcher = ownConnection ? fresh : (this.dispatcher ??= fresh);
    if (ownConnection && fresh)
      signal?.addEventListener('abort', () => void fresh.destroy().catch(() => undefined), { once: true });
    for (let attempt = 1, connectionRetries = 0; ; attempt += 1) {
      let response: Awaited<ReturnType<typeof fetch>>;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher,
          signal,
        });
      } catch (error) {
        const retry =
          method === 'GET' &&
          connectionRetries < MAX_CONNECTION_RETRIES &&
          !signal?.aborted &&
          isConnectionFailure(error);
        if (!retry) throw error;
        connectionRetries += 1;
        await sleep(100 * 2 ** connectionRetries, signal);
        continue;
      }
      if (response.ok) return response;
      // 429 means the server did not process the request (priority and fairness, or a cache still
      // initialising): wait as told and try again, as client-go does.
      if (response.status === 429 && attempt < MAX_THROTTLE_RETRIES && !signal?.aborted) {
        const retryAfter = Number(response.headers.get('retry-after') ?? '1');
        await response.body?.cancel();
        await sleep(Math.min(Number.isFinite(retryAfter) ? retryAfter : 1, 10) * 1000, signal);
        continue;
      }
      throw await toApiError(method, path, response);
    }
  }
}

function writeQuery({ dryRun, fieldManager }: WriteOptions): Record<string, string | undefined> {
  return { dryRun: dryRun ? 'All' : undefined, fieldManager };
}

async function toApiError(
  method: string,
  path: string,
  response: Awaited<ReturnType<typeof fetch>>,
): Promise<KubeApiError> {
  const text = await response.text();
  try {
    const status = JSON.parse(text) as { reason?: string; message?: string; details?: unknown };
    return new KubeApiError(response.status, status.reason ?? '', status.message ?? text, status.details);
  } catch {
    return new KubeApiError(
      response.status,
      '',
      `${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`,
    );
  }
}
