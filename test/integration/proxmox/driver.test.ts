// The Proxmox VE driver against the fake PVE API (test/harness/proxmox): the VM lifecycle the VM
// controller drives, the guest agent (GECOS changes as on an NFT transfer, INTEROP §4; the files of
// wallet-login sessions), and VMID allocation under concurrent creates in one process and across two
// driver instances.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { blockhostGecos } from '../../../controllers/vm/cloud-init.js';
import { BackendError, GuestAgentUnavailableError } from '../../../controllers/vm/backend.js';
import type { ProxmoxBackend } from '../../../controllers/vm/backends/proxmox/backend.js';
import { FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { waitFor } from '../../harness/processes.js';
import { backendFor, desiredVm, NEXT_OWNER, OWNER } from './fixtures.js';

describe('Proxmox driver against the fake PVE API', () => {
  let fake: FakeProxmox;
  let backend: ProxmoxBackend;

  beforeAll(async () => {
    fake = await FakeProxmox.start({ taskDurationMs: 30, agentDelayMs: 300 });
    backend = backendFor(fake);
  });

  afterAll(async () => {
    await backend?.close();
    await fake?.stop();
  });

  const ref = (id: string) => ({ namespace: 'tenants', name: 'blockhost-001', id });
  const passwdLine = async (id: string) =>
    (await backend.guestExec(id, { path: '/usr/bin/getent', args: ['passwd', 'admin'] })).stdout.trim();

  it('creates a running VM from the template, configured as asked, whose agent changes the GECOS', async () => {
    const desired = desiredVm({ octet: 11 });
    fake.holdAgents();
    const created = await backend.create(desired);

    expect(Number(created.id)).toBeGreaterThanOrEqual(100);
    expect(Number(created.id)).toBeLessThanOrEqual(199);
    expect(created).toMatchObject({
      intentId: desired.intentId,
      power: 'Running',
      cpu: 2,
      memoryMiB: 2048,
      diskGiB: 4,
    });
    const vm = fake.vm(Number(created.id))!;
    expect(vm.name).toBe(`bh-${desired.intentId}`);
    // The NIC carries the MAC the seed's network config matches.
    expect(vm.config.net0).toBe(`virtio=${desired.macAddress},bridge=vmbr0`);
    expect(vm.config.agent).toBe('1');
    expect(vm.config.ide2).toMatch(
      new RegExp(`^local:iso/bh-${desired.intentId}-seed-[0-9a-f]{12}\\.iso,media=cdrom$`),
    );
    expect(vm.config.scsi0).toMatch(new RegExp(`^local-lvm:vm-${created.id}-disk-0,size=4G$`));
    expect(fake.isoVolumes()).toContain(vm.config.ide2!.split(',')[0]);

    // The agent answers some time after boot; until then observe says so instead of failing.
    await expect(backend.guestExec(created.id, { path: 'getent', args: ['passwd'] })).rejects.toBeInstanceOf(
      GuestAgentUnavailableError,
    );
    fake.releaseAgents();
    await waitFor(
      'the guest agent',
      async () => (await backend.observe(ref(created.id)))?.guestAgentConnected === true,
      {
        timeoutMs: 10_000,
      },
    );
    expect((await backend.observe(ref(created.id)))?.addresses).toEqual(desired.addresses);

    // cloud-init made the user from the seed ISO the driver uploaded.
    expect(await passwdLine(created.id)).toBe(
      `admin:x:1000:1000:${blockhostGecos(OWNER, '1')}:/home/admin:/bin/bash`,
    );
    const moved = await backend.guestExec(created.id, {
      path: '/usr/sbin/usermod',
      args: ['-c', blockhostGecos(NEXT_OWNER, '1'), 'admin'],
    });
    expect(moved).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(await passwdLine(created.id)).toContain(`:${blockhostGecos(NEXT_OWNER, '1')}:`);

    // stdin and failures of the program come back as they are.
    expect(await backend.guestExec(created.id, { path: 'cat', input: 'hello guest' })).toMatchObject({
      exitCode: 0,
      stdout: 'hello guest',
    });
    expect(await backend.guestExec(created.id, { path: 'usermod', args: ['-c', 'x', 'nobody'] })).toEqual({
      exitCode: 6,
      stdout: '',
      stderr: "usermod: user 'nobody' does not exist\n",
    });
    const missing = backend.guestExec(created.id, { path: '/usr/bin/no-such-program' });
    await expect(missing).rejects.toThrow(/No such file or directory/);
    await expect(missing).rejects.not.toBeInstanceOf(GuestAgentUnavailableError);
    await backend.delete(created.id);
  });

  it('reads and writes guest files through the agent: a login session and its answer', async () => {
    const { id } = await backend.create(desiredVm({ octet: 12 }));
    const vmid = Number(id);
    const pending = '/run/libpam-web3/pending';
    await waitFor(
      'the guest agent',
      async () => (await backend.observe(ref(id)))?.guestAgentConnected === true,
      {
        timeoutMs: 10_000,
      },
    );

    expect(await backend.guestReadFile(id, `${pending}/s.json`, 4096)).toBeUndefined();
    fake.plantGuestFile(vmid, `${pending}/s.json`, '{"otp":"123456"}');
    expect(await backend.guestReadFile(id, `${pending}/s.json`, 4096)).toBe('{"otp":"123456"}');
    const signature = `0x${'ab'.repeat(65)}\n`;
    await backend.guestWriteFile(id, `${pending}/s.sig`, signature);
    expect(fake.guestFile(vmid, `${pending}/s.sig`)).toBe(signature);
    expect(await backend.guestReadFile(id, `${pending}/s.sig`, signature.length)).toBe(signature);

    await expect(backend.guestReadFile(id, `${pending}/s.sig`, signature.length - 1)).rejects.toMatchObject({
      reason: 'GuestFileTooLarge',
    });
    await expect(backend.guestWriteFile(id, '/tmp/big', 'x'.repeat(61_441))).rejects.toMatchObject({
      reason: 'GuestFileTooLarge',
    });
    const noDir = backend.guestWriteFile(id, '/run/no-such-dir/s.sig', signature);
    await expect(noDir).rejects.toThrow(/No such file or directory/);
    await expect(noDir).rejects.not.toBeInstanceOf(GuestAgentUnavailableError);

    fake.powerOffBehindBack(vmid);
    await expect(backend.guestReadFile(id, `${pending}/s.json`, 4096)).rejects.toBeInstanceOf(
      GuestAgentUnavailableError,
    );
    await expect(backend.guestWriteFile(id, `${pending}/s.sig`, signature)).rejects.toBeInstanceOf(
      GuestAgentUnavailableError,
    );
    await backend.delete(id);
  });

  it('creates a stopped VM when asked, and reports its agent unavailable', async () => {
    const created = await backend.create(desiredVm({ running: false }));
    expect(created).toMatchObject({ power: 'Stopped', guestAgentConnected: false, addresses: {} });
    await expect(backend.guestExec(created.id, { path: 'getent' })).rejects.toThrow(
      GuestAgentUnavailableError,
    );
    await backend.delete(created.id);
  });

  it('gives concurrent creates distinct VMIDs in the range, within one process and across two drivers', async () => {
    const range = { start: 300, end: 339 };
    const other = backendFor(fake, { vmidRange: range });
    const mine = backendFor(fake, { vmidRange: range });
    try {
      const desired = Array.from({ length: 20 }, (_, i) => desiredVm({ running: false, octet: 100 + i }));
      const created = await Promise.all(desired.map((d, i) => (i % 2 === 0 ? mine : other).create(d)));

      const ids = created.map((vm) => Number(vm.id));
      expect(new Set(ids).size).toBe(20);
      for (const id of ids) expect(id >= range.start && id <= range.end).toBe(true);
      for (const [i, vm] of created.entries())
        expect(fake.vm(Number(vm.id))?.name).toBe(`bh-${desired[i]!.intentId}`);
      // One clone per VM made it; the drivers' losing attempts were refused by PVE, not duplicated.
      expect(fake.vms().filter((vm) => vm.vmid >= range.start && vm.vmid <= range.end)).toHaveLength(20);
      await Promise.all(created.map((vm) => mine.delete(vm.id)));
    } finally {
      await other.close();
      await mine.close();
    }
  });

  it('moves on to the next VMID when PVE says the chosen one exists', async () => {
    const contended = backendFor(fake, { vmidRange: { start: 400, end: 409 } });
    try {
      fake.injectErrors({
        path: /\/clone$/,
        status: 500,
        message: 'unable to create VM 400: config file already exists',
        count: 1,
      });
      const created = await contended.create(desiredVm({ running: false }));
      expect(created.id).toBe('401');
      await contended.delete(created.id);
    } finally {
      await contended.close();
    }
  });

  it('fails clearly when the VMID range is full', async () => {
    const small = backendFor(fake, { vmidRange: { start: 410, end: 410 } });
    try {
      const first = await small.create(desiredVm({ running: false }));
      const full = small.create(desiredVm({ running: false }));
      await expect(full).rejects.toMatchObject({ reason: 'VmidRangeExhausted' });
      await expect(full).rejects.toThrow(/no free VMID left in 410-410/);
      await small.delete(first.id);
    } finally {
      await small.close();
    }
  });

  it('grows the disk but never shrinks it, and changes CPU and memory', async () => {
    const desired = desiredVm({ running: false, diskGiB: 4 });
    const { id } = await backend.create(desired);
    const resizes = () => fake.requests({ method: 'PUT', path: /\/resize$/ }).length;

    await backend.update(id, { ...desired, diskGiB: 6, cpu: 4, memoryMiB: 4096 });
    expect(fake.vm(Number(id))?.config).toMatchObject({
      scsi0: `local-lvm:vm-${id}-disk-0,size=6G`,
      cores: '4',
      memory: '4096',
    });
    expect(await backend.observe(ref(id))).toMatchObject({ diskGiB: 6, cpu: 4, memoryMiB: 4096 });

    const before = resizes();
    await backend.update(id, { ...desired, diskGiB: 3, cpu: 4, memoryMiB: 4096 });
    expect(resizes()).toBe(before);
    expect(fake.vm(Number(id))?.config.scsi0).toContain('size=6G');
    await backend.delete(id);
  });

  it('uploads a seed ISO only when the seed changed, and drops the one it replaces', async () => {
    const desired = desiredVm({ running: false });
    const { id } = await backend.create(desired);
    const uploads = () => fake.requests({ method: 'POST', path: /\/upload$/ }).length;
    const seedOf = () => fake.vm(Number(id))!.config.ide2!.split(',')[0]!;
    const first = seedOf();

    const before = uploads();
    await backend.update(id, desired);
    expect(uploads()).toBe(before);
    expect(seedOf()).toBe(first);

    const changedSeed = desiredVm({ name: desired.name, gecos: blockhostGecos(NEXT_OWNER, '2') }).cloudInit;
    await backend.update(id, { ...desired, cloudInit: changedSeed });
    expect(uploads()).toBe(before + 1);
    expect(seedOf()).not.toBe(first);
    expect(fake.isoVolumes()).toContain(seedOf());
    expect(fake.isoVolumes()).not.toContain(first);
    await backend.delete(id);
  });

  it('shuts down, stops, starts and resumes, each a no-op when already there', async () => {
    const { id } = await backend.create(desiredVm());
    const powerCalls = () =>
      fake.requests({ method: 'POST', path: /\/status\/(start|stop|shutdown|resume)$/ }).length;
    const power = async () => (await backend.observe(ref(id)))?.power;

    await backend.power(id, 'shutdown');
    expect(await power()).toBe('Stopped');
    const afterShutdown = powerCalls();
    await backend.power(id, 'shutdown');
    await backend.power(id, 'stop');
    expect(powerCalls()).toBe(afterShutdown);

    await backend.power(id, 'start');
    expect(await power()).toBe('Running');
    await backend.power(id, 'start');
    expect(powerCalls()).toBe(afterShutdown + 1);

    fake.pauseBehindBack(Number(id));
    expect(await power()).toBe('Paused');
    await backend.power(id, 'start');
    expect(await power()).toBe('Running');
    expect(fake.requests({ method: 'POST', path: /\/status\/resume$/ })).toHaveLength(1);

    await backend.power(id, 'stop');
    expect(await power()).toBe('Stopped');
    await expect(backend.power('198', 'start')).rejects.toMatchObject({ reason: 'NotFound' });
    await backend.delete(id);
  });

  it('deletes a running VM with its disks and seed ISO; deleting it again is a no-op', async () => {
    const { id } = await backend.create(desiredVm());
    const seed = fake.vm(Number(id))!.config.ide2!.split(',')[0]!;
    const disk = `local-lvm:vm-${id}-disk-0`;
    expect(fake.imageVolumes()).toContain(disk);
    const destroys = () => fake.requests({ method: 'DELETE', path: new RegExp(`/qemu/${id}$`) }).length;
    const destroysBefore = destroys();

    await backend.delete(id);
    expect(fake.vm(Number(id))).toBeUndefined();
    expect(fake.imageVolumes()).not.toContain(disk);
    expect(fake.isoVolumes()).not.toContain(seed);
    expect(await backend.observe(ref(id))).toBeUndefined();
    expect(destroys()).toBe(destroysBefore + 1);

    await backend.delete(id);
    await backend.delete('197');
    expect(destroys()).toBe(destroysBefore + 1);
    expect(fake.vm(9000)?.template).toBe(true);
  });

  it('sees changes made behind its back', async () => {
    const { id } = await backend.create(desiredVm());
    fake.powerOffBehindBack(Number(id));
    expect(await backend.observe(ref(id))).toMatchObject({ power: 'Stopped', guestAgentConnected: false });
    await fake.deleteBehindBack(Number(id));
    expect(await backend.observe(ref(id))).toBeUndefined();
  });

  it('refuses to delete a template or a VM outside its range', async () => {
    await expect(backend.delete('9000')).rejects.toMatchObject({ reason: 'NotOwned' });
    expect(fake.vm(9000)).toBeDefined();
    await expect(backend.observe(ref('not-a-vmid'))).rejects.toBeInstanceOf(BackendError);
  });
});
