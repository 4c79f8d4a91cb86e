// The web server foundation over HTTP (fastify inject against a real kube-apiserver): limits,
// validation, JSON errors, security headers, sessions, CSRF, rate limits, health and metrics.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KubeClient } from '../../../lib/kube/client.js';
import { createLogger } from '../../../lib/log.js';
import type { Face } from '../../../web/face.js';
import { FACES } from '../../../web/faces.js';
import { CSRF_HEADER } from '../../../web/http/sessions.js';
import { validate } from '../../../web/http/validation.js';
import { createWebApp, type WebServerOptions } from '../../../web/server.js';
import { freePort } from '../../harness/processes.js';
import { testClient } from '../../harness/kube.js';

const IDLE_MS = 10 * 60_000;
const ABSOLUTE_MS = 60 * 60_000;
const HOST = 'blockhost.test';

/** A face made only of foundation parts: a JSON login, a session page and a session action. */
const testFace: Face = {
  name: 'test',
  prefix: () => '/t',
  entries: {},
  async register(app, context) {
    const sessions = context.sessions<{ user: string }>({
      cookieName: 'bh_test',
      absoluteTtlMs: ABSOLUTE_MS,
      idleTtlMs: IDLE_MS,
    });
    const login = z.object({
      user: z.string().min(1, 'enter a user name').max(20),
      items: z
        .array(z.object({ n: z.int().min(0, 'must not be negative') }))
        .max(3)
        .optional(),
    });
    app.post('/login', { config: { rateLimit: context.loginRateLimit } }, async (request, reply) => {
      const { user } = validate(login, request.body);
      return { csrfToken: sessions.create(request, reply, { user }).csrfToken };
    });
    app.get('/me', { preHandler: sessions.requireSession }, async (request) => ({
      user: sessions.sessionOf(request).data.user,
    }));
    app.post('/action', { preHandler: sessions.requireSession }, async () => ({ done: true }));
    app.post('/logout', { preHandler: sessions.requireSession }, async (request, reply) => {
      sessions.destroy(request, reply);
      return { done: true };
    });
    app.get('/boom', async () => {
      throw new Error('secret internal detail');
    });
  },
};

let now = Date.parse('2026-01-01T00:00:00Z');
const apps: FastifyInstance[] = [];
async function app(options: WebServerOptions = {}): Promise<FastifyInstance> {
  const created = await createWebApp({
    kube: testClient(),
    faces: [...FACES, testFace],
    now: () => now,
    processMetrics: false,
    // /boom's error is logged by design: only fatal lines, so a green run stays quiet.
    log: createLogger('web', { level: 'fatal' }),
    // The limits have their own test; the others sign in more often than a person would.
    loginRateLimit: { max: 1000, timeWindowMs: 60_000 },
    ...options,
  });
  apps.push(created);
  return created;
}

const json = (body: unknown) => ({
  headers: { host: HOST, 'content-type': 'application/json' },
  payload: JSON.stringify(body),
});

/** Logs in as `user`; returns the cookie header and the CSRF token. */
async function signIn(server: FastifyInstance, user = 'alice') {
  const response = await server.inject({ method: 'POST', url: '/t/login', ...json({ user }) });
  expect(response.statusCode).toBe(200);
  const cookie = response.cookies.find((c) => c.name === 'bh_test');
  expect(cookie).toBeDefined();
  return { cookie: `bh_test=${cookie!.value}`, csrf: (response.json() as { csrfToken: string }).csrfToken };
}

let server: FastifyInstance;
beforeAll(async () => {
  server = await app();
}, 120_000);
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

describe('limits and errors', () => {
  it('answers an oversized body with 413 and a JSON error', async () => {
    const response = await server.inject({
      method: 'POST',
      url: '/t/login',
      ...json({ user: 'a', padding: 'x'.repeat(65 * 1024) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ error: expect.stringMatching(/too large/i) });
  });

  it('answers malformed JSON with 400', async () => {
    const response = await server.inject({
      method: 'POST',
      url: '/t/login',
      headers: { host: HOST, 'content-type': 'application/json' },
      payload: '{"user": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: expect.any(String) });
  });

  it('refuses JSON that is not valid UTF-8 with 400 (never a handler seeing U+FFFD)', async () => {
    const response = await server.inject({
      method: 'POST',
      url: '/t/login',
      headers: { host: HOST, 'content-type': 'application/json' },
      payload: Buffer.concat([Buffer.from('{"user":"'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('"}')]),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'the request body is not valid UTF-8' });
    // Prototype-poisoning keys are still refused by fastify's parser underneath.
    const poisoned = await server.inject({
      method: 'POST',
      url: '/t/login',
      ...json({}),
      payload: '{"__proto__":{"x":1},"user":"a"}',
    });
    expect(poisoned.statusCode).toBe(400);
  });

  it('accepts only JSON bodies (a cross-site form or text/plain post gets 415)', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const response = await server.inject({
        method: 'POST',
        url: '/t/login',
        headers: { host: HOST, 'content-type': type },
        payload: 'user=alice',
      });
      expect(response.statusCode).toBe(415);
    }
  });

  it('names every invalid field by its path', async () => {
    const response = await server.inject({
      method: 'POST',
      url: '/t/login',
      ...json({ user: '', items: [{ n: 1 }, { n: -1 }] }),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: 'invalid request body: 2 fields to fix',
      fields: { user: 'enter a user name', 'items.1.n': 'must not be negative' },
    });
    const missing = await server.inject({ method: 'POST', url: '/t/login', ...json([]) });
    expect(missing.statusCode).toBe(400);
    expect((missing.json() as { fields: Record<string, string> }).fields).toHaveProperty('');
  });

  it('validate() returns the parsed value and reports the request part', () => {
    const schema = z.object({ id: z.string().regex(/^[0-9]+$/) });
    expect(validate(schema, { id: '12' }, 'params')).toEqual({ id: '12' });
    expect(() => validate(schema, { id: 'x' }, 'params')).toThrow('invalid request params: 1 field to fix');
  });

  it('hides internal errors behind a generic 500', async () => {
    const response = await server.inject({ url: '/t/boom', headers: { host: HOST } });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: 'internal error' });
    expect(response.body).not.toContain('secret');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await server.inject({ url: '/nothing/here?x=1', headers: { host: HOST } });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'no route for GET /nothing/here' });
  });
});

describe('security headers', () => {
  it('sends a strict CSP and the other hardening headers on pages and APIs', async () => {
    for (const url of ['/', '/t/me', '/healthz']) {
      const { headers } = await server.inject({ url, headers: { host: HOST } });
      const csp = String(headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['referrer-policy']).toBe('no-referrer');
      expect(headers['x-frame-options']).toBe('DENY');
    }
  });

  it('serves pages with no inline script and hashed, long-cached bundles', async () => {
    const page = await server.inject({ url: '/', headers: { host: HOST } });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const assets = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual([
      expect.stringMatching(/^\/assets\/styles-[A-Z0-9]+\.css$/),
      expect.stringMatching(/^\/assets\/signup-[A-Z0-9]+\.js$/),
    ]);
    for (const url of assets) {
      const asset = await server.inject({ url, headers: { host: HOST } });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-type']).toMatch(url.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      const again = await server.inject({
        url,
        headers: { host: HOST, 'if-none-match': asset.headers.etag! },
      });
      expect(again.statusCode).toBe(304);
    }
    expect((await server.inject({ url: '/assets/nope-123.js', headers: { host: HOST } })).statusCode).toBe(
      404,
    );
    expect((await server.inject({ url: '/assets/..%2Fserver.ts', headers: { host: HOST } })).statusCode).toBe(
      400,
    );
  });
});

describe('sessions and CSRF', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie scoped to the face, Secure only on https', async () => {
    const plain = await server.inject({ method: 'POST', url: '/t/login', ...json({ user: 'alice' }) });
    const cookie = plain.cookies.find((c) => c.name === 'bh_test')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/t' });
    expect(cookie.secure).toBeUndefined();
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // A client's claim of https counts only from a trusted proxy.
    const spoofed = await server.inject({
      method: 'POST',
      url: '/t/login',
      ...json({ user: 'alice' }),
      headers: { host: HOST, 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
    });
    expect(spoofed.cookies.find((c) => c.name === 'bh_test')!.secure).toBeUndefined();
    const proxied = await (
      await app({ trustProxy: ['127.0.0.1'] })
    ).inject({
      method: 'POST',
      url: '/t/login',
      payload: JSON.stringify({ user: 'alice' }),
      headers: { host: HOST, 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
    });
    expect(proxied.cookies.find((c) => c.name === 'bh_test')!.secure).toBe(true);
  });

  it('requires a session, and the session CSRF token on state-changing requests', async () => {
    const { cookie, csrf } = await signIn(server);
    const post = (headers: Record<string, string>) =>
      server.inject({ method: 'POST', url: '/t/action', headers: { host: HOST, ...headers } });

    expect((await server.inject({ url: '/t/me', headers: { host: HOST } })).statusCode).toBe(401);
    expect((await post({ [CSRF_HEADER]: csrf })).statusCode).toBe(401);
    const missing = await post({ cookie });
    expect(missing.statusCode).toBe(403);
    expect(missing.json()).toEqual({ error: `missing or wrong ${CSRF_HEADER} header` });
    // One character off (the token is random: pick a last character it does not have).
    const altered = `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`;
    expect((await post({ cookie, [CSRF_HEADER]: altered })).statusCode).toBe(403);
    expect((await post({ cookie, [CSRF_HEADER]: 'short' })).statusCode).toBe(403);
    // Another session's token is no good either.
    const other = await signIn(server, 'bob');
    expect((await post({ cookie, [CSRF_HEADER]: other.csrf })).statusCode).toBe(403);

    const ok = await post({ cookie, [CSRF_HEADER]: csrf });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ done: true });
    const me = await server.inject({ url: '/t/me', headers: { host: HOST, cookie } });
    expect(me.json()).toEqual({ user: 'alice' });
  });

  it('refuses cross-origin and cross-site posts before any session exists (login CSRF)', async () => {
    const login = (headers: Record<string, string>) =>
      server.inject({
        method: 'POST',
        url: '/t/login',
        payload: JSON.stringify({ user: 'mallory' }),
        headers: { host: HOST, 'content-type': 'application/json', ...headers },
      });
    expect((await login({ origin: 'https://evil.example' })).statusCode).toBe(403);
    expect((await login({ origin: `https://${HOST}` })).statusCode).toBe(403);
    expect((await login({ 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    expect((await login({ 'sec-fetch-site': 'same-site' })).statusCode).toBe(403);
    expect((await login({ origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
  });

  it('ends a session after the idle timeout, and after the absolute lifetime however active', async () => {
    const { cookie } = await signIn(server);
    const me = () => server.inject({ url: '/t/me', headers: { host: HOST, cookie } });
    now += IDLE_MS - 1000;
    expect((await me()).statusCode).toBe(200);
    now += IDLE_MS - 1000;
    expect((await me()).statusCode).toBe(200);
    now += IDLE_MS;
    expect((await me()).statusCode).toBe(401);

    const active = await signIn(server);
    const started = now;
    while (now - started < ABSOLUTE_MS - IDLE_MS / 2) {
      now += IDLE_MS / 2;
      const response = await server.inject({ url: '/t/me', headers: { host: HOST, cookie: active.cookie } });
      expect(response.statusCode).toBe(200);
    }
    now += IDLE_MS / 2;
    const expired = await server.inject({ url: '/t/me', headers: { host: HOST, cookie: active.cookie } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json()).toEqual({ error: 'not signed in, or the session has expired' });
  });

  it('logout ends the session on the server, not only the cookie', async () => {
    const { cookie, csrf } = await signIn(server);
    const out = await server.inject({
      method: 'POST',
      url: '/t/logout',
      headers: { host: HOST, cookie, [CSRF_HEADER]: csrf },
    });
    expect(out.statusCode).toBe(200);
    expect(out.cookies.find((c) => c.name === 'bh_test')?.value).toBe('');
    expect((await server.inject({ url: '/t/me', headers: { host: HOST, cookie } })).statusCode).toBe(401);
  });
});

describe('rate limits', () => {
  it('limits every route per client, and logins more strictly', async () => {
    const limited = await app({
      rateLimit: { max: 6, timeWindowMs: 60_000 },
      loginRateLimit: { max: 2, timeWindowMs: 60_000 },
    });
    const login = () => limited.inject({ method: 'POST', url: '/t/login', ...json({ user: 'a' }) });
    expect((await login()).statusCode).toBe(200);
    expect((await login()).statusCode).toBe(200);
    const third = await login();
    expect(third.statusCode).toBe(429);
    expect(third.json()).toEqual({ error: expect.stringMatching(/rate limit/i) });
    expect(third.headers['retry-after']).toBeDefined();

    const other = () => limited.inject({ url: '/t/me', headers: { host: HOST } });
    const statuses = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await other()).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
    // Probes are never limited: kubelet must always get through.
    expect((await limited.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('health and metrics', () => {
  it('is healthy, and ready while the Kubernetes API answers', async () => {
    expect((await server.inject({ url: '/healthz' })).body).toBe('ok');
    const ready = await server.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);

    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'gone', server: `https://127.0.0.1:${await freePort()}`, skipTLSVerify: true }],
      users: [{ name: 'nobody', token: 'x' }],
      contexts: [{ name: 'gone', cluster: 'gone', user: 'nobody' }],
      currentContext: 'gone',
    });
    const unreachable = await app({ kube: new KubeClient(config) });
    const notReady = await unreachable.inject({ url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.body).toBe('Kubernetes API unreachable');
  });

  it('counts requests by route template and status', async () => {
    await server.inject({ url: '/healthz' });
    await server.inject({ url: '/assets/missing-1.js' });
    const metrics = (await server.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /blockhost_web_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /blockhost_web_requests_total\{method="GET",route="\/assets\/:file",status="404"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /blockhost_web_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/healthz"/,
    );
  });
});
