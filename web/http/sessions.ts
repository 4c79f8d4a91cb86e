import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { HttpError } from './errors.js';

/** The header every state-changing request of a session must carry. */
export const CSRF_HEADER = 'x-csrf-token';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface Session<T> {
  readonly id: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  lastSeenAt: number;
  data: T;
}

export interface SessionOptions {
  /** Cookie name, unique per face (e.g. `bh_admin`). */
  cookieName: string;
  /** Cookie Path: the face's prefix, so a face never sees another face's cookie. */
  path: string;
  /** Longest life of a session, however active. */
  absoluteTtlMs: number;
  /** A session unused for this long ends. */
  idleTtlMs: number;
  /** Time source (ms); tests inject one to expire sessions without waiting. */
  now?: () => number;
  /** Upper bound on live sessions, so a flood of logins cannot exhaust memory. */
  maxSessions?: number;
}

const token = () => randomBytes(32).toString('base64url');

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Server-side sessions of one face, in memory. The cookie carries only a random id (HttpOnly,
 * SameSite=Strict, Secure on https, Path = the face's prefix). In memory is enough: the web server
 * runs as one replica, and a restart only logs people out (they sign in again with a wallet
 * signature or the wizard code); nothing a session holds is the only copy of anything.
 */
export class SessionStore<T> {
  private readonly sessions = new Map<string, Session<T>>();
  private readonly now: () => number;

  constructor(readonly options: SessionOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Starts a session (after a successful login) and sets its cookie. */
  create(request: FastifyRequest, reply: FastifyReply, data: T): Session<T> {
    this.sweep();
    const max = this.options.maxSessions ?? 10_000;
    if (this.sessions.size >= max) throw new HttpError(503, 'too many active sessions; try again later');
    // A login replaces any session the browser had: no session fixation.
    this.destroy(request, reply);
    const now = this.now();
    const session: Session<T> = { id: token(), csrfToken: token(), createdAt: now, lastSeenAt: now, data };
    this.sessions.set(session.id, session);
    reply.setCookie(this.options.cookieName, session.id, {
      httpOnly: true,
      secure: request.protocol === 'https',
      sameSite: 'strict',
      path: this.options.path,
      maxAge: Math.floor(this.options.absoluteTtlMs / 1000),
    });
    return session;
  }

  /** The live session of this request, if any; touching it extends its idle deadline. */
  current(request: FastifyRequest): Session<T> | undefined {
    const id = request.cookies[this.options.cookieName];
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = this.now();
    if (this.expired(session, now)) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = now;
    return session;
  }

  /** Ends the request's session (logout) and clears the cookie. */
  destroy(request: FastifyRequest, reply: FastifyReply): void {
    const id = request.cookies[this.options.cookieName];
    if (id) this.sessions.delete(id);
    if (id) reply.clearCookie(this.options.cookieName, { path: this.options.path });
  }

  /**
   * preHandler hook for routes behind a login: 401 without a live session; for POST/PUT/PATCH/DELETE
   * also 403 unless the `x-csrf-token` header equals the session's token. The session is then
   * `request.session` for the handler (see `sessionOf`).
   */
  readonly requireSession: preHandlerAsyncHookHandler = async (request) => {
    const session = this.current(request);
    if (!session) throw new HttpError(401, 'not signed in, or the session has expired');
    if (UNSAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameToken(sent, session.csrfToken))
        throw new HttpError(403, `missing or wrong ${CSRF_HEADER} header`);
    }
    sessions.set(request, session);
  };

  /** The session `requireSession` found for this request (throws if the hook did not run). */
  sessionOf(request: FastifyRequest): Session<T> {
    const session = sessions.get(request);
    if (!session) throw new Error('sessionOf: the route has no requireSession preHandler');
    return session as Session<T>;
  }

  private expired(session: Session<T>, now: number): boolean {
    return (
      now - session.createdAt >= this.options.absoluteTtlMs ||
      now - session.lastSeenAt >= this.options.idleTtlMs
    );
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (this.expired(session, now)) this.sessions.delete(id);
  }
}

/** Sessions found by requireSession, per request (a WeakMap: nothing leaks when requests end). */
const sessions = new WeakMap<FastifyRequest, Session<unknown>>();
