// What a Proxmox VE error means. PVE answers most failures with HTTP 500 and the message in the
// status line (newer versions also in the JSON body), so the message text carries the meaning.

/** A PVE API call that failed: HTTP status and PVE's message (parameter errors folded in). */
export class PveApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    /** HTTP status; 0 when no response arrived (connection refused, reset, timed out). */
    readonly status: number,
    readonly pveMessage: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} ${path}: ${status === 0 ? 'no response' : `HTTP ${status}`}: ${pveMessage}`, options);
    this.name = 'PveApiError';
  }
}

/** A PVE task (UPID) that ended with an exit status other than OK. */
export class PveTaskError extends Error {
  constructor(
    readonly upid: string,
    readonly exitStatus: string,
  ) {
    super(`task ${upid} failed: ${exitStatus}`);
    this.name = 'PveTaskError';
  }
}

/** The PVE text of an API or task failure, or undefined for anything else. */
export function pveMessageOf(error: unknown): string | undefined {
  if (error instanceof PveApiError) return error.pveMessage;
  if (error instanceof PveTaskError) return error.exitStatus;
  return undefined;
}

const matches = (error: unknown, pattern: RegExp): boolean => pattern.test(pveMessageOf(error) ?? '');

// "Configuration file 'nodes/pve/qemu-server/105.conf' does not exist" (HTTP 500) is how PVE says
// "no such VM"; a 404 comes from proxies and future versions.
const VM_MISSING = /Configuration file '[^']*' does not exist|^VM \d+ does not exist/;
// A config lock property ("VM is locked (clone)") or the config file's flock held by a running task.
const LOCKED = /VM is locked|can't lock file '[^']*' - got timeout/;
const ALREADY_EXISTS = /already exists/;
// The guest agent is not answering (yet): the guest is booting, stopped, or the agent is not running.
const AGENT_UNAVAILABLE =
  /QEMU guest agent is not running|VM \d+ is not running|qmp command 'guest-[a-z-]+' failed - got timeout|guest-ping.*timeout/i;
/** Messages that mean a definite answer, never a transient fault, even when sent as HTTP 500. */
const DEFINITE = [
  VM_MISSING,
  LOCKED,
  ALREADY_EXISTS,
  AGENT_UNAVAILABLE,
  /No QEMU guest agent configured/,
  /already running|is running|not running/,
  /shrinking disks is not supported/,
  /template/,
  /does not exist|does not support/,
  /Agent error/,
];

export const isVmMissing = (error: unknown): boolean =>
  (error instanceof PveApiError && error.status === 404) || matches(error, VM_MISSING);
export const isLocked = (error: unknown): boolean => matches(error, LOCKED);
export const isAlreadyExists = (error: unknown): boolean => matches(error, ALREADY_EXISTS);
export const isAgentUnavailable = (error: unknown): boolean => matches(error, AGENT_UNAVAILABLE);

/**
 * Worth retrying the same request: no response at all (but not a certificate that fails
 * verification: that stays so), a gateway/proxy error, or a 5xx whose text carries none of the
 * definite meanings above (595-599 are pveproxy's "could not reach the node").
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof PveApiError)) return false;
  if (error.status === 0) return !/certificate/i.test(error.pveMessage);
  if (error.status < 500 || error.status === 501) return false;
  return !DEFINITE.some((pattern) => pattern.test(error.pveMessage));
}
