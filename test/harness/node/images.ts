// The harness node's own images, made without a registry, Docker or umoci: a static Go program
// (images/<name>/main.go, standard library only) as the single file of a one-layer OCI image layout
// tarball (images/guest/container-disk.ts writes it) that LocalNodeCluster.importImage() loads.
// Cached by content: the tarball's name holds a hash of the source, the Go version and the image
// config, which is also its tag, so a changed program is a new image and an unchanged one is reused.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeImageArchive, writeLayer, type RunConfig } from '../../../images/guest/container-disk.js';
import type { ControlPlaneBinaries } from '../control-plane/binaries.js';

const run = promisify(execFile);
const sourcesDir = join(dirname(fileURLToPath(import.meta.url)), 'images');

/** Bump when the packing changes in a way the key's other inputs do not show. */
const FORMAT_VERSION = 2;

const RUN_CONFIGS = {
  /** The pod sandbox (containerd's sandbox_image); uid 65535 as upstream's pause image. */
  pause: { Entrypoint: ['/pause'], User: '65535:65535' },
  /** A test workload: HTTP on 8080, and `lookup`/`cat` for kubectl exec (see its main.go). */
  agent: { Entrypoint: ['/agent'], User: '65534:65534', ExposedPorts: { '8080/tcp': {} } },
} satisfies Record<string, RunConfig>;
export type NodeImageName = keyof typeof RUN_CONFIGS;

/** The registry part of the images' names; nothing is pushed to or pulled from it. */
const REGISTRY = 'blockhost.local';

export interface NodeImage {
  /** The OCI image layout tarball. */
  tar: string;
  /** The name it is imported as, blockhost.local/<name>:<a content hash>. */
  ref: string;
}

/** Builds (or finds in the cache next to the control-plane binaries) the image `name`. */
export async function ensureNodeImage(
  name: NodeImageName,
  binaries: ControlPlaneBinaries,
): Promise<NodeImage> {
  const source = await readFile(join(sourcesDir, name, 'main.go'));
  const { stdout: goVersion } = await run('go', ['version']);
  const runConfig: RunConfig = RUN_CONFIGS[name];
  const tag = createHash('sha256')
    .update(JSON.stringify({ format: FORMAT_VERSION, goVersion, runConfig }))
    .update(source)
    .digest('hex')
    .slice(0, 16);
  const cacheDir = join(dirname(dirname(binaries.kubelet)), 'node-images');
  const tar = join(cacheDir, `${name}-${tag}.tar`);
  const ref = `${REGISTRY}/${name}:${tag}`;
  if (existsSync(tar)) return { tar, ref };

  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, `.${name}-`));
  try {
    await writeFile(join(work, 'go.mod'), `module blockhost.local/${name}\n\ngo 1.24\n`);
    await writeFile(join(work, 'main.go'), source);
    const binary = join(work, name);
    await run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', binary, '.'], {
      cwd: work,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '' },
    });
    const layer = await writeLayer(
      [
        {
          path: name,
          type: 'file',
          mode: 0o755,
          uid: 0,
          gid: 0,
          source: binary,
          size: (await stat(binary)).size,
        },
      ],
      join(work, 'layer.tar.gz'),
    );
    const partial = join(work, 'image.tar');
    await writeImageArchive(partial, {
      layers: [layer],
      runConfig,
      // containerd's import names the image by the latter; the OCI one is just the tag.
      annotations: { 'org.opencontainers.image.ref.name': tag, 'io.containerd.image.name': ref },
    });
    // Atomic: a concurrent builder of the same image writes the same bytes.
    await rename(partial, tar);
    return { tar, ref };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
