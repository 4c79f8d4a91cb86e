import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Security headers (helmet) with a strict CSP: scripts and styles only from this origin as files
 * (no inline code anywhere), no framing, no plugins. `connectSources` adds origins pages may
 * fetch from besides this one (the chain's RPC endpoints); it is read per response.
 */
export async function registerSecurityHeaders(
  app: FastifyInstance,
  connectSources: () => readonly string[],
): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: [() => [...new Set(["'self'", ...connectSources()])].join(' ')],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** `scheme://host[:port]` of a URL, for connect-src; undefined for anything unparsable. */
export function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Cross-site request forgery defence that needs no session (login forms included):
 * - bodies must be JSON (the text/plain parser is removed, so cross-site forms and no-cors fetches
 *   get 415: a browser sends JSON cross-site only after a CORS preflight we never answer);
 * - a POST/PUT/PATCH/DELETE whose Origin is another origin, or whose Sec-Fetch-Site says
 *   cross-site/same-site, is refused with 403. Clients that send neither header (curl, probes)
 *   carry no ambient browser cookies, so they cannot be forged.
 * Sessions add a per-session token on top (SessionStore.requireSession).
 */
export function registerSameOriginGuard(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (request) => {
    if (!UNSAFE_METHODS.has(request.method)) return;
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (origin !== ownOrigin(request)) throw new HttpError(403, 'cross-origin request refused');
      return;
    }
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      throw new HttpError(403, 'cross-site request refused');
  });
}

/** The origin the browser used to reach us (the proxy's, when X-Forwarded-* is trusted). */
function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}
