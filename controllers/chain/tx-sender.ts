import {
  keccak256,
  TransactionReceiptNotFoundError,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
} from 'viem';
import type { ChainMetrics } from '../../lib/chain/metrics.js';
import { isTransientRpcError } from '../../lib/chain/rpc-errors.js';
import { isAlreadyExists, isConflict } from '../../lib/kube/errors.js';
import type { Logger } from '../../lib/log.js';
import { sleep } from '../../lib/backoff.js';
import type { IntentStore } from './intent-store.js';
import { intentProblem, type Attempt, type Intent } from './intent-store.js';

export interface TxRequest {
  /** Absent: a contract creation (data is the init code). */
  to?: Hex;
  data: Hex;
  value?: bigint;
}

export interface TxOutcome {
  intent: Intent;
  receipt: TransactionReceipt;
}

export interface TxSenderOptions {
  chain: PublicClient;
  chainId: number;
  account: LocalAccount;
  store: IntentStore;
  log: Logger;
  /** Replace a transaction not mined after this long with one paying more. */
  stuckAfterMs?: number;
  pollMs?: number;
  /**
   * The most a transaction may pay per gas (wei), read before each signature so a HostConfig change
   * applies at once; undefined: no cap. At the cap a stuck transaction is not replaced but waits.
   */
  feeCap?: () => Promise<bigint | undefined>;
  /** Called once per intent when it waits at the fee cap (the caller records an Event). */
  onFeeCapped?: (intent: Intent, capWei: bigint) => void;
  /**
   * Our nonce mined by a transaction we did not sign is final only after this long of definite
   * answers (no receipt for any attempt), as a lagging endpoint may not have indexed ours yet.
   */
  foreignNonceAfterMs?: number;
  /** Transient RPC errors in a row are retried with backoff this long before wait gives up (the intent stays pending). */
  transientRetryMs?: number;
  metrics?: ChainMetrics;
  /** Test hook: called at the named step, so a test can kill the process exactly there. */
  onStep?: (step: SenderStep) => void;
}

/** `receipt`: a receipt was found, before the intent is marked mined. */
export type SenderStep = 'signed' | 'persisted' | 'broadcast' | 'receipt';

/** Geth refuses a replacement that pays less than 10 % more; 12.5 % clears it with margin. */
const bump = (wei: bigint) => (wei * 1125n) / 1000n + 1n;
/** The least a replacement must pay (geth's price bump), e.g. a last step up to the fee cap. */
const minReplacement = (wei: bigint) => (wei * 110n) / 100n + 1n;
const ALREADY_SENT = /already known|nonce too low|replacement transaction underpriced|already imported/i;
/** The node will not take it at today's fees (anvil refuses, geth would queue it): keep it, wait, re-send. */
const UNDERPRICED =
  /fee per gas less than block base fee|fee cap less than block base fee|transaction underpriced/i;
/** A pending intent this far above the chain's pending nonce would stall every later transaction. */
export const MAX_NONCE_GAP = 64;
/** Backoff between polls after transient RPC errors doubles up to this. */
const MAX_RETRY_DELAY_MS = 30_000;
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);

/** A stored intent the sender refuses to sign, broadcast or count (it did not write it). */
export class UntrustedIntentError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`refusing the stored transaction intent for ${key}: ${reason}`);
    this.name = 'UntrustedIntentError';
  }
}

/**
 * The only user of the server wallet's nonce. Each logical transaction has a key; its intent
 * (nonce, signed bytes, hash) is stored in the cluster *before* it is broadcast, so after a crash at
 * any point the same signed transaction is re-broadcast or its receipt found — never a second one.
 * Before this process takes its first new nonce, every pending intent is re-broadcast in nonce order
 * and waited for (resume), so one persisted but never broadcast cannot leave a gap. Stuck
 * transactions are replaced at the same nonce with higher fees up to the fee cap (each replacement
 * persisted first, too). Results come from receipts; transient RPC errors are retried, never final.
 * docs/transactions.md.
 */
export class TransactionSender {
  private nonceLock: Promise<unknown> = Promise.resolve();
  private readonly stuckAfterMs: number;
  private readonly pollMs: number;
  private readonly foreignNonceAfterMs: number;
  private readonly transientRetryMs: number;
  private resumed?: Promise<void>;
  /** One wait loop per key, shared by every caller (and the resume), so two never replace at once. */
  private readonly waiting = new Map<string, Promise<TxOutcome>>();
  /** When each intent was last found at the fee cap: it is looked at again only after stuckAfterMs. */
  private readonly cappedAt = new Map<string, number>();
  private readonly closed = new AbortController();

  constructor(private readonly options: TxSenderOptions) {
    this.stuckAfterMs = options.stuckAfterMs ?? 60_000;
    this.pollMs = options.pollMs ?? 1000;
    this.foreignNonceAfterMs = options.foreignNonceAfterMs ?? 60_000;
    this.transientRetryMs = options.transientRetryMs ?? 300_000;
  }

  get address(): Hex {
    return this.options.account.address;
  }

  /** Submits (once per key, ever) and waits for the receipt. */
  async send(key: string, request: TxRequest, signal?: AbortSignal): Promise<TxOutcome> {
    await this.submit(key, request);
    return this.wait(key, signal);
  }

  /**
   * Persists and broadcasts the transaction for `key`, or does nothing if an intent for `key` exists.
   * A call that would revert fails here, before it takes a nonce.
   */
  async submit(key: string, request: TxRequest): Promise<Intent> {
    const existing = await this.trusted(key);
    if (existing) return this.matching(existing, request);
    await this.resume();
    const { chain, account } = this.options;
    const gasEstimate = await chain.estimateGas({
      account,
      to: request.to,
      data: request.data,
      value: request.value,
    });
    const intent = await this.withNonceLock(async () => {
      const again = await this.trusted(key);
      if (again) return this.matching(again, request);
      const nonce = await this.nextNonce();
      const draft: Intent = {
        key,
        chainId: this.options.chainId,
        from: account.address,
        to: request.to,
        data: request.data,
        value: (request.value ?? 0n).toString(),
        gas: ((gasEstimate * 12n) / 10n).toString(),
        nonce,
        attempts: [],
        state: 'pending',
      };
      draft.attempts.push(await this.sign(draft, await this.currentFees()));
      this.options.onStep?.('signed');
      try {
        await this.options.store.create(draft);
      } catch (error) {
        if (isAlreadyExists(error)) return this.matching((await this.trusted(key))!, request);
        throw error;
      }
      return draft;
    });
    this.options.onStep?.('persisted');
    try {
      await this.broadcast(intent.attempts.at(-1)!);
    } catch (error) {
      // The intent is stored: wait re-broadcasts it. Anything else (insufficient funds) is the caller's to explain.
      if (!isTransientRpcError(error)) throw error;
      this.retried('broadcast', key, error);
    }
    this.options.onStep?.('broadcast');
    return intent;
  }

  /**
   * Re-broadcasts every pending intent, lowest nonce first, and waits for each in the background
   * (replacing it when stuck). Runs once per sender, before its first new nonce (submit calls it) and
   * at start-up or leader takeover (the tx runnable), so a crash between persisting an intent and
   * broadcasting it never leaves a nonce gap that stalls every later transaction.
   */
  resume(): Promise<void> {
    this.resumed ??= this.resumePending().catch((error: unknown) => {
      this.resumed = undefined;
      throw error;
    });
    return this.resumed;
  }

  /** Stops every wait loop (they reject); the intents stay pending for the next sender to resume. */
  close(): void {
    this.closed.abort();
  }

  private async resumePending(): Promise<void> {
    const { chain, account, log } = this.options;
    const chainNonce = await chain.getTransactionCount({ address: account.address, blockTag: 'pending' });
    const pending = await this.trustedPending(chainNonce);
    for (const intent of pending) {
      await this.broadcast(intent.attempts.at(-1)!).catch((error: unknown) => {
        if (isTransientRpcError(error)) throw error;
        log.warn(
          { key: intent.key, nonce: intent.nonce, err: error },
          'resumed transaction refused by the node',
        );
      });
      this.wait(intent.key).catch((error: unknown) => {
        if (!this.closed.signal.aborted)
          log.warn({ key: intent.key, err: error }, 'resumed transaction not finished; its owner retries it');
      });
    }
    if (pending.length > 0)
      log.info(
        { nonces: pending.map((intent) => intent.nonce) },
        'resumed pending transactions in nonce order',
      );
  }

  /**
   * Waits until the intent's transaction is mined (re-broadcasting and replacing as needed). Callers
   * of one key share a single loop; `signal` only stops this caller's waiting.
   */
  async wait(key: string, signal?: AbortSignal): Promise<TxOutcome> {
    let loop = this.waiting.get(key);
    if (!loop) {
      loop = this.waitLoop(key).finally(() => {
        this.waiting.delete(key);
        this.cappedAt.delete(key);
      });
      this.waiting.set(key, loop);
    }
    if (!signal) return loop;
    if (signal.aborted) throw new Error('aborted');
    return Promise.race([
      loop,
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      ),
    ]);
  }

  private async waitLoop(key: string): Promise<TxOutcome> {
    const { chain, store, log } = this.options;
    const closed = this.closed.signal;
    /** When our nonce was first seen used by none of our attempts (reset by any other answer). */
    let nonceTakenSince: number | undefined;
    let pollsWithNonceTaken = 0;
    let transientSince: number | undefined;
    let delay = this.pollMs;
    for (;;) {
      if (closed.aborted) throw new Error('transaction sender closed');
      try {
        const intent = await this.trusted(key);
        if (!intent) throw new Error(`no transaction intent for ${key}`);
        if (intent.state === 'failed') throw new Error(`transaction ${key} failed: ${intent.error}`);
        for (const attempt of [...intent.attempts].reverse()) {
          const receipt = await this.receipt(attempt.hash);
          if (!receipt) continue;
          if (intent.state === 'pending') {
            this.options.onStep?.('receipt');
            intent.state = 'mined';
            intent.result = {
              hash: attempt.hash,
              blockNumber: receipt.blockNumber.toString(),
              status: receipt.status,
            };
            await store.update(intent);
            log.info({ key, hash: attempt.hash, status: receipt.status }, 'transaction mined');
          }
          return { intent, receipt };
        }
        const minedNonce = await chain.getTransactionCount({ address: intent.from, blockTag: 'latest' });
        if (minedNonce > intent.nonce) {
          // Our nonce is used but by none of our attempts: a receipt may just not be indexed yet; only
          // if it stays so (definite answers, polls and time) did someone else use the wallet.
          nonceTakenSince ??= Date.now();
          pollsWithNonceTaken += 1;
          if (pollsWithNonceTaken >= 10 && Date.now() - nonceTakenSince >= this.foreignNonceAfterMs) {
            intent.state = 'failed';
            intent.error = `nonce ${intent.nonce} was used by a transaction this sender did not sign`;
            await store.update(intent);
            log.error({ key, nonce: intent.nonce }, intent.error);
            continue;
          }
        } else {
          nonceTakenSince = undefined;
          pollsWithNonceTaken = 0;
          await this.nudge(intent);
        }
        transientSince = undefined;
        delay = this.pollMs;
      } catch (error) {
        // A stale intent version (another writer): read it again.
        if (isConflict(error)) continue;
        if (!isTransientRpcError(error)) throw error;
        transientSince ??= Date.now();
        if (Date.now() - transientSince > this.transientRetryMs) throw error;
        this.retried('wait', key, error);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      }
      await sleep(delay, closed);
    }
  }

  /** The receipt of `hash`, or undefined while there is none; transient RPC errors are thrown. */
  private async receipt(hash: Hex): Promise<TransactionReceipt | undefined> {
    try {
      return await this.options.chain.getTransactionReceipt({ hash });
    } catch (error) {
      if (error instanceof TransactionReceiptNotFoundError) return undefined;
      throw error;
    }
  }

  /** Not mined yet: replaced when stuck (below the fee cap), else re-broadcast (covers a crash before the first broadcast). */
  private async nudge(intent: Intent): Promise<void> {
    const last = intent.attempts.at(-1)!;
    const since = Math.max(Date.parse(last.signedAt), this.cappedAt.get(intent.key) ?? 0);
    if (Date.now() - since > this.stuckAfterMs && (await this.replace(intent))) return;
    await this.broadcast(last);
  }

  private retried(during: 'wait' | 'broadcast', key: string, error: unknown): void {
    this.options.metrics?.txRpcRetries.inc({ chain_id: String(this.options.chainId) });
    this.options.log.warn(
      { key, during, err: (error as Error).message?.split('\n')[0] },
      'transient RPC error; retrying with backoff',
    );
  }

  async hasIntent(key: string): Promise<boolean> {
    return (await this.trusted(key)) !== undefined;
  }

  /** The stored intent for `key`, or undefined; throws when it is one this sender did not write. */
  private async trusted(key: string): Promise<Intent | undefined> {
    const intent = await this.options.store.get(key);
    if (!intent) return undefined;
    const problem =
      intent.key !== key
        ? `it is stored under ${key} but names ${String(intent.key)}`
        : await intentProblem(intent, { chainId: this.options.chainId, from: this.address });
    if (problem) {
      this.options.log.error({ key, problem }, 'refusing a stored transaction intent');
      this.countRefusal();
      throw new UntrustedIntentError(key, problem);
    }
    return intent;
  }

  /**
   * The pending intents this sender wrote, lowest nonce first. Any other (a forged one, or one
   * whose nonce is so far ahead it would stall the wallet) is logged and left out: it is never
   * broadcast and takes no nonce.
   */
  private async trustedPending(chainNonce?: number): Promise<Intent[]> {
    const kept: Intent[] = [];
    for (const intent of await this.options.store.pending()) {
      let problem = await intentProblem(intent, { chainId: this.options.chainId, from: this.address });
      if (!problem && chainNonce !== undefined && intent.nonce > chainNonce + MAX_NONCE_GAP)
        problem = `nonce ${intent.nonce} is more than ${MAX_NONCE_GAP} above the wallet's pending nonce ${chainNonce}`;
      if (problem) {
        this.options.log.error({ key: intent.key, problem }, 'ignoring a stored transaction intent');
        this.countRefusal();
      } else kept.push(intent);
    }
    return kept;
  }

  /**
   * An existing intent answers a request only when it calls the same function of the same contract
   * with the same value. Not the whole data: a retried mint encrypts the connection details afresh,
   * so its arguments differ from the stored ones while it is the same logical transaction.
   */
  private matching(intent: Intent, request: TxRequest): Intent {
    const selector = (data: Hex) => (request.to === undefined ? '' : data.slice(0, 10).toLowerCase());
    const same =
      intent.to?.toLowerCase() === request.to?.toLowerCase() &&
      selector(intent.data) === selector(request.data) &&
      intent.value === (request.value ?? 0n).toString();
    if (!same) {
      this.countRefusal();
      throw new UntrustedIntentError(intent.key, 'it is a different transaction than the one requested now');
    }
    return intent;
  }

  /** Refusals are an attack or corruption: the operator's alert, not only a log line. */
  private countRefusal(): void {
    this.options.metrics?.txIntentsRefused.inc({ chain_id: String(this.options.chainId) });
  }

  /**
   * Signs, stores and broadcasts a replacement paying more; returns false, leaving the transaction
   * to wait, when the fee cap leaves no room for a bump the node would accept.
   */
  private async replace(intent: Intent): Promise<boolean> {
    const last = intent.attempts.at(-1)!;
    const current = await this.options.chain.estimateFeesPerGas();
    const wanted = {
      maxFeePerGas: max(bump(BigInt(last.maxFeePerGas)), current.maxFeePerGas),
      maxPriorityFeePerGas: max(bump(BigInt(last.maxPriorityFeePerGas)), current.maxPriorityFeePerGas),
    };
    const cap = await this.options.feeCap?.();
    const fees = capped(wanted, cap);
    if (
      fees.maxFeePerGas < minReplacement(BigInt(last.maxFeePerGas)) ||
      fees.maxPriorityFeePerGas < minReplacement(BigInt(last.maxPriorityFeePerGas))
    ) {
      const announced = this.cappedAt.has(intent.key);
      this.cappedAt.set(intent.key, Date.now());
      if (cap !== undefined && !announced) {
        this.options.metrics?.txFeeCapped.inc({ chain_id: String(intent.chainId) });
        this.options.log.warn(
          { key: intent.key, nonce: intent.nonce, maxFeePerGas: last.maxFeePerGas, capWei: String(cap) },
          'stuck transaction is at the fee cap; waiting for fees to fall',
        );
        this.options.onFeeCapped?.(intent, cap);
      }
      return false;
    }
    const attempt = await this.sign(intent, fees);
    intent.attempts.push(attempt);
    await this.options.store.update(intent);
    this.options.log.warn(
      { key: intent.key, nonce: intent.nonce, hash: attempt.hash, maxFeePerGas: attempt.maxFeePerGas },
      'replacing stuck transaction',
    );
    await this.broadcast(attempt);
    return true;
  }

  private async sign(intent: Intent, fees: Fees): Promise<Attempt> {
    const raw = await this.options.account.signTransaction({
      type: 'eip1559',
      chainId: intent.chainId,
      nonce: intent.nonce,
      to: intent.to,
      data: intent.data,
      value: BigInt(intent.value),
      gas: BigInt(intent.gas),
      ...fees,
    });
    return {
      hash: keccak256(raw),
      raw,
      maxFeePerGas: fees.maxFeePerGas.toString(),
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
      signedAt: new Date().toISOString(),
    };
  }

  private async broadcast(attempt: Attempt): Promise<void> {
    try {
      await this.options.chain.sendRawTransaction({ serializedTransaction: attempt.raw });
    } catch (error) {
      const message = String((error as Error).message);
      if (UNDERPRICED.test(message)) {
        this.options.log.debug(
          { hash: attempt.hash },
          'node refuses the transaction at current fees; waiting',
        );
        return;
      }
      if (!ALREADY_SENT.test(message)) throw error;
    }
  }

  /** The network's fees now, never above the cap. */
  private async currentFees(): Promise<Fees> {
    const fees = await this.options.chain.estimateFeesPerGas();
    return capped(fees, await this.options.feeCap?.());
  }

  /** Past every nonce the chain has seen from us and every nonce we have promised to an intent. */
  private async nextNonce(): Promise<number> {
    const chainNonce = await this.options.chain.getTransactionCount({
      address: this.options.account.address,
      blockTag: 'pending',
    });
    const promised = (await this.trustedPending(chainNonce)).map((intent) => intent.nonce + 1);
    return Math.max(chainNonce, ...promised);
  }

  private withNonceLock<T>(work: () => Promise<T>): Promise<T> {
    const run = this.nonceLock.then(work, work);
    this.nonceLock = run.catch(() => undefined);
    return run;
  }
}

interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** `fees` with neither above `cap` (the tip never above the fee cap). */
export function capped(fees: Fees, cap: bigint | undefined): Fees {
  if (cap === undefined)
    return { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas };
  const maxFeePerGas = min(fees.maxFeePerGas, cap);
  return { maxFeePerGas, maxPriorityFeePerGas: min(fees.maxPriorityFeePerGas, maxFeePerGas) };
}
