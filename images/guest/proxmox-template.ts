// Publishes the guest image to Proxmox VE as the template VM the driver clones
// (HostConfig backend.proxmox.images[].templateVmid): the qcow2 is uploaded to a file storage with
// content `import` (PVE ≥ 8.3), a VM is created at the template's VMID with its disk imported from
// that file (`scsi0: <storage>:0,import-from=<storage>:import/<name>.qcow2`, PVE sizes the disk from
// the image), converted into a template, and the uploaded file is deleted (the template has its own
// copy). Idempotent by VMID: a template there with the same name is left alone; anything else there
// is an error before any change.
import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { FormData } from 'undici';
import { z } from 'zod';
import type { PveClient } from '../../controllers/vm/backends/proxmox/client.js';
import { waitForTask } from '../../controllers/vm/backends/proxmox/tasks.js';
import { fileSha256 } from './file-hash.js';

const UPLOAD_TIMEOUT_MS = 60 * 60_000;
const TASK_TIMEOUT_MS = 30 * 60_000;

const optionsSchema = z.object({
  node: z.string().min(1),
  /** File based storage with content `import` that receives the qcow2 (e.g. `local`). */
  importStorage: z.string().min(1),
  /** Storage for the template's disk, with content `images` (e.g. `local-lvm`). */
  storage: z.string().min(1),
  templateVmid: z.number().int().min(100).max(999_999_999),
  /** VM name of the template (a DNS label) and file name of the upload (`<name>.qcow2`). */
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS label (a-z, 0-9, -)'),
  qcow2Path: z.string().min(1),
  memoryMiB: z.number().int().min(64).default(1024),
  cores: z.number().int().min(1).default(1),
  bridge: z.string().min(1).default('vmbr0'),
});

export type PublishTemplateOptions = z.input<typeof optionsSchema> & {
  client: PveClient;
  /** Where progress lines go (the CLI: stderr); default: nowhere. */
  progress?: (line: string) => void;
};

export interface PublishedTemplate {
  templateVmid: number;
  name: string;
  /** `unchanged`: the template was already there. */
  outcome: 'created' | 'unchanged';
}

interface ClusterVm {
  vmid: number;
  node: string;
  name?: string;
  template?: number;
}

/** Whatever is at `vmid` in the cluster, or undefined. */
async function vmAt(client: PveClient, vmid: number): Promise<ClusterVm | undefined> {
  const vms = await client.get<ClusterVm[]>('/cluster/resources', { type: 'vm' });
  return vms.find((vm) => Number(vm.vmid) === vmid);
}

export async function publishProxmoxTemplate(options: PublishTemplateOptions): Promise<PublishedTemplate> {
  const { client } = options;
  const progress = options.progress ?? (() => undefined);
  const o = optionsSchema.parse(options);
  const existing = await vmAt(client, o.templateVmid);
  if (existing) {
    const what = `VMID ${o.templateVmid} on node ${existing.node} is ${existing.template ? 'the template' : 'the VM'} "${existing.name ?? '(no name)'}"`;
    if (existing.template && existing.name === o.name && existing.node === o.node) {
      progress(`${what} already; nothing to do`);
      return { templateVmid: o.templateVmid, name: o.name, outcome: 'unchanged' };
    }
    throw new Error(
      `${what}, not the template "${o.name}" on node ${o.node}; pick another VMID or remove it (qm destroy ${o.templateVmid}) first`,
    );
  }
  const source = await stat(o.qcow2Path).catch(() => undefined);
  if (!source?.isFile()) throw new Error(`no such disk image: ${o.qcow2Path}`);

  const fileName = `${o.name}.qcow2`;
  const importVolume = `${o.importStorage}:import/${fileName}`;
  const nodePath = `/nodes/${encodeURIComponent(o.node)}`;
  progress(`uploading ${o.qcow2Path} (${(source.size / 2 ** 20).toFixed(1)} MiB) to ${importVolume}`);
  const form = new FormData();
  form.append('content', 'import');
  // PVE verifies the upload against the checksum before it keeps the file.
  form.append('checksum-algorithm', 'sha256');
  form.append('checksum', await fileSha256(o.qcow2Path));
  form.append('filename', await openAsBlob(o.qcow2Path), fileName);
  const uploadTask = await client.upload<string>(
    `${nodePath}/storage/${encodeURIComponent(o.importStorage)}/upload`,
    form,
    { timeoutMs: UPLOAD_TIMEOUT_MS },
  );
  await waitForTask(client, uploadTask, { timeoutMs: TASK_TIMEOUT_MS, what: `upload of ${fileName}` });

  progress(`creating VM ${o.templateVmid} "${o.name}" with its disk imported into ${o.storage}`);
  const createTask = await client.post(`${nodePath}/qemu`, {
    vmid: o.templateVmid,
    name: o.name,
    memory: o.memoryMiB,
    cores: o.cores,
    ostype: 'l26',
    scsihw: 'virtio-scsi-single',
    scsi0: `${o.storage}:0,import-from=${importVolume}`,
    boot: 'order=scsi0',
    agent: '1',
    // The guest's console is on the serial port (console=ttyS0); `qm terminal` reads it.
    serial0: 'socket',
    net0: `virtio,bridge=${o.bridge}`,
  });
  await waitForTask(client, createTask, {
    timeoutMs: TASK_TIMEOUT_MS,
    what: `creation of VM ${o.templateVmid}`,
  });

  progress(`converting VM ${o.templateVmid} into a template`);
  const templateTask = await client.post(`${nodePath}/qemu/${o.templateVmid}/template`);
  await waitForTask(client, templateTask, {
    timeoutMs: TASK_TIMEOUT_MS,
    what: `template of VM ${o.templateVmid}`,
  });

  // The template's disk is a copy; the uploaded file would only take space.
  const deleteTask = await client.delete(
    `${nodePath}/storage/${encodeURIComponent(o.importStorage)}/content/${encodeURIComponent(importVolume)}`,
  );
  await waitForTask(client, deleteTask, { timeoutMs: TASK_TIMEOUT_MS, what: `deletion of ${importVolume}` });
  progress(`template ${o.templateVmid} "${o.name}" is ready`);
  return { templateVmid: o.templateVmid, name: o.name, outcome: 'created' };
}
