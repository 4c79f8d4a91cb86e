import { describe, expect, it } from '@jest/globals';
import { exampleHostConfig, examplePlan, exampleVM } from '../../lib/api/v1alpha1/examples.js';
import {
  hostConfigSchema,
  planSchema,
  vmSchema,
  type HostConfig,
  type Plan,
} from '../../lib/api/v1alpha1/index.js';
import { staticLookups, storedExamples, type ClusterObjects } from '../../test/harness/webhooks/fixtures.js';
import { patchFor } from '../json-patch.js';
import { mutateAdmission } from './index.js';

const host: HostConfig = hostConfigSchema.parse({
  ...exampleHostConfig,
  spec: {
    ...exampleHostConfig.spec,
    backend: {
      type: 'libvirt',
      libvirt: {
        images: [
          { name: 'debian-12', path: '/images/debian-12.qcow2' },
          { name: 'ubuntu-24', path: '/images/ubuntu-24.qcow2' },
        ],
      },
    },
  },
});
const ubuntuPlan: Plan = planSchema.parse({
  ...examplePlan,
  spec: { ...examplePlan.spec, size: { ...examplePlan.spec.size, image: 'ubuntu-24' } },
});
const cluster: ClusterObjects = {
  hostConfig: host,
  plans: [ubuntuPlan],
  subscriptions: [storedExamples.subscription],
};

/** exampleVM as a person might write it: no backend, no image. */
function bareVm(edit: (spec: Record<string, unknown>) => void = () => {}) {
  const vm = structuredClone(exampleVM) as unknown as { spec: Record<string, unknown> };
  delete vm.spec.backend;
  delete vm.spec.image;
  edit(vm.spec);
  return vm;
}

const mutate = (object: unknown, objects = cluster, oldObject?: unknown) =>
  mutateAdmission(
    { kind: 'VM', operation: oldObject ? 'UPDATE' : 'CREATE', object, oldObject },
    staticLookups(objects),
  );

describe('VM defaults', () => {
  it("takes the backend from the HostConfig and the image from its Subscription's Plan", async () => {
    const { patch, warnings } = await mutate(bareVm());
    expect(patch).toEqual([
      { op: 'add', path: '/spec/backend', value: 'libvirt' },
      { op: 'add', path: '/spec/image', value: 'ubuntu-24' },
    ]);
    expect(warnings).toEqual([
      'spec.backend defaulted to libvirt from HostConfig "host"',
      'spec.image defaulted to ubuntu-24',
    ]);
  });

  it("takes the backend's first image when the VM serves no subscription", async () => {
    const { patch } = await mutate(bareVm((spec) => delete spec.subscriptionRef));
    expect(patch).toContainEqual({ op: 'add', path: '/spec/image', value: 'debian-12' });
  });

  it("takes the backend's first image when the Plan names none", async () => {
    const noImage = planSchema.parse({ ...examplePlan, spec: { ...examplePlan.spec, size: { cpu: 2 } } });
    const { patch } = await mutate(bareVm(), { ...cluster, plans: [noImage] });
    expect(patch).toContainEqual({ op: 'add', path: '/spec/image', value: 'debian-12' });
  });

  it('changes nothing a VM sets itself', async () => {
    expect(await mutate(structuredClone(exampleVM))).toEqual({ patch: [], warnings: [] });
  });

  it('keeps the stored backend and image on an update that omits them (both are immutable)', async () => {
    const stored = vmSchema.parse({
      ...exampleVM,
      spec: { ...exampleVM.spec, backend: 'proxmox', image: 'old' },
    });
    const { patch, warnings } = await mutate(bareVm(), cluster, stored);
    expect(patch).toEqual([
      { op: 'add', path: '/spec/backend', value: 'proxmox' },
      { op: 'add', path: '/spec/image', value: 'old' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('adds nothing but warns when there is no HostConfig to default from', async () => {
    const { patch, warnings } = await mutate(
      bareVm((spec) => delete spec.subscriptionRef),
      {},
    );
    expect(patch).toEqual([]);
    expect(warnings).toEqual([
      'spec.backend is not set and there is no HostConfig "host" to take it from',
      'spec.image is not set and no image could be chosen for it',
    ]);
  });

  it('creates a missing spec before adding to it', async () => {
    const { patch } = await mutate({
      apiVersion: exampleVM.apiVersion,
      kind: 'VM',
      metadata: { name: 'x', namespace: 'y' },
    });
    expect(patch).toEqual([
      { op: 'add', path: '/spec', value: {} },
      { op: 'add', path: '/spec/backend', value: 'libvirt' },
      { op: 'add', path: '/spec/image', value: 'debian-12' },
    ]);
  });
});

it('leaves the other kinds and status writes alone', async () => {
  const lookups = staticLookups(cluster);
  for (const kind of ['HostConfig', 'Plan', 'Subscription'])
    expect(await mutateAdmission({ kind, operation: 'CREATE', object: {} }, lookups)).toEqual({
      patch: [],
      warnings: [],
    });
  expect(
    await mutateAdmission(
      { kind: 'VM', operation: 'UPDATE', subResource: 'status', object: bareVm(), oldObject: exampleVM },
      lookups,
    ),
  ).toEqual({ patch: [], warnings: [] });
});

describe('patchFor', () => {
  it('replaces what exists and escapes ~ and / in keys (RFC 6901)', () => {
    const object = { metadata: { annotations: { 'a/b~c': 'old' } } };
    expect(patchFor(object, [{ path: ['metadata', 'annotations', 'a/b~c'], value: 'new' }])).toEqual([
      { op: 'replace', path: '/metadata/annotations/a~1b~0c', value: 'new' },
    ]);
  });

  it('adds each missing parent once', () => {
    expect(
      patchFor({}, [
        { path: ['spec', 'network', 'ipv4'], value: '10.0.0.2' },
        { path: ['spec', 'network', 'ipv6'], value: '2001:db8::2' },
      ]),
    ).toEqual([
      { op: 'add', path: '/spec', value: {} },
      { op: 'add', path: '/spec/network', value: {} },
      { op: 'add', path: '/spec/network/ipv4', value: '10.0.0.2' },
      { op: 'add', path: '/spec/network/ipv6', value: '2001:db8::2' },
    ]);
  });
});
