import type { Address, PublicClient } from 'viem';
import { StepError } from './step.js';

/**
 * The block a contract was deployed in, by binary search over eth_getCode at past blocks (about 25
 * calls on mainnet). Needs an RPC that serves historical state; when it does not, the operator is
 * asked for the block instead of the watcher scanning from genesis.
 */
export async function findDeploymentBlock(
  rpc: PublicClient,
  address: Address,
  field: string,
): Promise<number> {
  const hasCodeAt = async (block: bigint) => {
    const code = await rpc.getCode({ address, blockNumber: block });
    return code !== undefined && code !== '0x';
  };
  try {
    let high = await rpc.getBlockNumber();
    let low = 0n;
    if (!(await hasCodeAt(high))) throw new Error(`no code at ${address} at the head block ${high}`);
    while (low < high) {
      const middle = (low + high) / 2n;
      if (await hasCodeAt(middle)) high = middle;
      else low = middle + 1n;
    }
    return Number(low);
  } catch (error) {
    throw new StepError(
      'StartBlockUnknown',
      `cannot find the deployment block of ${field} ${address} (${(error as Error).message.split('\n')[0]}): set spec.chain.contracts.startBlock`,
      { cause: error },
    );
  }
}
