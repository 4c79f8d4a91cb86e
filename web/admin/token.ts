import { erc20Abi, type PublicClient } from 'viem';

export interface TokenInfo {
  address: string;
  symbol: string;
  decimals: number;
}

const known = new Map<string, Promise<TokenInfo>>();

/** Symbol and decimals of an ERC-20 (they never change, so they are read once per process). */
export function tokenInfo(client: PublicClient, address: `0x${string}`): Promise<TokenInfo> {
  const key = `${client.chain?.id}:${address.toLowerCase()}`;
  let info = known.get(key);
  if (!info) {
    info = Promise.all([
      client.readContract({ address, abi: erc20Abi, functionName: 'symbol' }),
      client.readContract({ address, abi: erc20Abi, functionName: 'decimals' }),
    ]).then(([symbol, decimals]) => ({ address, symbol, decimals }));
    // A failed read is retried by the next page load rather than remembered.
    info.catch(() => known.delete(key));
    known.set(key, info);
  }
  return info;
}
