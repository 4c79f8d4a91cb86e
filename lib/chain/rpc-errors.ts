import {
  BaseError,
  HttpRequestError,
  InternalRpcError,
  LimitExceededRpcError,
  ResourceUnavailableRpcError,
  SocketClosedError,
  TimeoutError,
} from 'viem';

/** Error codes of sockets that broke or never connected: the endpoint may answer the next time. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);
/** Messages providers use for "not now" under the generic -32000 code. */
const BUSY_MESSAGE =
  /timeout|timed out|temporar|try again|header not found|too many requests|rate limit|busy/i;

/**
 * Whether an RPC failure says nothing about the transaction: a timeout, an HTTP 5xx or 429, a reset
 * connection, an endpoint's internal error. Such an answer is retried with backoff; only a
 * definitive one (a mined revert, a refusal such as insufficient funds) may end a send.
 */
export function isTransientRpcError(error: unknown): boolean {
  const causes: unknown[] = [];
  if (error instanceof BaseError) error.walk((cause) => (causes.push(cause), false));
  else for (let cause = error; cause instanceof Error; cause = cause.cause) causes.push(cause);
  return causes.some((cause) => {
    if (cause instanceof TimeoutError || cause instanceof SocketClosedError) return true;
    if (cause instanceof HttpRequestError)
      return cause.status === undefined || cause.status >= 500 || cause.status === 429;
    if (
      cause instanceof InternalRpcError ||
      cause instanceof LimitExceededRpcError ||
      cause instanceof ResourceUnavailableRpcError
    )
      return true;
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    return code === -32000 && typeof message === 'string' && BUSY_MESSAGE.test(message);
  });
}
