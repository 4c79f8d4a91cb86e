// BlockHost's guest image: the Debian system every VM boots, with cloud-init, the QEMU guest agent,
// OpenSSH and the wallet login (libpam-web3). Built by build-image.sh from Debian packages and our
// own .deb (guest/pam-web3/build.sh), cached under
// ${XDG_CACHE_HOME:-~/.cache}/blockhost/guest-images/<key>/ where the key hashes every input (the
// recipe and the package), so a change to either builds a new image; parallel builds wait on a lock.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bump when the recipe changes in a way its inputs' hash does not show (e.g. a new mirror). */
export const GUEST_IMAGE_RECIPE_VERSION = 'debian-bookworm-minbase-3';

const here = dirname(fileURLToPath(import.meta.url));
const imageScript = join(here, 'build-image.sh');
const pamBuildScript = join(here, '..', '..', 'guest', 'pam-web3', 'build.sh');

export interface GuestImage {
  key: string;
  dir: string;
  /**
   * qcow2 base image: an MBR disk with GRUB for BIOS firmware and one ext4 partition labelled rootfs.
   * Boot VMs from a qcow2 overlay on it, never from the file itself.
   */
  baseImage: string;
  /** The same kernel and initrd, for direct kernel boot (`root=LABEL=rootfs console=ttyS0`). */
  kernel: string;
  initrd: string;
  /** The libpam-web3 package inside it. */
  pamPackage: string;
}

function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'blockhost');
}

/** Runs a build script in its own process group (it stops its children on SIGTERM); stdout is returned. */
async function runScript(script: string, args: string[]): Promise<string> {
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', 'bash', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal ?? 'unknown'));
  });
  if (code !== 0) throw new Error(`${script} exited with ${code}; see its output above`);
  return stdout.trim();
}

/** The libpam-web3 .deb, built first when its sources changed (cargo, a minute or two cold). */
export async function ensurePamPackage(): Promise<string> {
  const deb = (await runScript(pamBuildScript, [join(cacheRoot(), 'pam-web3')])).split('\n').at(-1) ?? '';
  if (!deb.endsWith('.deb') || !existsSync(deb))
    throw new Error(`${pamBuildScript} did not name a package it built (printed "${deb}")`);
  return deb;
}

export async function guestImageKey(pamPackage: string): Promise<string> {
  const hash = createHash('sha256')
    .update(await readFile(imageScript))
    .update(await readFile(pamPackage))
    .digest('hex');
  return `${GUEST_IMAGE_RECIPE_VERSION}-${hash.slice(0, 12)}`;
}

function paths(key: string, pamPackage: string): GuestImage {
  const dir = join(cacheRoot(), 'guest-images', key);
  return {
    key,
    dir,
    baseImage: join(dir, 'base.qcow2'),
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    pamPackage,
  };
}

/**
 * The cached guest image, built first when missing (about two minutes; root, debootstrap and a
 * Debian mirror needed). Build progress is written to stderr.
 */
export async function ensureGuestImage(): Promise<GuestImage> {
  const pamPackage = await ensurePamPackage();
  const image = paths(await guestImageKey(pamPackage), pamPackage);
  // COMPLETE is the last file the script writes, after the directory has its final name.
  if (existsSync(join(image.dir, 'COMPLETE'))) return image;
  if (process.getuid?.() !== 0)
    throw new Error(`the guest image ${image.dir} is not built yet and building it needs root (debootstrap)`);
  await runScript(imageScript, [image.dir, pamPackage]);
  if (!existsSync(join(image.dir, 'COMPLETE')))
    throw new Error(`building the guest image failed: ${image.dir} has no COMPLETE marker`);
  return image;
}

/** Size of the image's files in bytes (the benchmark reports it). */
export async function guestImageBytes(image: GuestImage): Promise<number> {
  const sizes = await Promise.all([image.baseImage, image.kernel, image.initrd].map((f) => stat(f)));
  return sizes.reduce((sum, s) => sum + s.size, 0);
}
