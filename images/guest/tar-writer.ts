// A minimal, reproducible tar writer (POSIX ustar): directories, regular files, symbolic and hard
// links with fixed owner, mode and mtime, so the same input always gives the same bytes whatever the
// build host's tar, umask or clock. Files are streamed from disk, never held in memory.
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

const BLOCK = 512;
/** ustar's 11 octal digits stop here; bigger sizes use GNU's base-256 form (GNU tar, Go, containerd read it). */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export interface TarEntry {
  /** Path inside the archive; directories end in `/`. */
  path: string;
  type: 'directory' | 'file' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  /** For files: where the bytes come from, and how many there are. */
  source?: string;
  size?: number;
  /** For links: the symlink's target, or the archive path of the file a hard link shares. */
  linkname?: string;
}

const TYPE_FLAGS = { file: '0', hardlink: '1', symlink: '2', directory: '5' } as const;

function octal(value: number, width: number): Buffer {
  return Buffer.from(`${value.toString(8).padStart(width - 1, '0')}\0`, 'ascii');
}

function sizeField(size: number): Buffer {
  if (size <= MAX_OCTAL_SIZE) return octal(size, 12);
  const field = Buffer.alloc(12);
  field.writeBigUInt64BE(BigInt(size), 4);
  field[0] = 0x80;
  return field;
}

/** The 512-byte ustar header of `entry` (name split into prefix/name when longer than 100 bytes). */
export function tarHeader(entry: TarEntry): Buffer {
  const header = Buffer.alloc(BLOCK);
  const path = Buffer.from(entry.path, 'utf8');
  let name = path;
  let prefix = Buffer.alloc(0);
  if (path.length > 100) {
    const cut = entry.path.lastIndexOf('/', entry.path.length - 2);
    prefix = Buffer.from(entry.path.slice(0, cut), 'utf8');
    name = Buffer.from(entry.path.slice(cut + 1), 'utf8');
    if (cut < 0 || prefix.length > 155 || name.length > 100)
      throw new Error(`tar path too long: ${entry.path}`);
  }
  name.copy(header, 0);
  octal(entry.mode, 8).copy(header, 100);
  octal(entry.uid, 8).copy(header, 108);
  octal(entry.gid, 8).copy(header, 116);
  sizeField(entry.type === 'file' ? (entry.size ?? 0) : 0).copy(header, 124);
  octal(0, 12).copy(header, 136); // mtime: the epoch, for reproducibility
  header.fill(' ', 148, 156); // the checksum counts its own field as spaces
  header.write(TYPE_FLAGS[entry.type], 156, 'ascii');
  if (entry.linkname !== undefined) {
    const linkname = Buffer.from(entry.linkname, 'utf8');
    if (linkname.length > 100)
      throw new Error(`tar link target too long: ${entry.path} -> ${entry.linkname}`);
    linkname.copy(header, 157);
  }
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  prefix.copy(header, 345);
  let sum = 0;
  for (const byte of header) sum += byte;
  octal(sum, 7).copy(header, 148);
  header[155] = 0x20;
  return header;
}

async function write(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/** Writes the entries and the end-of-archive marker to `out` (which is then ended). */
export async function writeTar(out: Writable, entries: TarEntry[]): Promise<void> {
  for (const entry of entries) {
    await write(out, tarHeader(entry));
    if (entry.type !== 'file') continue;
    let written = 0;
    for await (const chunk of createReadStream(entry.source!)) {
      written += (chunk as Buffer).length;
      await write(out, chunk as Buffer);
    }
    if (written !== entry.size) throw new Error(`${entry.source} changed size while it was archived`);
    const padding = (BLOCK - (written % BLOCK)) % BLOCK;
    if (padding) await write(out, Buffer.alloc(padding));
  }
  await write(out, Buffer.alloc(2 * BLOCK));
  out.end();
  await finished(out);
}
