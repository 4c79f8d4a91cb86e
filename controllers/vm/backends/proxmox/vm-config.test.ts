import { describe, expect, it } from '@jest/globals';
import {
  agentEnabled,
  bootDisk,
  configChanges,
  cpuCount,
  diskGiB,
  memoryMiB,
  parseSizeBytes,
  resizeNeeded,
  type PveConfig,
} from './vm-config.js';

const clone: PveConfig = {
  name: 'bh-intent',
  cores: 1,
  memory: '1024',
  scsihw: 'virtio-scsi-single',
  scsi0: 'local-lvm:vm-105-disk-0,iothread=1,size=2G',
  ide2: 'none,media=cdrom',
  net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1',
  boot: 'order=scsi0;ide2;net0',
};
const desired = {
  cpu: 2,
  memoryMiB: 2048,
  bridge: 'vmbr0',
  macAddress: '52:54:00:12:34:56',
  seedVolid: 'local:iso/bh-intent-seed-0123456789ab.iso',
};

describe('parseSizeBytes', () => {
  it.each([
    ['20G', 20 * 2 ** 30],
    ['2252M', 2252 * 2 ** 20],
    ['512K', 512 * 1024],
    ['1T', 2 ** 40],
    ['1.5G', 1.5 * 2 ** 30],
    ['4096', 4096],
  ])('%s', (text, bytes) => expect(parseSizeBytes(text)).toBe(bytes));

  it('rejects other text', () => expect(parseSizeBytes('20GB')).toBeUndefined());
});

describe('reading a config', () => {
  it('finds the boot disk from the boot order, skipping CDs', () => {
    const config = { ...clone, virtio0: 'local-lvm:vm-105-disk-1,size=8G', boot: 'order=ide2;virtio0;scsi0' };
    expect(bootDisk(config)).toEqual({ key: 'virtio0', sizeBytes: 8 * 2 ** 30 });
  });

  it('falls back to the first disk without a boot order', () => {
    const { boot: _boot, ...config } = clone;
    expect(bootDisk(config)?.key).toBe('scsi0');
    expect(diskGiB(config)).toBe(2);
  });

  it('counts cores times sockets and reads both memory formats', () => {
    expect(cpuCount({ cores: 2, sockets: '2' })).toBe(4);
    expect(cpuCount({})).toBe(1);
    expect(memoryMiB({ memory: 4096 })).toBe(4096);
    expect(memoryMiB({ memory: 'current=3072' })).toBe(3072);
    expect(memoryMiB({})).toBeUndefined();
  });

  it('knows whether the agent is enabled', () => {
    expect(agentEnabled({ agent: '1' })).toBe(true);
    expect(agentEnabled({ agent: 'enabled=1,fstrim_cloned_disks=1' })).toBe(true);
    expect(agentEnabled({ agent: '0' })).toBe(false);
    expect(agentEnabled({})).toBe(false);
  });
});

describe('configChanges', () => {
  it('sets cores, memory, the NIC, the agent and the seed CD of a fresh clone', () => {
    expect(configChanges(clone, desired)).toEqual({
      cores: 2,
      memory: 2048,
      net0: 'virtio=52:54:00:12:34:56,bridge=vmbr0,firewall=1',
      agent: '1',
      ide2: `${desired.seedVolid},media=cdrom`,
    });
  });

  it('is empty once the config is there, whatever the case of the MAC', () => {
    const converged = {
      ...clone,
      cores: 2,
      memory: '2048',
      net0: 'virtio=52:54:00:12:34:56,bridge=vmbr0',
      agent: '1',
      ide2: `${desired.seedVolid},media=cdrom`,
    };
    expect(configChanges(converged, desired)).toEqual({});
    expect(
      configChanges({ ...converged, net0: 'virtio=52:54:00:AB:CD:EF,bridge=vmbr0' }, desired),
    ).toHaveProperty('net0');
    const upperCase = { ...converged, net0: 'virtio=52:54:00:12:34:56,bridge=vmbr0' };
    expect(configChanges(upperCase, { ...desired, macAddress: '52:54:00:12:34:56'.toUpperCase() })).toEqual(
      {},
    );
  });

  it('moves the NIC to a virtio model with the MAC on the bridge, keeping its other options', () => {
    const config = { ...clone, net0: 'e1000=BC:24:11:AA:BB:CC,bridge=vmbr1,firewall=1,tag=5' };
    expect(configChanges(config, desired).net0).toBe(
      'virtio=52:54:00:12:34:56,bridge=vmbr0,firewall=1,tag=5',
    );
    const { net0: _net0, ...withoutNic } = clone;
    expect(configChanges(withoutNic, desired).net0).toBe('virtio=52:54:00:12:34:56,bridge=vmbr0');
  });

  it('sets sockets to 1 when the template has several, and counts vCPUs as cores times sockets', () => {
    expect(configChanges({ ...clone, cores: 2, sockets: 2 }, desired)).toMatchObject({
      cores: 2,
      sockets: 1,
    });
    expect(configChanges({ ...clone, cores: 1, sockets: 2 }, desired)).not.toHaveProperty('cores');
  });

  it("removes PVE's own cloud-init drive so only one cidata volume remains", () => {
    const config = { ...clone, ide0: 'local-lvm:vm-105-cloudinit,media=cdrom' };
    expect(configChanges(config, desired).delete).toBe('ide0');
  });
});

describe('resizeNeeded', () => {
  it('grows the boot disk to the desired size', () => {
    expect(resizeNeeded(clone, 20)).toEqual({ disk: 'scsi0', size: '20G' });
  });

  it('never shrinks and leaves an equal disk alone', () => {
    expect(resizeNeeded(clone, 1)).toBeUndefined();
    expect(resizeNeeded(clone, 2)).toBeUndefined();
  });
});
