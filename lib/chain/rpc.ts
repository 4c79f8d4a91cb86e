import { createPublicClient, fallback, http, type Chain, type PublicClient } from 'viem';
import type { ChainMetrics } from './metrics.js';

export interface RpcOptions {
  chainId: number;
  endpoints: string[];
  /** Per-request timeout; a hung endpoint must not stall the watcher. */
  timeoutMs?: number;
  metrics?: ChainMetrics;
}

/** The endpoint's host, for metric labels (never the path, which may hold an API key). */
const endpointLabel = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid-url';
  }
};

/** fetch that counts failures per endpoint: network errors, HTTP errors and JSON-RPC error replies. */
function countingFetch(url: string, metrics?: ChainMetrics): typeof fetch {
  const endpoint = endpointLabel(url);
  return async (input, init) => {
    try {
      const response = await fetch(input, init);
      if (!response.ok) metrics?.rpcErrors.inc({ endpoint, kind: 'http' });
      else if (metrics) {
        const text = await response.clone().text();
        if (text.includes('"error"')) metrics.rpcErrors.inc({ endpoint, kind: 'rpc' });
      }
      return response;
    } catch (error) {
      metrics?.rpcErrors.inc({ endpoint, kind: 'network' });
      throw error;
    }
  };
}

/**
 * A viem public client over several endpoints: each request goes to the first endpoint that
 * answers (viem's fallback transport moves on after errors and timeouts). Retries with jittered
 * backoff across whole cycles are the caller's job (the watcher's loop), so a provider outage never
 * becomes a hot retry loop here.
 */
export function createChainClient({
  chainId,
  endpoints,
  timeoutMs = 10_000,
  metrics,
}: RpcOptions): PublicClient {
  if (endpoints.length === 0) throw new Error('at least one RPC endpoint is required');
  const chain: Chain = {
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: endpoints } },
  };
  const transports = endpoints.map((url) =>
    http(url, { timeout: timeoutMs, retryCount: 0, fetchFn: countingFetch(url, metrics) }),
  );
  return createPublicClient({ chain, transport: fallback(transports, { retryCount: 1, retryDelay: 100 }) });
}
