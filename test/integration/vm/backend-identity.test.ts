// The backend id is kept where a lost status cannot cause a second VM, on the real API server: a
// crash between the backend create and any record of it, then a status wiped as a restore would
// leave it, each end with the one VM; and a backend-id annotation forged by a writer of VM metadata
// (the web server may patch VMs) never makes another tenant's VM ours, not even on delete.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { registerVmController, type VmControllerStep } from '../../../controllers/vm/controller.js';
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

let kube: KubeClient;
let unlock: () => Promise<void>;
let namespace: string;
let manager: Manager;
let running: Promise<unknown>;
let crashAt: VmControllerStep | undefined;
const backend = new InstantBackend('libvirt');

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
    onStep: (step) => {
      if (step !== crashAt) return;
      crashAt = undefined;
      throw new Error(`injected crash at ${step}, before the backend id is recorded anywhere`);
    },
  });
  running = manager.start();
}, withHostConfigClaimWait(60_000));

afterAll(async () => {
  manager?.stop();
  await running;
  if (namespace) await deleteNamespace(kube, namespace);
  await unlock?.();
});

describe('backend identity', () => {
  it('a crash right after the backend create, then a wiped status: still one VM, found and recorded', async () => {
    crashAt = 'backendCreated';
    await createVm('survivor');
    await eventually('Running', async () => (await read('survivor')).status?.phase === 'Running', 30_000);
    expect(crashAt).toBeUndefined(); // the crash happened
    const vm = await read('survivor');
    const id = vm.status!.backendId!;
    expect(vm.metadata.annotations?.[BACKEND_ID_ANNOTATION]).toBe(id);
    expect(backend.size).toBe(1);

    // A restore from a backup that kept metadata and spec but not status.
    await kube.update<VM>(blockhostTypes.vm, { ...vm, status: {} }, { subresource: 'status' });
    await eventually('status rebuilt', async () => (await read('survivor')).status?.backendId === id, 30_000);
    expect(backend.size).toBe(1);
    expect(backend.calls.create).toBe(1);
  });

  it("refuses a forged backend-id annotation and never deletes the other tenant's VM", async () => {
    await createVm('victim');
    await eventually(
      'victim Running',
      async () => (await read('victim')).status?.phase === 'Running',
      30_000,
    );
    const victimId = (await read('victim')).status!.backendId!;
    const created = backend.calls.create;

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
    expect(backend.calls.create).toBe(created);

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
    expect(backend.calls.delete).toBe(0);
    expect(await backend.observe({ namespace, name: 'victim', id: victimId })).toBeDefined();
  });
});
