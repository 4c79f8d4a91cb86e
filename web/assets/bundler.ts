import { createHash } from 'node:crypto';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The web/ folder: entry paths are relative to it. */
export const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The stylesheet every page links (web/shared/styles.css). */
export const SHARED_STYLES = 'styles';
const SHARED_STYLES_SOURCE = 'shared/styles.css';

export interface Asset {
  contents: Buffer;
  contentType: string;
}

/** Browser bundles in memory: files by URL name, and the hashed name of each entry. */
export interface Bundle {
  files: ReadonlyMap<string, Asset>;
  /** `/assets/<name>-<hash>.js|css` of the entry called `name`. */
  url(name: string): string;
}

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const cache = new Map<string, Promise<Bundle>>();

/**
 * Bundles browser entry points (TypeScript under web/<face>/page/, name → path relative to web/)
 * and the shared stylesheet with esbuild, in memory: nothing is written, so the server runs on a
 * read-only filesystem. Names carry a content hash, so files can be cached forever. Code shared by
 * several entries (viem, lib/crypto) goes into common chunks. One build per process and entry set.
 */
export function bundle(entries: Readonly<Record<string, string>>): Promise<Bundle> {
  const all = { ...entries, [SHARED_STYLES]: SHARED_STYLES_SOURCE };
  const key = JSON.stringify(Object.entries(all).sort());
  let result = cache.get(key);
  if (!result) {
    result = buildBundle(all);
    cache.set(key, result);
    // A failed build is not cached: the next server start tries again.
    result.catch(() => cache.delete(key));
  }
  return result;
}

async function buildBundle(entries: Record<string, string>): Promise<Bundle> {
  const outdir = join(WEB_ROOT, '.bundle');
  const result = await build({
    entryPoints: Object.fromEntries(
      Object.entries(entries).map(([name, path]) => [name, join(WEB_ROOT, path)]),
    ),
    bundle: true,
    write: false,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    legalComments: 'none',
    outdir,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    define: { 'process.env.NODE_ENV': '"production"' },
    metafile: true,
    logLevel: 'silent',
  });
  const files = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = relative(outdir, file.path);
    files.set(name, {
      contents: Buffer.from(file.contents),
      contentType: contentTypes[extname(name)] ?? 'application/octet-stream',
    });
  }
  const bySource = new Map<string, string>();
  for (const [output, meta] of Object.entries(result.metafile.outputs))
    if (meta.entryPoint) bySource.set(resolve(meta.entryPoint), relative(outdir, resolve(output)));
  const urls = new Map<string, string>();
  for (const [name, path] of Object.entries(entries)) {
    const file = bySource.get(join(WEB_ROOT, path));
    if (!file) throw new Error(`esbuild produced no output for entry ${name} (${path})`);
    urls.set(name, `/assets/${file}`);
  }
  return {
    files,
    url(name) {
      const url = urls.get(name);
      if (!url) throw new Error(`no browser entry named ${name}; declare it in the face's entries`);
      return url;
    },
  };
}

/** A short content hash, for ETags. */
export const etagOf = (contents: Buffer): string =>
  `"${createHash('sha256').update(contents).digest('base64url').slice(0, 16)}"`;
