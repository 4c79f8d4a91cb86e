// The KubeVirt containerDisk tarball (images/guest/container-disk.ts), checked by an independent
// reader: the system tar unpacks it, every digest and size is recomputed from index.json down to
// the layer, and the layer holds exactly disk/ and disk/<name>.qcow2 owned by 107:107 with the
// qcow2's bytes. Uses a small qcow2 from `qemu-img create`, not the real guest image.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { buildContainerDisk } from '../../../images/guest/container-disk.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

describe('KubeVirt containerDisk tarball', () => {
  let dir: string;
  let qcow2: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'container-disk-'));
    qcow2 = join(dir, 'small.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '64M']);
    // Some bytes that are not all zeros, so a mix-up of offsets would show.
    const bytes = await readFile(qcow2);
    await writeFile(qcow2, Buffer.concat([bytes, Buffer.from('blockhost '.repeat(1000))]));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Reads a blob of the unpacked layout, checking its size and digest against the descriptor. */
  async function blob(root: string, descriptor: Descriptor): Promise<Buffer> {
    expect(descriptor.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const data = await readFile(join(root, 'blobs', 'sha256', descriptor.digest.slice(7)));
    expect(data.length).toBe(descriptor.size);
    expect(sha256(data)).toBe(descriptor.digest);
    return data;
  }

  it('is an OCI layout whose digests, sizes and layer check out with the system tar', async () => {
    const outTar = join(dir, 'out', 'guest.tar');
    const built = await buildContainerDisk(qcow2, outTar, { name: 'guest', tag: 'v1' });
    expect(built.cached).toBe(false);

    const root = join(dir, 'unpacked');
    await run('mkdir', ['-p', root]);
    await run('tar', ['-xf', outTar, '-C', root]);
    const { stdout: listing } = await run('tar', ['-tf', outTar]);
    const names = listing.trim().split('\n');
    expect(names.filter((n) => !/^blobs\/sha256\/[0-9a-f]{64}$/.test(n))).toEqual([
      'oci-layout',
      'index.json',
      'blobs/',
      'blobs/sha256/',
    ]);
    const blobNames = names.filter((n) => /^blobs\/sha256\/./.test(n)).map((n) => `sha256:${n.slice(13)}`);
    expect(JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });

    const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as {
      schemaVersion: number;
      manifests: Descriptor[];
    };
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests).toHaveLength(1);
    const [entry] = index.manifests as [Descriptor];
    expect(entry.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(entry.annotations).toEqual({ 'org.opencontainers.image.ref.name': 'v1' });
    expect(entry.platform).toEqual({ architecture: 'amd64', os: 'linux' });
    expect(entry.digest).toBe(built.manifest.digest);

    const manifest = JSON.parse((await blob(root, entry)).toString('utf8')) as {
      schemaVersion: number;
      config: Descriptor;
      layers: Descriptor[];
    };
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(manifest.layers).toHaveLength(1);
    const [layerDescriptor] = manifest.layers as [Descriptor];
    expect(layerDescriptor.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');

    const config = JSON.parse((await blob(root, manifest.config)).toString('utf8')) as {
      architecture: string;
      os: string;
      rootfs: { type: string; diff_ids: string[] };
    };
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } });

    expect(blobNames.sort()).toEqual([entry.digest, manifest.config.digest, layerDescriptor.digest].sort());
    const layerGz = await blob(root, layerDescriptor);
    const layerTar = gunzipSync(layerGz);
    expect(config.rootfs.diff_ids).toEqual([sha256(layerTar)]);
    expect(built.diffId).toBe(sha256(layerTar));

    // The layer as the system tar sees it: owners, modes, and the disk's bytes.
    const layerPath = join(dir, 'layer.tar');
    await writeFile(layerPath, layerTar);
    const { stdout: verbose } = await run('tar', ['-tvf', layerPath, '--numeric-owner']);
    const rows = verbose
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/));
    expect(rows.map((r) => [r[0], r[1], r.at(-1)])).toEqual([
      ['dr-xr-xr-x', '107/107', 'disk/'],
      ['-r--r--r--', '107/107', 'disk/guest.qcow2'],
    ]);
    const { stdout: disk } = await run('tar', ['-xOf', layerPath, 'disk/guest.qcow2'], {
      encoding: 'buffer',
      maxBuffer: 256 * 2 ** 20,
    });
    expect(sha256(disk)).toBe(sha256(await readFile(qcow2)));
    expect(built.sourceSha256).toBe(sha256(disk));
  });

  it('is reproducible and cached, and rebuilt when the disk changes', async () => {
    const first = join(dir, 'a.tar');
    const second = join(dir, 'b.tar');
    await buildContainerDisk(qcow2, first, { name: 'guest', tag: 'v1' });
    await buildContainerDisk(qcow2, second, { name: 'guest', tag: 'v1' });
    expect(sha256(await readFile(first))).toBe(sha256(await readFile(second)));

    const before = (await stat(first)).mtimeMs;
    const again = await buildContainerDisk(qcow2, first, { name: 'guest', tag: 'v1' });
    expect(again.cached).toBe(true);
    expect((await stat(first)).mtimeMs).toBe(before);

    // Another tag or other disk bytes make a new tarball.
    expect((await buildContainerDisk(qcow2, first, { name: 'guest', tag: 'v2' })).cached).toBe(false);
    const changed = join(dir, 'changed.qcow2');
    await writeFile(changed, Buffer.concat([await readFile(qcow2), Buffer.from('x')]));
    const rebuilt = await buildContainerDisk(changed, second, { name: 'guest', tag: 'v1' });
    expect(rebuilt.cached).toBe(false);
    expect(rebuilt.sourceSha256).not.toBe(again.sourceSha256);
  });

  it('refuses a missing disk and names it cannot use', async () => {
    await expect(
      buildContainerDisk(join(dir, 'nope.qcow2'), join(dir, 'x.tar'), { name: 'g', tag: 't' }),
    ).rejects.toThrow(/no such disk image/);
    await expect(
      buildContainerDisk(qcow2, join(dir, 'x.tar'), { name: '../etc', tag: 't' }),
    ).rejects.toThrow();
    await expect(buildContainerDisk(qcow2, join(dir, 'x.tar'), { name: 'g', tag: 'a:b' })).rejects.toThrow();
  });
});
