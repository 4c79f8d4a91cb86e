import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { authMessage, CODE_ALPHABET, CODE_LENGTH } from '../../lib/crypto/auth-code.js';
import { recoverAddress } from '../../lib/crypto/eip191.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import type { SessionStore } from '../http/sessions.js';
import { validate } from '../http/validation.js';
import type { AdminHolder } from './admin-holder.js';
import { ChallengeStore } from './challenges.js';
import { adminChainOf, machineName, requireHostConfig } from './host.js';

/** INTEROP §2: dashboard sessions last 1 h. */
export const ADMIN_SESSION_TTL_MS = 60 * 60_000;

export interface AdminSession {
  wallet: string;
}

const loginBody = z.strictObject({
  code: z
    .string()
    .trim()
    .toUpperCase()
    .length(CODE_LENGTH, `must be the ${CODE_LENGTH}-character code shown on the login page`)
    .regex(new RegExp(`^[${CODE_ALPHABET}]+$`), 'must use only the letters and digits of login codes'),
  signature: z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{130}$/, 'must be a 65-byte signature: 0x and 130 hex digits'),
});

const emptyBody = z.strictObject({});

/** The wallet that signed the login message; 401 when the signature is not a valid one. */
function signerOf(message: string, signature: string): string {
  try {
    return recoverAddress(message, signature);
  } catch (error) {
    throw new HttpError(401, `The signature is not valid: ${(error as Error).message}.`);
  }
}

/**
 * Login (challenge → signature → session), logout and the `requireAdmin` guard. Being signed in is
 * not enough: every guarded request re-checks that the session's wallet still holds the admin
 * credential NFT (through the ≤ 60 s cache), so a transferred NFT ends the old holder's rights.
 */
export function registerAuth(
  app: FastifyInstance,
  context: FaceContext,
  sessions: SessionStore<AdminSession>,
  holder: AdminHolder,
): preHandlerAsyncHookHandler {
  const challenges = new ChallengeStore(context.now);
  const log = context.log;

  app.post('/api/challenge', { config: { rateLimit: context.loginRateLimit } }, async (request) => {
    // No body, or `{}`; a JSON null or array is a malformed body, not an empty one.
    validate(emptyBody, request.body === undefined ? {} : request.body);
    const host = await requireHostConfig(context.kube);
    const challenge = challenges.issue(machineName(host));
    return {
      code: challenge.code,
      machine: challenge.machine,
      message: authMessage(challenge.machine, challenge.code),
      expiresAt: new Date(challenge.expiresAt).toISOString(),
    };
  });

  app.post('/api/login', { config: { rateLimit: context.loginRateLimit } }, async (request, reply) => {
    const { code, signature } = validate(loginBody, request.body);
    const challenge = challenges.take(code);
    const wallet = signerOf(authMessage(challenge.machine, challenge.code), signature);
    const chain = adminChainOf(await requireHostConfig(context.kube));
    const admin = await holder.holder(chain);
    if (admin.toLowerCase() !== wallet.toLowerCase()) {
      log.warn(
        { wallet, credential: String(chain.credentialTokenId) },
        'admin login refused: not the holder',
      );
      throw new HttpError(
        403,
        `Wallet ${wallet} does not hold the admin credential NFT #${chain.credentialTokenId}; only its current holder can sign in.`,
      );
    }
    const session = sessions.create(request, reply, { wallet });
    log.info({ admin: wallet }, 'admin signed in');
    return {
      wallet,
      csrfToken: session.csrfToken,
      expiresAt: new Date(session.createdAt + ADMIN_SESSION_TTL_MS).toISOString(),
    };
  });

  const requireAdmin: preHandlerAsyncHookHandler = async function (this: FastifyInstance, request, reply) {
    await sessions.requireSession.call(this, request, reply);
    const { wallet } = sessions.sessionOf(request).data;
    const chain = adminChainOf(await requireHostConfig(context.kube));
    if (!(await holder.isAdmin(chain, wallet))) {
      sessions.destroy(request, reply);
      log.warn({ wallet }, 'admin session ended: the wallet no longer holds the admin credential');
      throw new HttpError(
        403,
        `Wallet ${wallet} no longer holds the admin credential NFT #${chain.credentialTokenId}; you have been signed out.`,
      );
    }
  };

  app.get('/api/session', { preHandler: requireAdmin }, async (request) => ({
    wallet: adminWallet(sessions, request),
  }));

  app.post('/api/logout', { preHandler: sessions.requireSession }, async (request, reply) => {
    const { wallet } = sessions.sessionOf(request).data;
    sessions.destroy(request, reply);
    log.info({ admin: wallet }, 'admin signed out');
    return { done: true };
  });

  return requireAdmin;
}

/** The signed-in admin of a request that passed requireAdmin. */
export function adminWallet(sessions: SessionStore<AdminSession>, request: FastifyRequest): string {
  return sessions.sessionOf(request).data.wallet;
}
