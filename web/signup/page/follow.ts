// Follows a purchase through the server until its NFT is minted.
import { api, ApiError, facePath } from '../../shared/page/api.js';
import type { PurchaseStatus } from '../face.js';

export type FollowUpdate =
  | { state: 'unseen'; message: string }
  | { state: 'provisioning'; phase: string; message?: string }
  | { state: 'ready'; tokenId: bigint }
  | { state: 'failed'; message: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the purchase endpoint, reporting each change, until the NFT exists or provisioning failed. */
export async function followPurchase(
  subscriptionId: bigint,
  onUpdate: (update: FollowUpdate) => void,
  intervalMs = 1_000,
): Promise<FollowUpdate & { state: 'ready' | 'failed' }> {
  let last = '';
  const report = (update: FollowUpdate) => {
    const key = JSON.stringify(update, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    if (key !== last) onUpdate(update);
    last = key;
  };
  for (;;) {
    let update: FollowUpdate;
    try {
      const status = await api<PurchaseStatus>(facePath(`/api/signup/purchases/${subscriptionId}`));
      if (status.tokenId !== undefined) update = { state: 'ready', tokenId: BigInt(status.tokenId) };
      else if (status.phase === 'Failed' || status.phase === 'Cancelled')
        update = { state: 'failed', message: status.message ?? `the subscription is ${status.phase}` };
      else
        update = {
          state: 'provisioning',
          phase: status.phase,
          ...(status.message && { message: status.message }),
        };
    } catch (error) {
      if (!(error instanceof ApiError) || (error.status !== 404 && error.status !== 0 && error.status < 500))
        throw error;
      update = { state: 'unseen', message: error.message };
    }
    report(update);
    if (update.state === 'ready' || update.state === 'failed') return update;
    await sleep(intervalMs);
  }
}
