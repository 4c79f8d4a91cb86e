/**
 * Builds (or finds in the cache) BlockHost's guest image and prints where its files are.
 * `--help` lists the options.
 */
import { parseArgs } from 'node:util';
import { ensureGuestImage, guestImageBytes } from './guest-image.js';

const usage = `Usage: tsx images/guest/main.ts [options]

Builds BlockHost's guest image — Debian bookworm with cloud-init, qemu-guest-agent, openssh-server
and libpam-web3 (the wallet login) — from Debian packages and guest/pam-web3, unless the cache
already has one made from the same inputs. Needs root, debootstrap and a Debian mirror
(BLOCKHOST_DEBIAN_MIRROR, default deb.debian.org). Cache: \${XDG_CACHE_HOME:-~/.cache}/blockhost/.

Options:
  --json        print the image's paths and size as JSON (default: one line per file)
  -h, --help    show this help

Progress goes to stderr. Exit status: 0 when the image is there, 1 when the build failed.`;

const { values } = parseArgs({
  options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
try {
  const image = await ensureGuestImage();
  const bytes = await guestImageBytes(image);
  if (values.json) console.log(JSON.stringify({ ...image, bytes }, null, 2));
  else
    console.log(
      [
        `key        ${image.key}`,
        `base image ${image.baseImage}`,
        `kernel     ${image.kernel}`,
        `initrd     ${image.initrd}`,
        `package    ${image.pamPackage}`,
        `size       ${(bytes / 2 ** 20).toFixed(1)} MiB`,
      ].join('\n'),
    );
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
