// The chain watcher's checkpoint format and ConfigMap name: written by the controller manager,
// read by the admin dashboard (chain lag) and tests.

/** A processed block and its hash, to notice when the chain below us changed. */
export interface BlockRef {
  number: number;
  hash: `0x${string}`;
}

export interface Checkpoint {
  /** Every event up to and including this block is stored in the cluster. */
  block: BlockRef;
  /** Earlier processed range ends (newest last): where to rewind to after a reorg. */
  recent: BlockRef[];
}

/** Name of the checkpoint ConfigMap of one chain and subscriptions contract. */
export const checkpointName = (chainId: number, subscriptions: string): string =>
  `blockhost-chain-${chainId}-${subscriptions.slice(2, 10).toLowerCase()}`;
