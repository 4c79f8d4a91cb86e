import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormData } from 'undici';
import type { Logger } from '../../../../lib/log.js';
import type { NoCloudSeed } from '../../cloud-init.js';
import { writeSeedIso } from '../../seed-iso.js';
import type { PveClient } from './client.js';
import { isSeedVolumeOf, seedFileName } from './naming.js';
import { waitForTask } from './tasks.js';

const TASK_TIMEOUT_MS = 5 * 60_000;
const UPLOAD_TIMEOUT_MS = 5 * 60_000;

/**
 * NoCloud seed ISOs on a file-based PVE storage (content type iso), uploaded through the storage
 * upload API: nothing is written on the host by other means. Files are named after the VM and the
 * seed's content hash, so an unchanged seed is never uploaded twice and a changed one gets a new file.
 */
export class SeedIsos {
  private readonly base: string;

  constructor(
    private readonly client: PveClient,
    node: string,
    private readonly storage: string,
    private readonly log: Logger,
  ) {
    this.base = `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(storage)}`;
  }

  /** Seed ISOs of the VM named `vmName` present in the storage (volume ids). */
  async list(vmName: string, signal?: AbortSignal): Promise<string[]> {
    const content = await this.client.get<{ volid: string }[]>(
      `${this.base}/content`,
      { content: 'iso' },
      { signal },
    );
    return content.map((item) => item.volid).filter((volid) => isSeedVolumeOf(volid, this.storage, vmName));
  }

  /** The volume id of `seed` for `vmName`, uploading the ISO unless it is there already. */
  async ensure(vmName: string, seed: NoCloudSeed, signal?: AbortSignal): Promise<string> {
    const fileName = seedFileName(vmName, seed);
    const volid = `${this.storage}:iso/${fileName}`;
    if ((await this.list(vmName, signal)).includes(volid)) return volid;
    const dir = await mkdtemp(join(tmpdir(), 'blockhost-pve-seed-'));
    try {
      const iso = await readFile(await writeSeedIso(join(dir, fileName), seed));
      const form = new FormData();
      form.append('content', 'iso');
      form.append('filename', new Blob([iso], { type: 'application/octet-stream' }), fileName);
      const upid = await this.client.upload(`${this.base}/upload`, form, {
        timeoutMs: UPLOAD_TIMEOUT_MS,
        signal,
      });
      await waitForTask(this.client, upid, { timeoutMs: TASK_TIMEOUT_MS, what: `upload ${volid}`, signal });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    this.log.info({ volid }, 'seed ISO uploaded');
    return volid;
  }

  /** Deletes the seed ISOs of `vmName` except `keep`; a volume that vanished meanwhile is fine. */
  async remove(vmName: string, keep?: string, signal?: AbortSignal): Promise<void> {
    for (const volid of await this.list(vmName, signal)) {
      if (volid === keep) continue;
      try {
        const upid = await this.client.delete(
          `${this.base}/content/${encodeURIComponent(volid)}`,
          undefined,
          {
            signal,
          },
        );
        await waitForTask(this.client, upid, { timeoutMs: TASK_TIMEOUT_MS, what: `delete ${volid}`, signal });
      } catch (error) {
        if ((await this.list(vmName, signal)).includes(volid)) throw error;
      }
      this.log.info({ volid }, 'seed ISO removed');
    }
  }
}
