// Storages of the fake node: VM disk volumes (tracked in memory), and ISO files and disk images for
// import (kept on disk, so what the driver uploaded can be read back the way a booting guest reads
// its CD, and an import's qcow2 header gives the new disk its size).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parameterError, pveDie, PveHttpError } from './http.js';

export interface FakeStorage {
  id: string;
  /** dir: file based (ISOs, templates); lvmthin: block volumes for VM disks only. */
  type: 'dir' | 'lvmthin';
  content: string[];
}

export interface Volume {
  volid: string;
  storage: string;
  content: 'images' | 'iso' | 'import';
  sizeBytes: number;
  /** Disk size of an import volume (a qcow2's virtual size), which a disk imported from it gets. */
  virtualBytes?: number;
  /** VMID owning an image volume (vm-<vmid>-disk-N, base-<vmid>-disk-N). */
  owner?: number;
  /** File of an ISO or import volume. */
  path?: string;
  ctime: number;
}

export const DEFAULT_STORAGE: FakeStorage[] = [
  // PVE 8.3+ (import content) lists `import` on a fresh install's `local`.
  { id: 'local', type: 'dir', content: ['iso', 'vztmpl', 'backup', 'import'] },
  { id: 'local-lvm', type: 'lvmthin', content: ['images', 'rootdir'] },
];

/** Extensions PVE's upload accepts per content type (ISO_EXT_RE_0, VZTMPL_EXT_RE_1, UPLOAD_IMPORT_EXT_RE_1). */
const UPLOAD_EXTENSION = {
  iso: /\.(iso|img)$/i,
  vztmpl: /\.tar\.(gz|xz|zst)$/i,
  import: /\.(ova|qcow2|raw|vmdk)$/,
} as const;
/** "QFI\xfb", the first four bytes of every qcow2 file. */
const QCOW2_MAGIC = 0x514649fb;

export class FakeStorages {
  private readonly volumes = new Map<string, Volume>();

  constructor(
    private readonly storages: FakeStorage[],
    private readonly dataDir: string,
  ) {}

  list(): FakeStorage[] {
    return this.storages.map((s) => ({ ...s, content: [...s.content] }));
  }

  storage(id: string): FakeStorage {
    const storage = this.storages.find((s) => s.id === id);
    if (!storage) throw pveDie(`storage '${id}' does not exist`);
    return storage;
  }

  /** The first storage that can hold VM disks. */
  imageStorage(): FakeStorage {
    const storage = this.storages.find((s) => s.content.includes('images'));
    if (!storage) throw new Error('the fake needs a storage with content images');
    return storage;
  }

  volume(volid: string): Volume | undefined {
    return this.volumes.get(volid);
  }

  all(): Volume[] {
    return [...this.volumes.values()].map((v) => ({ ...v }));
  }

  content(storage: string, content: string | undefined): Volume[] {
    this.storage(storage);
    return this.all().filter((v) => v.storage === storage && (!content || v.content === content));
  }

  /** A new disk volume `<storage>:vm-<owner>-disk-<n>` (or base- for templates). */
  allocateImage(storage: string, owner: number, sizeBytes: number, prefix: 'vm' | 'base' = 'vm'): Volume {
    if (!this.storage(storage).content.includes('images')) {
      throw pveDie(`storage '${storage}' does not support vm images`);
    }
    let index = 0;
    while (this.volumes.has(`${storage}:${prefix}-${owner}-disk-${index}`)) index += 1;
    const volume: Volume = {
      volid: `${storage}:${prefix}-${owner}-disk-${index}`,
      storage,
      content: 'images',
      sizeBytes,
      owner,
      ctime: Math.floor(Date.now() / 1000),
    };
    this.volumes.set(volume.volid, volume);
    return volume;
  }

  resize(volid: string, sizeBytes: number): void {
    const volume = this.volumes.get(volid);
    if (!volume) throw pveDie(`volume '${volid}' does not exist`);
    volume.sizeBytes = sizeBytes;
  }

  /**
   * Checks of POST /nodes/{node}/storage/{storage}/upload that PVE makes before it forks the copy
   * task (pve-storage API2/Storage/Status.pm): a file based storage, a content type the upload
   * knows, the normalized file name's extension for that type, then the storage's content list.
   */
  checkUpload(storageId: string, content: string | undefined, fileName: string | undefined): string {
    const storage = this.storage(storageId);
    if (storage.type !== 'dir') throw pveDie(`can't upload to storage type '${storage.type}'`);
    if (content !== 'iso' && content !== 'vztmpl' && content !== 'import') {
      throw parameterError({ content: `upload content type '${content ?? ''}' not allowed` });
    }
    if (!fileName) throw pveDie('missing temporary file name');
    const normalized = fileName.replace(/^.*[/\\]/, '').replace(/[^-_.a-zA-Z0-9]/g, '_');
    if (!UPLOAD_EXTENSION[content].test(normalized)) {
      throw parameterError({
        filename: content === 'import' ? 'invalid filename or wrong extension' : 'wrong file extension',
      });
    }
    if (!storage.content.includes(content)) {
      throw pveDie(`storage '${storageId}' does not support '${content}' content`);
    }
    return normalized;
  }

  /**
   * The copy task's work: the file lands in the storage's directory for its content, overwriting
   * one of the same name. An import image is checked first as PVE checks an untrusted image: a
   * `.qcow2` must be a qcow2 (its header also gives the virtual size).
   */
  async storeFile(
    storageId: string,
    content: 'iso' | 'import',
    fileName: string,
    data: Buffer,
  ): Promise<void> {
    let virtualBytes: number | undefined;
    if (content === 'import') {
      const format = /\.([a-z0-9]+)$/.exec(fileName)?.[1];
      if (format === 'qcow2') {
        if (data.length < 32 || data.readUInt32BE(0) !== QCOW2_MAGIC) {
          throw new Error(`'${fileName}' is not a valid qcow2 image (format mismatch)`);
        }
        virtualBytes = Number(data.readBigUInt64BE(24));
      } else {
        virtualBytes = data.length;
      }
    }
    const dir = join(this.dataDir, storageId, content === 'iso' ? join('template', 'iso') : 'import');
    await mkdir(dir, { recursive: true });
    const path = join(dir, fileName);
    await writeFile(path, data);
    const volid = `${storageId}:${content}/${fileName}`;
    this.volumes.set(volid, {
      volid,
      storage: storageId,
      content,
      sizeBytes: data.length,
      ...(virtualBytes !== undefined && { virtualBytes }),
      path,
      ctime: Math.floor(Date.now() / 1000),
    });
  }

  /** Template conversion: `vm-<owner>-disk-N` becomes `base-<owner>-disk-N` (as on LVM-thin); the new volume id. */
  makeBase(volid: string): string {
    const volume = this.volumes.get(volid);
    if (!volume) throw new Error(`volume '${volid}' does not exist`);
    const base = volid.replace(/:vm-(\d+)-/, ':base-$1-');
    this.volumes.delete(volid);
    this.volumes.set(base, { ...volume, volid: base });
    return base;
  }

  /** `storage:iso/x.iso`, or `iso/x.iso` within `storageId`, as a volume id. */
  volidOf(storageId: string, volume: string): string {
    return volume.includes(':') ? volume : `${storageId}:${volume}`;
  }

  async free(volid: string): Promise<void> {
    const volume = this.volumes.get(volid);
    if (!volume) throw new PveHttpError(500, `volume '${volid}' does not exist`);
    this.volumes.delete(volid);
    if (volume.path) await rm(volume.path, { force: true });
  }

  /** Every image volume named for `vmid`, referenced or not (destroy-unreferenced-disks). */
  ownedBy(vmid: number): Volume[] {
    return this.all().filter((v) => v.owner === vmid);
  }
}
