import { CODE_LENGTH, generateCode, normalizeCode } from '../../lib/crypto/auth-code.js';
import { HttpError } from '../http/errors.js';

/** INTEROP §2: a dashboard code is valid for 300 s and once. */
export const CHALLENGE_TTL_MS = 300_000;

export interface Challenge {
  code: string;
  /** The machine name the message was built with, so the signature is checked against it. */
  machine: string;
  expiresAt: number;
}

/**
 * One-time login codes in memory. A code is taken out of the store by the first login that names
 * it, whatever the outcome, so a signature can never be replayed and a wrong guess burns the code.
 */
export class ChallengeStore {
  private readonly challenges = new Map<string, Challenge>();

  constructor(
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  issue(machine: string): Challenge {
    this.sweep();
    if (this.challenges.size >= this.max)
      throw new HttpError(503, 'too many pending login codes; try again in a few minutes');
    let code = generateCode(CODE_LENGTH);
    while (this.challenges.has(code)) code = generateCode(CODE_LENGTH);
    const challenge = { code, machine, expiresAt: this.now() + CHALLENGE_TTL_MS };
    this.challenges.set(code, challenge);
    return challenge;
  }

  /** Removes and returns the live challenge of `code`; 401 when unknown, used or expired. */
  take(code: string): Challenge {
    const key = normalizeCode(code);
    const challenge = this.challenges.get(key);
    this.challenges.delete(key);
    if (!challenge)
      throw new HttpError(401, 'This login code is unknown or was already used; get a new one.');
    if (this.now() >= challenge.expiresAt)
      throw new HttpError(401, 'This login code has expired (codes last 5 minutes); get a new one.');
    return challenge;
  }

  private sweep(): void {
    const now = this.now();
    for (const [code, challenge] of this.challenges)
      if (now >= challenge.expiresAt) this.challenges.delete(code);
  }
}
