import type { FastifyInstance } from 'fastify';
import { HttpError } from './errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON bodies must be valid UTF-8 (RFC 8259 §8.1). Fastify's own parser decodes leniently, turning
 * broken bytes into U+FFFD, so a garbled code or signature would reach a handler looking like text;
 * here it is a 400 before any handler runs. Parsing itself stays fastify's (prototype-poisoning
 * keys refused, empty bodies refused).
 */
export function registerStrictJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new HttpError(400, 'the request body is not valid UTF-8'), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
