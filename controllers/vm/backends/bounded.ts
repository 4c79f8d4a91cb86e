import { realClock, type Clock } from '../../../lib/runtime/workqueue/clock.js';
import { BackendError, type VmBackend } from '../backend.js';

/** How long one driver call may take before the controller stops waiting for it. */
export interface CallDeadlines {
  /** observe and the guest agent calls (guestExec, guestReadFile, guestWriteFile). */
  readMs: number;
  /** create, update, power and delete, which may wait for the backend's own tasks. */
  changeMs: number;
}

/** Defaults: a read answers in seconds; a Proxmox clone may wait 30 minutes for its task. */
export const DEFAULT_CALL_DEADLINES: CallDeadlines = { readMs: 20_000, changeMs: 35 * 60_000 };

/** A driver call that did not answer within its deadline (a hung guest agent, a stuck hypervisor). */
export class BackendTimeoutError extends BackendError {
  constructor(operation: string, backend: string, deadlineMs: number) {
    super(`${operation} on ${backend} did not answer within ${deadlineMs / 1000} s`, 'BackendTimeout');
    this.name = 'BackendTimeoutError';
  }
}

/**
 * A call abandoned because its reconcile was aborted (shutdown or lost leadership). Not a
 * BackendError: nothing about the VM is wrong, and nothing should be reported on it.
 */
export class BackendCallAbortedError extends Error {
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`${operation} abandoned: the controller is stopping`, options);
    this.name = 'AbortError';
  }
}

const READS = ['observe', 'guestExec', 'guestReadFile', 'guestWriteFile'] as const;
const CHANGES = ['create', 'update', 'power', 'delete'] as const;

/**
 * `backend` for one reconcile: every call gets an AbortSignal (passed to the driver as its last
 * argument, so it can kill its virsh, HTTP request or task wait) that aborts at the call's deadline
 * or when `signal` does. The caller is released at that moment even if the driver ignores the
 * signal, so a hostile guest agent can hold a worker for at most one deadline. Once `signal` has
 * aborted no call reaches the driver at all: a process that lost leadership never drives a backend.
 */
export function boundedBackend(
  backend: VmBackend,
  { signal, deadlines, clock = realClock }: { signal: AbortSignal; deadlines: CallDeadlines; clock?: Clock },
): VmBackend {
  const bounded: VmBackend = Object.create(backend) as VmBackend;
  const wrap = (operation: (typeof READS)[number] | (typeof CHANGES)[number], deadlineMs: number) => {
    const call = (backend[operation] as (...args: unknown[]) => Promise<unknown>).bind(backend);
    Object.defineProperty(bounded, operation, {
      value: (...args: unknown[]) => {
        if (signal.aborted)
          return Promise.reject(new BackendCallAbortedError(operation, { cause: signal.reason }));
        const controller = new AbortController();
        const timer = clock.setTimer(
          () => controller.abort(new BackendTimeoutError(operation, backend.type, deadlineMs)),
          deadlineMs,
        );
        const onAbort = () =>
          controller.abort(new BackendCallAbortedError(operation, { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        const abandoned = new Promise<never>((_, reject) =>
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), {
            once: true,
          }),
        );
        const result = call(...args, controller.signal);
        // Once abandoned, a late failure of the driver call has no one to report to.
        result.catch(() => undefined);
        return Promise.race([result, abandoned]).finally(() => {
          timer.cancel();
          signal.removeEventListener('abort', onAbort);
        });
      },
    });
  };
  for (const operation of READS) wrap(operation, deadlines.readMs);
  for (const operation of CHANGES) wrap(operation, deadlines.changeMs);
  return bounded;
}
