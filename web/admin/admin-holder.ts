import { ChainDisagreement } from '../../lib/chain/confirmed-read.js';
import { readCredentialHolder } from '../../lib/chain/credential-holder.js';
import { HttpError } from '../http/errors.js';
import type { ChainClients } from './chain-clients.js';
import type { AdminChain } from './host.js';

/** INTEROP §2: the admin is ownerOf(credential id), cached at most 60 s. */
export const ADMIN_HOLDER_CACHE_MS = 60_000;

interface Cached {
  key: string;
  at: number;
  holder: string;
}

/**
 * Who holds the admin credential NFT, read on-chain `confirmations` blocks deep, agreed by a quorum
 * of the RPC endpoints, and cached at most `maxAgeMs` by the server clock. Whoever holds it is
 * admin: transferring the NFT moves admin rights with no config change (once the transfer is
 * confirmed), and ends the old holder's rights once the cache entry ages out.
 */
export class AdminHolder {
  private cached?: Cached;
  private pending?: { key: string; promise: Promise<string> };

  constructor(
    private readonly clients: ChainClients,
    private readonly now: () => number,
    private readonly maxAgeMs = ADMIN_HOLDER_CACHE_MS,
  ) {}

  /** The holder's checksummed address; HttpError 503 when the chain cannot tell. */
  async holder(chain: AdminChain): Promise<string> {
    const key = `${chain.chainId}:${chain.nft}:${chain.credentialTokenId}:${chain.confirmations}:${chain.endpoints.join(',')}`;
    const cached = this.cached;
    if (cached?.key === key && this.now() - cached.at < this.maxAgeMs) return cached.holder;
    if (this.pending?.key !== key) {
      // The answer is as old as the moment it was asked for: a read that began before a transfer
      // must not count as fresh when it lands after it.
      const askedAt = this.now();
      const promise = this.read(chain)
        .then((holder) => {
          this.cached = { key, at: askedAt, holder };
          return holder;
        })
        .finally(() => {
          if (this.pending?.promise === promise) this.pending = undefined;
        });
      this.pending = { key, promise };
    }
    return this.pending.promise;
  }

  /** Whether `wallet` holds the admin credential now (case-insensitive). */
  async isAdmin(chain: AdminChain, wallet: string): Promise<boolean> {
    return (await this.holder(chain)).toLowerCase() === wallet.toLowerCase();
  }

  private async read(chain: AdminChain): Promise<string> {
    let holder: string | null;
    try {
      ({ value: holder } = await readCredentialHolder(
        chain.endpoints.map((url) => this.clients.for({ chainId: chain.chainId, endpoints: [url] })),
        chain.confirmations,
        chain.nft,
        chain.credentialTokenId,
      ));
    } catch (error) {
      // Endpoints that disagree: nobody is admin on a minority's word (nor on one lying endpoint's).
      if (error instanceof ChainDisagreement)
        throw new HttpError(503, `The admin credential holder cannot be confirmed: ${error.message}.`);
      throw new HttpError(
        503,
        'The chain cannot be reached to check the admin credential; try again shortly.',
      );
    }
    // Not minted at the confirmed block: setup has not minted it (or it was burnt), or too recently.
    if (holder === null)
      throw new HttpError(
        503,
        `The admin credential NFT #${chain.credentialTokenId} does not exist yet; setup mints it.`,
      );
    return holder;
  }
}
