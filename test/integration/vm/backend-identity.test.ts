// The backend id is kept where a lost status cannot cause a second VM, on the real API server: a
// crash between the backend create and any record of it, then a status wiped as a restore would
// leave it, each end with the one VM; and a backend-id annotation forged by a writer of VM metadata
// (the web server may patch VMs) never makes another tenant's VM ours, not even on delete.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DesiredVm, ObservedVm } from '../../../controllers/vm/backend.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { registerVmController } from '../../../controllers/vm/controller.js';
import { BACKEND_ID_ANNOTATION } from '../../../controllers/vm/steps/identity.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import { vmObject } from '../../harness/vm-object.js';
import { deleteVmsAndWait } from './cleanup.js';

let kube: KubeClient;
let unlock: () => Promise<void>;
let namespace: string;
let manager: Manager;
let running: Promise<unknown>;
/** Counts creates and deletes of this file's VMs (VMs of other files, being deleted, pass through). */
class CountingBackend extends InstantBackend {
  creates = 0;
  deletes = 0;
  private readonly ours = new Set<string>();

  /** The VM whose create answer is lost once: made on the backend, then the process "dies". */
  crashAfterCreating?: string;

  override async create(desired: DesiredVm): Promise<ObservedVm> {
    const vm = await super.create(desired);
    if (desired.namespace !== namespace) return vm;
    this.creates += 1;
    this.ours.add(vm.id);
    if (desired.name === this.crashAfterCreating) {
      this.crashAfterCreating = undefined;
      throw new Error('injected crash after the backend create, before the id is recorded anywhere');
    }
    return vm;
  }

  override async delete(id: string): Promise<void> {
    if (this.ours.has(id)) this.deletes += 1;
    return super.delete(id);
  }
}
const backend = new CountingBackend('libvirt');

const createVm = (name: string) =>
  kube.create<VM>(blockhostTypes.vm, vmObject(namespace, name, { backend: 'libvirt', image: 'debian-12' }));
const read = (name: string) => kube.get<VM>(blockhostTypes.vm, name, namespace);
const readyReason = async (name: string) =>
  (await read(name)).status?.conditions?.find((c) => c.type === 'Ready')?.reason;

beforeAll(async () => {
  kube = testClient();
  unlock = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'vm-identity');
  await kube.create<HostConfig>(blockhostTypes.hostConfig, structuredClone(exampleHostConfig) as HostConfig);
  const log = createLogger('vm-backend-identity');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  registerVmController(manager, {
    backends: new BackendProvider({ libvirt: instantBackendFactory(backend) }, { kube, namespace, log }),
    claimsNamespace: namespace,
    observeIntervalMs: 500,
    transitionPollMs: 200,
    retryBackoff: { baseMs: 100, maxMs: 1_000 },
  });
  running = manager.start();
}, withHostConfigClaimWait(60_000));

afterAll(async () => {
  try {
    if (namespace) await deleteVmsAndWait(kube, [namespace]);
    manager?.stop();
    await running;
    if (namespace) await deleteNamespace(kube, namespace);
  } finally {
    await unlock?.();
  }
});

describe('backend identity', () => {
  it('a crash right after the backend create, then a wiped status: still one VM, found and recorded', async () => {
    backend.crashAfterCreating = 'survivor';
    await createVm('survivor');
    await eventually('Running', async () => (await read('survivor')).status?.phase === 'Running', 30_000);
    expect(backend.crashAfterCreating).toBeUndefined(); // the crash happened
    const vm = await read('survivor');
    const id = vm.status!.backendId!;
    expect(vm.metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(id);
    expect(backend.creates).toBe(1);

    // A restore from a backup that kept metadata and spec but not status.
    await kube.update<VM>(blockhostTypes.vm, { ...vm, status: {} }, { subresource: 'status' });
    await eventually('status rebuilt', async () => (await read('survivor')).status?.backendId === id, 30_000);
    expect(backend.creates).toBe(1);
  });

  it("refuses a forged backend-id annotation and never deletes the other tenant's VM", async () => {
    await createVm('victim');
    await eventually(
      'victim Running',
      async () => (await read('victim')).status?.phase === 'Running',
      30_000,
    );
    const victimId = (await read('victim')).status!.backendId!;
    const created = backend.creates;

    // Written before the controller records anything of its own for the VM (a fresh object).
    await kube.create<VM>(blockhostTypes.vm, {
      ...vmObject(namespace, 'intruder', { backend: 'libvirt', image: 'debian-12' }),
      metadata: { name: 'intruder', namespace, annotations: { [BACKEND_ID_ANNOTATION]: victimId } },
    });
    await eventually(
      'intruder refused',
      async () => (await readyReason('intruder')) === 'NameConflict',
      30_000,
    );
    expect((await read('intruder')).status?.backendId).toBeUndefined();
    expect(backend.creates).toBe(created);

    await kube.delete(blockhostTypes.vm, 'intruder', namespace);
    await eventually(
      'intruder gone',
      () =>
        read('intruder').then(
          () => false,
          (error: unknown) => isNotFound(error),
        ),
      30_000,
    );
    expect(backend.deletes).toBe(0);
    expect(await backend.observe({ namespace, name: 'victim', id: victimId })).toBeDefined();
  });
});
