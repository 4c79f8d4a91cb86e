import { sleep } from '../../lib/backoff.js';
import { BackendError, type GuestCommand, type GuestExecResult } from './backend.js';

/** Sends one QEMU guest agent command (`{execute, arguments}`) and resolves to its `return` value. */
export type AgentTransport = (command: { execute: string; arguments?: object }) => Promise<unknown>;

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
}

const POLL_MS = 250;
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * guest-exec, then guest-exec-status until the program exits: the agent protocol is the same
 * whichever way the command reaches it (libvirt's qemu-agent-command, or virsh inside a KubeVirt
 * launcher pod). Output comes back base64-encoded.
 */
export async function execThroughAgent(
  send: AgentTransport,
  command: GuestCommand,
  /** Stops the polling when it aborts (the program keeps running in the guest). */
  signal?: AbortSignal,
): Promise<GuestExecResult> {
  const started = (await send({
    execute: 'guest-exec',
    arguments: {
      path: command.path,
      arg: command.args ?? [],
      'capture-output': true,
      ...(command.input !== undefined && { 'input-data': Buffer.from(command.input).toString('base64') }),
    },
  })) as { pid: number };
  const deadline = Date.now() + (command.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  for (;;) {
    const status = (await send({
      execute: 'guest-exec-status',
      arguments: { pid: started.pid },
    })) as ExecStatus;
    if (status.exited) {
      return {
        exitCode: status.exitcode ?? 128 + (status.signal ?? 0),
        stdout: Buffer.from(status['out-data'] ?? '', 'base64').toString('utf8'),
        stderr: Buffer.from(status['err-data'] ?? '', 'base64').toString('utf8'),
      };
    }
    if (Date.now() > deadline)
      throw new BackendError(
        `${command.path} did not exit in the guest within ${command.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
      );
    await sleep(POLL_MS, signal);
    signal?.throwIfAborted();
  }
}

/** How a missing file shows in the agent's error (QGA's guest-file-open reports strerror). */
export const GUEST_FILE_NOT_FOUND = /No such file or directory/;
/** QGA reads at most this much per guest-file-read by default; we ask for no more per call. */
const READ_CHUNK_BYTES = 4096;

/**
 * A file's content through guest-file-open/read/close, or undefined when it does not exist. Refuses
 * files larger than `maxBytes` (reads one byte more to tell).
 */
export async function readFileThroughAgent(
  send: AgentTransport,
  path: string,
  maxBytes: number,
): Promise<string | undefined> {
  let handle: number;
  try {
    handle = (await send({ execute: 'guest-file-open', arguments: { path, mode: 'r' } })) as number;
  } catch (error) {
    if (error instanceof Error && GUEST_FILE_NOT_FOUND.test(error.message)) return undefined;
    throw error;
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const read = (await send({
        execute: 'guest-file-read',
        arguments: { handle, count: Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total) },
      })) as { count: number; 'buf-b64': string; eof: boolean };
      chunks.push(Buffer.from(read['buf-b64'], 'base64'));
      total += read.count;
      if (total > maxBytes)
        throw new BackendError(`${path} in the guest is larger than ${maxBytes} bytes`, 'GuestFileTooLarge');
      if (read.eof || read.count === 0) return Buffer.concat(chunks).toString('utf8');
    }
  } finally {
    await send({ execute: 'guest-file-close', arguments: { handle } }).catch(() => undefined);
  }
}

/**
 * Creates or truncates `path` and writes `content` through guest-file-open("w")/write/close. Not
 * atomic: a reader polling the file may see it empty or partial until the close.
 */
export async function writeFileThroughAgent(
  send: AgentTransport,
  path: string,
  content: string,
): Promise<void> {
  const handle = (await send({ execute: 'guest-file-open', arguments: { path, mode: 'w' } })) as number;
  try {
    await send({
      execute: 'guest-file-write',
      arguments: { handle, 'buf-b64': Buffer.from(content).toString('base64') },
    });
  } finally {
    await send({ execute: 'guest-file-close', arguments: { handle } }).catch(() => undefined);
  }
}
