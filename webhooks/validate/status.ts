import type { Plan, Subscription } from '../../lib/api/v1alpha1/index.js';
import type { FieldError } from '../field-errors.js';

/** Plural names of the kinds whose status carries an identity guarded here (registration.ts). */
export const STATUS_GUARDED_RESOURCES = ['plans', 'subscriptions'] as const;

/**
 * Identities the controllers record in status. Status writes are registered separately with
 * failurePolicy Ignore (webhooks/registration.ts): this guard must never stall a controller when
 * the webhook is down, it only stops a wrong write while it is up.
 */
export function validateStatusUpdate(kind: string, object: unknown, oldObject: unknown): FieldError[] {
  if (kind === 'Plan') return planStatus(object as Plan, oldObject as Plan);
  if (kind === 'Subscription') return subscriptionStatus(object as Subscription, oldObject as Subscription);
  return [];
}

/** The plan controller creates a new on-chain plan only on another chain; on the same chain the id stays. */
function planStatus(plan: Plan, old: Plan): FieldError[] {
  const before = old.status?.onChainPlanId;
  const after = plan.status?.onChainPlanId;
  if (before === undefined || after === before || plan.status?.chainId !== old.status?.chainId) return [];
  return [
    {
      path: 'status.onChainPlanId',
      message: `cannot change while status.chainId stays ${old.status?.chainId}: the plan exists on-chain as ${before}`,
      reason: 'FieldValueForbidden',
    },
  ];
}

/** A subscription gets one NFT; forgetting or replacing its token id would invite a second mint. */
function subscriptionStatus(subscription: Subscription, old: Subscription): FieldError[] {
  const before = old.status?.nft?.tokenId;
  const after = subscription.status?.nft?.tokenId;
  if (before === undefined || after === before) return [];
  return [
    {
      path: 'status.nft.tokenId',
      message: `cannot change once set: NFT ${before} was minted for this subscription`,
      reason: 'FieldValueForbidden',
    },
  ];
}
