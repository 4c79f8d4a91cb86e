import { randomBytes } from 'node:crypto';
import { blockhostTypes, type VM } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { controllerReference } from '../../lib/runtime/owners.js';
import { BackendError } from './backend.js';

interface SecretObject extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

const KEY = 'secret-key';

/** The Secret holding the VM's pam_web3 `secret_key`: deleted with the VM (owner reference). */
export const loginSecretName = (vmName: string): string => `${vmName}-wallet-login`;

/**
 * The VM's random login secret (64 hex), created on first use. Kept in a Secret rather than derived
 * from anything, so knowing the VM's name or the host's keys says nothing about it; stable across
 * re-renders of cloud-init (re-creates, resizes). Safe to call concurrently and after a crash.
 */
export async function ensureLoginSecret(kube: KubeClient, vm: VM): Promise<string> {
  const name = loginSecretName(vm.metadata.name!);
  const namespace = vm.metadata.namespace!;
  const existing = await readKey(kube, name, namespace, vm.metadata.uid!);
  if (existing) return existing;
  const secretKey = randomBytes(32).toString('hex');
  try {
    await kube.create<SecretObject>(coreTypes.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'blockhost', 'blockhost.io/vm': vm.metadata.name! },
        ownerReferences: [controllerReference(vm, blockhostTypes.vm)],
      },
      type: 'Opaque',
      data: { [KEY]: Buffer.from(secretKey).toString('base64') },
    });
    return secretKey;
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    const raced = await readKey(kube, name, namespace, vm.metadata.uid!);
    if (!raced) throw new Error(`Secret ${namespace}/${name} exists but has no ${KEY}`, { cause: error });
    return raced;
  }
}

/** The key of a Secret this VM controls; a same-named Secret someone else made is refused, not used. */
async function readKey(
  kube: KubeClient,
  name: string,
  namespace: string,
  vmUid: string,
): Promise<string | undefined> {
  try {
    const secret = await kube.get<SecretObject>(coreTypes.secret, name, namespace);
    const owner = secret.metadata.ownerReferences?.find((r) => r.controller);
    if (owner?.uid !== vmUid)
      throw new BackendError(
        `Secret ${namespace}/${name} exists but this VM did not create it; remove it to let BlockHost make the login secret`,
        'LoginSecretConflict',
      );
    const value = Buffer.from(secret.data?.[KEY] ?? '', 'base64').toString('utf8');
    return /^[0-9a-f]{64}$/.test(value) ? value : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
