// Boundary: two leaders never drive a backend. When the lease is lost (here: taken by another
// holder), the manager stops at once — it reports 'leadership-lost' without waiting for a
// reconcile stuck in a long backend call or a task that ignores its signal — and the abort reaches
// the in-flight driver call. The next leader then finishes the job with one VM.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DesiredVm, ObservedVm } from '../../../controllers/vm/backend.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { registerVmController } from '../../../controllers/vm/controller.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager, type ManagerExit } from '../../../lib/runtime/manager.js';
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

const LEASE = {
  name: 'vm-leadership-test',
  leaseDurationMs: 3_000,
  renewDeadlineMs: 2_000,
  retryPeriodMs: 250,
};

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}

/**
 * The create of this file's VM waits for its abort signal, as a Proxmox clone waits for its task
 * (until `slow` is off). VMs of other test files (being deleted with their namespace) pass through.
 */
class SlowCreateBackend extends InstantBackend {
  slow = true;
  readonly createSignals: AbortSignal[] = [];
  /** Calls for this file's VM that reached the driver with their signal already aborted (must stay 0). */
  callsWhenAborted = 0;
  /** Creates of this file's VM that made it. */
  made = 0;

  override async create(desired: DesiredVm, signal?: AbortSignal): Promise<ObservedVm> {
    if (desired.namespace !== namespace) return super.create(desired);
    if (signal?.aborted) this.callsWhenAborted += 1;
    if (!this.slow) {
      this.made += 1;
      return super.create(desired);
    }
    this.createSignals.push(signal!);
    return new Promise<never>((_, reject) =>
      signal!.addEventListener('abort', () => reject(signal!.reason as Error), { once: true }),
    );
  }
}

let kube: KubeClient;
let unlock: () => Promise<void>;
let namespace: string;
const backend = new SlowCreateBackend('libvirt');
const managers: { manager: Manager; running: Promise<ManagerExit> }[] = [];
let releaseStuck = () => {};
/** A task stuck in a call that ignores its signal; only the test's cleanup lets it end. */
const stuckTask = () => new Promise<void>((resolve) => (releaseStuck = resolve));

function startManager(identity: string, extraRunnable?: (signal: AbortSignal) => Promise<void>) {
  const log = createLogger(`lost-leadership-${identity}`);
  const manager = new Manager({
    client: kube,
    log,
    metrics: new RuntimeMetrics({ processMetrics: false }),
    leaderElection: { ...LEASE, namespace, identity },
  });
  registerVmController(manager, {
    backends: new BackendProvider({ libvirt: instantBackendFactory(backend) }, { kube, namespace, log }),
    claimsNamespace: namespace,
    observeIntervalMs: 60_000,
    transitionPollMs: 200,
  });
  if (extraRunnable) manager.addRunnable('stuck', extraRunnable);
  const entry = { manager, running: manager.start() };
  managers.push(entry);
  return entry;
}

beforeAll(async () => {
  kube = testClient();
  unlock = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'lost-leadership');
  await kube.create<HostConfig>(blockhostTypes.hostConfig, structuredClone(exampleHostConfig) as HostConfig);
}, withHostConfigClaimWait(30_000));

afterAll(async () => {
  try {
    // The stuck task may end now, so a manager that is still running (a failed test) can stop.
    releaseStuck();
    if (namespace) await deleteVmsAndWait(kube, [namespace]);
    for (const { manager } of managers) manager.stop();
    await Promise.all(managers.map((m) => m.running));
    if (namespace) await deleteNamespace(kube, namespace);
  } finally {
    await unlock?.();
  }
});

describe('lost leadership', () => {
  it('aborts the in-flight backend call and exits at once; the next leader makes the one VM', async () => {
    // A task stuck in a call that ignores its signal: it must not hold the exit either.
    const first = startManager('first', stuckTask);
    await kube.create<VM>(
      blockhostTypes.vm,
      vmObject(namespace, 'slow', { backend: 'libvirt', image: 'debian-12' }),
    );
    await eventually('the create in flight', () => backend.createSignals.length === 1, 30_000);

    // Another holder takes the lease (as a standby would after a partition): renewals now fail.
    const lease = await kube.get<Lease>(coreTypes.lease, LEASE.name, namespace);
    await kube.update<Lease>(coreTypes.lease, {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: 'usurper',
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    });
    const takenAt = Date.now();
    const exit = await first.running;
    const exitMs = Date.now() - takenAt;
    console.log(
      `manager exited ${exitMs} ms after the lease was taken (renew deadline ${LEASE.renewDeadlineMs} ms)`,
    );
    expect(exit).toBe('leadership-lost');
    expect(exitMs).toBeLessThan(LEASE.renewDeadlineMs + 4 * LEASE.retryPeriodMs + 2_000);
    expect(backend.createSignals[0]!.aborted).toBe(true);
    expect(await backend.observe({ namespace, name: 'slow' })).toBeUndefined();

    // The next leader (once the usurper's lease expired) creates the VM: one VM, no call from the old one.
    backend.slow = false;
    startManager('second');
    await eventually(
      'the VM Running under the new leader',
      async () => (await kube.get<VM>(blockhostTypes.vm, 'slow', namespace)).status?.phase === 'Running',
      30_000,
    );
    expect(backend.made).toBe(1);
    expect(backend.callsWhenAborted).toBe(0);
  }, 90_000);
});
