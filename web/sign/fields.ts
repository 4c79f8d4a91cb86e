// What the signing page and its API accept: the shapes of lib/login-signature (the controller
// checks the stored request with the same schema), split by where each field travels.
import { z } from 'zod';
import { loginSignatureFields, MAX_SIGNATURE_BODY_BYTES } from '../../lib/login-signature/request.js';

const { machine, code, session, signature } = loginSignatureFields.shape;

/** `/sign?machine=…&code=…&session=…` as the PAM module prints it (no session: paste only). */
export const signLinkQuery = z.object({ machine, code, session: session.optional() });
export type SignLink = z.output<typeof signLinkQuery>;

export const signatureParams = z.strictObject({ session });
export const signatureBody = z.strictObject({ machine, code, signature });

/**
 * The route's body limit: the signature's own limit plus room for machine, code and the JSON around
 * them, so an oversized body is refused (413) before it is read or parsed.
 */
export const SIGNATURE_ROUTE_BODY_LIMIT = 2 * MAX_SIGNATURE_BODY_BYTES;

/** True when the body's signature field alone is over the limit the original endpoint had. */
export function signatureTooLarge(body: unknown): boolean {
  const value =
    typeof body === 'object' && body !== null ? (body as { signature?: unknown }).signature : undefined;
  return typeof value === 'string' && Buffer.byteLength(value) > MAX_SIGNATURE_BODY_BYTES;
}
