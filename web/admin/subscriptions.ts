import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { blockhostTypes, type Subscription } from '../../lib/api/v1alpha1/index.js';
import type { FaceContext } from '../face.js';

/** Subscriptions page API: the chain watcher's mirror of on-chain subscriptions, read only. */
export function registerSubscriptionRoutes(
  app: FastifyInstance,
  context: FaceContext,
  requireAdmin: preHandlerAsyncHookHandler,
): void {
  app.get('/api/subscriptions', { preHandler: requireAdmin }, async () => {
    const list = await context.kube.list<Subscription>(blockhostTypes.subscription, {
      namespace: context.namespace,
    });
    const rows = list.items.map((s) => ({
      name: s.metadata.name!,
      subscriptionId: s.spec.subscriptionId,
      planId: s.spec.planId,
      subscriber: s.spec.subscriber,
      expiresAt: s.spec.expiresAt,
      phase: s.status?.phase ?? 'Pending',
      ...(s.status?.message && { message: s.status.message }),
      ...(s.status?.vmRef && { vm: s.status.vmRef.name }),
      ...(s.status?.nft?.tokenId !== undefined && { tokenId: s.status.nft.tokenId }),
      ...(s.spec.credential?.holder && { holder: s.spec.credential.holder }),
      cancelled: s.spec.cancelled,
      removedByReorg: s.spec.removedByReorg,
    }));
    rows.sort((a, b) => (BigInt(a.subscriptionId) < BigInt(b.subscriptionId) ? 1 : -1));
    return { subscriptions: rows };
  });
}
