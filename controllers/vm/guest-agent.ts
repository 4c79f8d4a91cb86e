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
    await sleep(POLL_MS);
  }
}
