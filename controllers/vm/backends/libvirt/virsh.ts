import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A failed virsh call, with libvirt's own message (which names the cause, e.g. "Domain not found"). */
export class VirshError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(`virsh ${args.join(' ')}: ${timedOut ? 'no answer in time' : stderr}`, options);
    this.name = 'VirshError';
  }
}

/**
 * Runs virsh against `uri` and returns its stdout. virsh rather than a native binding: it is in
 * Debian's libvirt-clients, speaks every libvirt URI (local or remote), and a hung call can be
 * killed without taking the controller down.
 */
export async function virsh(
  uri: string,
  args: string[],
  timeoutMs = 60_000,
  /** Kills virsh when it aborts (the controller gave up on the call). */
  signal?: AbortSignal,
): Promise<string> {
  try {
    const { stdout } = await run('virsh', ['-q', '-c', uri, ...args], {
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
      signal,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string; killed?: boolean };
    throw new VirshError(args, (e.stderr ?? '').trim() || e.message, e.killed === true, { cause: error });
  }
}

/** libvirt's "no such object" errors: the domain, volume or pool is absent, not the call broken. */
export const isNoSuchObject = (error: unknown): boolean =>
  error instanceof VirshError &&
  /Domain not found|no domain with matching|failed to get domain|Storage volume not found|no storage vol with matching|failed to get vol/i.test(
    error.stderr,
  );
