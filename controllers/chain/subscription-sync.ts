import { isDeepStrictEqual } from 'node:util';
import { decodeEventLog, type Address, type Log, type PublicClient } from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../contracts/generated/artifacts.js';
import {
  API_VERSION,
  blockhostTypes,
  subscriptionResourceName,
  subscriptionSpecSchema,
  type Subscription,
  type SubscriptionSpec,
} from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../lib/kube/errors.js';
import type { Logger } from '../../lib/log.js';

export interface ChainContracts {
  subscriptions: Address;
  nft: Address;
}

type EventRef = SubscriptionSpec['source'];
export type LastEvent = NonNullable<SubscriptionSpec['lastEvent']>;

/** What one batch of logs says about one subscription id. */
interface Touched {
  created?: { userEncrypted: `0x${string}`; ref: EventRef };
  last?: LastEvent;
  /** `last` replaces the stored lastEvent even when undefined (it was reorged away). */
  replaceLast?: boolean;
}

/** A subscription to re-read after a reorg, with its latest event still on the canonical chain. */
export interface Recheck {
  id: bigint;
  lastEvent: LastEvent | undefined;
}

/** A contract event found in applied logs, for the events-ingested metric. */
export interface AppliedEvent {
  name: string;
  blockNumber: bigint;
}

const MAX_USER_ENCRYPTED_BYTES = 1024;
const PARALLEL_WRITES = 32;

const refOf = (log: Log): EventRef => ({
  txHash: log.transactionHash!,
  logIndex: log.logIndex!,
  blockNumber: Number(log.blockNumber),
  blockHash: log.blockHash!,
});

const isSubscriptionEvent = (name: string): name is LastEvent['kind'] =>
  name === 'SubscriptionCreated' || name === 'SubscriptionExtended' || name === 'SubscriptionCancelled';

/**
 * Turns contract logs into Subscription objects. The logs only say *which* subscriptions changed;
 * their facts (plan, subscriber, expiry, cancellation, NFT holder) are read from the contract at the
 * confirmed head, so applying the same batch twice, out of order, or again after a reorg rescan
 * always converges on the canonical chain. Only the payload and the creating event come from logs.
 */
export class SubscriptionSync {
  constructor(
    private readonly kube: KubeClient,
    private readonly chain: PublicClient,
    private readonly chainId: number,
    private readonly contracts: ChainContracts,
    private readonly namespace: string,
    private readonly log: Logger,
    /** Says why a payload is unusable (e.g. not decryptable with the server key), or undefined. */
    private readonly checkPayload?: (userEncrypted: `0x${string}`) => string | undefined,
  ) {}

  /**
   * Applies `logs` (sorted, from one scanned range) plus a re-check of `recheck` (subscriptions
   * whose events a reorg may have removed), reading contract state at block `stateBlock`. Returns
   * the contract events among `logs`; counting them is the caller's job, since a range that failed
   * half-way is applied again.
   */
  async apply(logs: Log[], stateBlock: bigint, recheck: Iterable<Recheck> = []): Promise<AppliedEvent[]> {
    const touched = new Map<bigint, Touched>();
    const touch = (id: bigint) => touched.get(id) ?? touched.set(id, {}).get(id)!;
    // Listing every Subscription is needed only to map NFT transfers; most ranges have none.
    let tokens: Map<bigint, bigint> | undefined;
    for (const { id, lastEvent } of recheck) Object.assign(touch(id), { last: lastEvent, replaceLast: true });
    const applied: AppliedEvent[] = [];
    for (const log of logs) {
      const decoded = this.decode(log);
      if (!decoded) continue;
      applied.push({ name: decoded.eventName, blockNumber: log.blockNumber! });
      const args = decoded.args as Record<string, unknown>;
      if (isSubscriptionEvent(decoded.eventName)) {
        const entry = touch(args.subscriptionId as bigint);
        entry.last = { ...refOf(log), kind: decoded.eventName };
        if (decoded.eventName === 'SubscriptionCreated') {
          entry.created = { userEncrypted: args.userEncrypted as `0x${string}`, ref: refOf(log) };
        }
      } else if (decoded.eventName === 'SubscriptionCredentialMinted') {
        touch(args.subscriptionId as bigint);
      } else if (decoded.eventName === 'Transfer') {
        tokens ??= await this.tokensBySubscriptionInCluster();
        const id = tokens.get(args.tokenId as bigint);
        if (id !== undefined) touch(id);
      }
    }
    const entries = [...touched.entries()];
    for (let i = 0; i < entries.length; i += PARALLEL_WRITES) {
      await Promise.all(
        entries.slice(i, i + PARALLEL_WRITES).map(([id, entry]) => this.store(id, entry, stateBlock)),
      );
    }
    return applied;
  }

  /** The subscription event `log` is (Created, Extended or Cancelled), if it is one. */
  subscriptionEvent(log: Log): { id: bigint; event: LastEvent } | undefined {
    const decoded = this.decode(log);
    if (!decoded || !isSubscriptionEvent(decoded.eventName)) return undefined;
    const { subscriptionId } = decoded.args as { subscriptionId: bigint };
    return { id: subscriptionId, event: { ...refOf(log), kind: decoded.eventName } };
  }

  private decode(log: Log) {
    const abi =
      log.address.toLowerCase() === this.contracts.nft.toLowerCase()
        ? AccessCredentialNFTAbi
        : BlockhostSubscriptionsAbi;
    try {
      return decodeEventLog({ abi, data: log.data, topics: log.topics });
    } catch {
      // Events we do not follow (PlanCreated, FundsWithdrawn, ...) or foreign topics.
      return undefined;
    }
  }

  /** token id → subscription id, for Transfer events of tokens minted in earlier batches. */
  private async tokensBySubscriptionInCluster(): Promise<Map<bigint, bigint>> {
    const list = await this.kube.list<Subscription>(blockhostTypes.subscription, {
      namespace: this.namespace,
    });
    const map = new Map<bigint, bigint>();
    for (const item of list.items) {
      if (item.spec.credential)
        map.set(BigInt(item.spec.credential.tokenId), BigInt(item.spec.subscriptionId));
    }
    return map;
  }

  private async store(id: bigint, entry: Touched, stateBlock: bigint): Promise<void> {
    const name = subscriptionResourceName(id);
    for (let attempt = 0; ; attempt += 1) {
      const existing = await this.kube
        .get<Subscription>(blockhostTypes.subscription, name, this.namespace)
        .catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        });
      const spec = await this.desiredSpec(id, entry, existing?.spec, stateBlock);
      if (!spec) return;
      try {
        if (!existing) {
          await this.kube.create<Subscription>(blockhostTypes.subscription, {
            apiVersion: API_VERSION,
            kind: 'Subscription',
            metadata: {
              name,
              namespace: this.namespace,
              labels: { 'blockhost.io/chain-id': String(this.chainId) },
            },
            spec,
          } as Subscription);
        } else if (!isDeepStrictEqual(existing.spec, spec)) {
          // The whole spec: a field the chain no longer backs (a lastEvent reorged away) must go.
          await this.kube.update<Subscription>(blockhostTypes.subscription, { ...existing, spec });
        }
        return;
      } catch (error) {
        // Someone else wrote in between (or created it): read again and recompute.
        if ((isConflict(error) || isAlreadyExists(error)) && attempt < 5) continue;
        throw error;
      }
    }
  }

  /** The spec the chain dictates for subscription `id`, or undefined when there is nothing to store. */
  private async desiredSpec(
    id: bigint,
    entry: Touched,
    existing: SubscriptionSpec | undefined,
    stateBlock: bigint,
  ): Promise<SubscriptionSpec | undefined> {
    const state = await this.readSubscription(id, stateBlock);
    if (!state) {
      if (!existing) return undefined; // reorged away before we ever stored it: nothing to keep
      return { ...existing, removedByReorg: true };
    }
    if (existing && existing.contract.toLowerCase() !== this.contracts.subscriptions.toLowerCase()) {
      this.log.error(
        { subscriptionId: String(id), storedContract: existing.contract },
        'subscription id already used by another contract; not overwriting',
      );
      return undefined;
    }
    const payload = entry.created?.userEncrypted;
    const oversized = payload !== undefined && (payload.length - 2) / 2 > MAX_USER_ENCRYPTED_BYTES;
    const source = entry.created?.ref ?? existing?.source ?? entry.last;
    if (!source) return undefined;
    const spec: SubscriptionSpec = {
      chainId: this.chainId,
      contract: this.contracts.subscriptions,
      subscriptionId: id.toString(),
      planId: state.planId.toString(),
      subscriber: state.subscriber,
      expiresAt: new Date(Number(state.expiresAt) * 1000).toISOString().replace(/\.000Z$/, 'Z'),
      userEncrypted: payload !== undefined ? (oversized ? '0x' : payload) : (existing?.userEncrypted ?? '0x'),
      source: {
        txHash: source.txHash,
        logIndex: source.logIndex,
        blockNumber: source.blockNumber,
        blockHash: source.blockHash,
      },
      cancelled: state.cancelled,
      removedByReorg: false,
      lastEvent: entry.replaceLast ? entry.last : (entry.last ?? existing?.lastEvent),
      credential: state.credential ?? existing?.credential,
    };
    const payloadError = oversized
      ? `userEncrypted is ${(payload.length - 2) / 2} bytes; at most ${MAX_USER_ENCRYPTED_BYTES} are accepted`
      : payload !== undefined
        ? this.checkPayload?.(payload)
        : !existing && !entry.created
          ? 'the SubscriptionCreated event was not seen (it is before the watcher start block)'
          : existing?.payloadError;
    if (payloadError) spec.payloadError = payloadError;
    if (spec.lastEvent === undefined) delete spec.lastEvent;
    if (spec.credential === undefined) delete spec.credential;
    return subscriptionSpecSchema.parse(spec);
  }

  private async readSubscription(id: bigint, blockNumber: bigint) {
    const [planId, subscriber, expiresAt, , cancelled] = await this.chain
      .readContract({
        address: this.contracts.subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'getSubscription',
        args: [id],
        blockNumber,
      })
      .catch((error: unknown) => {
        if (String((error as Error).message).includes('SubscriptionNotFound')) return [] as never;
        throw error;
      });
    if (planId === undefined) return undefined;
    const [minted, tokenId] = await this.chain.readContract({
      address: this.contracts.nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getSubscriptionToken',
      args: [id],
      blockNumber,
    });
    const holder = minted
      ? await this.chain.readContract({
          address: this.contracts.nft,
          abi: AccessCredentialNFTAbi,
          functionName: 'ownerOf',
          args: [tokenId],
          blockNumber,
        })
      : undefined;
    return {
      planId,
      subscriber,
      expiresAt,
      cancelled,
      credential: minted ? { tokenId: tokenId.toString(), holder } : undefined,
    };
  }
}
