// NoCloud seed ISOs: the cloud-init of cloud-init.ts written
// to an ISO 9660 volume labelled `cidata`, which cloud-init's NoCloud datasource reads at first boot.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NoCloudSeed } from './cloud-init.js';

const run = promisify(execFile);

/** Writes `seed` to `isoPath` with genisoimage (Debian package `genisoimage`). */
export async function writeSeedIso(isoPath: string, seed: NoCloudSeed): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'blockhost-seed-'));
  try {
    const files: [string, string | undefined][] = [
      ['meta-data', seed.metaData],
      ['user-data', seed.userData],
      ['network-config', seed.networkConfig],
    ];
    const present = files.filter((f): f is [string, string] => f[1] !== undefined);
    for (const [name, content] of present) await writeFile(join(dir, name), content);
    await run(
      'genisoimage',
      [
        '-quiet',
        '-output',
        isoPath,
        '-volid',
        'cidata',
        '-joliet',
        '-rock',
        ...present.map(([name]) => name),
      ],
      {
        cwd: dir,
      },
    ).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`genisoimage: ${(error.stderr ?? '').trim() || error.message}`, { cause: error });
    });
    return isoPath;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
