import { keccak256, type Hex, type LocalAccount, type PublicClient, type TransactionReceipt } from 'viem';
import { isAlreadyExists } from '../../lib/kube/errors.js';
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
  /** Test hook: called at the named step, so a test can kill the process exactly there. */
  onStep?: (step: SenderStep) => void;
}

export type SenderStep = 'signed' | 'persisted' | 'broadcast';

/** Geth refuses a replacement that pays less than 10 % more; 12.5 % clears it with margin. */
const bump = (wei: bigint) => (wei * 1125n) / 1000n + 1n;
const ALREADY_SENT = /already known|nonce too low|replacement transaction underpriced|already imported/i;
/** A pending intent this far above the chain's pending nonce would stall every later transaction. */
export const MAX_NONCE_GAP = 64;

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
 * Stuck transactions are replaced at the same nonce with higher fees (each replacement persisted
 * first, too). Results come from receipts.
 */
export class TransactionSender {
  private nonceLock: Promise<unknown> = Promise.resolve();
  private readonly stuckAfterMs: number;
  private readonly pollMs: number;

  constructor(private readonly options: TxSenderOptions) {
    this.stuckAfterMs = options.stuckAfterMs ?? 60_000;
    this.pollMs = options.pollMs ?? 1000;
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
    await this.broadcast(intent.attempts.at(-1)!);
    this.options.onStep?.('broadcast');
    return intent;
  }

  /** Waits until the intent's transaction is mined (re-broadcasting and replacing as needed). */
  async wait(key: string, signal?: AbortSignal): Promise<TxOutcome> {
    const { chain, store, log } = this.options;
    let pollsWithNonceTaken = 0;
    for (;;) {
      const intent = await this.trusted(key);
      if (!intent) throw new Error(`no transaction intent for ${key}`);
      if (intent.state === 'failed') throw new Error(`transaction ${key} failed: ${intent.error}`);
      for (const attempt of [...intent.attempts].reverse()) {
        const receipt = await chain.getTransactionReceipt({ hash: attempt.hash }).catch(() => undefined);
        if (!receipt) continue;
        if (intent.state === 'pending') {
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
        // Our nonce is used but by none of our attempts: a receipt may just not be indexed yet; if it
        // stays so, someone else used the wallet and this logical transaction never happened.
        if (++pollsWithNonceTaken >= 10) {
          intent.state = 'failed';
          intent.error = `nonce ${intent.nonce} was used by a transaction this sender did not sign`;
          await store.update(intent);
          continue;
        }
        await sleep(this.pollMs, signal);
        if (signal?.aborted) throw new Error('aborted');
        continue;
      }
      const last = intent.attempts.at(-1)!;
      if (Date.now() - Date.parse(last.signedAt) > this.stuckAfterMs) {
        await this.replace(intent);
      } else {
        // Re-broadcasting the same signed bytes is harmless and covers a crash before the first broadcast.
        await this.broadcast(last);
      }
      await sleep(this.pollMs, signal);
      if (signal?.aborted) throw new Error('aborted');
    }
  }

  async hasIntent(key: string): Promise<boolean> {
    return (await this.trusted(key)) !== undefined;
  }

  /** Resumes every unfinished intent after a restart (pending ones are re-broadcast by wait). */
  async pendingKeys(): Promise<string[]> {
    return (await this.trustedPending()).map((intent) => intent.key);
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
      if (problem)
        this.options.log.error({ key: intent.key, problem }, 'ignoring a stored transaction intent');
      else kept.push(intent);
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
    if (!same)
      throw new UntrustedIntentError(intent.key, 'it is a different transaction than the one requested now');
    return intent;
  }

  private async replace(intent: Intent): Promise<void> {
    const last = intent.attempts.at(-1)!;
    const current = await this.currentFees();
    const fees = {
      maxFeePerGas: [bump(BigInt(last.maxFeePerGas)), current.maxFeePerGas].reduce((a, b) => (a > b ? a : b)),
      maxPriorityFeePerGas: [bump(BigInt(last.maxPriorityFeePerGas)), current.maxPriorityFeePerGas].reduce(
        (a, b) => (a > b ? a : b),
      ),
    };
    const attempt = await this.sign(intent, fees);
    intent.attempts.push(attempt);
    await this.options.store.update(intent);
    this.options.log.warn(
      { key: intent.key, nonce: intent.nonce, hash: attempt.hash, maxFeePerGas: attempt.maxFeePerGas },
      'replacing stuck transaction',
    );
    await this.broadcast(attempt);
  }

  private async sign(
    intent: Intent,
    fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
  ): Promise<Attempt> {
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
      if (!ALREADY_SENT.test(String((error as Error).message))) throw error;
    }
  }

  private async currentFees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const fees = await this.options.chain.estimateFeesPerGas();
    return { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas };
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
