import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RateLimitOptions } from '@fastify/rate-limit';
import type { KubeClient } from '../lib/kube/client.js';
import type { Logger } from '../lib/log.js';
import type { Bundle } from './assets/bundler.js';
import type { PageOptions } from './assets/html.js';
import type { SessionOptions, SessionStore } from './http/sessions.js';

/** Where the faces are mounted, as the server was started. */
export interface FacePrefixes {
  /** Admin dashboard, default `/admin`. */
  admin: string;
  /** Setup wizard, default `/setup`. */
  wizard: string;
}

/** What the server hands each face when it registers it. */
export interface FaceContext {
  /** The face's mount point without a trailing slash (`''` for the signup page at `/`). */
  prefix: string;
  prefixes: FacePrefixes;
  kube: KubeClient;
  /** The release namespace: the controllers' objects and Secrets live here. */
  namespace: string;
  log: Logger;
  bundle: Bundle;
  /** The server's clock (ms); tests inject one. */
  now: () => number;
  /** Route config for login endpoints: `{ config: { rateLimit: context.loginRateLimit } }`. */
  loginRateLimit: RateLimitOptions;
  /**
   * Sends a full HTML page (shared layout, stylesheet, the face's scripts). The face's prefix is
   * always in `<meta name="bh-prefix">`, for facePath() in page scripts.
   */
  sendPage(reply: FastifyReply, page: PageOptions): FastifyReply;
  /** A session store scoped to this face (cookie Path = prefix, the server's clock). */
  sessions<T>(options: Omit<SessionOptions, 'path' | 'now'>): SessionStore<T>;
  /** Origins the face's pages fetch from besides this server (added to CSP connect-src). */
  allowConnectSources(sources: () => readonly string[]): void;
}

/**
 * One face of the web server: a fastify plugin mounted under its prefix plus its browser entry
 * points. Faces are listed in web/faces.ts.
 */
export interface Face {
  name: string;
  /** Mount point (`/` for the signup page). */
  prefix(prefixes: FacePrefixes): string;
  /** Browser entry points: unique name → TypeScript path relative to web/ (`signup/page/main.ts`). */
  entries: Readonly<Record<string, string>>;
  /** Adds the face's routes to `app`, which is already scoped to the prefix. */
  register(app: FastifyInstance, context: FaceContext): Promise<void>;
}
