/**
 * Builds (or finds in the cache) BlockHost's controller and web images as OCI archives and prints
 * where they are. `--help` lists the options.
 */
import { parseArgs } from 'node:util';
import { ensureAppImages, IMAGE_NAMES, mib } from './app-images.js';

const usage = `Usage: tsx images/app/main.ts [options]

Builds BlockHost's two container images as OCI image archives, without a registry or a container
engine, unless the cache already has them for the current sources:
  controller  the controller manager (node /app/controllers/main.js) and the webhook server
              (node /app/webhooks/main.js); virsh and genisoimage for the libvirt backend
  web         the web server (node /app/web/main.js)
Layers: Debian bookworm minbase (debootstrap), Node (the version package.json pins), the production
node_modules (npm ci --omit=dev), the app (esbuild). Both images share one tag, a hash of every
input. The first build needs root, debootstrap and a Debian mirror (BLOCKHOST_DEBIAN_MIRROR, default
deb.debian.org) and takes about two minutes. Cache: \${XDG_CACHE_HOME:-~/.cache}/blockhost/app-images/.

Load them into a node's containerd and install the chart with them:
  ctr -n k8s.io images import <controller.tar>    (and <web.tar>; names come with the archives)
  helm install ... --set image.registry=blockhost.local --set-string image.tag=<tag> \\
    --set image.pullPolicy=Never

Options:
  --json        print the build record (refs, archives, layers, sizes, times) as JSON
  -h, --help    show this help

Progress goes to stderr. Exit status: 0 when both archives are there, 1 when the build failed.`;

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
try {
  const images = await ensureAppImages();
  if (values.json) console.log(JSON.stringify(images, null, 2));
  else {
    const lines = [
      `tag ${images.tag}${images.cached ? ' (cached)' : ` (built in ${images.seconds.toFixed(1)} s)`}`,
    ];
    for (const name of IMAGE_NAMES) {
      const image = images.images[name];
      lines.push(
        `${image.ref}`,
        `  archive  ${image.tar} (${mib(image.archiveBytes)}, ${mib(image.unpackedBytes)} unpacked)`,
      );
      for (const layer of image.layers)
        lines.push(
          `  layer    ${layer.name.padEnd(16)} ${mib(layer.size).padStart(10)} ${mib(layer.tarSize).padStart(10)} unpacked`,
        );
    }
    lines.push(`helm     ${images.helmArgs.join(' ')}`);
    console.log(lines.join('\n'));
  }
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
