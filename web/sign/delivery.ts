// The signing API's checks before anything is stored: the VM exists and the signature is its owner
// wallet's. The controller manager checks all of it again (it trusts nothing this server stores);
// checking here too gives the person signing a clear answer at once and keeps junk out of etcd.
import { blockhostTypes, loginWalletOf, type Subscription, type VM } from '../../lib/api/v1alpha1/index.js';
import { recoverAddress } from '../../lib/crypto/eip191.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import {
  LOGIN_SIGNATURE_LABEL,
  loginMessage,
  loginSignatureName,
  type LoginSignatureFields,
} from '../../lib/login-signature/request.js';
import { HttpError } from '../http/errors.js';

/**
 * The wallet that may log into VM `machine`, by the controller's rule: a subscription's VM opens
 * for its NFT holder on the Subscription, an admin-made VM for its spec.ownerWallet. 404 when this
 * host has no such VM.
 */
export async function ownerWallet(kube: KubeClient, namespace: string, machine: string): Promise<string> {
  try {
    const vm = await kube.get<VM>(blockhostTypes.vm, machine, namespace);
    const ref = vm.spec.subscriptionRef?.name;
    if (!ref) return vm.spec.ownerWallet;
    return loginWalletOf((await kube.get<Subscription>(blockhostTypes.subscription, ref, namespace)).spec);
  } catch (error) {
    if (isNotFound(error)) throw new HttpError(404, `there is no VM named ${machine} on this host`);
    throw error;
  }
}

/** The wallet that signed the login message of `machine` and `code`; 400 for a signature that recovers to nothing. */
export function loginSigner(machine: string, code: string, signature: string): string {
  try {
    return recoverAddress(loginMessage(machine, code), signature);
  } catch (error) {
    throw new HttpError(400, 'invalid request body: 1 field to fix', {
      signature: `not a valid signature: ${(error as Error).message}`,
    });
  }
}

/** 403 unless `signer` is `owner` (addresses compare case-insensitively: checksums are optional). */
export function requireOwner(signer: string, owner: string): void {
  if (signer.toLowerCase() !== owner.toLowerCase())
    throw new HttpError(403, `signed by ${signer}, which is not the wallet of this VM`);
}

/**
 * Stores the request for the controller manager and returns its name. One name per guest session,
 * so a second answer meets AlreadyExists: 409.
 */
export async function storeLoginSignature(
  kube: KubeClient,
  namespace: string,
  fields: LoginSignatureFields,
): Promise<string> {
  const name = loginSignatureName(fields.machine, fields.session);
  try {
    await kube.create<KubeObject & { data: LoginSignatureFields }>(coreTypes.configMap, {
      metadata: { name, namespace, labels: { [LOGIN_SIGNATURE_LABEL]: 'true' } },
      data: fields,
    });
  } catch (error) {
    if (isAlreadyExists(error)) throw new HttpError(409, 'this login was already answered');
    throw error;
  }
  return name;
}
