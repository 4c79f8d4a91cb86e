import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { BlockRef, Checkpoint } from '../../lib/chain/checkpoint.js';

interface CheckpointConfigMap extends KubeObject {
  data?: { checkpoint?: string };
}

const RECENT_KEPT = 64;

/**
 * The chain watcher's progress, persisted in a ConfigMap (the API is the only database). Writes
 * are compare-and-swap on the resourceVersion, so two watchers (a split brain) can never both
 * advance it.
 */
export class CheckpointStore {
  private resourceVersion?: string;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    readonly name: string,
  ) {}

  async load(): Promise<Checkpoint | undefined> {
    try {
      const configMap = await this.client.get<CheckpointConfigMap>(
        coreTypes.configMap,
        this.name,
        this.namespace,
      );
      this.resourceVersion = configMap.metadata.resourceVersion;
      const text = configMap.data?.checkpoint;
      return text ? (JSON.parse(text) as Checkpoint) : undefined;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.resourceVersion = undefined;
      return undefined;
    }
  }

  /** Stores `block` as processed, remembering the previous ones for reorg recovery. */
  async save(previous: Checkpoint | undefined, block: BlockRef): Promise<Checkpoint> {
    const recent = previous ? [...previous.recent, previous.block].slice(-RECENT_KEPT) : [];
    return this.write({ block, recent });
  }

  /** Moves the checkpoint back to `ancestor` after a reorg, forgetting the blocks above it. */
  async rewind(previous: Checkpoint, ancestor: BlockRef): Promise<Checkpoint> {
    return this.write({
      block: ancestor,
      recent: previous.recent.filter((ref) => ref.number < ancestor.number),
    });
  }

  private async write(checkpoint: Checkpoint): Promise<Checkpoint> {
    const object: CheckpointConfigMap = {
      metadata: {
        name: this.name,
        namespace: this.namespace,
        resourceVersion: this.resourceVersion,
        labels: { 'app.kubernetes.io/part-of': 'blockhost', 'app.kubernetes.io/component': 'chain-watcher' },
      },
      data: { checkpoint: JSON.stringify(checkpoint) },
    };
    const stored = this.resourceVersion
      ? await this.client.update(coreTypes.configMap, object)
      : await this.client.create(coreTypes.configMap, object);
    this.resourceVersion = stored.metadata.resourceVersion;
    return checkpoint;
  }
}
