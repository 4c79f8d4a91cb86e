// A wallet login's callback answer reaching a Proxmox guest: the real login-signature controller
// with the product's Proxmox driver factory, against the fake PVE API, for a VM made from the real
// cloud-init seed. The guest's pending directory exists only because the seed makes it; the session
// file is planted as pam_web3 writes it, and the request is stored as the signing page's server does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerLoginSignatureController } from '../../../controllers/login-signature/controller.js';
import type { ProxmoxBackend } from '../../../controllers/vm/backends/proxmox/backend.js';
import { backendFactories } from '../../../controllers/vm/backends/index.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig } from '../../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { guestSignaturePath, loginMessage } from '../../../lib/login-signature/request.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { pamSession, runningVmObject, storeLoginAnswer } from '../../harness/e2e/wallet-login.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import { waitFor } from '../../harness/processes.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { backendFor, desiredVm, settingsFor } from './fixtures.js';

const OWNER = 4;
const MACHINE = 'blockhost-001';
const CODE = '123456';

describe('login signatures delivered into a Proxmox guest', () => {
  let fake: FakeProxmox;
  let driver: ProxmoxBackend;
  let kube: KubeClient;
  let namespace: string;
  let release: () => Promise<void>;
  let manager: Manager;
  let running: Promise<unknown>;
  let vmid: number;
  let sessions = 0;

  /** What pam_web3 does when a login starts: a session file in the pending directory. */
  function openSession(): string {
    const { session, path, content } = pamSession(MACHINE, CODE, ++sessions);
    fake.plantGuestFile(vmid, path, content);
    return session;
  }

  const answer = (session: string, signer: number) =>
    storeLoginAnswer(kube, namespace, { machine: MACHINE, code: CODE, session }, anvilPrivateKey(signer));

  beforeAll(async () => {
    fake = await FakeProxmox.start({ taskDurationMs: 30, agentDelayMs: 200 });
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'pve-login');
    // The product's factory reads the token from a Secret; the fake's CA is not in the system store.
    const settings = settingsFor(fake, {
      tokenSecretRef: { name: 'pve-token' },
      insecureSkipTLSVerify: true,
    });
    await kube.create(coreTypes.secret, {
      metadata: { name: 'pve-token', namespace },
      stringData: { tokenId: DEFAULT_TOKEN.tokenId, secret: DEFAULT_TOKEN.secret },
    } as never);
    const host = structuredClone(exampleHostConfig) as HostConfig;
    host.spec.backend = { type: 'proxmox', proxmox: settings };
    await kube.create<HostConfig>(blockhostTypes.hostConfig, host);

    driver = backendFor(fake);
    const created = await driver.create(desiredVm({ name: MACHINE }));
    vmid = Number(created.id);
    await waitFor(
      'the guest agent',
      async () =>
        (await driver.observe({ namespace: 'tenants', name: MACHINE, id: created.id }))
          ?.guestAgentConnected === true,
      { timeoutMs: 10_000 },
    );

    await runningVmObject(kube, namespace, {
      name: MACHINE,
      backend: 'proxmox',
      owner: anvilAccount(OWNER).address,
      backendId: created.id,
    });

    // The refusal below is logged as a warning: expected here, so not shown.
    const quiet = createLogger('pve-login-test', { level: process.env.LOG_LEVEL ?? 'error' });
    manager = new Manager({
      client: kube,
      log: quiet,
      metrics: new RuntimeMetrics({ processMetrics: false }),
    });
    const backends = new BackendProvider(
      { proxmox: backendFactories.proxmox! },
      { kube, namespace, log: quiet },
    );
    registerLoginSignatureController(manager, { backends, namespace });
    running = manager.start();
  }, withHostConfigClaimWait(60_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    if (vmid) await driver.delete(String(vmid));
    await driver?.close();
    if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
    await release?.();
    await fake?.stop();
  });

  it("writes the owner's signature as <session>.sig into the guest", async () => {
    const session = openSession();
    expect(await answer(session, OWNER)).toEqual({ phase: 'Delivered', reason: '' });
    const signature = signMessage(anvilPrivateKey(OWNER), loginMessage(MACHINE, CODE));
    expect(fake.guestFile(vmid, guestSignaturePath(session))).toBe(`${signature}\n`);
  });

  it("writes nothing for another wallet's signature", async () => {
    const session = openSession();
    const writes = () => fake.requests({ method: 'POST', path: /\/agent\/file-write$/ }).length;
    const writesBefore = writes();
    const outcome = await answer(session, 6);
    expect(outcome.phase).toBe('Refused');
    expect(outcome.reason).toMatch(/^WrongWallet: /);
    expect(fake.guestFile(vmid, guestSignaturePath(session))).toBeUndefined();
    expect(writes()).toBe(writesBefore);
  });
});
