// BlockHost's controller and web images (images/app/), built or found in the cache, checked as OCI
// layouts by an independent reader (the system tar; every digest recomputed) and then run for real
// in a private containerd the way the chart runs them: as the image's user 10001, on a read-only
// root filesystem with a tmpfs /tmp. Every container the chart runs (image and command from
// `helm template`) answers --help, the controller image has the libvirt backend's programs, and the
// web server starts, bundles its pages and serves.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import {
  ensureAppImages,
  IMAGE_NAMES,
  type AppImages,
  type ImageName,
} from '../../../images/app/app-images.js';
import { startTestCluster, type TestCluster } from '../../harness/cluster.js';
import { ChartTools } from '../chart/helm.js';
import { PrivateContainerd } from '../../harness/containerd/containerd.js';
import { freePort, waitFor } from '../../harness/processes.js';

const run = promisify(execFile);

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** sha256 of a file, or of what gunzip makes of it. */
async function fileDigest(path: string, gunzip = false): Promise<string> {
  const hash = createHash('sha256');
  const stream = gunzip ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

interface ChartContainer {
  name: string;
  image: string;
  command: string[];
}

describe('the controller and web images', () => {
  let images: AppImages;
  let dir: string;
  let containerd: PrivateContainerd | undefined;
  const ref = (name: ImageName) => images.images[name].ref;

  beforeAll(async () => {
    // Cold: about two minutes (two debootstraps, npm ci); then seconds.
    images = await ensureAppImages();
    dir = await mkdtemp(join(tmpdir(), 'app-images-'));
  }, 15 * 60_000);

  afterAll(async () => {
    await containerd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe.each(IMAGE_NAMES)('%s archive', (name) => {
    let root: string;
    let manifest: { config: Descriptor; layers: Descriptor[] };

    beforeAll(async () => {
      root = join(dir, name);
      await mkdir(root);
      await run('tar', ['-xf', images.images[name].tar, '-C', root]);
    }, 120_000);

    /** A blob of the layout, checked against its descriptor. */
    async function blobPath(descriptor: Descriptor): Promise<string> {
      expect(descriptor.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const path = join(root, 'blobs', 'sha256', descriptor.digest.slice(7));
      expect(await fileDigest(path)).toBe(descriptor.digest);
      expect((await readFile(path)).length).toBe(descriptor.size);
      return path;
    }

    it('has an index naming one manifest by tag and full name', async () => {
      expect(JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8'))).toEqual({
        imageLayoutVersion: '1.0.0',
      });
      const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as {
        manifests: Descriptor[];
      };
      expect(index.manifests).toHaveLength(1);
      const [entry] = index.manifests as [Descriptor];
      expect(entry.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(entry.annotations).toEqual({
        'org.opencontainers.image.ref.name': images.tag,
        'io.containerd.image.name': `blockhost.local/blockhost/${name}:${images.tag}`,
      });
      expect(entry.digest).toBe(images.images[name].manifestDigest);
      manifest = JSON.parse(await readFile(await blobPath(entry), 'utf8')) as typeof manifest;
    });

    it('has a config that runs node as 10001:10001 with the chart’s entry point', async () => {
      const config = JSON.parse(await readFile(await blobPath(manifest.config), 'utf8')) as {
        architecture: string;
        os: string;
        config: Record<string, unknown>;
        rootfs: { diff_ids: string[] };
      };
      expect(config).toMatchObject({ architecture: 'amd64', os: 'linux' });
      expect(config.config).toMatchObject({
        User: '10001:10001',
        Entrypoint: ['node'],
        Cmd: [name === 'web' ? '/app/web/main.js' : '/app/controllers/main.js'],
        WorkingDir: '/app',
      });
      expect(config.config.Env).toEqual(expect.arrayContaining(['NODE_ENV=production', 'HOME=/tmp']));
      // Layer blobs match their descriptors, their contents the config's diff_ids and the build record.
      const recorded = images.images[name].layers;
      expect(manifest.layers.map((l) => l.digest)).toEqual(recorded.map((l) => l.digest));
      const diffIds: string[] = [];
      for (const layer of manifest.layers) {
        expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
        diffIds.push(await fileDigest(await blobPath(layer), true));
      }
      expect(config.rootfs.diff_ids).toEqual(diffIds);
      expect(recorded.map((l) => l.diffId)).toEqual(diffIds);
      expect(recorded.map((l) => l.name)).toEqual([`base-${name}`, 'node', 'node-modules', `app-${name}`]);
    }, 120_000);

    it('holds the app as root-owned read-only files, without tests', async () => {
      const app = join(dir, `${name}-app.tar`);
      await pipeline(
        createReadStream(await blobPath(manifest.layers.at(-1)!)),
        createGunzip(),
        createWriteStream(app),
      );
      const { stdout } = await run('tar', ['-tvf', app, '--numeric-owner'], { maxBuffer: 64 * 2 ** 20 });
      const rows = stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/));
      expect(new Set(rows.map((r) => r[1]))).toEqual(new Set(['0/0']));
      expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(['dr-xr-xr-x', '-r--r--r--']));
      const paths = rows.map((r) => r.at(-1)!);
      expect(paths).toEqual([...paths].sort());
      expect(paths.filter((p) => p.includes('.test.'))).toEqual([]);
      expect(paths).toContain('app/package.json');
      expect(paths).toContain('app/lib/log.js');
      if (name === 'web') {
        expect(paths).toContain('app/web/main.js');
        expect(paths).toContain('app/web/assets/bundler.ts'); // the pages are bundled from the sources
        expect(paths.some((p) => p.startsWith('app/controllers/'))).toBe(false);
      } else {
        expect(paths).toContain('app/controllers/main.js');
        expect(paths).toContain('app/webhooks/main.js');
        expect(paths.some((p) => p.endsWith('.ts') || p.startsWith('app/web/'))).toBe(false);
      }
    });
  });

  it('comes from the cache the second time, with the same tag', async () => {
    const began = performance.now();
    const again = await ensureAppImages();
    expect(again.cached).toBe(true);
    expect(again.tag).toBe(images.tag);
    expect(performance.now() - began).toBeLessThan(5_000);
    expect(again.helmArgs).toEqual([
      '--set',
      'image.registry=blockhost.local',
      '--set-string',
      `image.tag=${images.tag}`,
      '--set',
      'image.pullPolicy=Never',
    ]);
  });

  describe('in containerd', () => {
    beforeAll(async () => {
      containerd = await PrivateContainerd.start();
    }, 60_000);

    it('imports both archives under their full names', async () => {
      for (const name of IMAGE_NAMES) await containerd!.importImage(images.images[name].tar);
      expect(await containerd!.images()).toEqual(IMAGE_NAMES.map(ref).sort());
    }, 300_000);

    it.each(IMAGE_NAMES)(
      'runs the %s image as 10001 with a read-only root and the pinned Node',
      async (name) => {
        const { stdout } = await containerd!.run(ref(name), [
          'node',
          '-e',
          `const fs = require('fs');
         let app = 'writable';
         try { fs.writeFileSync('/app/x', ''); } catch (e) { app = e.code; }
         fs.writeFileSync('/tmp/x', '');
         console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), version: process.version,
           env: process.env.NODE_ENV, home: process.env.HOME, cwd: process.cwd(), app }));`,
        ]);
        expect(JSON.parse(stdout)).toEqual({
          uid: 10001,
          gid: 10001,
          version: `v${(JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { devDependencies: { node: string } }).devDependencies.node}`,
          env: 'production',
          home: '/tmp',
          cwd: '/app',
          app: 'EROFS',
        });
      },
    );

    it('runs every container of the chart from its image: node <entry point> --help', async () => {
      const tools = await ChartTools.create();
      const values = { image: { registry: images.registry, tag: images.tag, pullPolicy: 'Never' } };
      const deployments = (await tools.template(values).finally(() => tools.cleanup())).filter(
        (o) => o.kind === 'Deployment',
      );
      const containers = deployments.flatMap(
        (d) => (d.spec as { template: { spec: { containers: ChartContainer[] } } }).template.spec.containers,
      );
      expect(containers.map((c) => `${c.image} ${c.command.join(' ')}`).sort()).toEqual([
        `${ref('controller')} node /app/controllers/main.js`,
        `${ref('controller')} node /app/webhooks/main.js`,
        `${ref('web')} node /app/web/main.js`,
      ]);
      for (const container of containers) {
        const { stdout } = await containerd!.run(container.image, [...container.command, '--help']);
        expect([container.name, stdout]).toEqual([container.name, expect.stringMatching(/^Usage: /)]);
      }
    }, 120_000);

    it('controller image: virsh and genisoimage run, and genisoimage writes a seed ISO to /tmp', async () => {
      expect((await containerd!.run(ref('controller'), ['virsh', '--version'])).stdout.trim()).toMatch(
        /^\d+\.\d+\.\d+$/,
      );
      expect((await containerd!.run(ref('controller'), ['genisoimage', '--version'])).stdout).toMatch(
        /^genisoimage /,
      );
      const { stdout } = await containerd!.run(ref('controller'), [
        'sh',
        '-c',
        'mkdir /tmp/seed && echo "instance-id: test" > /tmp/seed/meta-data && ' +
          'genisoimage -quiet -output /tmp/seed.iso -volid cidata -joliet -rock /tmp/seed && wc -c < /tmp/seed.iso',
      ]);
      expect(Number(stdout.trim())).toBeGreaterThan(0);
    });

    describe('web server', () => {
      let cluster: TestCluster;

      beforeAll(async () => {
        cluster = await startTestCluster();
      }, 120_000);

      afterAll(async () => {
        await cluster?.stop();
      });

      it('starts in its image, bundles its pages and serves /healthz, /readyz and the signup page', async () => {
        const port = await freePort();
        // A copy the image's user may read (the harness writes it for root only).
        const kubeconfig = join(dir, 'kubeconfig');
        await copyFile(cluster.kubeconfigPath, kubeconfig);
        await chmod(kubeconfig, 0o444);
        const url = `http://127.0.0.1:${port}`;
        // The host's network: the control plane listens on its loopback. A namespace of its own,
        // so nothing it might write meets another test's objects.
        const web = await containerd!.start(
          ref('web'),
          [
            'node',
            '/app/web/main.js',
            '--host=127.0.0.1',
            `--port=${port}`,
            '--namespace=app-images-test',
            '--kubeconfig=/etc/blockhost/kubeconfig',
          ],
          { netHost: true, binds: { [kubeconfig]: '/etc/blockhost/kubeconfig' } },
        );
        try {
          await waitFor('the web server in its image', async () => (await fetch(`${url}/healthz`)).ok, {
            timeoutMs: 60_000,
          }).catch(async (error: unknown) => {
            throw new Error(`${String(error)}\n${await web.logs()}`);
          });
          expect((await fetch(`${url}/readyz`)).status).toBe(200);
          const page = await fetch(`${url}/`);
          expect(page.status).toBe(200);
          const script = /\/assets\/signup-[A-Za-z0-9]+\.js/.exec(await page.text())?.[0];
          expect(script).toBeDefined();
          const asset = await fetch(`${url}${script}`);
          expect(asset.status).toBe(200);
          expect(asset.headers.get('content-type')).toMatch(/javascript/);
        } finally {
          await web.stop();
        }
      }, 120_000);
    });
  });
});
