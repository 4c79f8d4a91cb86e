import type { PublicClient } from 'viem';
import { createChainClient } from '../../lib/chain/rpc.js';
import type { AdminChain } from './host.js';

/**
 * One viem client per chain id and endpoint list, reused across requests; a HostConfig edit that
 * changes the endpoints simply yields a new client.
 */
export class ChainClients {
  private readonly clients = new Map<string, PublicClient>();

  constructor(private readonly timeoutMs = 5_000) {}

  for(chain: Pick<AdminChain, 'chainId' | 'endpoints'>): PublicClient {
    const key = `${chain.chainId}\0${chain.endpoints.join('\0')}`;
    let client = this.clients.get(key);
    if (!client) {
      client = createChainClient({
        chainId: chain.chainId,
        endpoints: chain.endpoints,
        timeoutMs: this.timeoutMs,
      });
      // Endpoints rarely change; a handful of stale clients is harmless, an unbounded map is not.
      if (this.clients.size >= 8) this.clients.clear();
      this.clients.set(key, client);
    }
    return client;
  }
}
