import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { blockhostTypes, subscriptionResourceName, type Subscription } from '../../lib/api/v1alpha1/index.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { Face, FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import { validate } from '../http/validation.js';
import { ChainClients } from '../admin/chain-clients.js';
import { registerCredentialRoutes } from './credentials.js';
import { notSelling, SignupConfigSource } from './host-config.js';
import { registerRpcProxy } from './rpc-proxy.js';
import { signupPage } from './markup.js';

const purchaseParams = z.object({
  subscriptionId: z
    .string()
    .regex(/^[1-9][0-9]{0,76}$/, 'must be a subscription id: a whole number from 1, without leading zeros'),
});

/** How a purchase is doing, as the page follows it (no private data: all of it is on chain anyway). */
export interface PurchaseStatus {
  subscriptionId: string;
  phase: NonNullable<NonNullable<Subscription['status']>['phase']>;
  /** The access NFT, once minted. */
  tokenId?: string;
  expiresAt: string;
  message?: string;
}

async function register(app: FastifyInstance, context: FaceContext): Promise<void> {
  const source = new SignupConfigSource(context.kube, () => performance.now());
  // The page talks to the chain only through this server (connect-src 'self').
  registerRpcProxy(app, () => source.chain(), new ChainClients());

  const config = async () => {
    const result = await source.get();
    if ('notReady' in result) throw notSelling(result);
    return result.config;
  };

  app.get('/', async (_request, reply) => {
    return context.sendPage(reply, {
      title: 'Rent a VM — BlockHost',
      scripts: ['signup'],
      body: signupPage(),
    });
  });

  app.get('/api/signup/config', async () => config());
  registerCredentialRoutes(app, context);

  app.get('/api/signup/purchases/:subscriptionId', async (request): Promise<PurchaseStatus> => {
    const { subscriptionId } = validate(purchaseParams, request.params, 'params');
    let subscription: Subscription;
    try {
      subscription = await context.kube.get<Subscription>(
        blockhostTypes.subscription,
        subscriptionResourceName(subscriptionId),
        context.namespace,
      );
    } catch (error) {
      if (isNotFound(error))
        throw new HttpError(
          404,
          `subscription ${subscriptionId} has not been seen yet (waiting for confirmations)`,
        );
      throw error;
    }
    if (subscription.spec.removedByReorg)
      throw new HttpError(404, `subscription ${subscriptionId} is no longer on the chain (reorganised away)`);
    const { status } = subscription;
    return {
      subscriptionId,
      phase: status?.phase ?? 'Pending',
      ...(status?.nft?.tokenId !== undefined && { tokenId: status.nft.tokenId }),
      expiresAt: subscription.spec.expiresAt,
      ...(status?.message && { message: status.message }),
    };
  });
}

/** The public signup page at `/`: plans from the chain, purchase in the browser, connection details. */
export const signupFace: Face = {
  name: 'signup',
  prefix: () => '/',
  entries: { signup: 'signup/page/main.ts' },
  register,
};
