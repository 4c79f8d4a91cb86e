import { getAddress } from 'viem';
import { AccessCredentialNFTAbi } from '../../contracts/generated/artifacts.js';
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
 * Who holds the admin credential NFT right now, read on-chain and cached at most `maxAgeMs` by the
 * server clock. Whoever holds it is admin: transferring the NFT moves admin rights with no config
 * change, and ends the old holder's rights once the cache entry ages out.
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
    const key = `${chain.chainId}:${chain.nft}:${chain.credentialTokenId}:${chain.endpoints.join(',')}`;
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
    try {
      const owner = await this.clients.for(chain).readContract({
        address: chain.nft,
        abi: AccessCredentialNFTAbi,
        functionName: 'ownerOf',
        args: [chain.credentialTokenId],
      });
      return getAddress(owner as string);
    } catch (error) {
      const text = String(error);
      // ERC721NonexistentToken: setup has not minted the credential (or it was burnt).
      if (/NonexistentToken|revert/i.test(text))
        throw new HttpError(
          503,
          `The admin credential NFT #${chain.credentialTokenId} does not exist yet; setup mints it.`,
        );
      throw new HttpError(
        503,
        'The chain cannot be reached to check the admin credential; try again shortly.',
      );
    }
  }
}
