import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { Registry } from 'prom-client';

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** `/healthz` (process alive), `/readyz` (caches synced) and Prometheus `/metrics` on one port. */
export async function startHealthServer(
  { port, host = '0.0.0.0' }: { port: number; host?: string },
  ready: () => boolean,
  registry: Registry,
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    } else if (path === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'caches not synced');
    } else if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
        .catch((error: unknown) => res.writeHead(500).end(String(error)));
    } else {
      res.writeHead(404).end('not found');
    }
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
