import type { BackendType } from '../../../lib/api/v1alpha1/index.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { BackendError } from '../backend.js';
import { KubevirtBackend } from './kubevirt/driver.js';
import { ProxmoxBackend } from './proxmox/backend.js';
import { LibvirtBackend } from './libvirt/driver.js';
import type { BackendDeps, BackendFactory } from './provider.js';

/** The product's drivers, by backend type. */
export const backendFactories: Partial<Record<BackendType, BackendFactory>> = {
  libvirt: async (host, { log }) =>
    new LibvirtBackend(host.spec.backend.libvirt!, log.child({ component: 'libvirt-backend' })),
  kubevirt: async (host, { kube, log }) =>
    new KubevirtBackend({ kube, settings: host.spec.backend.kubevirt!, log }),
  proxmox: async (host, { kube, namespace, log }) => {
    const settings = host.spec.backend.proxmox!;
    const token = await readProxmoxToken(kube, namespace, settings.tokenSecretRef.name);
    return new ProxmoxBackend({ settings, token, log });
  },
};

/** The API token from its Secret (keys tokenId and secret), with a message naming what is missing. */
async function readProxmoxToken(
  kube: BackendDeps['kube'],
  namespace: string,
  name: string,
): Promise<{ tokenId: string; secret: string }> {
  const secret = await kube
    .get<KubeObject & { data?: Record<string, string> }>(coreTypes.secret, name, namespace)
    .catch((error: unknown) => {
      throw new BackendError(
        `cannot read the Proxmox token Secret ${namespace}/${name}: ${(error as Error).message}`,
        'MissingCredentials',
      );
    });
  const field = (key: string) => {
    const value = secret.data?.[key];
    if (!value)
      throw new BackendError(`Secret ${namespace}/${name} has no "${key}" key`, 'MissingCredentials');
    return Buffer.from(value, 'base64').toString('utf8').trim();
  };
  return { tokenId: field('tokenId'), secret: field('secret') };
}
