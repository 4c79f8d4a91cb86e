import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { KubeClient } from '../../lib/kube/client.js';

const READY_TIMEOUT_MS = 3_000;

/**
 * `/healthz` (the process answers), `/readyz` (the Kubernetes API answers: every face reads from
 * it) and Prometheus `/metrics`. Probes are exempt from rate limits.
 */
export function registerHealthRoutes(app: FastifyInstance, kube: KubeClient, registry: Registry): void {
  const config = { rateLimit: false } as const;
  app.get('/healthz', { config }, async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', { config }, async (request, reply) => {
    try {
      await Promise.race([
        kube.request('GET', '/version'),
        new Promise((_resolve, reject) =>
          setTimeout(
            () => reject(new Error(`no answer in ${READY_TIMEOUT_MS} ms`)),
            READY_TIMEOUT_MS,
          ).unref(),
        ),
      ]);
      return reply.type('text/plain').send('ok');
    } catch (error) {
      request.log.warn({ err: error }, 'Kubernetes API unreachable');
      return reply.status(503).type('text/plain').send('Kubernetes API unreachable');
    }
  });
  app.get('/metrics', { config }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
