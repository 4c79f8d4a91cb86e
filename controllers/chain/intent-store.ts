import { createHash } from 'node:crypto';
import {
  isAddressEqual,
  keccak256,
  parseTransaction,
  recoverTransactionAddress,
  type Address,
  type Hex,
} from 'viem';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';

/** One signed attempt at sending an intent's transaction; replacements share the nonce. */
export interface Attempt {
  hash: Hex;
  raw: Hex;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  signedAt: string;
}

/** A logical transaction, persisted before anything reaches the network. */
export interface Intent {
  key: string;
  chainId: number;
  from: Hex;
  /** Absent for a contract creation, whose address follows from `from` and `nonce`. */
  to?: Hex;
  data: Hex;
  value: string;
  gas: string;
  nonce: number;
  attempts: Attempt[];
  state: 'pending' | 'mined' | 'failed';
  /** When mined: the attempt that made it, and whether it succeeded. */
  result?: { hash: Hex; blockNumber: string; status: 'success' | 'reverted' };
  error?: string;
}

/** What a stored intent must agree with before the sender re-signs, re-broadcasts or counts it. */
export interface IntentExpectations {
  chainId: number;
  from: Address;
}

const hex = (value: unknown): value is Hex => typeof value === 'string' && /^0x[0-9a-fA-F]*$/.test(value);
const decimal = (value: unknown): value is string => typeof value === 'string' && /^\d{1,78}$/.test(value);

/**
 * Intents accepted before, by their exact stored text: the sender lists every pending intent for
 * each new nonce, and recovering signatures is the costly part (~10 ms each here; a mint burst has
 * hundreds pending). A cache of a few MB at most, cleared when full.
 */
const accepted = new Set<string>();
const ACCEPTED_KEPT = 2_000;

/**
 * Why a stored intent is not one this sender wrote, or undefined when it is. The owner marker is
 * the signature: `create` stores an intent only with its first attempt signed, and every attempt
 * must be a transaction the server key signed with exactly the intent's fields. Whoever can write
 * the ConfigMap but does not hold the key cannot make the sender sign or count anything else.
 */
export async function intentProblem(
  intent: Intent,
  expected: IntentExpectations,
): Promise<string | undefined> {
  if (typeof intent !== 'object' || intent === null) return 'is not an object';
  const text = `${expected.chainId}:${expected.from.toLowerCase()}:${JSON.stringify(intent)}`;
  if (accepted.has(text)) return undefined;
  const problem = await checkIntent(intent, expected);
  if (!problem) {
    if (accepted.size >= ACCEPTED_KEPT) accepted.clear();
    accepted.add(text);
  }
  return problem;
}

async function checkIntent(intent: Intent, expected: IntentExpectations): Promise<string | undefined> {
  if (intent.chainId !== expected.chainId) return `chainId ${intent.chainId} is not ${expected.chainId}`;
  if (!hex(intent.from) || !isAddressEqual(intent.from, expected.from))
    return `from ${String(intent.from)} is not the server wallet ${expected.from}`;
  if (intent.to !== undefined && !(hex(intent.to) && intent.to.length === 42)) return 'to is not an address';
  if (!hex(intent.data)) return 'data is not hex';
  if (!decimal(intent.value) || !decimal(intent.gas)) return 'value or gas is not a decimal number';
  if (!Number.isSafeInteger(intent.nonce) || intent.nonce < 0)
    return `nonce ${intent.nonce} is not a whole number`;
  if (!['pending', 'mined', 'failed'].includes(intent.state)) return `state ${intent.state} is unknown`;
  if (!Array.isArray(intent.attempts) || intent.attempts.length === 0) return 'has no signed attempt';
  for (const attempt of intent.attempts) {
    if (!hex(attempt.raw) || keccak256(attempt.raw) !== attempt.hash)
      return 'an attempt hash is not its raw bytes';
    let tx: ReturnType<typeof parseTransaction>;
    try {
      tx = parseTransaction(attempt.raw);
    } catch {
      return 'an attempt is not a transaction';
    }
    const same =
      tx.chainId === intent.chainId &&
      tx.nonce === intent.nonce &&
      (tx.to ?? undefined)?.toLowerCase() === intent.to?.toLowerCase() &&
      (tx.data ?? '0x').toLowerCase() === intent.data.toLowerCase() &&
      (tx.value ?? 0n) === BigInt(intent.value) &&
      tx.gas === BigInt(intent.gas) &&
      String(tx.maxFeePerGas) === attempt.maxFeePerGas &&
      String(tx.maxPriorityFeePerGas) === attempt.maxPriorityFeePerGas;
    if (!same) return `attempt ${attempt.hash} does not carry the intent's fields`;
    const signer = await recoverTransactionAddress({ serializedTransaction: attempt.raw as never }).catch(
      () => undefined,
    );
    if (!signer || !isAddressEqual(signer, expected.from))
      return `attempt ${attempt.hash} is not signed by the server wallet`;
  }
  return undefined;
}

interface IntentConfigMap extends KubeObject {
  data?: { intent?: string };
}

const LABEL = 'blockhost.io/tx-intent';

/**
 * Intents live in ConfigMaps (the API is the only database), one per logical transaction, named
 * from a hash of its key, in the controller's private state namespace (docs/controller-state.md).
 * Every write is compare-and-swap on the resourceVersion. The store only parses; the sender checks
 * each intent with `intentProblem` before trusting it.
 */
export class IntentStore {
  private readonly versions = new Map<string, string>();

  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
  ) {}

  static objectName(key: string): string {
    return `blockhost-tx-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`;
  }

  async get(key: string): Promise<Intent | undefined> {
    try {
      const object = await this.kube.get<IntentConfigMap>(
        coreTypes.configMap,
        IntentStore.objectName(key),
        this.namespace,
      );
      return this.remember(object);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Every intent still waiting for a receipt, lowest nonce first. */
  async pending(): Promise<Intent[]> {
    const list = await this.kube.list<IntentConfigMap>(coreTypes.configMap, {
      namespace: this.namespace,
      labelSelector: `${LABEL}=pending`,
    });
    return list.items
      .map((object) => this.remember(object))
      .filter((intent): intent is Intent => intent !== undefined)
      .sort((a, b) => a.nonce - b.nonce);
  }

  /** Creates the intent; fails with AlreadyExists when another writer got there first. */
  async create(intent: Intent): Promise<void> {
    const stored = await this.kube.create<IntentConfigMap>(coreTypes.configMap, this.toObject(intent));
    this.versions.set(intent.key, stored.metadata.resourceVersion ?? '');
  }

  async update(intent: Intent): Promise<void> {
    const object = this.toObject(intent);
    object.metadata.resourceVersion = this.versions.get(intent.key);
    const stored = await this.kube.update<IntentConfigMap>(coreTypes.configMap, object);
    this.versions.set(intent.key, stored.metadata.resourceVersion ?? '');
  }

  private remember(object: IntentConfigMap): Intent | undefined {
    const text = object.data?.intent;
    if (!text) return undefined;
    let intent: Intent;
    try {
      intent = JSON.parse(text) as Intent;
    } catch {
      return undefined;
    }
    if (typeof intent?.key !== 'string') return undefined;
    this.versions.set(intent.key, object.metadata.resourceVersion ?? '');
    return intent;
  }

  private toObject(intent: Intent): IntentConfigMap {
    return {
      metadata: {
        name: IntentStore.objectName(intent.key),
        namespace: this.namespace,
        labels: { [LABEL]: intent.state, 'app.kubernetes.io/part-of': 'blockhost' },
        annotations: { 'blockhost.io/tx-key': intent.key },
      },
      data: { intent: JSON.stringify(intent) },
    };
  }
}
