import { describe, expect, it } from '@jest/globals';
import { BackendError, GuestAgentUnavailableError, type DesiredVm } from '../../controllers/vm/backend.js';
import { InstantBackend } from './instant-backend.js';

const desired = (overrides: Partial<DesiredVm> = {}): DesiredVm => ({
  namespace: 'ns',
  name: 'blockhost-001',
  intentId: 'intent-1',
  uid: 'uid-1',
  cpu: 1,
  memoryMiB: 2048,
  diskGiB: 20,
  image: 'debian-12',
  running: true,
  cloudInit: { userData: '', metaData: '', networkConfig: '' },
  macAddress: '52:54:00:00:00:01',
  addresses: { ipv4: '10.0.0.10', ipv6: '2001:db8::2' },
  ...overrides,
});

describe('InstantBackend', () => {
  it('creates a running VM with its guest agent up and finds it by id or by name', async () => {
    const backend = new InstantBackend();
    const vm = await backend.create(desired());
    expect(vm).toMatchObject({
      power: 'Running',
      guestAgentConnected: true,
      intentId: 'intent-1',
      addresses: { ipv4: '10.0.0.10', ipv6: '2001:db8::2' },
    });
    expect(await backend.observe({ namespace: 'ns', name: 'blockhost-001' })).toEqual(vm);
    expect(await backend.observe({ namespace: 'ns', name: 'other', id: vm.id })).toEqual(vm);
    expect(await backend.observe({ namespace: 'ns', name: 'blockhost-002' })).toBeUndefined();
    expect(backend.type).toBe('libvirt');
  });

  it('repeats a create of the same intent but refuses a second VM of the same name', async () => {
    const backend = new InstantBackend('proxmox');
    const first = await backend.create(desired({ running: false }));
    expect(first).toMatchObject({ power: 'Stopped', guestAgentConnected: false, addresses: {} });
    expect(await backend.create(desired({ running: false }))).toEqual(first);
    await expect(backend.create(desired({ intentId: 'intent-2' }))).rejects.toThrow(BackendError);
    expect(backend.size).toBe(1);
    expect(backend.calls.create).toBe(3);
  });

  it('powers, grows and deletes idempotently', async () => {
    const backend = new InstantBackend();
    const { id } = await backend.create(desired());
    await backend.power(id, 'shutdown');
    await backend.power(id, 'stop');
    expect((await backend.observe({ namespace: 'ns', name: 'blockhost-001' }))?.power).toBe('Stopped');
    await backend.update(id, desired({ cpu: 2, diskGiB: 10 }));
    expect(await backend.observe({ namespace: 'ns', name: 'x', id })).toMatchObject({ cpu: 2, diskGiB: 20 });
    await backend.delete(id);
    await backend.delete(id);
    expect(await backend.observe({ namespace: 'ns', name: 'blockhost-001' })).toBeUndefined();
    await expect(backend.power(id, 'start')).rejects.toThrow(BackendError);
    expect(backend.calls).toMatchObject({ power: 3, update: 1, delete: 2 });
  });

  it('runs usermod --comment in a running guest only, and nothing else', async () => {
    const backend = new InstantBackend();
    const { id } = await backend.create(desired());
    const usermod = { path: '/usr/sbin/usermod', args: ['--comment', 'wallet=0xabc,nft=1', 'admin'] };
    expect((await backend.guestExec(id, usermod)).exitCode).toBe(0);
    expect(backend.gecosOf(id, 'admin')).toBe('wallet=0xabc,nft=1');
    const short = { path: '/usr/sbin/usermod', args: ['-c', 'wallet=0xdef', 'admin'] };
    expect((await backend.guestExec(id, short)).exitCode).toBe(0);
    expect(backend.gecosOf(id, 'admin')).toBe('wallet=0xdef');
    expect((await backend.guestExec(id, { path: '/bin/rm', args: ['-rf', '/'] })).exitCode).toBe(127);
    await backend.power(id, 'stop');
    await expect(backend.guestExec(id, usermod)).rejects.toThrow(GuestAgentUnavailableError);
  });
});
