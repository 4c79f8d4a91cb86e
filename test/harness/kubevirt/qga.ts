// The QEMU guest agent (qemu-ga) of a simulated guest, as libvirt's qemu-agent-command reaches it:
// one JSON command in, its `return` value out, or a QgaError with the `desc` qemu-ga would send.
// Only the commands BlockHost sends are modelled, with qemu-ga's defaults and error texts.
import { GuestFsError } from '../proxmox/guest-fs.js';
import type { ExecOutcome, SimulatedGuest } from '../proxmox/guest.js';

/** An agent error; `message` is qemu-ga's `desc`, which libvirt quotes in its own error. */
export class QgaError extends Error {}

export interface QgaCommand {
  execute?: unknown;
  arguments?: Record<string, unknown>;
}

/** qemu-ga's guest-file-read default count (QGA_READ_COUNT_DEFAULT). */
const READ_COUNT_DEFAULT = 4096;
/** fopen modes BlockHost uses, by what they do. */
const READ_MODES = new Set(['r', 'rb']);
const WRITE_MODES = new Set(['w', 'wb']);

interface OpenFile {
  path: string;
  writing: boolean;
  offset: number;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

export class GuestAgent {
  private readonly processes = new Map<number, ExecOutcome>();
  private readonly handles = new Map<number, OpenFile>();
  private nextPid = 1000;
  private nextHandle = 1000;

  constructor(private readonly guest: SimulatedGuest) {}

  run(command: QgaCommand): unknown {
    const args = command.arguments ?? {};
    switch (command.execute) {
      case 'guest-ping':
        return {};
      case 'guest-exec':
        return this.exec(args);
      case 'guest-exec-status':
        return this.execStatus(args);
      case 'guest-file-open':
        return this.open(args);
      case 'guest-file-read':
        return this.read(args);
      case 'guest-file-write':
        return this.write(args);
      case 'guest-file-close':
        this.file(args);
        this.handles.delete(args.handle as number);
        return {};
      default:
        throw new QgaError(`The command ${String(command.execute)} has not been found`);
    }
  }

  private exec(args: Record<string, unknown>): { pid: number } {
    const path = required<string>(args, 'path');
    const input = args['input-data'] as string | undefined;
    let outcome: ExecOutcome;
    try {
      outcome = this.guest.exec(
        path,
        (args.arg as string[] | undefined) ?? [],
        input === undefined ? undefined : Buffer.from(input, 'base64').toString('utf8'),
      );
    } catch (error) {
      throw new QgaError(`Guest agent command failed, error was '${(error as Error).message}'`);
    }
    const pid = this.nextPid++;
    // Without capture-output the program's output goes nowhere.
    this.processes.set(pid, args['capture-output'] ? outcome : { ...outcome, stdout: '', stderr: '' });
    return { pid };
  }

  /** Programs here finish at once; like qemu-ga, a finished process is reported once and forgotten. */
  private execStatus(args: Record<string, unknown>): object {
    const pid = required<number>(args, 'pid');
    const outcome = this.processes.get(pid);
    if (!outcome) throw new QgaError("Invalid parameter 'pid'");
    this.processes.delete(pid);
    return {
      exited: true,
      exitcode: outcome.exitcode,
      ...(outcome.stdout && { 'out-data': b64(outcome.stdout) }),
      ...(outcome.stderr && { 'err-data': b64(outcome.stderr) }),
    };
  }

  private open(args: Record<string, unknown>): number {
    const path = required<string>(args, 'path');
    const mode = (args.mode as string | undefined) ?? 'r';
    if (!READ_MODES.has(mode) && !WRITE_MODES.has(mode))
      throw new QgaError(`invalid file open mode '${mode}'`);
    const writing = WRITE_MODES.has(mode);
    try {
      if (writing) this.guest.files.write(path, Buffer.alloc(0));
      else this.guest.files.read(path);
    } catch (error) {
      if (!(error instanceof GuestFsError)) throw error;
      // fopen(dir, "r") succeeds on Linux; reading it is what fails.
      if (writing || error.message !== 'Is a directory')
        throw new QgaError(`failed to open file '${path}' (mode: '${mode}'): ${error.message}`);
    }
    const handle = this.nextHandle++;
    this.handles.set(handle, { path, writing, offset: 0 });
    return handle;
  }

  /** eof as feof() after fread(): set only once a read came back short. */
  private read(args: Record<string, unknown>): object {
    const file = this.file(args);
    const count = (args.count as number | undefined) ?? READ_COUNT_DEFAULT;
    if (!Number.isInteger(count) || count < 0)
      throw new QgaError(`value '${count}' is invalid for argument count`);
    if (file.writing) throw new QgaError('failed to read file: Bad file descriptor');
    const chunk = this.contentOf(file.path, 'failed to read file: ').subarray(
      file.offset,
      file.offset + count,
    );
    file.offset += chunk.length;
    return { count: chunk.length, 'buf-b64': chunk.toString('base64'), eof: chunk.length < count };
  }

  private write(args: Record<string, unknown>): object {
    const file = this.file(args);
    const data = Buffer.from(required<string>(args, 'buf-b64'), 'base64');
    if (!file.writing) throw new QgaError('failed to write to file: Bad file descriptor');
    const current = this.contentOf(file.path, 'failed to write to file: ');
    this.guest.files.write(file.path, Buffer.concat([current.subarray(0, file.offset), data]));
    file.offset += data.length;
    return { count: data.length, eof: false };
  }

  private file(args: Record<string, unknown>): OpenFile {
    const handle = required<number>(args, 'handle');
    const file = this.handles.get(handle);
    if (!file) throw new QgaError(`handle '${handle}' has not been found`);
    return file;
  }

  private contentOf(path: string, prefix: string): Buffer {
    try {
      return this.guest.files.read(path);
    } catch (error) {
      if (error instanceof GuestFsError) throw new QgaError(`${prefix}${error.message}`);
      throw error;
    }
  }
}

function required<T>(args: Record<string, unknown>, name: string): T {
  if (args[name] === undefined) throw new QgaError(`Parameter '${name}' is missing`);
  return args[name] as T;
}
