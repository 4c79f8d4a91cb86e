import type { FastifyInstance } from 'fastify';
import { GUEST_POLL_WINDOW_MS, loginMessage } from '../../lib/login-signature/request.js';
import type { Face, FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import { validate } from '../http/validation.js';
import { loginSigner, ownerWallet, requireOwner, storeLoginSignature } from './delivery.js';
import {
  SIGNATURE_ROUTE_BODY_LIMIT,
  signatureBody,
  signatureParams,
  signatureTooLarge,
  signLinkQuery,
  type SignLink,
} from './fields.js';
import { badLinkPage, signPage } from './markup.js';
import { awaitOutcome, type OutcomeWait } from './outcome.js';

const TITLE = 'Log in to your VM — BlockHost';

function register(wait: OutcomeWait) {
  return async (app: FastifyInstance, context: FaceContext): Promise<void> => {
    const { kube, namespace } = context;
    // The link carries a login code and the API answers with login outcomes: nothing to keep.
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-store');
      return payload;
    });

    app.get('/', async (request, reply) => {
      let link: SignLink;
      try {
        link = validate(signLinkQuery, request.query, 'query');
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        return context.sendPage(reply.code(400), {
          title: TITLE,
          scripts: [],
          body: badLinkPage(error.fields ?? {}),
        });
      }
      return context.sendPage(reply, {
        title: TITLE,
        scripts: ['sign'],
        meta: {
          machine: link.machine,
          code: link.code,
          message: loginMessage(link.machine, link.code),
          ...(link.session && { session: link.session }),
        },
        body: signPage(link),
      });
    });

    app.post(
      '/api/sessions/:session/signature',
      { bodyLimit: SIGNATURE_ROUTE_BODY_LIMIT, config: { rateLimit: context.loginRateLimit } },
      async (request) => {
        // As the original in-VM endpoint: an oversized signature is 413 before it is looked at.
        if (signatureTooLarge(request.body)) throw new HttpError(413, 'the signature is too large');
        const { session } = validate(signatureParams, request.params, 'params');
        const { machine, code, signature } = validate(signatureBody, request.body);
        // Refusals (these checks, the controller's verdict) are logged by the error handler.
        const owner = await ownerWallet(kube, namespace, machine);
        const signer = loginSigner(machine, code, signature);
        requireOwner(signer, owner);
        const name = await storeLoginSignature(kube, namespace, { machine, code, session, signature });
        const log = request.log.child({ machine, signer, request: name });
        log.info('login signature stored; waiting for the controller');
        await awaitOutcome(kube, namespace, name, wait);
        log.info('login signature delivered');
        return { delivered: true };
      },
    );
  };
}

/**
 * The SSH login's signing page at `/sign` (INTEROP §4): the PAM prompt's link opens it, the wallet
 * signs, and the signature is stored for the controller manager to write into the guest. `wait` is
 * how long the API waits for the controller's verdict (tests shorten it).
 */
export function createSignFace(
  wait: OutcomeWait = { windowMs: GUEST_POLL_WINDOW_MS, intervalMs: 100 },
): Face {
  return {
    name: 'sign',
    prefix: () => '/sign',
    entries: { sign: 'sign/page/main.ts' },
    register: register(wait),
  };
}

export const signFace = createSignFace();
