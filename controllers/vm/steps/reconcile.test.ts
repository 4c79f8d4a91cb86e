// The VM steps end to end on the in-memory backend and object: create once, adopt after a crash at
// each step, survive a lost status, refuse a forged backend id, repair drift, tear down.
import { describe, expect, it } from '@jest/globals';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import type { HostConfig, VM } from '../../../lib/api/v1alpha1/index.js';
import { createLogger } from '../../../lib/log.js';
import { InstantBackend } from '../../../test/harness/instant-backend.js';
import { vmObject } from '../../../test/harness/vm-object.js';
import { BackendError } from '../backend.js';
import { finalize } from './finalize.js';
import { BACKEND_ID_ANNOTATION } from './identity.js';
import { MemoryClaims, MemoryVmStore } from './memory-store.js';
import { reconcileVm } from './reconcile.js';
import type { StepDeps, VmControllerStep } from './store.js';

const host = structuredClone(exampleHostConfig) as HostConfig;
const log = createLogger('vm-steps-test', { level: 'silent' });

function setUp(name = 'blockhost-001', uid = `uid-${name}`, backend = new InstantBackend('libvirt')) {
  const object = vmObject('ns', name, { backend: 'libvirt', image: 'debian-12' });
  object.metadata.uid = uid;
  object.metadata.generation = 1;
  const store = new MemoryVmStore(object);
  const claims = new MemoryClaims();
  let crashAt: VmControllerStep | undefined;
  const deps: StepDeps = {
    store,
    claims,
    loginSecret: async () => 'ab'.repeat(32),
    timings: { observeIntervalMs: 60_000, transitionPollMs: 3_000, shutdownTimeoutMs: 120_000 },
    log,
    now: Date.now,
    onStep: (step) => {
      if (step !== crashAt) return;
      crashAt = undefined;
      throw new Error(`injected crash at ${step}`);
    },
  };
  return {
    backend,
    store,
    claims,
    crashAt: (step: VmControllerStep) => (crashAt = step),
    /** One reconcile of the stored object, as the controller runs it (it always reads the latest). */
    reconcile: () => reconcileVm(store.vm!, host, backend, deps),
    finalize: () => finalize(store.vm!, host, async () => backend, deps),
    vm: () => store.vm!,
  };
}

const reasons = (store: MemoryVmStore) => store.events.map((e) => e.reason);
const ready = (vm: VM) => vm.status?.conditions?.find((c) => c.type === 'Ready');

describe('VM steps on a fake backend', () => {
  it('creates one running VM, records its id in the annotation and status, and settles', async () => {
    const t = setUp();
    expect(await t.reconcile()).toEqual({ requeueAfterMs: 60_000 });
    const vm = t.vm();
    expect(t.backend.size).toBe(1);
    expect(vm.metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(vm.status?.backendId);
    expect(vm.status).toMatchObject({ phase: 'Running', guestAgentConnected: true });
    expect(ready(vm)).toMatchObject({ status: 'True', reason: 'AsDesired' });
    expect(vm.spec.network?.ipv4).toBeDefined();
    expect(vm.metadata.finalizers).toEqual(['blockhost.io/vm-backend']);
    expect(reasons(t.store)).toEqual(['Created']);
    await t.reconcile();
    expect(t.backend.calls.create).toBe(1);
  });

  it.each(['createStarted', 'backendCreated'] as const)(
    'a crash at %s is resumed: one VM, adopted, id recorded',
    async (step) => {
      const t = setUp();
      t.crashAt(step);
      await expect(t.reconcile()).rejects.toThrow(`injected crash at ${step}`);
      await t.reconcile();
      const vm = t.vm();
      expect(t.backend.size).toBe(1);
      expect(vm.status?.phase).toBe('Running');
      expect(vm.metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(vm.status?.backendId);
    },
  );

  it('a lost status never makes a second VM: the annotation (or the name) finds the first', async () => {
    const t = setUp();
    await t.reconcile();
    const id = t.vm().status!.backendId!;
    t.store.edit((vm) => delete vm.status);
    await t.reconcile();
    expect(t.backend.size).toBe(1);
    expect(t.vm().status?.backendId).toBe(id);
    // Status and annotation both lost: the deterministic name and the UID intent still find it.
    t.store.edit((vm) => {
      delete vm.status;
      delete vm.metadata.annotations;
    });
    await t.reconcile();
    expect(t.backend.size).toBe(1);
    expect(t.backend.calls.create).toBe(1);
    expect(t.vm().metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(id);
  });

  it('refuses a backend id annotation pointing at another VM, and never deletes that VM', async () => {
    const backend = new InstantBackend('libvirt');
    const victim = setUp('victim', 'uid-victim', backend);
    await victim.reconcile();
    const victimId = victim.vm().status!.backendId!;
    const intruder = setUp('intruder', 'uid-intruder', backend);
    // A writer of VM metadata (not status) copies the victim's id onto a VM before its first reconcile.
    intruder.store.edit((vm) => (vm.metadata.annotations = { [BACKEND_ID_ANNOTATION]: victimId }));
    const refused = intruder.reconcile();
    await expect(refused).rejects.toThrow(BackendError);
    await expect(refused).rejects.toMatchObject({ reason: 'NameConflict' });
    expect(intruder.vm().status?.backendId).toBeUndefined();
    intruder.store.edit((vm) => (vm.metadata.deletionTimestamp = '2026-01-01T00:00:00Z'));
    await intruder.finalize();
    expect(intruder.store.vm).toBeUndefined();
    expect(backend.calls.delete).toBe(0);
    expect(await backend.observe({ namespace: 'ns', name: 'victim', id: victimId })).toBeDefined();
  });

  it('recreates a VM deleted behind its back, with a Warning, and records the new id', async () => {
    const t = setUp();
    await t.reconcile();
    const first = t.vm().status!.backendId!;
    await t.backend.delete(first);
    await t.reconcile();
    const second = t.vm().status!.backendId!;
    expect(second).not.toBe(first);
    expect(t.vm().metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(second);
    expect(t.store.events.find((e) => e.reason === 'Recreating')).toMatchObject({ type: 'Warning' });
    expect(t.backend.size).toBe(1);
  });

  it('restarts a VM stopped behind its back and syncs a new owner into the guest', async () => {
    const t = setUp();
    await t.reconcile();
    const id = t.vm().status!.backendId!;
    await t.backend.power(id, 'stop');
    t.store.edit((vm) => (vm.spec.ownerWallet = '0x000000000000000000000000000000000000beef'));
    await t.reconcile();
    expect(t.store.events.find((e) => e.reason === 'Restarted')).toMatchObject({ type: 'Warning' });
    expect(t.backend.gecosOf(id, 'admin')).toBe('wallet=0x000000000000000000000000000000000000beef');
    expect(t.vm().status?.appliedGecos).toBe('wallet=0x000000000000000000000000000000000000beef');
    // A fresh boot (a root disk not kept) gets the new owner from the boot config too.
    expect(t.backend.cloudInitOf(id)?.userData).toContain(
      'wallet=0x000000000000000000000000000000000000beef',
    );
  });

  it('writes status once per pass: two for a create (Creating, then what runs), one for a new owner', async () => {
    const t = setUp();
    await t.reconcile();
    expect(t.store.statusWrites).toBe(2);
    expect(t.vm().status).toMatchObject({ backendId: expect.any(String), appliedGecos: expect.any(String) });
    await t.reconcile();
    expect(t.store.statusWrites).toBe(2);
    t.store.edit((vm) => (vm.spec.ownerWallet = '0x000000000000000000000000000000000000beef'));
    await t.reconcile();
    expect(t.store.statusWrites).toBe(3);
    expect(t.vm().status?.appliedGecos).toBe('wallet=0x000000000000000000000000000000000000beef');
    expect(t.backend.calls.guestExec).toBe(1);
  });

  it('grows a VM whose spec.size grew', async () => {
    const t = setUp();
    await t.reconcile();
    t.store.edit((vm) => (vm.spec.size = { cpu: 2, memoryMiB: 1024, diskGiB: 5 }));
    await t.reconcile();
    expect(await t.backend.observe({ namespace: 'ns', name: 'blockhost-001' })).toMatchObject({
      cpu: 2,
      memoryMiB: 1024,
      diskGiB: 5,
    });
    expect(reasons(t.store)).toContain('Resized');
  });

  it('tears down behind the finalizer: backend VM gone, addresses released, object deleted', async () => {
    const t = setUp();
    await t.reconcile();
    t.store.edit((vm) => (vm.metadata.deletionTimestamp = '2026-01-01T00:00:00Z'));
    await t.finalize();
    expect(t.backend.size).toBe(0);
    expect(t.claims.claimed).toBe(0);
    expect(t.store.vm).toBeUndefined();
  });
});
