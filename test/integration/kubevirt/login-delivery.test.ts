// A wallet login's callback answer reaching a KubeVirt guest: the real login-signature controller
// with the KubeVirt driver, whose virsh calls go to the simulator's virt-launcher, for a VM made from
// the product's cloud-init. The guest's pending directory exists only because its bootcmd makes it;
// the session file is planted as pam_web3 writes it, and the request is stored as the signing
// page's server does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerLoginSignatureController } from '../../../controllers/login-signature/controller.js';
import { KubevirtBackend } from '../../../controllers/vm/backends/kubevirt/driver.js';
import type { ContainerExec } from '../../../controllers/vm/backends/kubevirt/launcher.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig } from '../../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import { createLogger } from '../../../lib/log.js';
import { guestSignaturePath, loginMessage } from '../../../lib/login-signature/request.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { pamSession, runningVmObject, storeLoginAnswer } from '../../harness/e2e/wallet-login.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';
import { KubevirtSimulator } from '../../harness/kubevirt/simulator.js';
import { GuestFsError } from '../../harness/proxmox/guest-fs.js';
import { desiredVm } from './fixtures.js';

const OWNER = 4;
const MACHINE = 'blockhost-001';
const CODE = '123456';
const settings = { images: [{ name: 'debian', containerDisk: 'quay.io/containerdisks/debian:12' }] };

describe('login signatures delivered into a KubeVirt guest', () => {
  const kube = testClient();
  let simulator: KubevirtSimulator;
  let namespace: string;
  let release: () => Promise<void>;
  let manager: Manager;
  let running: Promise<unknown>;
  let sessions = 0;
  /** Every guest-agent command the controller's driver sent, as virsh got it. */
  const agentCommands: string[] = [];

  const guestFile = (path: string) => {
    try {
      return simulator.guest(MACHINE)?.files.read(path).toString('utf8');
    } catch (error) {
      if (error instanceof GuestFsError) return undefined;
      throw error;
    }
  };

  /** What pam_web3 does when a login starts: a session file in the pending directory. */
  function openSession(): string {
    const { session, path, content } = pamSession(MACHINE, CODE, ++sessions);
    simulator.guest(MACHINE)!.files.write(path, Buffer.from(content));
    return session;
  }

  const answer = (session: string, signer: number) =>
    storeLoginAnswer(kube, namespace, { machine: MACHINE, code: CODE, session }, anvilPrivateKey(signer));

  beforeAll(async () => {
    await installKubevirtCrds(kube);
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'kv-login');
    simulator = await KubevirtSimulator.start({ kube, namespace });
    const host = structuredClone(exampleHostConfig) as HostConfig;
    host.spec.backend = { type: 'kubevirt', kubevirt: settings };
    await kube.create<HostConfig>(blockhostTypes.hostConfig, host);

    // The refusal below is logged as a warning: expected here, so not shown.
    const quiet = createLogger('kv-login-test', { level: process.env.LOG_LEVEL ?? 'error' });
    const launcherExec: ContainerExec = (pod, command, timeoutMs) => {
      agentCommands.push(command.at(-1) ?? '');
      return simulator.launcherExec(pod, command, timeoutMs);
    };
    const driver = new KubevirtBackend({ kube, settings, log: quiet, launcherExec });
    const created = await driver.create(desiredVm(namespace, MACHINE));
    await eventually(
      'the guest agent',
      async () => (await driver.observe({ namespace, name: MACHINE }))?.guestAgentConnected === true,
    );

    await runningVmObject(kube, namespace, {
      name: MACHINE,
      backend: 'kubevirt',
      owner: anvilAccount(OWNER).address,
      backendId: created.id,
    });

    manager = new Manager({
      client: kube,
      log: quiet,
      metrics: new RuntimeMetrics({ processMetrics: false }),
    });
    const backends = new BackendProvider(
      {
        kubevirt: async (config, deps) =>
          new KubevirtBackend({ ...deps, settings: config.spec.backend.kubevirt!, launcherExec }),
      },
      { kube, namespace, log: quiet },
    );
    registerLoginSignatureController(manager, { backends, namespace });
    running = manager.start();
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    await simulator?.stop();
    if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
    await release?.();
  });

  it("writes the owner's signature as <session>.sig into the guest", async () => {
    const session = openSession();
    expect(await answer(session, OWNER)).toEqual({ phase: 'Delivered', reason: '' });
    const signature = signMessage(anvilPrivateKey(OWNER), loginMessage(MACHINE, CODE));
    expect(guestFile(guestSignaturePath(session))).toBe(`${signature}\n`);
  });

  it("writes nothing for another wallet's signature", async () => {
    const session = openSession();
    const sent = agentCommands.length;
    const outcome = await answer(session, 6);
    expect(outcome.phase).toBe('Refused');
    expect(outcome.reason).toMatch(/^WrongWallet: /);
    expect(guestFile(guestSignaturePath(session))).toBeUndefined();
    expect(agentCommands.slice(sent)).toEqual([]);
  });
});
