import { describe, expect, it } from '@jest/globals';
import { BackendError, GuestAgentUnavailableError } from '../../backend.js';
import { execThroughAgent } from '../../guest-agent.js';
import type { ExecOutput } from './launcher.js';
import { LAUNCHER_LIBVIRT_URI, virshAgentTransport } from './virsh-agent.js';

const ok = (reply: unknown): ExecOutput => ({
  exitCode: 0,
  stdout: `${JSON.stringify(reply)}\n`,
  stderr: '',
});
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('guest-exec through virsh in virt-launcher', () => {
  it('runs guest-exec, polls guest-exec-status and decodes the output', async () => {
    const calls: string[][] = [];
    const replies = [
      ok({ return: { pid: 42 } }),
      ok({ return: { exited: false } }),
      ok({ return: { exited: true, exitcode: 3, 'out-data': b64('hello\n'), 'err-data': b64('oops\n') } }),
    ];
    const exec = (argv: string[]) => {
      calls.push(argv);
      return Promise.resolve(replies.shift() ?? ok({}));
    };
    const result = await execThroughAgent(virshAgentTransport(exec, 'vms_blockhost-001'), {
      path: '/usr/bin/chfn',
      args: ['-f', 'x', 'admin'],
      input: 'stdin',
    });
    expect(result).toEqual({ exitCode: 3, stdout: 'hello\n', stderr: 'oops\n' });
    expect(calls[0]?.slice(0, 5)).toEqual([
      'virsh',
      '-c',
      LAUNCHER_LIBVIRT_URI,
      'qemu-agent-command',
      'vms_blockhost-001',
    ]);
    expect(JSON.parse(calls[0]?.at(-1) ?? '')).toEqual({
      execute: 'guest-exec',
      arguments: {
        path: '/usr/bin/chfn',
        arg: ['-f', 'x', 'admin'],
        'capture-output': true,
        'input-data': b64('stdin'),
      },
    });
    expect(JSON.parse(calls[1]?.at(-1) ?? '')).toEqual({
      execute: 'guest-exec-status',
      arguments: { pid: 42 },
    });
  });

  it('an agent that does not answer is GuestAgentUnavailable; other virsh failures are BackendErrors', async () => {
    const failing = (stderr: string) =>
      virshAgentTransport(() => Promise.resolve({ exitCode: 1, stdout: '', stderr }), 'vms_x');
    await expect(
      failing('error: Guest agent is not responding: QEMU guest agent is not connected')({
        execute: 'guest-ping',
      }),
    ).rejects.toBeInstanceOf(GuestAgentUnavailableError);
    const other = await failing('error: failed to get domain')({ execute: 'guest-ping' }).catch(
      (e: unknown) => e,
    );
    expect(other).toBeInstanceOf(BackendError);
    expect(other).not.toBeInstanceOf(GuestAgentUnavailableError);
  });
});
