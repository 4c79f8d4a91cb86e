// The Proxmox VE driver when things go wrong: a crash between clone and recording the VMID, a crash
// while the clone is still running, transient 5xx answers, VM locks, a wrong token, an unknown
// image or template, and TLS verification.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BackendError } from '../../../controllers/vm/backend.js';
import { ProxmoxBackend } from '../../../controllers/vm/backends/proxmox/backend.js';
import { vmNameForIntent } from '../../../controllers/vm/backends/proxmox/naming.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { waitFor } from '../../harness/processes.js';
import { backendFor, desiredVm, log, settingsFor } from './fixtures.js';

describe('Proxmox driver faults', () => {
  let fake: FakeProxmox;
  let backend: ProxmoxBackend;

  beforeAll(async () => {
    fake = await FakeProxmox.start({ taskDurationMs: 40, agentDelayMs: 100 });
    backend = backendFor(fake);
  });

  afterAll(async () => {
    await backend?.close();
    await fake?.stop();
  });

  const named = (intentId: string) => fake.vms().filter((vm) => vm.name === vmNameForIntent(intentId));
  const clones = () => fake.requests({ method: 'POST', path: /\/clone$/ }).length;

  it('finds a half-made VM by intent after a crash between clone and recording, and completes it', async () => {
    const desired = desiredVm();
    // The process "dies" right after the clone: its first config write never lands.
    fake.injectErrors({
      path: /\/qemu\/\d+\/config$/,
      method: 'PUT',
      status: 403,
      message: 'Permission check failed',
      count: 1,
    });
    await expect(backend.create(desired)).rejects.toMatchObject({ reason: 'ProxmoxForbidden' });

    const found = await backend.observe({
      namespace: desired.namespace,
      name: desired.name,
      intentId: desired.intentId,
    });
    expect(found).toMatchObject({ intentId: desired.intentId, power: 'Stopped' });
    expect(named(desired.intentId).map((vm) => String(vm.vmid))).toEqual([found!.id]);

    const clonesBefore = clones();
    const created = await backend.create(desired);
    expect(created).toMatchObject({ id: found!.id, power: 'Running', cpu: 2 });
    expect(clones()).toBe(clonesBefore);
    expect(named(desired.intentId)).toHaveLength(1);
    await backend.delete(created.id);
  });

  it('adopts a clone a crashed process left running instead of cloning again', async () => {
    const slow = await FakeProxmox.start({ taskDurationMs: 1500 });
    const crashed = backendFor(slow);
    const restarted = backendFor(slow);
    try {
      const desired = desiredVm({ running: false });
      const abandoned = crashed.create(desired).catch(() => undefined);
      await waitFor('the clone to start', async () => slow.vms().some((vm) => vm.lock === 'clone'), {
        timeoutMs: 5000,
      });
      // PVE names the clone only when its disks are copied: by name, nothing is there yet.
      expect(
        await restarted.observe({ namespace: 'tenants', name: desired.name, intentId: desired.intentId }),
      ).toBeUndefined();

      const created = await restarted.create(desired);
      expect(slow.vms().filter((vm) => vm.name === vmNameForIntent(desired.intentId))).toHaveLength(1);
      expect(slow.requests({ method: 'POST', path: /\/clone$/ })).toHaveLength(1);
      expect(created.intentId).toBe(desired.intentId);
      await abandoned;
    } finally {
      await crashed.close();
      await restarted.close();
      await slow.stop();
    }
  });

  it('retries transient 5xx answers and gives up on persistent ones with the message', async () => {
    fake.injectErrors({ path: /\/clone$/, status: 502, count: 1 });
    fake.injectErrors({ path: /\/status\/current$/, status: 503, count: 2 });
    fake.injectErrors({ path: /\/tasks\//, status: 500, count: 1 });
    const created = await backend.create(desiredVm({ running: false }));
    expect(created.power).toBe('Stopped');
    expect(fake.requests({ path: /\/clone$/ }).filter((r) => r.status === 502)).toHaveLength(1);
    expect(fake.requests({ path: /\/status\/current$/ }).filter((r) => r.status === 503)).toHaveLength(2);

    fake.injectErrors({ path: /\/status\/current$/, status: 503, count: 5 });
    const observed = backend.observe({ namespace: 'tenants', name: 'x', id: created.id });
    await expect(observed).rejects.toMatchObject({ reason: 'ProxmoxApiError' });
    await expect(observed).rejects.toThrow(/HTTP 503: Service Unavailable/);
    await backend.delete(created.id);
  });

  it('recognises its own clone when a retried clone call meets "already exists"', async () => {
    // Clones outlast the driver's retry delay, so the retry meets a clone still in progress.
    const slow = await FakeProxmox.start({ taskDurationMs: 1500 });
    const driver = backendFor(slow);
    try {
      const desired = desiredVm({ running: false, diskGiB: 2 });
      // PVE clones, but its answer is lost on the way: the driver's retry finds the VMID taken.
      slow.injectErrors({ path: /\/clone$/, status: 504, count: 1, afterEffect: true });
      const created = await driver.create(desired);
      const named = slow.vms().filter((vm) => vm.name === vmNameForIntent(desired.intentId));
      expect(named.map((vm) => String(vm.vmid))).toEqual([created.id]);
      expect(slow.requests({ path: /\/clone$/ }).map((r) => r.status)).toEqual([504, 500]);
    } finally {
      await driver.close();
      await slow.stop();
    }
  });

  it('does not retry definite answers sent as HTTP 500', async () => {
    const before = fake.requests({ path: /\/qemu\/150\/status\/current$/ }).length;
    expect(await backend.observe({ namespace: 'tenants', name: 'x', id: '150' })).toBeUndefined();
    expect(fake.requests({ path: /\/qemu\/150\/status\/current$/ }).length).toBe(before + 1);
  });

  it('waits for a VM lock to go away before changing the VM', async () => {
    const desired = desiredVm({ running: false });
    const { id } = await backend.create(desired);
    fake.holdConfigLock(Number(id), 'backup', 1200);
    const started = Date.now();
    await backend.update(id, { ...desired, cpu: 3 });
    await backend.power(id, 'start');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(fake.vm(Number(id))).toMatchObject({ status: 'running', lock: undefined });
    expect(fake.vm(Number(id))?.config.cores).toBe('3');
    const refused = fake
      .requests({ method: 'PUT', path: new RegExp(`/qemu/${id}/config$`) })
      .filter((r) => r.status === 500);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    await backend.delete(id);
  });

  it('names the token and PVE’s answer when the token is wrong', async () => {
    const wrong = backendFor(fake, {}, { tokenId: DEFAULT_TOKEN.tokenId, secret: 'not-the-secret' });
    const unknown = backendFor(fake, {}, { tokenId: 'blockhost@pve!other', secret: DEFAULT_TOKEN.secret });
    try {
      const denied = wrong.create(desiredVm());
      await expect(denied).rejects.toMatchObject({ reason: 'ProxmoxUnauthorized' });
      await expect(denied).rejects.toThrow(
        `rejected API token ${DEFAULT_TOKEN.tokenId}: invalid token value!`,
      );
      await expect(unknown.observe({ namespace: 'tenants', name: 'x', id: '100' })).rejects.toThrow(
        /no such token 'other' for user 'blockhost@pve'/,
      );
      expect(fake.requests().filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(2);
    } finally {
      await wrong.close();
      await unknown.close();
    }
  });

  it('explains an unknown image and a template VM that does not exist', async () => {
    const unknownImage = backend.create(desiredVm({ image: 'windows-95' }));
    await expect(unknownImage).rejects.toMatchObject({ reason: 'ImageNotFound' });
    await expect(unknownImage).rejects.toThrow(
      'image "windows-95" is not in the Proxmox image list (debian-12)',
    );

    const ghost = backendFor(fake, { images: [{ name: 'ghost', templateVmid: 9999 }] });
    try {
      const missing = ghost.create(desiredVm({ image: 'ghost' }));
      await expect(missing).rejects.toMatchObject({ reason: 'ImageNotFound' });
      await expect(missing).rejects.toThrow('template VM 9999 of image "ghost" does not exist on node pve');
    } finally {
      await ghost.close();
    }
  });

  it('verifies the API certificate unless told not to', async () => {
    const untrusting = new ProxmoxBackend({ settings: settingsFor(fake), token: DEFAULT_TOKEN, log });
    const trusting = new ProxmoxBackend({
      settings: settingsFor(fake, { insecureSkipTLSVerify: true }),
      token: DEFAULT_TOKEN,
      log,
    });
    try {
      const refused = untrusting.observe({ namespace: 'tenants', name: 'x', id: '100' });
      await expect(refused).rejects.toMatchObject({ reason: 'ProxmoxUnreachable' });
      await expect(refused).rejects.toThrow(/certificate/);
      expect(await trusting.observe({ namespace: 'tenants', name: 'x', id: '151' })).toBeUndefined();
    } finally {
      await untrusting.close();
      await trusting.close();
    }
  });

  it('observes nothing without an id or intent', async () => {
    expect(await backend.observe({ namespace: 'tenants', name: 'x' })).toBeUndefined();
    expect(
      await backend.observe({ namespace: 'tenants', name: 'x', intentId: 'never-used' }),
    ).toBeUndefined();
    await expect(backend.update('152', desiredVm())).rejects.toBeInstanceOf(BackendError);
  });
});
