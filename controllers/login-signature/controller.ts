import { getAddress } from 'viem';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  loginWalletOf,
  type HostConfig,
  type Subscription,
  type VM,
} from '../../lib/api/v1alpha1/index.js';
import { recoverAddress } from '../../lib/crypto/eip191.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import {
  guestSession,
  guestSessionPath,
  guestSignaturePath,
  LOGIN_SIGNATURE_ANNOTATIONS as A,
  LOGIN_SIGNATURE_LABEL,
  LOGIN_SIGNATURE_TTL_MS,
  loginMessage,
  loginSignatureFields,
  loginSignatureName,
  loginSignatureReason,
  type LoginSignatureFields,
  type LoginSignaturePhase,
  type LoginSignatureRefusal,
} from '../../lib/login-signature/request.js';
import type { ReconcileContext, ReconcileResult, Request } from '../../lib/runtime/controller.js';
import type { Manager } from '../../lib/runtime/manager.js';
import { BackendError } from '../vm/backend.js';
import type { BackendProvider } from '../vm/backends/provider.js';
import { LoginSignatureMetrics } from './metrics.js';

export const LOGIN_SIGNATURE_CONTROLLER = 'login-signature';
/** The PAM module's session file is a few dozen bytes; anything much larger is not one. */
const SESSION_FILE_MAX_BYTES = 4096;

export interface LoginSignatureConfigMap extends KubeObject {
  data?: Partial<Record<keyof LoginSignatureFields, string>>;
}

/** Nothing was written into the guest; `kind` tells the signing page which status to answer. */
class Refusal extends Error {
  constructor(
    readonly kind: LoginSignatureRefusal,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Delivers wallet-signed SSH login answers into guests (INTEROP §4 callback sessions). The web
 * server only stores them; nothing in the request is trusted: the signer is recovered here and must
 * be the wallet that may log in (for a subscription's VM the NFT holder on the Subscription), the
 * guest must have an open session of the PAM module with exactly that code, and the session must not
 * be answered yet. Only then is `<session>.sig` written through the guest agent. Outcomes are
 * annotations on the request; requests are removed LOGIN_SIGNATURE_TTL_MS after they were made.
 */
export function registerLoginSignatureController(
  manager: Manager,
  options: { backends: BackendProvider; namespace: string; now?: () => number },
): void {
  const { backends, namespace } = options;
  const now = options.now ?? Date.now;
  const kube = manager.client;
  const events = manager.eventRecorder(LOGIN_SIGNATURE_CONTROLLER);
  const metrics = new LoginSignatureMetrics(manager.metrics.registry);

  const record = (cm: LoginSignatureConfigMap, phase: LoginSignaturePhase, reason: string) =>
    kube.patch(
      coreTypes.configMap,
      cm.metadata.name!,
      namespace,
      { metadata: { annotations: { [A.phase]: phase, [A.reason]: reason } } },
      'merge',
    );

  /**
   * Whose signature opens this VM: for a subscription's VM the chain fact on the Subscription
   * (only the chain watcher writes it), never the VM's spec.ownerWallet, which the web server may
   * patch (the dashboard's power actions); for a VM an admin made, its spec.
   */
  async function loginWallet(vm: VM): Promise<string> {
    const ref = vm.spec.subscriptionRef?.name;
    if (!ref) return vm.spec.ownerWallet;
    try {
      return loginWalletOf((await kube.get<Subscription>(blockhostTypes.subscription, ref, namespace)).spec);
    } catch (error) {
      if (isNotFound(error))
        throw new Refusal('UnknownVm', `the subscription of VM ${vm.metadata.name} is gone`);
      throw error;
    }
  }

  /** Every check, then the write; throws Refusal with the reason when nothing may be written. */
  async function deliver(cm: LoginSignatureConfigMap): Promise<VM> {
    const parsed = loginSignatureFields.safeParse(cm.data ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Refusal('Malformed', `${issue.path.join('.') || 'request'}: ${issue.message}`);
    }
    const { machine, code, session, signature } = parsed.data;
    if (loginSignatureName(machine, session) !== cm.metadata.name)
      throw new Refusal('Malformed', 'the request is not named after its machine and session');
    let vm: VM;
    try {
      vm = await kube.get<VM>(blockhostTypes.vm, machine, namespace);
    } catch (error) {
      if (isNotFound(error)) throw new Refusal('UnknownVm', `there is no VM ${machine} on this host`);
      throw error;
    }
    let signer: string;
    try {
      signer = recoverAddress(loginMessage(machine, code), signature);
    } catch (error) {
      throw new Refusal('Malformed', `the signature is not valid: ${(error as Error).message}`);
    }
    if (getAddress(signer) !== getAddress(await loginWallet(vm)))
      throw new Refusal('WrongWallet', `signed by ${signer}, which is not the wallet of VM ${machine}`);
    const backendId = vm.status?.backendId;
    if (!backendId || vm.metadata.deletionTimestamp)
      throw new Refusal('GuestUnavailable', `VM ${machine} is not running`);
    const host = await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    const backend = await backends.for(host, vm.spec.backend);
    try {
      const text = await backend.guestReadFile(backendId, guestSessionPath(session), SESSION_FILE_MAX_BYTES);
      const open = text === undefined ? undefined : guestSession.safeParse(safeJson(text));
      if (!open?.success || open.data.session_id !== session || open.data.machine_id !== machine)
        throw new Refusal('UnknownSession', `VM ${machine} has no login waiting for session ${session}`);
      if (open.data.otp !== code)
        throw new Refusal('UnknownSession', `the login of session ${session} shows another code`);
      const answered = await backend.guestReadFile(backendId, guestSignaturePath(session), 1024);
      // Our own earlier write (a crash before the outcome was recorded) counts as delivered.
      if (answered !== undefined && answered.trim() !== signature)
        throw new Refusal('AlreadyAnswered', `session ${session} was already answered`);
      if (answered === undefined)
        await backend.guestWriteFile(backendId, guestSignaturePath(session), `${signature}\n`);
    } catch (error) {
      if (error instanceof BackendError)
        throw new Refusal(
          'GuestUnavailable',
          `the guest of VM ${machine} cannot be reached: ${error.message}`,
        );
      throw error;
    }
    return vm;
  }

  const reconcile = async ({ name }: Request, { log }: ReconcileContext): Promise<ReconcileResult> => {
    // The API's copy, not the cache's: our own outcome annotation must be seen.
    let cm: LoginSignatureConfigMap;
    try {
      cm = await kube.get<LoginSignatureConfigMap>(coreTypes.configMap, name, namespace);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    if (cm.metadata.deletionTimestamp) return;
    const age = now() - Date.parse(cm.metadata.creationTimestamp ?? new Date(now()).toISOString());
    if (cm.metadata.annotations?.[A.phase]) {
      if (age < LOGIN_SIGNATURE_TTL_MS) return { requeueAfterMs: LOGIN_SIGNATURE_TTL_MS - age };
      await kube.delete(coreTypes.configMap, name, namespace).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      return;
    }
    try {
      const vm = await deliver(cm);
      await record(cm, 'Delivered', '');
      metrics.outcomes.inc({ outcome: 'Delivered' });
      await events.record(
        vm,
        blockhostTypes.vm,
        'Normal',
        'LoginSignatureDelivered',
        'Deliver',
        `signature for login session ${cm.data?.session} delivered to the guest`,
      );
      log.info({ request: name, vm: vm.metadata.name }, 'login signature delivered');
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      await record(cm, 'Refused', loginSignatureReason(error.kind, error.message));
      metrics.outcomes.inc({ outcome: error.kind });
      log.warn(
        { request: name, reason: error.kind, message: error.message },
        'login signature refused; nothing written',
      );
    }
    return { requeueAfterMs: LOGIN_SIGNATURE_TTL_MS };
  };

  manager.addController<LoginSignatureConfigMap>({
    name: LOGIN_SIGNATURE_CONTROLLER,
    for: coreTypes.configMap,
    forOptions: { namespace, labelSelector: `${LOGIN_SIGNATURE_LABEL}=true` },
    reconcile,
    // Each request waits on one guest; a slow guest must not hold up another VM's login.
    workers: 4,
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
