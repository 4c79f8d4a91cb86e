// HTTP plumbing of the fake PVE API: request parameters from the query string and JSON, form or
// multipart bodies (as pveproxy accepts them), and responses in PVE's shape: `{data}` on success;
// on failure the message in the status line and the body (newer PVE versions put it in both).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Request } from 'undici';

/** A failure the fake answers with: HTTP status, PVE's message, and per-parameter errors for 400s. */
export class PveHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

export const parameterError = (errors: Record<string, string>) =>
  new PveHttpError(400, 'Parameter verification failed.', errors);

/** An error PVE raises with `die "...\n"`: HTTP 500 and the text. */
export const pveDie = (message: string) => new PveHttpError(500, message);

export interface UploadedFile {
  fileName: string;
  data: Buffer;
}

export interface RequestParams {
  values: Map<string, string | string[]>;
  files: Map<string, UploadedFile>;
}

function add(values: Map<string, string | string[]>, key: string, value: string): void {
  const existing = values.get(key);
  if (existing === undefined) values.set(key, value);
  else values.set(key, [...(Array.isArray(existing) ? existing : [existing]), value]);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function readParams(request: IncomingMessage, url: URL): Promise<RequestParams> {
  const values = new Map<string, string | string[]>();
  const files = new Map<string, UploadedFile>();
  for (const [key, value] of url.searchParams) add(values, key, value);
  const body = await readBody(request);
  const contentType = request.headers['content-type'] ?? '';
  if (body.length === 0) return { values, files };
  if (contentType.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new PveHttpError(400, 'malformed JSON body');
    }
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      if (Array.isArray(value)) value.forEach((item) => add(values, key, String(item)));
      else if (value !== null && value !== undefined) add(values, key, String(value));
    }
  } else if (contentType.startsWith('application/x-www-form-urlencoded')) {
    for (const [key, value] of new URLSearchParams(body.toString('utf8'))) add(values, key, value);
  } else if (contentType.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake.invalid/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new Uint8Array(body),
    }).formData();
    for (const [key, value] of form) {
      if (typeof value === 'string') add(values, key, value);
      else files.set(key, { fileName: value.name, data: Buffer.from(await value.arrayBuffer()) });
    }
  } else {
    throw new PveHttpError(415, `unsupported content type '${contentType}'`);
  }
  return { values, files };
}

/** One value of a parameter (the last, if it was repeated). */
export function single(params: RequestParams, key: string): string | undefined {
  const value = params.values.get(key);
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export function list(params: RequestParams, key: string): string[] {
  const value = params.values.get(key);
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export function flag(params: RequestParams, key: string): boolean {
  const value = single(params, key);
  return value === '1' || value === 'true';
}

export function sendData(response: ServerResponse, data: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json;charset=UTF-8' });
  response.end(JSON.stringify({ data: data ?? null }));
}

export function sendError(response: ServerResponse, error: PveHttpError): void {
  // The status line carries printable ASCII only (PVE's messages end in a newline, QGA's quote
  // with “”); the body keeps the text as it is.
  const statusLine = error.message
    .trim()
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?');
  response.writeHead(error.status, statusLine, { 'content-type': 'application/json;charset=UTF-8' });
  response.end(JSON.stringify({ data: null, message: `${error.message}\n`, errors: error.errors }));
}
