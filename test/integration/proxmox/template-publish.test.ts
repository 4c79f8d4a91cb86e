// Publishing the guest image as a Proxmox VE template (images/guest/proxmox-template.ts) into the
// fake PVE API, which enforces what real PVE documents for it: upload content types and file names,
// import-from an existing `import` volume, template conversion. The driver then clones a VM from the
// published template; a second publish and every refused case change nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FormData } from 'undici';
import { PveClient } from '../../../controllers/vm/backends/proxmox/client.js';
import { waitForTask } from '../../../controllers/vm/backends/proxmox/tasks.js';
import { ProxmoxBackend } from '../../../controllers/vm/backends/proxmox/backend.js';
import { publishProxmoxTemplate } from '../../../images/guest/proxmox-template.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { proxmoxSettingsFor } from '../../harness/proxmox/settings.js';
import { desiredVm, log } from './fixtures.js';

const run = promisify(execFile);
const GUEST_VMID = 9100;
const NAME = 'blockhost-guest';

describe('publishing the guest image as a Proxmox template', () => {
  let dir: string;
  let qcow2: string;
  let fake: FakeProxmox;
  let client: PveClient;

  const clientFor = (target: FakeProxmox) =>
    new PveClient({
      apiUrl: target.url,
      token: DEFAULT_TOKEN,
      insecureSkipTLSVerify: false,
      ca: target.ca,
      log,
      transientRetries: 0,
    });
  const publish = (overrides: Partial<Parameters<typeof publishProxmoxTemplate>[0]> = {}) =>
    publishProxmoxTemplate({
      client,
      node: fake.node,
      importStorage: 'local',
      storage: 'local-lvm',
      templateVmid: GUEST_VMID,
      name: NAME,
      qcow2Path: qcow2,
      ...overrides,
    });
  /** What a refused call must leave as it was. */
  const state = (target: FakeProxmox) => ({
    vms: target.vms().map((vm) => [vm.vmid, vm.name, vm.template, vm.config.scsi0]),
    volumes: [...target.imageVolumes(), ...target.importVolumes(), ...target.isoVolumes()].sort(),
  });
  async function upload(target: PveClient, storage: string, content: string, fileName: string) {
    const form = new FormData();
    form.append('content', content);
    form.append('filename', new Blob([await readFile(qcow2)]), fileName);
    return target.upload<string>(`/nodes/pve/storage/${storage}/upload`, form);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'template-publish-'));
    qcow2 = join(dir, 'guest.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '64M']);
    fake = await FakeProxmox.start({ taskDurationMs: 20, agentDelayMs: 200 });
    client = clientFor(fake);
  });

  afterAll(async () => {
    await client?.close();
    await fake?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the template from the qcow2, and the driver clones a running VM from it', async () => {
    expect(await publish()).toEqual({ templateVmid: GUEST_VMID, name: NAME, outcome: 'created' });
    const template = fake.vm(GUEST_VMID)!;
    expect(template).toMatchObject({ name: NAME, template: true, status: 'stopped' });
    // The disk was imported at the image's virtual size, and became a base volume.
    expect(template.config).toMatchObject({
      scsi0: `local-lvm:base-${GUEST_VMID}-disk-0,size=64M`,
      scsihw: 'virtio-scsi-single',
      boot: 'order=scsi0',
      agent: '1',
      serial0: 'socket',
    });
    expect(template.config.net0).toMatch(/^virtio=[0-9A-F:]{17},bridge=vmbr0$/);
    // The uploaded file is gone once the template has its own copy.
    expect(fake.importVolumes()).toEqual([]);
    const uploads = fake.tasks().filter((t) => t.type === 'imgcopy');
    expect(uploads.map((t) => t.exitstatus)).toEqual(['OK']);

    const backend = new ProxmoxBackend({
      settings: proxmoxSettingsFor(fake, GUEST_VMID),
      token: DEFAULT_TOKEN,
      log,
      ca: fake.ca,
    });
    try {
      const created = await backend.create(desiredVm({ octet: 21 }));
      expect(created.power).toBe('Running');
      const vm = fake.vm(Number(created.id))!;
      expect(vm.config.scsi0).toBe(`local-lvm:vm-${created.id}-disk-0,size=4G`);
      expect(vm.config.serial0).toBe('socket');
      await backend.delete(created.id);
    } finally {
      await backend.close();
    }
  });

  it('leaves an existing template of that name alone', async () => {
    const before = state(fake);
    const posts = fake.requests({ method: 'POST' }).length;
    expect(await publish()).toMatchObject({ outcome: 'unchanged' });
    expect(fake.requests({ method: 'POST' })).toHaveLength(posts);
    expect(state(fake)).toEqual(before);
  });

  it('refuses another template or a plain VM at the VMID without changing anything', async () => {
    const before = state(fake);
    // 9000 is the fake's template "debian-12".
    await expect(publish({ templateVmid: 9000 })).rejects.toThrow(
      /VMID 9000 on node pve is the template "debian-12", not the template "blockhost-guest"/,
    );
    const create = await client.post('/nodes/pve/qemu', { vmid: 150, name: 'plain', memory: 512 });
    await waitForTask(client, create, { timeoutMs: 5000, what: 'create' });
    const withPlain = state(fake);
    await expect(publish({ templateVmid: 150, name: 'plain' })).rejects.toThrow(/is the VM "plain"/);
    expect(state(fake)).toEqual(withPlain);
    await waitForTask(client, await client.delete('/nodes/pve/qemu/150'), {
      timeoutMs: 5000,
      what: 'destroy',
    });
    expect(state(fake)).toEqual(before);
    await expect(publish({ templateVmid: 9200, qcow2Path: join(dir, 'missing.qcow2') })).rejects.toThrow(
      /no such disk image/,
    );
    expect(state(fake)).toEqual(before);
  });

  it('fails on a storage without import content, before creating a VM', async () => {
    const other = await FakeProxmox.start({
      storage: [
        { id: 'local', type: 'dir', content: ['iso', 'vztmpl'] },
        { id: 'local-lvm', type: 'lvmthin', content: ['images'] },
      ],
    });
    const otherClient = clientFor(other);
    try {
      const before = state(other);
      await expect(
        publishProxmoxTemplate({
          client: otherClient,
          node: other.node,
          importStorage: 'local',
          storage: 'local-lvm',
          templateVmid: GUEST_VMID,
          name: NAME,
          qcow2Path: qcow2,
        }),
      ).rejects.toThrow(/storage 'local' does not support 'import' content/);
      expect(state(other)).toEqual(before);
    } finally {
      await otherClient.close();
      await other.stop();
    }
  });

  describe('the fake enforces what PVE documents', () => {
    it('takes a qcow2 upload only as import content with a disk image extension', async () => {
      const before = state(fake);
      await expect(upload(client, 'local', 'iso', 'guest.qcow2')).rejects.toThrow(/wrong file extension/);
      await expect(upload(client, 'local', 'import', 'guest.img')).rejects.toThrow(
        /invalid filename or wrong extension/,
      );
      await expect(upload(client, 'local-lvm', 'import', 'guest.qcow2')).rejects.toThrow(
        /can't upload to storage type 'lvmthin'/,
      );
      await expect(upload(client, 'local', 'images', 'guest.qcow2')).rejects.toThrow(
        /upload content type 'images' not allowed/,
      );
      expect(state(fake)).toEqual(before);

      // A file that claims to be a qcow2 but is not fails the copy task and is not kept.
      const fake2 = join(dir, 'not-really.qcow2');
      await writeFile(fake2, 'plain text');
      const form = new FormData();
      form.append('content', 'import');
      form.append('filename', new Blob([await readFile(fake2)]), 'not-really.qcow2');
      const task = await client.upload<string>('/nodes/pve/storage/local/upload', form);
      await expect(waitForTask(client, task, { timeoutMs: 5000, what: 'upload' })).rejects.toThrow(
        /not a valid qcow2 image/,
      );
      expect(state(fake)).toEqual(before);
    });

    it('imports a disk only from an existing images or import volume', async () => {
      const before = state(fake);
      const create = (from: string) =>
        client.post('/nodes/pve/qemu', { vmid: 160, name: 'x', scsi0: `local-lvm:0,import-from=${from}` });
      await expect(create('local:import/none.qcow2')).rejects.toThrow(
        /volume 'local:import\/none.qcow2' does not exist/,
      );
      // A seed-like ISO: real PVE refuses an iso volume as a disk source.
      const isoForm = new FormData();
      isoForm.append('content', 'iso');
      isoForm.append('filename', new Blob([Buffer.from('iso')]), 'seed.iso');
      await waitForTask(client, await client.upload('/nodes/pve/storage/local/upload', isoForm), {
        timeoutMs: 5000,
        what: 'iso upload',
      });
      await expect(create('local:iso/seed.iso')).rejects.toThrow(
        /has wrong type 'iso' - needs to be 'images' or 'import'/,
      );
      await waitForTask(
        client,
        await client.delete(`/nodes/pve/storage/local/content/${encodeURIComponent('local:iso/seed.iso')}`),
        { timeoutMs: 5000, what: 'iso delete' },
      );
      expect(state(fake)).toEqual(before);
    });

    it('does not start a template, nor make a template twice', async () => {
      const start = await client.post(`/nodes/pve/qemu/${GUEST_VMID}/status/start`);
      await expect(waitForTask(client, start, { timeoutMs: 5000, what: 'start' })).rejects.toThrow(
        /you can't start a vm if it's a template/,
      );
      await expect(client.post(`/nodes/pve/qemu/${GUEST_VMID}/template`)).rejects.toThrow(
        /you can't convert a template to a template/,
      );
      expect(fake.vm(GUEST_VMID)).toMatchObject({ template: true, status: 'stopped' });
    });
  });
});
