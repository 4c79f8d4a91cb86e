import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The files of a NoCloud seed, as cloud-init finds them on a volume labelled `cidata`. */
export interface NoCloudFiles {
  metaData?: string;
  userData?: string;
  networkConfig?: string;
}

const FILES = { metaData: '/meta-data', userData: '/user-data', networkConfig: '/network-config' } as const;

/**
 * Reads a NoCloud seed from an ISO 9660 image with isoinfo (Debian package genisoimage), as
 * cloud-init would at boot: undefined unless the volume is labelled `cidata`.
 */
export async function readNoCloudSeed(isoPath: string): Promise<NoCloudFiles | undefined> {
  const { stdout: header } = await run('isoinfo', ['-d', '-i', isoPath]);
  if (!/^Volume id: cidata$/m.test(header)) return undefined;
  const { stdout: listing } = await run('isoinfo', ['-R', '-f', '-i', isoPath]);
  const present = new Set(listing.split('\n'));
  const seed: NoCloudFiles = {};
  for (const [key, path] of Object.entries(FILES) as [keyof NoCloudFiles, string][]) {
    if (!present.has(path)) continue;
    seed[key] = (await run('isoinfo', ['-R', '-i', isoPath, '-x', path], { maxBuffer: 1 << 20 })).stdout;
  }
  return seed;
}
