/**
 * The wizard's one-time code: Secret `blockhost-setup-code` (data.code, data.issuedAt) written at
 * first boot or by an operator. The failed-attempt counter lives on the Secret itself (annotations,
 * written with resourceVersion preconditions), so it survives a web server restart and two
 * concurrent wrong guesses can never both count as the same attempt. The first right guess
 * redeems the code the same way (USED_FOR_ANNOTATION): a second browser with the same code is
 * refused, whichever web server process it reaches and however the two race.
 */
import { codesMatch } from '../../lib/crypto/auth-code.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isConflict, isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { HttpError } from '../http/errors.js';

export const SETUP_CODE_SECRET = 'blockhost-setup-code';
export const CODE_VALID_MS = 4 * 60 * 60_000;
/** Wrong codes allowed per issued code; the next try is refused even when right. */
export const MAX_FAILED_ATTEMPTS = 10;
/** Failed attempts so far, counted for the code issued at FAILURES_FOR_ANNOTATION. */
export const FAILURES_ANNOTATION = 'blockhost.io/setup-code-failures';
/** The issuedAt the counter belongs to: a new code (new issuedAt) starts from zero. */
export const FAILURES_FOR_ANNOTATION = 'blockhost.io/setup-code-failures-for';
/** The issuedAt of the code a session already signed in with: that code opens no second session. */
export const USED_FOR_ANNOTATION = 'blockhost.io/setup-code-used-for';

const CONFLICT_RETRIES = 5;

export const newCodeHelp = (namespace: string) =>
  `Issue a new code: run "blockhost-setup-code" on the server's console, or with kubectl: ` +
  `kubectl -n ${namespace} create secret generic ${SETUP_CODE_SECRET} --from-literal=code=<6 characters> ` +
  `--from-literal=issuedAt="$(date -u +%Y-%m-%dT%H:%M:%SZ)" --dry-run=client -o yaml | kubectl apply -f -`;

interface CodeSecret extends KubeObject {
  data?: Record<string, string>;
}

const decode = (value: string | undefined) =>
  value === undefined ? undefined : Buffer.from(value, 'base64').toString();

export class SetupCode {
  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
    private readonly now: () => number,
  ) {}

  /**
   * Checks a typed code and redeems it (the caller starts the one session it opens); counts a
   * wrong one on the Secret. Throws HttpError for every refusal.
   */
  async redeem(given: string): Promise<{ issuedAt: string }> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const secret = await this.read();
      const code = decode(secret.data?.code)?.trim();
      const issuedAt = decode(secret.data?.issuedAt)?.trim();
      const issuedMs = issuedAt ? Date.parse(issuedAt) : NaN;
      if (!code || !issuedAt || Number.isNaN(issuedMs))
        throw new HttpError(
          503,
          `The setup code Secret is incomplete (needs code and issuedAt). ${newCodeHelp(this.namespace)}`,
        );
      const annotations = secret.metadata.annotations ?? {};
      const failures =
        annotations[FAILURES_FOR_ANNOTATION] === issuedAt
          ? Number(annotations[FAILURES_ANNOTATION] ?? 0) || 0
          : 0;
      if (failures >= MAX_FAILED_ATTEMPTS)
        throw new HttpError(
          423,
          `Locked: ${MAX_FAILED_ATTEMPTS} wrong codes were entered for this code. ${newCodeHelp(this.namespace)}`,
        );
      if (this.now() - issuedMs >= CODE_VALID_MS || issuedMs - this.now() > 5 * 60_000)
        throw new HttpError(
          401,
          `This setup code has expired (codes are valid 4 hours). ${newCodeHelp(this.namespace)}`,
        );
      const right = codesMatch(code, given);
      if (right && annotations[USED_FOR_ANNOTATION] === issuedAt)
        throw new HttpError(
          401,
          `This setup code was already used to sign in (one browser per code). ${newCodeHelp(this.namespace)}`,
        );
      const marks: Record<string, string> = right
        ? { [USED_FOR_ANNOTATION]: issuedAt }
        : { [FAILURES_ANNOTATION]: String(failures + 1), [FAILURES_FOR_ANNOTATION]: issuedAt };
      try {
        // resourceVersion precondition: of two racing logins with the right code only one wins.
        await this.kube.update(coreTypes.secret, {
          ...secret,
          metadata: { ...secret.metadata, annotations: { ...annotations, ...marks } },
        } as CodeSecret);
      } catch (error) {
        // Someone else counted or redeemed (or a new code arrived): judge again on the fresh object.
        if (isConflict(error)) continue;
        throw error;
      }
      if (right) return { issuedAt };
      const left = MAX_FAILED_ATTEMPTS - failures - 1;
      throw new HttpError(
        401,
        left > 0
          ? `Wrong code. ${left} attempt${left === 1 ? '' : 's'} left before the wizard locks.`
          : `Wrong code. The wizard is now locked. ${newCodeHelp(this.namespace)}`,
        { code: 'wrong code' },
      );
    }
    throw new HttpError(503, 'the setup code is being changed right now; try again');
  }

  private async read(): Promise<CodeSecret> {
    try {
      return await this.kube.get<CodeSecret>(coreTypes.secret, SETUP_CODE_SECRET, this.namespace);
    } catch (error) {
      if (isNotFound(error))
        throw new HttpError(503, `No setup code has been issued yet. ${newCodeHelp(this.namespace)}`);
      throw error;
    }
  }
}
