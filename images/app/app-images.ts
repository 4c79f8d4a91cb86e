// BlockHost's two container images, built on this machine without a registry or a container
// engine: `controller` (the controller manager and the webhook server; virsh and genisoimage for
// the libvirt backend) and `web` (the web server). Each is an OCI image layout tarball that
// `ctr -n k8s.io images import` loads under its full name. Layers, bottom up: a Debian root
// filesystem (debootstrap minbase; the controller's with libvirt-clients and genisoimage), the Node
// binary, the production node_modules and the app. Every layer is cached by a hash of its inputs
// under ${XDG_CACHE_HOME:-~/.cache}/blockhost/app-images/, and the images' tag is a hash of all of
// them, so the same sources always give the same tag and a rebuild only redoes what changed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImageArchive, type LayerBlob, type RunConfig } from '../guest/container-disk.js';
import {
  APP_UID,
  buildAppLayer,
  buildBaseLayer,
  buildModulesLayer,
  buildNodeLayer,
  type BaseRecipe,
} from './layers.js';

/** The registry part of the images' names; nothing is ever pushed to or pulled from it. */
export const IMAGE_REGISTRY = 'blockhost.local';
/** Bump when a layer's recipe changes in a way its inputs' hash does not show. */
const RECIPE_VERSION = 2;
/** Builds kept in the cache (each is two archives of about 100 MB); older ones are removed. */
const KEEP_BUILDS = 3;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cacheDir = () =>
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'blockhost', 'app-images');

export const IMAGE_NAMES = ['controller', 'web'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** A cached layer: its blob's descriptor and how long building it took. */
export interface LayerRecord {
  /** base-controller, base-web, node, node-modules, app-controller or app-web. */
  name: string;
  /** sha256 of the layer's inputs. */
  key: string;
  mediaType: string;
  digest: string;
  /** Compressed bytes. */
  size: number;
  diffId: string;
  /** Bytes of the uncompressed tar: about what the layer takes unpacked. */
  tarSize: number;
  buildSeconds: number;
}

export interface ImageRecord {
  /** Full name, e.g. blockhost.local/blockhost/controller:0123456789ab. */
  ref: string;
  /** The OCI archive. */
  tar: string;
  manifestDigest: string;
  archiveBytes: number;
  /** Sum of the layers' uncompressed sizes. */
  unpackedBytes: number;
  /** Bottom first; `reused` when the build that wrote this record found the layer in the cache. */
  layers: (LayerRecord & { reused: boolean })[];
}

/** What a build writes to build.json beside the archives. */
export interface AppImagesRecord {
  format: number;
  registry: string;
  /** The tag of both images (the chart's image.tag). */
  tag: string;
  builtAt: string;
  /** Wall time of the build that wrote this record. */
  seconds: number;
  /** Time spent writing the two archives from the cached layers. */
  archiveSeconds: number;
  images: Record<ImageName, ImageRecord>;
}

export interface AppImages extends AppImagesRecord {
  /** True when both archives were already in the cache. */
  cached: boolean;
  /** `helm install` flags that run the chart with these images, which are never pulled. */
  helmArgs: string[];
}

interface LayerSpec {
  name: string;
  key: string;
  /** `debs`: a package cache the build's two debootstraps share. */
  build(work: string, out: string, debs: string): Promise<LayerBlob>;
}

interface ImageSpec {
  layers: LayerSpec[];
  runConfig: RunConfig;
}

const sha256 = (...parts: (string | Buffer)[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
};

/** The app's files under `dirs`: no tests, Solidity sources (compiled into contracts/generated) or docs. */
async function sourceFiles(dirs: string[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(repoRoot, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      if (entry.isDirectory()) await walk(path);
      else if (!/\.(test\.ts|sol|md)$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of dirs) await walk(dir);
  return files.sort();
}

/** Every layer and config of both images, with the keys that name them; reads the sources, builds nothing. */
async function imageSpecs(): Promise<Record<ImageName, ImageSpec>> {
  const manifest = await readFile(join(repoRoot, 'package.json'));
  const lockfile = await readFile(join(repoRoot, 'package-lock.json'));
  // The Node the repository pins for its own tests (a devDependency) is the one the images run.
  const nodeVersion = (JSON.parse(manifest.toString('utf8')) as { devDependencies: { node: string } })
    .devDependencies.node;
  if (!/^\d+\.\d+\.\d+$/.test(nodeVersion))
    throw new Error(`package.json pins node "${nodeVersion}", not a version`);
  const mirror = process.env.BLOCKHOST_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
  const base = (image: ImageName, include: string[]): LayerSpec => {
    const recipe: BaseRecipe = { suite: 'bookworm', mirror, include };
    return {
      name: `base-${image}`,
      key: sha256(String(RECIPE_VERSION), 'base', JSON.stringify(recipe)),
      build: (work, out, debs) => buildBaseLayer(recipe, work, out, debs),
    };
  };
  const node: LayerSpec = {
    name: 'node',
    key: sha256(String(RECIPE_VERSION), 'node', nodeVersion),
    build: (work, out) => buildNodeLayer(nodeVersion, work, out),
  };
  const modules: LayerSpec = {
    name: 'node-modules',
    key: sha256(String(RECIPE_VERSION), 'node-modules', manifest, lockfile),
    build: (work, out) => buildModulesLayer(repoRoot, work, out),
  };
  const app = async (image: ImageName, dirs: string[], keepSources: boolean): Promise<LayerSpec> => {
    const files = await sourceFiles(dirs);
    const contents = await Promise.all(files.map((f) => readFile(join(repoRoot, f))));
    return {
      name: `app-${image}`,
      // The lockfile pins esbuild, which writes the JavaScript.
      key: sha256(
        String(RECIPE_VERSION),
        'app',
        String(keepSources),
        manifest,
        lockfile,
        ...files.flatMap((f, i) => [f, contents[i]!]),
      ),
      build: (work, out) => buildAppLayer({ repoRoot, files, keepSources }, work, out),
    };
  };
  const runConfig = (entry: string, ports: number[]): RunConfig => ({
    User: `${APP_UID}:${APP_UID}`,
    Env: [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'NODE_ENV=production',
      'HOME=/tmp',
    ],
    Entrypoint: ['node'],
    Cmd: [entry],
    WorkingDir: '/app',
    ExposedPorts: Object.fromEntries(ports.map((p) => [`${p}/tcp`, {}])),
  });
  const shared = ['lib', 'contracts'];
  const webBase = base('web', []);
  const controllerBase = base('controller', ['libvirt-clients', 'genisoimage']);
  return {
    // The libvirt backend runs virsh against the node's libvirtd and writes seed ISOs with genisoimage.
    controller: {
      layers: [
        controllerBase,
        node,
        modules,
        await app('controller', [...shared, 'controllers', 'webhooks'], false),
      ],
      runConfig: runConfig('/app/controllers/main.js', [8081, 9443]),
    },
    // The web server bundles its browser pages from the TypeScript at start-up, so that stays.
    web: {
      layers: [webBase, node, modules, await app('web', [...shared, 'web'], true)],
      runConfig: runConfig('/app/web/main.js', [8080]),
    },
  };
}

/** Holds an exclusive flock(1) on `path` while `body` runs; released even if this process is killed. */
async function withLock<T>(
  path: string,
  progress: (line: string) => void,
  body: () => Promise<T>,
): Promise<T> {
  // flock holds the lock while `cat` waits on our stdin: closing it (or dying) releases it.
  const holder = spawn('flock', [path, '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting = setTimeout(() => progress(`waiting for another build (${path})`), 1000);
  try {
    await new Promise<void>((resolveLock, reject) => {
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`flock ${path} exited with ${code}`)));
      holder.stdout.once('data', () => resolveLock());
    });
  } finally {
    clearTimeout(waiting);
  }
  try {
    return await body();
  } finally {
    holder.removeAllListeners('exit');
    const exited = new Promise((resolveExit) => holder.once('exit', resolveExit));
    holder.stdin.end();
    await exited;
  }
}

/** Unmounts what an interrupted debootstrap left mounted under `dir` (its proc and sys), deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((mountpoint) => mountpoint.startsWith(`${dir}/`))
    .sort()
    .reverse();
  for (const mountpoint of mounts)
    await new Promise((resolveUmount) => spawn('umount', ['-l', mountpoint]).once('exit', resolveUmount));
}

const layerPaths = (cache: string, spec: { name: string; key: string }) => {
  const base = join(cache, 'layers', `${spec.name}-${spec.key.slice(0, 16)}`);
  return { blob: `${base}.tar.gz`, record: `${base}.json` };
};

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined; // missing or half-written: build again
  }
}

/** The layer from the cache, or built into it now. */
async function ensureLayer(
  cache: string,
  spec: LayerSpec,
  debs: string,
  progress: (line: string) => void,
): Promise<LayerRecord & { reused: boolean }> {
  const paths = layerPaths(cache, spec);
  const cached = await readJson<LayerRecord>(paths.record);
  if (cached?.key === spec.key && existsSync(paths.blob)) return { ...cached, reused: true };
  if (spec.name.startsWith('base-') && process.getuid?.() !== 0)
    throw new Error(`the ${spec.name} layer is not built yet and building it needs root (debootstrap)`);
  progress(`building layer ${spec.name}`);
  const began = performance.now();
  const work = await mkdtemp(join(cache, 'tmp', `${spec.name}-`));
  try {
    const blob = await spec.build(work, join(work, 'layer.tar.gz'), debs);
    const record: LayerRecord = {
      name: spec.name,
      key: spec.key,
      mediaType: blob.mediaType,
      digest: blob.digest,
      size: blob.size,
      diffId: blob.diffId,
      tarSize: blob.tarSize,
      buildSeconds: (performance.now() - began) / 1000,
    };
    await rename(blob.path, paths.blob);
    // The record is written last: it vouches for the blob.
    await writeFile(paths.record, JSON.stringify(record, null, 2));
    progress(
      `layer ${spec.name}: ${mib(record.size)} compressed, ${mib(record.tarSize)} unpacked, ${record.buildSeconds.toFixed(1)} s`,
    );
    return { ...record, reused: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Bytes as MiB for progress lines. */
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Removes all but the newest KEEP_BUILDS builds, and the layers none of those uses. */
async function prune(cache: string): Promise<void> {
  const imagesDir = join(cache, 'images');
  const builds = await Promise.all(
    (await readdir(imagesDir)).map(async (tag) => ({
      tag,
      mtime: (await stat(join(imagesDir, tag, 'build.json')).catch(() => undefined))?.mtimeMs ?? 0,
    })),
  );
  builds.sort((a, b) => b.mtime - a.mtime);
  const kept = builds.slice(0, KEEP_BUILDS);
  for (const old of builds.slice(KEEP_BUILDS))
    await rm(join(imagesDir, old.tag), { recursive: true, force: true });
  const used = new Set<string>();
  for (const { tag } of kept) {
    const record = await readJson<AppImagesRecord>(join(imagesDir, tag, 'build.json'));
    for (const image of Object.values(record?.images ?? {}))
      for (const layer of image.layers)
        for (const path of Object.values(layerPaths(cache, layer))) used.add(path);
  }
  for (const name of await readdir(join(cache, 'layers'))) {
    const path = join(cache, 'layers', name);
    if (!used.has(path)) await rm(path, { force: true });
  }
}

function withHelm(record: AppImagesRecord, cached: boolean): AppImages {
  return {
    ...record,
    cached,
    helmArgs: [
      '--set',
      `image.registry=${record.registry}`,
      '--set-string',
      `image.tag=${record.tag}`,
      '--set',
      'image.pullPolicy=Never',
    ],
  };
}

/**
 * Both images' OCI archives, built first when the cache has none for the current sources (about
 * two minutes cold, as root: debootstrap needs it; seconds when only the app changed). Progress
 * lines go to `progress` (default: stderr).
 */
export async function ensureAppImages({
  progress = (line: string) =>
    process.stderr.write(`[app-images] ${new Date().toISOString().slice(11, 19)} ${line}\n`),
}: { progress?: (line: string) => void } = {}): Promise<AppImages> {
  const began = performance.now();
  const cache = cacheDir();
  const specs = await imageSpecs();
  const tag = sha256(
    String(RECIPE_VERSION),
    JSON.stringify(
      IMAGE_NAMES.map((name) => [name, specs[name].layers.map((l) => l.key), specs[name].runConfig]),
    ),
  ).slice(0, 12);
  const dir = join(cache, 'images', tag);
  const recordPath = join(dir, 'build.json');
  const found = async () => {
    const record = await readJson<AppImagesRecord>(recordPath);
    if (!record || !IMAGE_NAMES.every((name) => existsSync(record.images[name].tar))) return undefined;
    const now = new Date();
    await utimes(recordPath, now, now); // the newest builds are the ones pruning keeps
    return record;
  };
  const cached = await found();
  if (cached) return withHelm(cached, true);

  for (const sub of ['images', 'layers', 'tmp']) await mkdir(join(cache, sub), { recursive: true });
  return withLock(join(cache, 'lock'), progress, async () => {
    const builtMeanwhile = await found();
    if (builtMeanwhile) return withHelm(builtMeanwhile, true);
    // We hold the lock, so whatever is in tmp/ is what a killed build left.
    for (const stale of await readdir(join(cache, 'tmp'))) {
      await unmountUnder(join(cache, 'tmp', stale));
      await rm(join(cache, 'tmp', stale), { recursive: true, force: true });
    }
    progress(`building images with tag ${tag} in ${relative(homedir(), cache) || cache}`);
    // Two chains side by side, as they wait on different things: the Debian root filesystems
    // (mostly downloads and dpkg; the second reuses the first's packages) and Node, node_modules
    // and the app (npm and gzip).
    // web's first: its Debian packages are a subset of the controller's.
    const unique = [
      ...new Map([...specs.web.layers, ...specs.controller.layers].map((l) => [l.key, l])).values(),
    ];
    const chains = [
      unique.filter((l) => l.name.startsWith('base-')),
      unique.filter((l) => !l.name.startsWith('base-')),
    ];
    const debs = await mkdtemp(join(cache, 'tmp', 'debs-'));
    const layers = new Map<string, LayerRecord & { reused: boolean }>();
    const settled = await Promise.allSettled(
      chains.map(async (chain) => {
        for (const spec of chain) layers.set(spec.key, await ensureLayer(cache, spec, debs, progress));
      }),
    );
    await rm(debs, { recursive: true, force: true });
    for (const result of settled) if (result.status === 'rejected') throw result.reason;

    const archivesBegan = performance.now();
    const partial = await mkdtemp(join(cache, 'tmp', `images-${tag}-`));
    const images = {} as Record<ImageName, ImageRecord>;
    for (const name of IMAGE_NAMES) {
      const imageLayers = specs[name].layers.map((spec) => layers.get(spec.key)!);
      const ref = `${IMAGE_REGISTRY}/blockhost/${name}:${tag}`;
      const manifest = await writeImageArchive(join(partial, `${name}.tar`), {
        layers: imageLayers.map((l) => ({ ...l, path: layerPaths(cache, l).blob })),
        runConfig: specs[name].runConfig,
        // ref.name is the tag (`ctr images import --base-name` prefixes it); containerd's own
        // annotation gives a plain `ctr images import` the full name.
        annotations: { 'org.opencontainers.image.ref.name': tag, 'io.containerd.image.name': ref },
      });
      images[name] = {
        ref,
        tar: join(dir, `${name}.tar`),
        manifestDigest: manifest.digest,
        archiveBytes: (await stat(join(partial, `${name}.tar`))).size,
        unpackedBytes: imageLayers.reduce((sum, l) => sum + l.tarSize, 0),
        layers: imageLayers,
      };
    }
    const record: AppImagesRecord = {
      format: RECIPE_VERSION,
      registry: IMAGE_REGISTRY,
      tag,
      builtAt: new Date().toISOString(),
      seconds: (performance.now() - began) / 1000,
      archiveSeconds: (performance.now() - archivesBegan) / 1000,
      images,
    };
    await writeFile(join(partial, 'build.json'), JSON.stringify(record, null, 2));
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    await prune(cache);
    for (const name of IMAGE_NAMES)
      progress(
        `${images[name].ref}: ${mib(images[name].archiveBytes)} archive, ${mib(images[name].unpackedBytes)} unpacked`,
      );
    return withHelm(record, false);
  });
}
