// The Debian guest the libvirt tests boot: built once per recipe by build-guest-image.sh (debootstrap
// from Debian packages, no image download) and cached under
// ${XDG_CACHE_HOME:-~/.cache}/blockhost/guest-images/<key>/. The key joins the recipe version and a
// hash of the script, so editing the recipe builds a new image; parallel runs wait on a lock file.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bump when the recipe changes in a way the script's hash does not show (e.g. a new mirror). */
export const GUEST_IMAGE_RECIPE_VERSION = 'debian-bookworm-minbase-1';

const script = join(dirname(fileURLToPath(import.meta.url)), 'build-guest-image.sh');

export interface GuestImage {
  key: string;
  dir: string;
  /** qcow2 base image; boot VMs from a qcow2 overlay on it, never from the file itself. */
  baseImage: string;
  /** Kernel and initrd for direct kernel boot (`root=/dev/vda console=ttyS0`). */
  kernel: string;
  initrd: string;
}

export function guestImageCacheRoot(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'blockhost', 'guest-images');
}

export async function guestImageKey(): Promise<string> {
  const hash = createHash('sha256')
    .update(await readFile(script))
    .digest('hex');
  return `${GUEST_IMAGE_RECIPE_VERSION}-${hash.slice(0, 12)}`;
}

function paths(key: string): GuestImage {
  const dir = join(guestImageCacheRoot(), key);
  return {
    key,
    dir,
    baseImage: join(dir, 'base.qcow2'),
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
  };
}

/**
 * The cached guest image, built first when missing (about two minutes; root, debootstrap and a
 * Debian mirror needed). Build progress is written to stderr.
 */
export async function ensureGuestImage(): Promise<GuestImage> {
  const image = paths(await guestImageKey());
  // COMPLETE is the last file the script writes, after the directory has its final name.
  if (existsSync(join(image.dir, 'COMPLETE'))) return image;
  if (process.getuid?.() !== 0) {
    throw new Error(`the guest image ${image.dir} is not built yet and building it needs root (debootstrap)`);
  }
  // Its own process group, so the script can stop all of debootstrap on SIGTERM, which it gets
  // (and cleans up after) if this process dies mid-build.
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'bash', script, image.dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal ?? 'unknown'));
  });
  if (code !== 0 || !existsSync(join(image.dir, 'COMPLETE'))) {
    throw new Error(`building the guest image failed (${script} exited with ${code}); see its output above`);
  }
  return image;
}
