// Trust boundary: VM addresses, through the VM controller. A VM whose spec names an address another
// VM holds is never booted with it, and a claim planted in the release namespace cannot hand a VM
// the address another VM holds.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { registerVmController } from '../../../controllers/vm/controller.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import { vmObject } from '../../harness/vm-object.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';

/** The last address of the example HostConfig's pool: a pool claim starts at the other end. */
const TAKEN = '192.168.122.250';

let kube: KubeClient;
let release: string;
let state: string;
let unlock: () => Promise<void>;
let manager: Manager;
let running: Promise<unknown>;
const guest = new InstantBackend('libvirt');

const createVm = (name: string, ipv4?: string) =>
  kube.create<VM>(
    blockhostTypes.vm,
    vmObject(release, name, {
      backend: 'libvirt',
      image: 'debian-12',
      ownerWallet: '0x000000000000000000000000000000000000beef',
      runStrategy: 'Halted',
      ...(ipv4 && { network: { ipv4 } }),
    }),
  );
const read = (name: string) => kube.get<VM>(blockhostTypes.vm, name, release);
const created = async (name: string) => (await read(name)).status?.backendId !== undefined;

beforeAll(async () => {
  kube = testClient();
  unlock = await claimHostConfig(kube);
  release = await createTestNamespace(kube, 'trust-vms');
  state = await createTestNamespace(kube, 'trust-vm-state');
  await kube.create<HostConfig>(blockhostTypes.hostConfig, structuredClone(exampleHostConfig) as HostConfig);
  const log = createLogger('trust-vm-addresses');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const backends = new BackendProvider(
    { libvirt: instantBackendFactory(guest) },
    { kube, namespace: release, log },
  );
  registerVmController(manager, {
    backends,
    claimsNamespace: state,
    observeIntervalMs: 1000,
    transitionPollMs: 200,
  });
  await createVm('holder', TAKEN);
  // Before the controller runs, so it meets the planted claim on its first look at the victim: the
  // claim format, labelled with the victim's uid, naming the holder's address.
  const victim = await createVm('victim');
  await kube.create(coreTypes.configMap, {
    metadata: {
      name: `blockhost-ipv4-${TAKEN.replace(/\./g, '-')}`,
      namespace: release,
      labels: { 'blockhost.io/address-family': 'ipv4', 'blockhost.io/vm-uid': victim.metadata.uid! },
    },
    data: { address: TAKEN, vm: `${release}/victim` },
  });
  running = manager.start();
  await eventually('the holder VM created with its address', () => created('holder'), 60_000);
}, withHostConfigClaimWait(120_000));

afterAll(async () => {
  manager?.stop();
  await running;
  for (const namespace of [release, state]) if (namespace) await deleteNamespace(kube, namespace);
  await unlock?.();
});

describe('VM addresses', () => {
  it('never boots a VM whose spec names an address in use', async () => {
    await createVm('intruder', TAKEN);
    await eventually(
      'the intruder refused',
      async () =>
        (await read('intruder')).status?.conditions?.find((c) => c.type === 'Ready')?.reason ===
        'AddressInUse',
      30_000,
    );
    expect(await created('intruder')).toBe(false);
  });

  it("ignores a claim planted in the release namespace that gives a VM another VM's address", async () => {
    await eventually('the victim created', () => created('victim'), 60_000);
    const { network } = (await read('victim')).spec;
    expect(network?.ipv4).toBeDefined();
    expect(network?.ipv4).not.toBe(TAKEN);
  });
});
