import { createHash } from 'node:crypto';
import type { Hex } from 'viem';
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

interface IntentConfigMap extends KubeObject {
  data?: { intent?: string };
}

const LABEL = 'blockhost.io/tx-intent';

/**
 * Intents live in ConfigMaps (the API is the only database), one per logical transaction, named
 * from a hash of its key. Every write is compare-and-swap on the resourceVersion.
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
    const intent = JSON.parse(text) as Intent;
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
