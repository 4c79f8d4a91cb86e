/**
 * Typed errors for lib/crypto. Every public function throws only `CryptoError`, so callers
 * (controllers, web pages) can branch on `code` and show a clear reason instead of a stack trace.
 */
export type CryptoErrorCode =
  | 'INVALID_HEX'
  | 'INVALID_PRIVATE_KEY'
  | 'INVALID_PUBLIC_KEY'
  | 'INVALID_EPHEMERAL_KEY'
  | 'INVALID_ADDRESS'
  | 'INVALID_SIGNATURE'
  | 'INVALID_MESSAGE'
  | 'INVALID_PLAINTEXT'
  | 'INVALID_OPTION'
  | 'CIPHERTEXT_TOO_SHORT'
  | 'DECRYPTION_FAILED';

export class CryptoError extends Error {
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CryptoError';
  }
}

/**
 * Duck-typed check: works across bundles/realms where `instanceof` can fail (a page may load two
 * copies of this module).
 */
export function isCryptoError(error: unknown, code?: CryptoErrorCode): error is CryptoError {
  if (error instanceof CryptoError) return code === undefined || error.code === code;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown };
  return e.name === 'CryptoError' && typeof e.code === 'string' && (code === undefined || e.code === code);
}

/** Runs `fn` (a call into noble), turning whatever it throws into a CryptoError with `code`. */
export function wrap<T>(code: CryptoErrorCode, message: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (isCryptoError(error)) throw error;
    throw new CryptoError(code, message, { cause: error });
  }
}
