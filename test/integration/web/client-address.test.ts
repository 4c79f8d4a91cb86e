// Rate limits behind the ingress: the client is the right-most X-Forwarded-For hop outside the
// trusted proxies (table of the pure rule), and over real HTTP two clients behind the same trusted
// proxy get their own login bucket, while an untrusted peer's X-Forwarded-For is ignored.
import { afterAll, describe, expect, it } from '@jest/globals';
import type { Face } from '../../../web/face.js';
import { clientAddress, parseTrustedProxies, UNKNOWN_CLIENT } from '../../../web/http/client-address.js';
import { startWebServer, type WebServer } from '../../../web/server.js';
import { createLogger } from '../../../lib/log.js';
import { testClient } from '../../harness/kube.js';

describe('clientAddress (pure)', () => {
  const k3s = parseTrustedProxies(['10.42.0.0/16', 'fd00:42::/56']);
  const cases: [string, string | undefined, string | string[] | undefined, string][] = [
    ['untrusted peer, no header', '203.0.113.9', undefined, '203.0.113.9'],
    ['untrusted peer: its X-Forwarded-For is ignored', '203.0.113.9', '198.51.100.1', '203.0.113.9'],
    ['trusted peer without header is the client', '10.42.0.7', undefined, '10.42.0.7'],
    ['through Traefik: the hop it appended', '10.42.0.7', '198.51.100.1', '198.51.100.1'],
    ['a spoofed left part is skipped', '10.42.0.7', '6.6.6.6, 198.51.100.1', '198.51.100.1'],
    [
      'two trusted hops: the right-most untrusted',
      '10.42.0.7',
      '6.6.6.6, 198.51.100.1, 10.42.1.3',
      '198.51.100.1',
    ],
    ['several headers count as one list', '10.42.0.7', ['6.6.6.6', '198.51.100.2'], '198.51.100.2'],
    ['IPv4-mapped peer is its IPv4', '::ffff:10.42.0.7', '198.51.100.1', '198.51.100.1'],
    ['IPv6 proxy range', 'fd00:42::5', '2001:db8::1', '2001:db8::1'],
    ['all hops trusted: the left-most', '10.42.0.7', '10.42.3.3, 10.42.2.2', '10.42.3.3'],
    ['malformed hop stops at the proxy that passed it', '10.42.0.7', 'evil, not-an-ip', '10.42.0.7'],
    ['empty entries are skipped', '10.42.0.7', ' , 198.51.100.1 ,', '198.51.100.1'],
    ['no peer (socket gone)', undefined, '198.51.100.1', UNKNOWN_CLIENT],
  ];
  it.each(cases)('%s', (_name, peer, header, expected) => {
    expect(clientAddress(peer, header, k3s)).toBe(expected);
  });

  it('trusts nobody with an empty list', () => {
    expect(clientAddress('10.42.0.7', '198.51.100.1', parseTrustedProxies([]))).toBe('10.42.0.7');
  });

  it('refuses entries that are not addresses or CIDRs, naming them', () => {
    for (const bad of ['true', '10.42.0.0/33', '10.42.0.0/16/2', 'fd00::/129', 'example.com', '10.42.0.0/x'])
      expect(() => parseTrustedProxies([bad])).toThrow(`trusted proxy ${JSON.stringify(bad)}`);
    expect(parseTrustedProxies([' 192.0.2.1 '])('192.0.2.1')).toBe(true);
  });
});

describe('login rate limit over HTTP', () => {
  const loginFace: Face = {
    name: 'login-probe',
    prefix: () => '/t',
    entries: {},
    async register(app, context) {
      app.post('/login', { config: { rateLimit: context.loginRateLimit } }, async () => ({ ok: true }));
    },
  };
  const servers: WebServer[] = [];
  const start = async (trustProxy: string[]) => {
    const server = await startWebServer({
      host: '127.0.0.1',
      port: 0,
      kube: testClient(),
      faces: [loginFace],
      trustProxy,
      processMetrics: false,
      log: createLogger('web', { level: 'fatal' }),
      loginRateLimit: { max: 3, timeWindowMs: 60_000 },
    });
    servers.push(server);
    return server;
  };
  const login = async (server: WebServer, forwardedFor: string) => {
    const response = await fetch(`${server.url}/t/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: '{}',
    });
    return response.status;
  };

  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  it('gives each client behind a trusted proxy its own bucket', async () => {
    // The test process is the "ingress pod": loopback is the trusted proxy.
    const server = await start(['127.0.0.0/8']);
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await login(server, `6.6.6.${i}, 198.51.100.1`));
    expect(first).toEqual([200, 200, 200, 429]);
    // Another client through the same proxy is not locked out by the first one.
    expect(await login(server, '198.51.100.2')).toBe(200);
  });

  it('ignores X-Forwarded-For from an untrusted peer: spoofing does not buy new buckets', async () => {
    const server = await start(['10.42.0.0/16']);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await login(server, `198.51.100.${i + 10}`));
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});
