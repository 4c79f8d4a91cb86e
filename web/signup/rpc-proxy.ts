/**
 * The signup page's chain reads go through the web server: the HostConfig's RPC endpoints often
 * carry an API key (Infura/Alchemy paths, `?apikey=`, `user:pass@`), so they never reach a browser.
 * The proxy forwards only the read methods the page and a wallet's status checks use, one call per
 * request (no batches: one request, one rate-limit token), under the server's rate limits.
 */
import type { FastifyInstance } from 'fastify';
import { RpcRequestError } from 'viem';
import { z } from 'zod';
import type { ChainClients } from '../admin/chain-clients.js';
import { HttpError } from '../http/errors.js';
import { validate } from '../http/validation.js';

/** Where the page sends JSON-RPC (under the signup face's prefix, which is `/`). */
export const SIGNUP_RPC_PATH = '/api/signup/rpc';

/** Reads only: nothing that sends, signs, subscribes, or scans wide log ranges. */
export const PROXIED_METHODS = [
  'eth_blockNumber',
  'eth_call',
  'eth_chainId',
  'eth_estimateGas',
  'eth_feeHistory',
  'eth_gasPrice',
  'eth_getBalance',
  'eth_getBlockByNumber',
  'eth_getCode',
  'eth_getTransactionByHash',
  'eth_getTransactionCount',
  'eth_getTransactionReceipt',
  'eth_maxPriorityFeePerGas',
  'net_version',
] as const;

const rpcCall = z
  .object({
    jsonrpc: z.literal('2.0', 'must be "2.0"'),
    id: z.union([z.string().max(64), z.int().min(0).max(Number.MAX_SAFE_INTEGER), z.null()]),
    method: z.enum(PROXIED_METHODS, `must be one of: ${PROXIED_METHODS.join(', ')}`),
    params: z.array(z.unknown()).max(4).default([]),
  })
  .strict();

export type RpcCall = z.infer<typeof rpcCall>;

/** Pure: the one call a request body may make, or a 400 naming what is wrong (batches included). */
export function parseRpcCall(body: unknown): RpcCall {
  if (Array.isArray(body)) throw new HttpError(400, 'send one JSON-RPC call per request, not a batch');
  return validate(rpcCall, body);
}

/** The upstream's JSON-RPC error (a revert and its data, for the page), if that is what failed. */
function rpcErrorOf(error: unknown): { code: number; message: string; data?: unknown } | undefined {
  for (let e = error; e instanceof Error; e = e.cause)
    if (e instanceof RpcRequestError)
      return { code: e.code, message: e.details, ...(e.data !== undefined && { data: e.data }) };
  return undefined;
}

export function registerRpcProxy(
  app: FastifyInstance,
  chainOf: () => Promise<{ chainId: number; endpoints: string[] }>,
  clients: ChainClients,
): void {
  app.post(SIGNUP_RPC_PATH, async (request) => {
    const call = parseRpcCall(request.body);
    const client = clients.for(await chainOf());
    try {
      const result = await client.request({ method: call.method, params: call.params } as never);
      return { jsonrpc: '2.0', id: call.id, result };
    } catch (error) {
      const rpcError = rpcErrorOf(error);
      if (rpcError) return { jsonrpc: '2.0', id: call.id, error: rpcError };
      request.log.warn({ err: error, method: call.method }, 'RPC proxy: no endpoint answered');
      throw new HttpError(502, 'the chain RPC did not answer; try again shortly');
    }
  });
}
