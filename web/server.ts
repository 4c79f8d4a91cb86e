import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import { KubeClient } from '../lib/kube/client.js';
import { createLogger, type Logger } from '../lib/log.js';
import { bundle as bundleAssets } from './assets/bundler.js';
import { renderPage } from './assets/html.js';
import { registerAssetRoutes } from './assets/routes.js';
import type { Face, FaceContext, FacePrefixes } from './face.js';
import { FACES } from './faces.js';
import { clientAddress, parseTrustedProxies } from './http/client-address.js';
import { installErrorHandlers } from './http/errors.js';
import { registerHealthRoutes } from './http/health.js';
import { registerStrictJsonParser } from './http/json-body.js';
import { HttpMetrics } from './http/metrics.js';
import { registerSameOriginGuard, registerSecurityHeaders } from './http/security.js';
import { SessionStore } from './http/sessions.js';

export interface RateLimit {
  max: number;
  timeWindowMs: number;
}

export interface WebServerOptions {
  host?: string;
  port?: number;
  /** Release namespace (controller objects). Default `blockhost`. */
  namespace?: string;
  /** Kubernetes client; default from `kubeconfig`, else KUBECONFIG / in-cluster. */
  kube?: KubeClient;
  kubeconfig?: string;
  adminPrefix?: string;
  wizardPrefix?: string;
  /**
   * Addresses/CIDRs of the proxies (the ingress controller's pods) whose X-Forwarded-For/-Proto/-Host
   * are believed: the rate limits key on the right-most hop outside them, and https is believed
   * only from them. Empty by default (no proxy). There is no "trust everyone": a client could then
   * pick its own address and rate-limit bucket.
   */
  trustProxy?: readonly string[];
  /** Largest request body in bytes (default 64 KiB); larger ones get 413. */
  bodyLimit?: number;
  /** Per client address, every route (default 300 a minute). */
  rateLimit?: RateLimit;
  /** Per client address, login routes (default 10 a minute). */
  loginRateLimit?: RateLimit;
  /** Clock for sessions and codes (ms since the epoch); tests inject one. */
  now?: () => number;
  log?: Logger;
  /** Default: web/faces.ts. */
  faces?: readonly Face[];
  /** Node process metrics on /metrics (off in tests that start many servers). */
  processMetrics?: boolean;
}

export interface WebServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Mount point without a trailing slash ('' for `/`); must start with `/`. */
export function normalizePrefix(prefix: string): string {
  if (!/^\/[A-Za-z0-9/_-]*$/.test(prefix) || prefix.includes('//'))
    throw new Error(
      `invalid path prefix ${JSON.stringify(prefix)}: use letters, digits, "-", "_" and single "/"`,
    );
  return prefix.replace(/\/+$/, '');
}

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics', '/assets/:file']);

/** The fastify app with every face registered, not yet listening (tests may use `inject`). */
export async function createWebApp(options: WebServerOptions = {}): Promise<FastifyInstance> {
  const log = options.log ?? createLogger('web');
  const kube =
    options.kube ?? (options.kubeconfig ? KubeClient.fromFile(options.kubeconfig) : KubeClient.fromDefault());
  const faces = options.faces ?? FACES;
  const prefixes: FacePrefixes = {
    admin: normalizePrefix(options.adminPrefix ?? '/admin'),
    wizard: normalizePrefix(options.wizardPrefix ?? '/setup'),
  };
  const now = options.now ?? Date.now;
  const global = options.rateLimit ?? { max: 300, timeWindowMs: 60_000 };
  const login = options.loginRateLimit ?? { max: 10, timeWindowMs: 60_000 };
  const trust = parseTrustedProxies(options.trustProxy ?? []);
  const clientOf = (request: FastifyRequest) =>
    clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], trust);

  const entries: Record<string, string> = {};
  for (const face of faces)
    for (const [name, path] of Object.entries(face.entries)) {
      if (entries[name]) throw new Error(`browser entry ${name} is declared twice`);
      entries[name] = path;
    }
  const bundle = await bundleAssets(entries);

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One line per request from our onResponse hook instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Same rule for request.protocol and request.host (Secure cookies, same-origin guard).
    trustProxy: (address: string) => trust(address),
    routerOptions: { ignoreTrailingSlash: true },
  });
  installErrorHandlers(app);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    const level = route && QUIET_ROUTES.has(route) && reply.statusCode < 400 ? 'debug' : 'info';
    request.log[level](
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        client: clientOf(request),
      },
      'request',
    );
  });
  const metrics = new HttpMetrics({ processMetrics: options.processMetrics ?? true });
  metrics.install(app);

  const connectSources: (() => readonly string[])[] = [];
  await registerSecurityHeaders(app, () => connectSources.flatMap((source) => source()));
  registerSameOriginGuard(app);
  registerStrictJsonParser(app);
  await app.register(cookie);
  // Keyed on the real client, not the ingress pod every request arrives from (login routes too).
  await app.register(rateLimit, {
    global: true,
    max: global.max,
    timeWindow: global.timeWindowMs,
    keyGenerator: clientOf,
  });

  registerHealthRoutes(app, kube, metrics.registry);
  registerAssetRoutes(app, bundle);

  for (const face of faces) {
    const prefix = normalizePrefix(face.prefix(prefixes));
    const context: FaceContext = {
      prefix,
      prefixes,
      kube,
      namespace: options.namespace ?? 'blockhost',
      log: log.child({ face: face.name }),
      bundle,
      now,
      loginRateLimit: { max: login.max, timeWindow: login.timeWindowMs },
      sendPage: (reply, page) =>
        reply
          .type('text/html; charset=utf-8')
          .send(renderPage(bundle, { ...page, meta: { prefix, ...page.meta } })),
      sessions: (sessionOptions) => new SessionStore({ ...sessionOptions, path: prefix || '/', now }),
      allowConnectSources: (sources) => connectSources.push(sources),
    };
    await app.register((scoped) => face.register(scoped, context), { prefix });
  }
  return app;
}

/** Starts the web server; `url` is where it listens (port 0 picks a free one). */
export async function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const app = await createWebApp(options);
  const address = await app.listen({ host: options.host ?? '0.0.0.0', port: options.port ?? 8080 });
  const url = new URL(address);
  // Listening on every address: hand out loopback, which the caller can always reach.
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
  return { url: url.origin, app, close: () => app.close() };
}
