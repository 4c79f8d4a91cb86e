import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { GROUP } from '../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../lib/kube/client.js';
import { createLogger, type Logger } from '../lib/log.js';
import {
  admissionReviewSchema,
  reviewResponse,
  toResponse,
  type AdmissionRequest,
  type AdmissionVerdict,
} from './admission-review.js';
import { formatFieldErrors } from './field-errors.js';
import { kubeLookups } from './lookups.js';
import { WebhookMetrics } from './metrics.js';
import { mutateAdmission } from './mutate/index.js';
import { validateAdmission } from './validate/index.js';

export interface WebhookServerOptions {
  /** Reads the HostConfig, Plans, Subscriptions and VMs that decisions depend on. */
  kube: KubeClient;
  /** PEM serving certificate (with chain) and key; the apiserver only calls webhooks over TLS. */
  tls: { cert: string | Buffer; key: string | Buffer };
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Namespace the chain watcher writes Subscriptions to (a warning names others). */
  releaseNamespace?: string;
  log?: Logger;
  /** An AdmissionReview carries the object twice; the apiserver caps objects at 3 MiB. */
  bodyLimitBytes?: number;
  /** Node.js process metrics on /metrics (off in tests that run several servers). */
  processMetrics?: boolean;
}

export interface WebhookServer {
  /** https://host:port, loopback when bound to every address. */
  url: string;
  metrics: WebhookMetrics;
  close(): Promise<void>;
}

type Webhook = 'mutate' | 'validate';

/**
 * The admission webhook server: `POST /mutate` and `POST /validate` answer AdmissionReview v1 for
 * the four BlockHost kinds; `/healthz`, `/readyz` and Prometheus `/metrics` beside them.
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { kube, host = '0.0.0.0', port = 9443, releaseNamespace } = options;
  const log = options.log ?? createLogger('webhooks');
  const metrics = new WebhookMetrics({ processMetrics: options.processMetrics ?? false });
  let closing = false;

  const app = Fastify({
    https: { cert: options.tls.cert, key: options.tls.key },
    bodyLimit: options.bodyLimitBytes ?? 8 * 1024 * 1024,
    loggerInstance: log,
    // One line per admission from our handler is enough; fastify's own request logs are noise here.
    logController: new LogController({ disableRequestLogging: true }),
  });

  async function decide(webhook: Webhook, request: AdmissionRequest): Promise<AdmissionVerdict> {
    if (request.kind.group !== GROUP) {
      log.warn({ kind: request.kind }, 'admission review for a kind that is not ours: allowed unchanged');
      return { errors: [], warnings: [] };
    }
    const input = {
      kind: request.kind.kind,
      operation: request.operation,
      subResource: request.subResource,
      object: request.object ?? undefined,
      oldObject: request.oldObject ?? undefined,
    };
    const lookups = kubeLookups(kube);
    try {
      if (webhook === 'mutate') {
        const { patch, warnings } = await mutateAdmission(input, lookups);
        return { errors: [], warnings, patch };
      }
      return await validateAdmission(input, lookups, { releaseNamespace });
    } catch (error) {
      log.error({ err: error, uid: request.uid }, 'admission check failed');
      return {
        errors: [],
        warnings: [],
        internalError: `BlockHost admission could not check this ${request.kind.kind}: ${(error as Error).message}`,
      };
    }
  }

  const handle = (webhook: Webhook) => async (req: FastifyRequest, reply: FastifyReply) => {
    const began = process.hrtime.bigint();
    const review = admissionReviewSchema.safeParse(req.body);
    if (!review.success) {
      metrics.malformed.inc({ webhook });
      return reply.code(400).send({
        error: `not an admission.k8s.io/v1 AdmissionReview: ${review.error.issues
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      });
    }
    const { request } = review.data;
    const verdict = await decide(webhook, request);
    const response = toResponse(request, verdict);
    const kind = request.subResource ? `${request.kind.kind}/${request.subResource}` : request.kind.kind;
    const labels = { webhook, kind, operation: request.operation };
    metrics.requests.inc({ ...labels, allowed: String(response.allowed) });
    metrics.duration.observe(labels, Number(process.hrtime.bigint() - began) / 1e9);
    log[response.allowed ? 'debug' : 'info'](
      {
        uid: request.uid,
        ...labels,
        name: request.name,
        namespace: request.namespace,
        user: request.userInfo?.username,
        allowed: response.allowed,
        ...(verdict.errors.length > 0 && { denied: formatFieldErrors(verdict.errors) }),
        ...(verdict.patch?.length && { patch: verdict.patch }),
        ...(response.warnings && { warnings: response.warnings }),
      },
      'admission review',
    );
    return reviewResponse(response);
  };

  app.post('/mutate', handle('mutate'));
  app.post('/validate', handle('validate'));
  app.get('/healthz', async () => 'ok');
  app.get('/readyz', async (_req, reply) => (closing ? reply.code(503).send('shutting down') : 'ok'));
  app.get('/metrics', async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `https://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${boundPort}`;
  log.info({ url }, 'admission webhook server listening');
  return {
    url,
    metrics,
    close: async () => {
      closing = true;
      await app.close();
    },
  };
}
