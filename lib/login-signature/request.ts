// A wallet-signed SSH login answer on its way from the signing page into the guest (INTEROP §4,
// callback sessions). The web server only stores it (a ConfigMap labelled
// `blockhost.io/login-signature=true` in the controller's namespace); the controller manager
// (controllers/login-signature/) trusts nothing in it: it recovers the signer itself, compares it
// with the VM's owner wallet, checks the session the guest's PAM module opened, and only then
// writes `<session>.sig` into the guest through the guest agent. Shared by both sides, so they
// agree on every byte. See docs/wallet-login.md.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const LOGIN_SIGNATURE_LABEL = 'blockhost.io/login-signature';
/** Annotations the controller writes on a request ConfigMap (its outcome). */
export const LOGIN_SIGNATURE_ANNOTATIONS = {
  phase: 'blockhost.io/login-signature-phase',
  reason: 'blockhost.io/login-signature-reason',
} as const;

/** Delivered: `<session>.sig` is in the guest. Refused: nothing was written (see the reason). */
export type LoginSignaturePhase = 'Delivered' | 'Refused';

/** Why a request was refused, each with the HTTP status the signing page answers with. */
export const LOGIN_SIGNATURE_REFUSALS = {
  Malformed: 400,
  WrongWallet: 403,
  UnknownVm: 404,
  UnknownSession: 404,
  AlreadyAnswered: 409,
  GuestUnavailable: 503,
} as const;
export type LoginSignatureRefusal = keyof typeof LOGIN_SIGNATURE_REFUSALS;

/** The reason annotation of a refusal: `<kind>: <text for the person signing>`. */
export const loginSignatureReason = (kind: LoginSignatureRefusal, text: string): string => `${kind}: ${text}`;

/** A reason annotation taken apart; `kind` is undefined when it names no known refusal. */
export function parseLoginSignatureReason(reason: string): { kind?: LoginSignatureRefusal; text: string } {
  const match = /^([A-Za-z]+): (.*)$/s.exec(reason);
  if (match && Object.hasOwn(LOGIN_SIGNATURE_REFUSALS, match[1]!))
    return { kind: match[1] as LoginSignatureRefusal, text: match[2]! };
  return { text: reason };
}

/** Where the PAM module keeps callback sessions in the guest. */
export const GUEST_PENDING_DIR = '/run/libpam-web3/pending';
/** The module polls for `<session>.sig` for 10 s after the user pressed Enter. */
export const GUEST_POLL_WINDOW_MS = 10_000;
/** Larger request bodies are refused with 413 (as the original in-VM endpoint did). */
export const MAX_SIGNATURE_BODY_BYTES = 256;
/** Requests are removed this long after they were made (the session they answer is long over). */
export const LOGIN_SIGNATURE_TTL_MS = 10 * 60_000;

/** The text the wallet signs with personal_sign, exactly as the PAM module builds it. */
export const loginMessage = (machine: string, code: string): string =>
  `Authenticate to ${machine} with code: ${code}`;

/** The request fields, as the signing page posts them and the ConfigMap stores them. */
export const loginSignatureFields = z.strictObject({
  /** The VM object's name: the guest's machine id. */
  machine: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a VM name (a DNS label)'),
  code: z.string().regex(/^[0-9]{4,10}$/, 'must be the code the login prompt shows (4 to 10 digits)'),
  session: z
    .string()
    .regex(/^[0-9a-f]{32}$/, 'must be the session id from the link (32 lowercase hex digits)'),
  signature: z
    .string()
    .trim()
    .regex(/^(0x)?[0-9a-fA-F]{130}$/, 'must be a 65-byte signature: 0x and 130 hex digits')
    .transform((value) => `0x${value.replace(/^0x/, '').toLowerCase()}`),
});
export type LoginSignatureFields = z.output<typeof loginSignatureFields>;

/**
 * One object per guest session: a second answer to the same session is the same name, so the API
 * server refuses it (409) before anything reaches the guest.
 */
export const loginSignatureName = (machine: string, session: string): string =>
  `blockhost-login-${createHash('sha256').update(`${machine}/${session}`).digest('hex').slice(0, 40)}`;

/** The `.sig` file the PAM module polls: `0x` + 130 lowercase hex, newline-terminated. */
export const guestSignaturePath = (session: string): string => `${GUEST_PENDING_DIR}/${session}.sig`;
export const guestSessionPath = (session: string): string => `${GUEST_PENDING_DIR}/${session}.json`;

/** What the PAM module writes as `<session>.json`. */
export const guestSession = z.object({
  otp: z.string(),
  machine_id: z.string(),
  session_id: z.string(),
});
