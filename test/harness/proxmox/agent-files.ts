// PVE's agent/file-read and agent/file-write: the parameter schema (checked before anything else,
// as pveproxy does) and what PVE does with the guest's file through guest-file-open/read/write/close.
import { GuestFsError, type GuestFilesystem } from './guest-fs.js';
import { parameterError, pveDie, single, type RequestParams } from './http.js';

/** PVE's schema limit of file-write's `content` (characters). */
export const FILE_WRITE_MAX_CHARS = 61_440;
/** file-read returns at most this much and says `truncated`. */
export const FILE_READ_MAX_BYTES = 16 * 2 ** 20;
/** QGA decodes only this alphabet (qbase64_decode); PVE passes encode=0 content through. */
const QGA_BASE64 = /^[A-Za-z0-9+/=\n]*$/;
const PVE_BOOLEAN = /^(1|0|true|false|yes|no|on|off)$/i;

export type AgentFileRequest =
  | { command: 'file-read'; file: string }
  | { command: 'file-write'; file: string; content: string; encoded: boolean };

const MISSING = 'property is missing and it is not optional';

/** The validated parameters of a file command, or a 400 with PVE's per-parameter texts. */
export function agentFileRequest(command: string, params: RequestParams): AgentFileRequest | undefined {
  if (command !== 'file-read' && command !== 'file-write') return undefined;
  const errors: Record<string, string> = {};
  const file = single(params, 'file');
  if (file === undefined) errors.file = MISSING;
  if (command === 'file-read') {
    if (file === undefined) throw parameterError(errors);
    return { command, file };
  }
  const content = single(params, 'content');
  const encode = single(params, 'encode');
  if (content === undefined) errors.content = MISSING;
  else if ([...content].length > FILE_WRITE_MAX_CHARS)
    errors.content = `value may only be ${FILE_WRITE_MAX_CHARS} characters long`;
  if (encode !== undefined && !PVE_BOOLEAN.test(encode))
    errors.encode = `type check ('boolean') failed - got '${encode}'`;
  if (Object.keys(errors).length > 0) throw parameterError(errors);
  const encoded = encode === undefined || /^(1|true|yes|on)$/i.test(encode);
  return { command, file: file!, content: content!, encoded };
}

/** The bytes the agent writes: PVE base64-encodes for it unless the caller already did (encode=0). */
function bytesOf(request: Extract<AgentFileRequest, { command: 'file-write' }>): Buffer {
  if (request.encoded) return Buffer.from(request.content);
  if (!QGA_BASE64.test(request.content)) throw pveDie('Agent error: Base64 data contains invalid characters');
  return Buffer.from(request.content, 'base64');
}

/** What PVE answers once the agent is known to be up. */
export function runAgentFileRequest(
  fs: GuestFilesystem,
  request: AgentFileRequest,
): { content: string; truncated?: 1 } | null {
  const mode = request.command === 'file-read' ? 'r' : 'wb';
  try {
    if (request.command === 'file-write') {
      fs.write(request.file, bytesOf(request));
      return null;
    }
    const data = fs.read(request.file);
    const content = data.subarray(0, FILE_READ_MAX_BYTES).toString('utf8');
    return data.length > FILE_READ_MAX_BYTES ? { content, truncated: 1 } : { content };
  } catch (error) {
    if (!(error instanceof GuestFsError)) throw error;
    // fopen(dir, "r") succeeds on Linux; the read is what fails.
    if (mode === 'r' && error.message === 'Is a directory')
      throw pveDie(`Agent error: failed to read file: ${error.message}`);
    throw pveDie(`Agent error: failed to open file '${request.file}' (mode: '${mode}'): ${error.message}`);
  }
}
