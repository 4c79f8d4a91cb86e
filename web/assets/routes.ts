import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { validate } from '../http/validation.js';
import { etagOf, type Bundle } from './bundler.js';

const assetParams = z.object({
  file: z.string().regex(/^[A-Za-z0-9_-]+\.(js|css|map)$/, 'not an asset name'),
});

/** Serves the bundle under /assets/ with long-lived caching: the names change when the contents do. */
export function registerAssetRoutes(app: FastifyInstance, bundle: Bundle): void {
  const etags = new Map([...bundle.files].map(([name, asset]) => [name, etagOf(asset.contents)]));
  app.get('/assets/:file', async (request, reply) => {
    const { file } = validate(assetParams, request.params, 'params');
    const asset = bundle.files.get(file);
    if (!asset) throw new HttpError(404, `no asset ${file}`);
    const etag = etags.get(file)!;
    reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('etag', etag)
      .type(asset.contentType);
    if (request.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.send(asset.contents);
  });
}
