import { describe, expect, it } from '@jest/globals';
import { BackendError, type DesiredVm } from '../../backend.js';
import {
  buildCloudInitSecret,
  buildVirtualMachine,
  cloudInitSecretData,
  type KubevirtSettings,
} from './manifests.js';

const desired: DesiredVm = {
  namespace: 'customers',
  name: 'blockhost-007',
  uid: 'uid-7',
  intentId: 'intent-7',
  cpu: 2,
  memoryMiB: 1536,
  diskGiB: 25,
  image: 'imported',
  running: false,
  macAddress: '52:54:00:00:00:07',
  cloudInit: {
    metaData: 'instance-id: blockhost-007\n',
    userData: '#cloud-config\n',
    networkConfig: 'version: 2\n',
  },
  addresses: {},
};

const settings: KubevirtSettings = {
  images: [
    { name: 'demo', containerDisk: 'quay.io/containerdisks/debian:12' },
    { name: 'imported', http: 'https://images.example/debian-12.qcow2' },
  ],
};

describe('VirtualMachine manifest', () => {
  it('imports an http image through a DataVolume template of the requested size, in the default class', () => {
    const vm = buildVirtualMachine('vms', 'blockhost-007', desired, settings);
    expect(vm.metadata).toMatchObject({ name: 'blockhost-007', namespace: 'vms' });
    expect(vm.spec.runStrategy).toBe('Halted');
    expect(vm.spec.dataVolumeTemplates?.[0]?.spec).toEqual({
      source: { http: { url: 'https://images.example/debian-12.qcow2' } },
      storage: { resources: { requests: { storage: '25Gi' } } },
    });
    expect(vm.spec.template.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'blockhost',
      'blockhost.io/vm-uid': 'uid-7',
    });
    expect(vm.spec.template.spec?.domain.memory?.guest).toBe('1536Mi');
  });

  it('uses the image itself for a containerDisk, with no DataVolume', () => {
    const vm = buildVirtualMachine(
      'vms',
      'blockhost-007',
      { ...desired, image: 'demo', running: true },
      settings,
    );
    expect(vm.spec.runStrategy).toBe('Always');
    expect(vm.spec.dataVolumeTemplates).toBeUndefined();
  });

  it('refuses an image that is not in the settings', () => {
    expect(() => buildVirtualMachine('vms', 'x', { ...desired, image: 'other' }, settings)).toThrow(
      BackendError,
    );
  });
});

describe('cloud-init Secret', () => {
  it('carries user data and network config; KubeVirt writes the meta-data itself', () => {
    const secret = buildCloudInitSecret('vms', 'blockhost-007', desired);
    expect(secret.metadata.name).toBe('blockhost-007-cloudinit');
    expect(Object.keys(secret.data ?? {})).toEqual(['userdata', 'networkdata']);
    expect(Buffer.from(secret.data?.networkdata ?? '', 'base64').toString()).toBe('version: 2\n');
  });

  it('has no networkdata key without a network config', () => {
    expect(Object.keys(cloudInitSecretData({ metaData: '', userData: 'x' }))).toEqual(['userdata']);
  });
});
