// The guest image as a KubeVirt containerDisk: an OCI image whose single layer holds the disk at
// /disk/<name>.qcow2, readable by KubeVirt's qemu user (uid/gid 107), written as an OCI image layout
// tarball that `ctr -n k8s.io images import --base-name <repo> <tar>` loads on a node without a
// registry (the index's `org.opencontainers.image.ref.name` annotation becomes the tag). Built in
// process without Docker or a registry, reproducibly: fixed owners, modes and mtimes, no timestamps
// in the config, so the same qcow2 always gives the same digests. A stamp next to the tarball
// (`<tar>.json`) records the qcow2's sha256 the tarball was made from; a rebuild of the same input
// is skipped.
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { z } from 'zod';
import { fileSha256 } from './file-hash.js';
import { writeTar, type TarEntry } from './tar-writer.js';

/** Bump when the layout changes in a way the stamp's other fields do not show. */
const FORMAT_VERSION = 1;
/** KubeVirt runs QEMU as uid/gid 107 ("qemu"); the disk must be readable by it. */
const QEMU_ID = 107;
const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const optionsSchema = z.object({
  /** File name of the disk inside the image, without `.qcow2`. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, ".", "_" or "-"'),
  /** Image tag (the ref.name annotation); an OCI tag. */
  tag: z.string().regex(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/, 'an OCI tag: letters, digits, ".", "_", "-"'),
});
export type ContainerDiskOptions = z.infer<typeof optionsSchema> & {
  /** Where progress lines go (the CLI: stderr); default: nowhere. */
  progress?: (line: string) => void;
};

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ContainerDisk {
  tar: string;
  tag: string;
  manifest: Descriptor;
  /** sha256 of the uncompressed layer (the config's rootfs.diff_ids[0]). */
  diffId: string;
  /** sha256 of the qcow2 the tarball holds. */
  sourceSha256: string;
  /** True when an up-to-date tarball was already there. */
  cached: boolean;
}

interface Stamp extends Omit<ContainerDisk, 'tar' | 'cached'> {
  format: number;
  name: string;
}

const sha256Hex = (hash: Hash) => `sha256:${hash.digest('hex')}`;

/** A pass-through stream that hashes and counts what flows through it. */
function tap(): Transform & { hash: Hash; bytes: number } {
  const hash = createHash('sha256');
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      stream.bytes += chunk.length;
      done(null, chunk);
    },
  }) as Transform & { hash: Hash; bytes: number };
  stream.hash = hash;
  stream.bytes = 0;
  return stream;
}

async function readStamp(path: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Stamp;
  } catch {
    return undefined; // missing or unreadable: rebuild
  }
}

/** Writes a blob under blobs/sha256/ and returns its descriptor. */
async function writeBlob(layoutDir: string, mediaType: string, content: Buffer): Promise<Descriptor> {
  const digest = sha256Hex(createHash('sha256').update(content));
  await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice(7)), content);
  return { mediaType, digest, size: content.length };
}

/** A gzip'd layer blob written to disk: its descriptor, file and uncompressed digest and size. */
export interface LayerBlob extends Descriptor {
  path: string;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
}

/** Writes `entries` as a gzip'd layer to `path` (level 1 by default: speed beats size next door). */
export async function writeLayer(entries: TarEntry[], path: string, level = 1): Promise<LayerBlob> {
  const uncompressed = tap();
  const compressed = tap();
  const source = new PassThrough();
  await Promise.all([
    writeTar(source, entries),
    pipeline(source, uncompressed, createGzip({ level }), compressed, createWriteStream(path)),
  ]);
  return {
    mediaType: MEDIA.layer,
    digest: sha256Hex(compressed.hash),
    size: compressed.bytes,
    path,
    diffId: sha256Hex(uncompressed.hash),
    tarSize: uncompressed.bytes,
  };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** The image's run settings: the `config` object of an OCI image config (empty for data images). */
export interface RunConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
}

/**
 * Writes `outTar`, an OCI image layout tarball of one linux/amd64 image made of `layers` (streamed
 * from their files, first layer at the bottom), with `runConfig` and the index entry's
 * `annotations` (`org.opencontainers.image.ref.name` is the tag `ctr images import` gives it).
 * Returns the manifest's descriptor.
 */
export async function writeImageArchive(
  outTar: string,
  image: { layers: LayerBlob[]; runConfig?: RunConfig; annotations: Record<string, string> },
): Promise<Descriptor> {
  const work = await mkdtemp(join(dirname(outTar), `.${basename(outTar)}.meta-`));
  try {
    await mkdir(join(work, 'blobs', 'sha256'), { recursive: true });
    const descriptor = ({ mediaType, digest, size }: Descriptor): Descriptor => ({ mediaType, digest, size });
    // No `created` or history: timestamps would make every build differ.
    const config = await writeBlob(
      work,
      MEDIA.config,
      json({
        architecture: 'amd64',
        os: 'linux',
        config: image.runConfig ?? {},
        rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffId) },
      }),
    );
    const manifest = await writeBlob(
      work,
      MEDIA.manifest,
      json({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers: image.layers.map(descriptor) }),
    );
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        { ...manifest, platform: { architecture: 'amd64', os: 'linux' }, annotations: image.annotations },
      ],
    };
    await writeFile(join(work, 'index.json'), json(index));
    await writeFile(join(work, 'oci-layout'), json({ imageLayoutVersion: '1.0.0' }));

    const file = async (path: string, source = join(work, path)): Promise<TarEntry> => ({
      path,
      type: 'file',
      mode: 0o444,
      uid: 0,
      gid: 0,
      source,
      size: (await stat(source)).size,
    });
    const dir = (path: string): TarEntry => ({ path, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
    const layerFiles = new Map(image.layers.map((l) => [l.digest, l.path]));
    const blobs = [...new Set([config.digest, manifest.digest, ...layerFiles.keys()])].sort();
    const entries = [
      await file('oci-layout'),
      await file('index.json'),
      dir('blobs/'),
      dir('blobs/sha256/'),
      ...(await Promise.all(blobs.map((d) => file(`blobs/sha256/${d.slice(7)}`, layerFiles.get(d))))),
    ];
    await writeTar(createWriteStream(outTar), entries);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Writes `outTar`, an OCI image layout tarball of a containerDisk holding `qcow2Path` as
 * /disk/<name>.qcow2, tagged `tag`; skipped when `outTar` was made from the same qcow2 bytes
 * with the same options.
 */
export async function buildContainerDisk(
  qcow2Path: string,
  outTar: string,
  options: ContainerDiskOptions,
): Promise<ContainerDisk> {
  const { name, tag } = optionsSchema.parse(options);
  const progress = options.progress ?? (() => undefined);
  const source = await stat(qcow2Path).catch(() => undefined);
  if (!source?.isFile()) throw new Error(`no such disk image: ${qcow2Path}`);
  const stampPath = `${outTar}.json`;
  const sourceSha256 = `sha256:${await fileSha256(qcow2Path)}`;
  const stamp = await readStamp(stampPath);
  if (
    existsSync(outTar) &&
    stamp?.format === FORMAT_VERSION &&
    stamp.sourceSha256 === sourceSha256 &&
    stamp.name === name &&
    stamp.tag === tag
  ) {
    const { manifest, diffId } = stamp;
    return { tar: outTar, tag, manifest, diffId, sourceSha256, cached: true };
  }

  await mkdir(dirname(outTar), { recursive: true });
  const work = await mkdtemp(join(dirname(outTar), `.${basename(outTar)}.partial-`));
  try {
    progress(`packing ${qcow2Path} (${(source.size / 2 ** 20).toFixed(1)} MiB)`);
    const layer = await writeLayer(
      [
        { path: 'disk/', type: 'directory', mode: 0o555, uid: QEMU_ID, gid: QEMU_ID },
        {
          path: `disk/${name}.qcow2`,
          type: 'file',
          mode: 0o444,
          uid: QEMU_ID,
          gid: QEMU_ID,
          source: qcow2Path,
          size: source.size,
        },
      ],
      join(work, 'layer'),
    );
    const partialTar = join(work, 'image.tar');
    const manifest = await writeImageArchive(partialTar, {
      layers: [layer],
      annotations: { 'org.opencontainers.image.ref.name': tag },
    });
    // The old stamp must not vouch for the new tarball if we stop between these two steps.
    await rm(stampPath, { force: true });
    await rename(partialTar, outTar);
    const result: Stamp = { format: FORMAT_VERSION, name, tag, manifest, diffId: layer.diffId, sourceSha256 };
    await writeFile(stampPath, JSON.stringify(result, null, 2));
    progress(`wrote ${outTar} (manifest ${manifest.digest})`);
    return { tar: outTar, tag, manifest, diffId: layer.diffId, sourceSha256, cached: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
