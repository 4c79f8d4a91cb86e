// The login-signature controller against the real API server, with an in-memory guest: what the
// web server stores (a labelled ConfigMap) is only a request. It reaches the guest only when the
// signer is the VM's owner, the guest has an open PAM session with that very code, and the session
// is not answered yet; every other request — the ones a compromised web server could store — is
// refused with nothing written. Outcomes are annotations; handled requests go after their TTL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { registerLoginSignatureController } from '../../../controllers/login-signature/controller.js';
import { BackendProvider } from '../../../controllers/vm/backends/provider.js';
import { exampleHostConfig, exampleSubscription } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig, type Subscription } from '../../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import {
  guestSignaturePath,
  LOGIN_SIGNATURE_ANNOTATIONS as A,
  LOGIN_SIGNATURE_LABEL,
  LOGIN_SIGNATURE_TTL_MS,
  loginMessage,
  loginSignatureName,
} from '../../../lib/login-signature/request.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { pamSession, runningVmObject } from '../../harness/e2e/wallet-login.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';

const OWNER = 4;
const MACHINE = 'blockhost-042';
const CODE = '031337';

let kube: KubeClient;
let namespace: string;
let release: () => Promise<void>;
let manager: Manager;
let running: Promise<unknown>;
let backendId: string;
/** The controller's clock: real time until the TTL test sets it. */
let clock: number | undefined;
const guest = new InstantBackend('libvirt');

const files = () => guest.files(backendId);
let sessions = 0;
/** What pam_web3 does when a login starts: a session file in the pending directory. */
function openSession(code = CODE): string {
  const { session, path, content } = pamSession(MACHINE, code, ++sessions);
  files().set(path, content);
  return session;
}

/** Stores a request as the web server does (or as a compromised one could) and waits for its outcome. */
async function submit(
  fields: { machine?: string; code?: string; session: string; signature?: string },
  name = loginSignatureName(fields.machine ?? MACHINE, fields.session),
): Promise<{ phase?: string; reason?: string }> {
  const machine = fields.machine ?? MACHINE;
  const code = fields.code ?? CODE;
  await kube.create<KubeObject>(coreTypes.configMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels: { [LOGIN_SIGNATURE_LABEL]: 'true' } },
    data: {
      machine,
      code,
      session: fields.session,
      signature: fields.signature ?? signMessage(anvilPrivateKey(OWNER), loginMessage(machine, code)),
    },
  } as KubeObject);
  let notes: Record<string, string> = {};
  await eventually('outcome recorded', async () => {
    notes = (await kube.get<KubeObject>(coreTypes.configMap, name, namespace)).metadata.annotations ?? {};
    return notes[A.phase] !== undefined;
  });
  return { phase: notes[A.phase], reason: notes[A.reason] };
}

beforeAll(async () => {
  kube = testClient();
  release = await claimHostConfig(kube);
  namespace = await createTestNamespace(kube, 'login-sig');
  await kube.create<HostConfig>(blockhostTypes.hostConfig, structuredClone(exampleHostConfig) as HostConfig);
  const created = await guest.create({
    namespace,
    name: MACHINE,
    intentId: 'intent',
    uid: 'uid',
    cpu: 1,
    memoryMiB: 512,
    diskGiB: 1,
    image: 'debian-12',
    running: true,
    cloudInit: { metaData: '', userData: '' },
    macAddress: '52:54:00:00:00:42',
    addresses: {},
  });
  backendId = created.id;
  await runningVmObject(kube, namespace, {
    name: MACHINE,
    backend: 'libvirt',
    owner: anvilAccount(OWNER).address,
    backendId,
  });
  const log = createLogger('login-signature-test');
  manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const backends = new BackendProvider({ libvirt: instantBackendFactory(guest) }, { kube, namespace, log });
  registerLoginSignatureController(manager, { backends, namespace, now: () => clock ?? Date.now() });
  running = manager.start();
}, withHostConfigClaimWait(60_000));

afterAll(async () => {
  manager?.stop();
  await running;
  if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
  await release?.();
});

describe('login-signature controller', () => {
  it("writes the owner's signature into the guest's open session", async () => {
    const session = openSession();
    const signature = signMessage(anvilPrivateKey(OWNER), loginMessage(MACHINE, CODE));
    expect(await submit({ session })).toEqual({ phase: 'Delivered', reason: '' });
    expect(files().get(guestSignaturePath(session))).toBe(`${signature}\n`);
  });

  it('refuses every request that does not come from the owner for an open session, writing nothing', async () => {
    const before = new Map(files());
    const refusals: [string, Promise<{ phase?: string; reason?: string }>][] = [];
    const refuse = (what: string, outcome: Promise<{ phase?: string; reason?: string }>) =>
      refusals.push([what, outcome]);
    refuse(
      'another wallet',
      submit({
        session: openSession(),
        signature: signMessage(anvilPrivateKey(6), loginMessage(MACHINE, CODE)),
      }),
    );
    refuse('a session the guest never opened', submit({ session: 'f'.repeat(32) }));
    refuse('the right wallet for another code', submit({ session: openSession('999999'), code: '123456' }));
    refuse('a VM that does not exist', submit({ machine: 'blockhost-999', session: openSession() }));
    refuse(
      'a request not named after its session',
      submit({ session: openSession() }, 'blockhost-login-planted'),
    );
    refuse('a garbage signature', submit({ session: openSession(), signature: '0x1234' }));
    const outcomes = await Promise.all(refusals.map(async ([what, p]) => [what, await p] as const));
    expect(
      Object.fromEntries(outcomes.map(([what, o]) => [what, `${o.phase} ${o.reason?.split(':')[0]}`])),
    ).toEqual({
      'another wallet': 'Refused WrongWallet',
      'a session the guest never opened': 'Refused UnknownSession',
      'the right wallet for another code': 'Refused UnknownSession',
      'a VM that does not exist': 'Refused UnknownVm',
      'a request not named after its session': 'Refused Malformed',
      'a garbage signature': 'Refused Malformed',
    });
    // The only new files are the sessions this test opened: no .sig anywhere.
    const added = [...files().keys()].filter((path) => !before.has(path));
    expect(added.every((path) => path.endsWith('.json'))).toBe(true);
  });

  it("opens a subscription's VM only for the NFT holder the chain recorded, whatever its spec says", async () => {
    const machine = 'blockhost-043';
    const { status: _status, ...subscription } = structuredClone(exampleSubscription);
    await kube.create<Subscription>(blockhostTypes.subscription, {
      ...subscription,
      metadata: { name: machine, namespace },
      // payloadError keeps the subscription controllers of other test files (their informers see
      // every namespace) from making a VM for it and taking pool addresses.
      spec: {
        ...subscription.spec,
        subscriptionId: '43',
        subscriber: anvilAccount(OWNER).address,
        payloadError: 'test object: only its subscriber is read',
      },
    } as Subscription);
    await runningVmObject(kube, namespace, {
      name: machine,
      backend: 'libvirt',
      owner: anvilAccount(OWNER).address,
      backendId,
      subscription: machine,
    });
    // What a compromised web server can do: it may patch VMs (the dashboard's power actions).
    await kube.patch(
      blockhostTypes.vm,
      machine,
      namespace,
      { spec: { ownerWallet: anvilAccount(6).address } },
      'merge',
    );
    const open = () => {
      const { session, path, content } = pamSession(machine, CODE, ++sessions);
      files().set(path, content);
      return session;
    };
    const planted = open();
    const attacker = await submit({
      machine,
      session: planted,
      signature: signMessage(anvilPrivateKey(6), loginMessage(machine, CODE)),
    });
    expect(attacker.phase).toBe('Refused');
    expect(attacker.reason).toMatch(/^WrongWallet: /);
    expect(files().get(guestSignaturePath(planted))).toBeUndefined();
    expect(await submit({ machine, session: open() })).toEqual({ phase: 'Delivered', reason: '' });
    await kube.delete(blockhostTypes.vm, machine, namespace);
    await kube.delete(blockhostTypes.subscription, machine, namespace);
  });

  it('refuses a second answer to a session already answered in the guest', async () => {
    const session = openSession();
    files().set(guestSignaturePath(session), `0x${'00'.repeat(65)}\n`);
    const outcome = await submit({ session });
    expect(outcome.phase).toBe('Refused');
    expect(outcome.reason).toMatch(/^AlreadyAnswered: /);
    expect(files().get(guestSignaturePath(session))).toBe(`0x${'00'.repeat(65)}\n`);
  });

  it('says GuestUnavailable when the guest agent does not answer', async () => {
    const session = openSession();
    await guest.power(backendId, 'stop');
    const outcome = await submit({ session });
    await guest.power(backendId, 'start');
    expect(outcome.phase).toBe('Refused');
    expect(outcome.reason).toMatch(/^GuestUnavailable: /);
  });

  it('removes handled requests once their TTL has passed', async () => {
    const session = openSession();
    const name = loginSignatureName(MACHINE, session);
    await submit({ session });
    // The controller's clock a second past the TTL of this request (creation times are the API
    // server's, whole seconds).
    const created = (await kube.get<KubeObject>(coreTypes.configMap, name, namespace)).metadata
      .creationTimestamp!;
    clock = Date.parse(created) + LOGIN_SIGNATURE_TTL_MS + 1000;
    // Any event on the object makes the controller look again (the requeue would, after the TTL).
    await kube.patch(
      coreTypes.configMap,
      name,
      namespace,
      { metadata: { labels: { touched: 'yes' } } },
      'merge',
    );
    await eventually('request removed', () =>
      kube.get(coreTypes.configMap, name, namespace).then(
        () => false,
        () => true,
      ),
    );
  });
});
