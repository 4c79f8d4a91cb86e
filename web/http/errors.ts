import type { FastifyError, FastifyInstance } from 'fastify';

/** A failure the client caused or may see: its status and message go to the client as they are. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    /** Per-field messages keyed by the field's dotted path (`plans.0.price`). */
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The one JSON error shape every face returns. */
export interface ErrorBody {
  error: string;
  fields?: Record<string, string>;
}

/**
 * JSON errors everywhere: 4xx and our HttpErrors carry their message (fastify's own 4xx, e.g. 413
 * and bad JSON, included); any other failure is logged with its stack and reaches the client only
 * as "internal error".
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    // Our own HttpErrors are meant for the client, 503s ("not set up yet") included.
    if (status >= 500 && !(error instanceof HttpError)) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(status).send({ error: 'internal error' } satisfies ErrorBody);
    }
    request.log[status >= 500 ? 'warn' : 'info']({ status, reason: error.message }, 'request rejected');
    const body: ErrorBody = { error: error.message };
    if (error instanceof HttpError && error.fields) body.fields = error.fields;
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: `no route for ${request.method} ${request.url.split('?')[0]}` }),
  );
}
