// Formatting for the signup page; pure functions (unit-tested in Node).
import type { ConnectionDetails } from '../../../lib/crypto/index.js';

/** A token amount in its smallest unit as a decimal string: 15000000n, 6 → "15". */
export function formatUnits(amount: bigint, decimals: number): string {
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** US cents as dollars: 50n → "$0.50". */
export function formatCents(cents: bigint): string {
  return `$${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/** A chain timestamp (seconds) as a readable UTC date and time. */
export function formatExpiry(seconds: bigint): string {
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The command that logs in: `ssh admin@203.0.113.5`, with `-p` when the port is not 22. */
export function sshCommand({ hostname, port, username }: ConnectionDetails): string {
  return `ssh ${port === 22 ? '' : `-p ${port} `}${username}@${hostname}`;
}

/**
 * What the VM's login prints (INTEROP §4), with placeholders where each login differs; the link
 * goes to this site's signing page.
 */
export function loginPromptExample(origin: string): string {
  return [
    '=== Web3 Authentication ===',
    'Code: 123456',
    'Machine: <your VM>',
    `Sign at: ${origin}/sign?machine=<your VM>&code=123456&session=…`,
    'Press Enter after signing in browser, or paste signature:',
  ].join('\n');
}

/** Whole days from a form field: an integer 1..3650, or a message saying what is wrong. */
export function parseDays(text: string): { days: bigint } | { error: string } {
  const trimmed = text.trim();
  if (!/^[0-9]+$/.test(trimmed)) return { error: 'Enter a whole number of days.' };
  const days = BigInt(trimmed);
  if (days < 1n || days > 3650n) return { error: 'Choose between 1 and 3650 days.' };
  return { days };
}

/** A subscription number from a form field (`#12` and `12` alike). */
export function parseSubscriptionId(text: string): { id: bigint } | { error: string } {
  const trimmed = text.trim().replace(/^#/, '');
  if (!/^[1-9][0-9]{0,76}$/.test(trimmed)) return { error: 'Enter the subscription number, e.g. 12.' };
  return { id: BigInt(trimmed) };
}

/** An NFT number from a form field (`#4` and `4` alike); token ids start at 0. */
export function parseTokenId(text: string): { tokenId: bigint } | { error: string } {
  const trimmed = text.trim().replace(/^#/, '');
  if (!/^(0|[1-9][0-9]{0,76})$/.test(trimmed)) return { error: 'Enter the NFT number, e.g. 4.' };
  return { tokenId: BigInt(trimmed) };
}

/**
 * A pasted personal_sign signature: 65 bytes as 130 hex digits, `0x` optional, surrounding spaces
 * and line breaks ignored (terminals wrap long lines). Returned as `0x` + lowercase hex.
 */
export function parsePastedSignature(text: string): { signature: `0x${string}` } | { error: string } {
  const compact = text.replace(/\s+/g, '').replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{130}$/.test(compact))
    return {
      error: `A signature is 130 hex digits (65 bytes), usually starting with 0x; this has ${/^[0-9a-fA-F]*$/.test(compact) ? `${compact.length} digits` : 'characters that are not hex digits'}.`,
    };
  return { signature: `0x${compact.toLowerCase()}` };
}
