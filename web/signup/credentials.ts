/**
 * Which subscription an access NFT belongs to. The NFT contract maps a subscription to its token
 * (`getSubscriptionToken`) but not back, and the signup page must not scan logs through the RPC
 * proxy; the chain watcher already recorded the link on each Subscription (`spec.credential`, from
 * the confirmed SubscriptionCredentialMinted event; else `status.nft`, from the mint receipt). The
 * page checks every answer against `getSubscriptionToken` on chain, so this server cannot make a
 * wallet's page show someone else's subscription as its own.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { blockhostTypes, type Subscription } from '../../lib/api/v1alpha1/index.js';
import type { FaceContext } from '../face.js';
import { HttpError } from '../http/errors.js';
import { validate } from '../http/validation.js';
import { CachedRead } from '../shared/cached-read.js';

/** What `GET /api/signup/credentials/:tokenId` answers. */
export interface CredentialLink {
  tokenId: string;
  subscriptionId: string;
}

const credentialParams = z.object({
  tokenId: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,76})$/, 'must be an NFT token id: a whole number from 0, without leading zeros'),
});

/** Pure: token id → subscription id, from the Subscriptions still on the canonical chain. */
export function subscriptionsByToken(subscriptions: readonly Subscription[]): Map<string, string> {
  const links = new Map<string, string>();
  for (const subscription of subscriptions) {
    if (subscription.spec.removedByReorg) continue;
    const tokenId = subscription.spec.credential?.tokenId ?? subscription.status?.nft?.tokenId;
    if (tokenId !== undefined) links.set(tokenId, subscription.spec.subscriptionId);
  }
  return links;
}

export function registerCredentialRoutes(app: FastifyInstance, context: FaceContext): void {
  // One LIST per 2 s at most, however many visitors' pages ask (the route is public).
  const index = new CachedRead(
    async () =>
      subscriptionsByToken(
        (await context.kube.list<Subscription>(blockhostTypes.subscription, { namespace: context.namespace }))
          .items,
      ),
    () => performance.now(),
    2_000,
  );

  app.get('/api/signup/credentials/:tokenId', async (request): Promise<CredentialLink> => {
    const { tokenId } = validate(credentialParams, request.params, 'params');
    const subscriptionId = (await index.get()).get(tokenId);
    if (subscriptionId === undefined)
      throw new HttpError(
        404,
        `NFT #${tokenId} belongs to no subscription this host has seen (a credential minted otherwise, such as the admin's, or one not confirmed yet)`,
      );
    return { tokenId, subscriptionId };
  });
}
