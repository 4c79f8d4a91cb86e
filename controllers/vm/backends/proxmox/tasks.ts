import { sleep } from '../../../../lib/backoff.js';
import { BackendError } from '../../backend.js';
import type { PveClient } from './client.js';
import { PveTaskError } from './errors.js';
import { parseUpid } from './upid.js';

interface TaskStatus {
  status: 'running' | 'stopped' | string;
  exitstatus?: string;
}

/** "OK", or "WARNINGS: n" for a task that succeeded but logged warnings. */
const succeeded = (exitStatus: string) => exitStatus === 'OK' || /^WARNINGS: \d+$/.test(exitStatus);

/**
 * Polls a task until it stops; resolves if it ended OK, throws PveTaskError with PVE's exit status
 * otherwise, BackendError when it is still running at the deadline, and the abort reason once
 * `signal` aborts. Some calls answer null
 * instead of a UPID when they finished synchronously (older versions): nothing to wait for.
 */
export async function waitForTask(
  client: PveClient,
  upid: unknown,
  { timeoutMs, what, signal }: { timeoutMs: number; what: string; signal?: AbortSignal },
): Promise<void> {
  if (upid === null || upid === undefined || upid === '') return;
  const parsed = typeof upid === 'string' ? parseUpid(upid) : undefined;
  if (!parsed) throw new BackendError(`${what}: Proxmox answered ${JSON.stringify(upid)}, not a task id`);
  const path = `/nodes/${encodeURIComponent(parsed.node)}/tasks/${encodeURIComponent(upid as string)}/status`;
  const deadline = Date.now() + timeoutMs;
  let intervalMs = 100;
  for (;;) {
    const task = await client.get<TaskStatus>(path, undefined, { signal });
    if (task.status === 'stopped') {
      const exitStatus = task.exitstatus ?? 'unknown';
      if (succeeded(exitStatus)) return;
      throw new PveTaskError(upid as string, exitStatus);
    }
    if (Date.now() >= deadline) {
      throw new BackendError(
        `${what}: task ${upid as string} still running after ${timeoutMs} ms`,
        'ProxmoxTaskTimeout',
      );
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
    // The task keeps running on PVE; this process stops waiting for it (a next leader looks again).
    signal?.throwIfAborted();
    intervalMs = Math.min(intervalMs * 2, 1000);
  }
}
