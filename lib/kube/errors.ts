/** A failed API call, carrying the API server's Status reason so callers can branch on it. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

const hasStatus = (error: unknown, status: number): boolean =>
  error instanceof KubeApiError && error.status === status;

export const isNotFound = (error: unknown): boolean => hasStatus(error, 404);
export const isConflict = (error: unknown): boolean =>
  hasStatus(error, 409) && (error as KubeApiError).reason === 'Conflict';
export const isAlreadyExists = (error: unknown): boolean =>
  hasStatus(error, 409) && (error as KubeApiError).reason === 'AlreadyExists';
/** 410 Gone: the requested resourceVersion is older than etcd's compaction window; relist. */
export const isGone = (error: unknown): boolean => hasStatus(error, 410);
export const isInvalid = (error: unknown): boolean => hasStatus(error, 422);
