// Boundary: a hostile guest (its QEMU agent answers nothing, and the driver call never returns)
// cannot occupy the VM workers. Every backend call has a deadline, and a VM whose calls keep timing
// out is retried with per-VM exponential backoff, shows Ready=False/BackendTimeout and a Warning
// Event, while the other VMs reconcile in about their normal time. One worker: the strictest case,
// where a single hung call without a deadline would stop every other VM.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type {
  BackendRef,
  DesiredVm,
  GuestCommand,
  GuestExecResult,
  ObservedVm,
} from '../../../controllers/vm/backend.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { registerVmController } from '../../../controllers/vm/controller.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
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

const HEALTHY = 20;
const READ_DEADLINE_MS = 300;
const RETRY = { baseMs: 200, maxMs: 5_000 };

/** The in-memory backend, except that the guest agent of a hostile VM (observe asks it, as libvirt's does; guestExec) never answers. */
class HostileAgentBackend extends InstantBackend {
  readonly hostile = new Set<string>();
  private readonly hostileIds = new Set<string>();
  /** When each hung call started, so the test can read the retry spacing. */
  readonly hangs: number[] = [];

  override async create(desired: DesiredVm): Promise<ObservedVm> {
    const vm = await super.create(desired);
    if (this.hostile.has(desired.name)) this.hostileIds.add(vm.id);
    return vm;
  }

  override async observe(ref: BackendRef): Promise<ObservedVm | undefined> {
    const vm = await super.observe(ref);
    return vm && this.hostileIds.has(vm.id) ? this.hang() : vm;
  }

  override async guestExec(id: string, command: GuestCommand): Promise<GuestExecResult> {
    return this.hostileIds.has(id) ? this.hang() : super.guestExec(id, command);
  }

  /** The hostile guests behave again (so their VMs can be finalized at the end). */
  calm(): void {
    this.hostile.clear();
    this.hostileIds.clear();
  }

  private hang(): Promise<never> {
    this.hangs.push(Date.now());
    // Ignores its abort signal: the worst driver; only the controller's deadline frees the worker.
    return new Promise<never>(() => undefined);
  }
}

let kube: KubeClient;
let unlock: () => Promise<void>;
let manager: Manager;
let running: Promise<unknown>;
const namespaces: string[] = [];
const backend = new HostileAgentBackend('libvirt');

const createVm = (namespace: string, name: string) =>
  kube.create<VM>(
    blockhostTypes.vm,
    vmObject(namespace, name, {
      backend: 'libvirt',
      image: 'debian-12',
      size: { cpu: 1, memoryMiB: 512, diskGiB: 1 },
    }),
  );
const read = (namespace: string, name: string) => kube.get<VM>(blockhostTypes.vm, name, namespace);
const phaseOf = async (namespace: string, name: string) => (await read(namespace, name)).status?.phase;

/** Creates `HEALTHY` VMs in `namespace` and returns how long until every one was Running (ms). */
async function timeHealthyToRunning(namespace: string): Promise<number> {
  const names = Array.from({ length: HEALTHY }, (_, i) => `healthy-${i}`);
  const started = Date.now();
  await Promise.all(names.map((name) => createVm(namespace, name)));
  await eventually(
    `${HEALTHY} healthy VMs Running`,
    async () => (await Promise.all(names.map((n) => phaseOf(namespace, n)))).every((p) => p === 'Running'),
    60_000,
  );
  return Date.now() - started;
}

beforeAll(async () => {
  kube = testClient();
  unlock = await claimHostConfig(kube);
  for (const prefix of ['agent-baseline', 'agent-hostile', 'agent-state'])
    namespaces.push(await createTestNamespace(kube, prefix));
  await kube.create<HostConfig>(blockhostTypes.hostConfig, structuredClone(exampleHostConfig) as HostConfig);
  const log = createLogger('hanging-guest-agent');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  registerVmController(manager, {
    backends: new BackendProvider(
      { libvirt: instantBackendFactory(backend) },
      { kube, namespace: namespaces[2]!, log },
    ),
    claimsNamespace: namespaces[2]!,
    observeIntervalMs: 60_000,
    transitionPollMs: 200,
    callDeadlines: { readMs: READ_DEADLINE_MS },
    retryBackoff: RETRY,
    workers: 1,
  });
  running = manager.start();
  // Warm (informers synced, first claims made), so the baseline below is not a cold start.
  await createVm(namespaces[0]!, 'warm-up');
  await eventually(
    'the warm-up VM Running',
    async () => (await phaseOf(namespaces[0]!, 'warm-up')) === 'Running',
    30_000,
  );
}, withHostConfigClaimWait(60_000));

afterAll(async () => {
  try {
    backend.calm();
    await deleteVmsAndWait(kube, namespaces);
    manager?.stop();
    await running;
    for (const namespace of namespaces) await deleteNamespace(kube, namespace);
  } finally {
    await unlock?.();
  }
});

describe('a hostile guest agent', () => {
  it('times out, backs off per VM, is reported, and leaves the worker to the other VMs', async () => {
    const [baselineNs, hostileNs] = namespaces as [string, string];
    const baselineMs = await timeHealthyToRunning(baselineNs);

    backend.hostile.add('hostile');
    await createVm(hostileNs, 'hostile');
    await eventually(
      'the hostile VM reported as timing out',
      async () =>
        (await read(hostileNs, 'hostile')).status?.conditions?.find((c) => c.type === 'Ready')?.reason ===
        'BackendTimeout',
      30_000,
    );
    const withHostileMs = await timeHealthyToRunning(hostileNs);
    console.log(
      `${HEALTHY} healthy VMs to Running on 1 worker: ${baselineMs} ms alone, ${withHostileMs} ms beside a hung guest agent (deadline ${READ_DEADLINE_MS} ms, ${backend.hangs.length} hung calls)`,
    );
    // Without a deadline the one worker would hang for good and this would never be reached; with
    // one, the hostile VM costs at most one deadline per retry, and its retries thin out.
    expect(withHostileMs).toBeLessThan(baselineMs * 2 + 10 * READ_DEADLINE_MS);

    const hostile = await read(hostileNs, 'hostile');
    expect(hostile.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'BackendTimeout',
      message: `observe on libvirt did not answer within ${READ_DEADLINE_MS / 1000} s`,
    });
    const warnings = (
      await kube.list<KubeObject & { reason?: string; type?: string; regarding?: { name?: string } }>(
        coreTypes.event,
        {
          namespace: hostileNs,
        },
      )
    ).items.filter((e) => e.regarding?.name === 'hostile' && e.reason === 'BackendTimeout');
    expect(warnings.map((e) => e.type)).toEqual(['Warning']);
    // Per-VM exponential backoff: retries of the hostile VM thin out (without it they would follow
    // one deadline apart, or every transition poll). The first retry is at once: the controller's own
    // Ready=False write is a watch event, as in controller-runtime.
    await eventually('six hung calls', () => backend.hangs.length >= 6, 60_000);
    const gaps = backend.hangs.slice(1, 6).map((at, i) => at - backend.hangs[i]!);
    console.log(`gaps between hung calls: ${gaps.join(', ')} ms`);
    expect(gaps[4]).toBeGreaterThanOrEqual(READ_DEADLINE_MS + 4 * RETRY.baseMs);
  }, 180_000);
});
