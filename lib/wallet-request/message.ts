// The signed wallet request (withdraw / send): one canonical, human-readable message the admin signs
// with personal_sign, stored by the web server in a ConfigMap and executed once by the controller
// manager (controllers/wallet/). Shared by both sides, so they agree on every byte. See
// docs/wallet-requests.md.
import { getAddress, isAddress, keccak256, stringToHex, type Address, type Hex } from 'viem';
import { z } from 'zod';

/** Label of the request ConfigMaps (the controller watches only these). */
export const WALLET_REQUEST_LABEL = 'blockhost.io/wallet-request';
/** Annotations the controller writes on a request ConfigMap (its outcome). */
export const WALLET_REQUEST_ANNOTATIONS = {
  phase: 'blockhost.io/wallet-request-phase',
  reason: 'blockhost.io/wallet-request-reason',
  txHash: 'blockhost.io/wallet-request-tx',
  signer: 'blockhost.io/wallet-request-signer',
} as const;
/** A signed request is valid for at most this long (the message's own `expires`). */
export const WALLET_REQUEST_MAX_TTL_MS = 10 * 60_000;
export const WALLET_REQUEST_HEADER = 'BlockHost wallet request';

export type WalletRequestPhase = 'Pending' | 'Sent' | 'Confirmed' | 'Failed' | 'Refused';
export const TERMINAL_PHASES: readonly WalletRequestPhase[] = ['Confirmed', 'Failed', 'Refused'];

const address = z
  .string()
  .refine((value) => isAddress(value, { strict: false }), 'must be a 0x address of 40 hex digits')
  .transform((value) => getAddress(value));

/** What the admin asks for: the fields of the message except host, nonce and expiry. */
export const walletRequestFields = z
  .strictObject({
    action: z.enum(['withdraw', 'send'], { error: 'must be withdraw or send' }),
    /** An ERC-20 address, or `ETH` for the native coin (send only). */
    token: z.union([z.literal('ETH'), address], { error: 'must be ETH or a token address' }),
    /** Base units (wei) as a decimal integer, or `all` (withdraw: the contract's whole balance). */
    amount: z
      .string()
      .regex(/^(all|[1-9][0-9]{0,77})$/, 'must be a whole number of base units (wei) above 0, or all'),
    to: address.refine((value) => BigInt(value) !== 0n, 'must not be the zero address'),
  })
  .superRefine((fields, context) => {
    if (fields.action === 'withdraw') {
      // withdrawFunds(token, to) moves the contract's whole ERC-20 balance: no amount, no ETH.
      if (fields.token === 'ETH')
        context.addIssue({
          code: 'custom',
          path: ['token'],
          message: 'withdraw moves an ERC-20 the contract holds; ETH is not collected there',
        });
      if (fields.amount !== 'all')
        context.addIssue({
          code: 'custom',
          path: ['amount'],
          message: 'withdraw always moves the whole balance: the amount must be all',
        });
    } else if (fields.amount === 'all')
      context.addIssue({ code: 'custom', path: ['amount'], message: 'send needs an amount in base units' });
  });

export type WalletRequestFields = z.output<typeof walletRequestFields>;

export interface WalletRequest extends WalletRequestFields {
  host: string;
  /** Chain id and subscriptions contract of this host: a request signed for another host (even one
   *  the same admin wallet runs) is refused here. */
  chain: number;
  contract: Address;
  /** 32 hex digits, random per request. */
  nonce: string;
  /** ISO time; the controller refuses the request after it. */
  expires: string;
}

const KEYS = ['host', 'chain', 'contract', 'action', 'token', 'amount', 'to', 'nonce', 'expires'] as const;

/** The exact text the admin signs. */
export function formatWalletRequest(request: WalletRequest): string {
  return [WALLET_REQUEST_HEADER, ...KEYS.map((key) => `${key}: ${request[key]}`)].join('\n');
}

export class WalletRequestError extends Error {
  override name = 'WalletRequestError';
}

const envelope = z.strictObject({
  host: z.string().min(1).max(253),
  chain: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be a chain id')
    .transform(Number),
  contract: address,
  nonce: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits'),
  expires: z.iso.datetime({ message: 'must be an ISO time (UTC, Z)' }),
});

/**
 * Parses a message back into its fields; throws WalletRequestError naming the first problem. Only
 * the canonical form is accepted (`formatWalletRequest(parse(m)) === m`), so one request has one text.
 */
export function parseWalletRequest(message: string): WalletRequest {
  const lines = message.split('\n');
  if (lines[0] !== WALLET_REQUEST_HEADER || lines.length !== KEYS.length + 1)
    throw new WalletRequestError(
      `not a wallet request: expected "${WALLET_REQUEST_HEADER}" and ${KEYS.length} lines`,
    );
  const values: Record<string, string> = {};
  KEYS.forEach((key, index) => {
    const line = lines[index + 1]!;
    if (!line.startsWith(`${key}: `)) throw new WalletRequestError(`line ${index + 2} must be "${key}: …"`);
    values[key] = line.slice(key.length + 2);
  });
  const { host, chain, contract, nonce, expires, ...rest } = values;
  const head = envelope.safeParse({ host, chain, contract, nonce, expires });
  const fields = walletRequestFields.safeParse(rest);
  const issue = head.error?.issues[0] ?? fields.error?.issues[0];
  if (issue) throw new WalletRequestError(`${issue.path.join('.') || 'message'}: ${issue.message}`);
  const request: WalletRequest = { ...head.data!, contract: head.data!.contract as Address, ...fields.data! };
  if (formatWalletRequest(request) !== message)
    throw new WalletRequestError('not in canonical form (addresses must be checksummed)');
  return request;
}

/** keccak256 of the message: the request's identity (object name and transaction key). */
export const walletRequestHash = (message: string): Hex => keccak256(stringToHex(message));

/** The ConfigMap name of a message: the same signed request is always the same object. */
export const walletRequestName = (message: string): string =>
  `blockhost-wallet-request-${walletRequestHash(message).slice(2)}`;

export const tokenOf = (request: Pick<WalletRequest, 'token'>): Address | undefined =>
  request.token === 'ETH' ? undefined : (request.token as Address);
