import { describe, expect, it } from '@jest/globals';
import {
  ExecutionRevertedError,
  HttpRequestError,
  InsufficientFundsError,
  InternalRpcError,
  LimitExceededRpcError,
  RpcRequestError,
  TimeoutError,
  TransactionReceiptNotFoundError,
  WaitForTransactionReceiptTimeoutError,
} from 'viem';
import { isTransientRpcError } from './rpc-errors.js';

const url = 'http://127.0.0.1:8545';
const http = (status?: number) => new HttpRequestError({ url, status, body: {} });
const rpc = (code: number, message: string) =>
  new RpcRequestError({ url, body: {}, error: { code, message } });
const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('isTransientRpcError: only answers that say nothing about the transaction are retried', () => {
  it.each<[string, boolean, unknown]>([
    ['a timeout', true, new TimeoutError({ body: {}, url })],
    ['HTTP 500', true, http(500)],
    ['HTTP 503 (an outage)', true, http(503)],
    ['HTTP 429 (rate limited)', true, http(429)],
    ['no HTTP answer at all (fetch failed)', true, http(undefined)],
    ['a reset connection', true, reset],
    ['a reset connection under a wrapper', true, new Error('request failed', { cause: reset })],
    ['JSON-RPC internal error', true, new InternalRpcError(rpc(-32603, 'internal error'))],
    ['JSON-RPC limit exceeded', true, new LimitExceededRpcError(rpc(-32005, 'limit'))],
    ['-32000 header not found (lagging backend)', true, rpc(-32000, 'header not found')],
    ['HTTP 401 (bad API key)', false, http(401)],
    ['a mined or estimated revert', false, new ExecutionRevertedError({ message: 'revert' })],
    ['insufficient funds', false, new InsufficientFundsError()],
    ['-32000 nonce too low', false, rpc(-32000, 'nonce too low')],
    [
      'no receipt yet (an answer, not an error of the endpoint)',
      false,
      new TransactionReceiptNotFoundError({ hash: '0x01' }),
    ],
    ['an unrelated error', false, new Error('boom')],
    ['not an error', false, 'timeout'],
    ['a wait timeout of our own', false, new WaitForTransactionReceiptTimeoutError({ hash: '0x01' })],
  ])('%s → transient: %s', (_what, transient, error) => expect(isTransientRpcError(error)).toBe(transient));
});
