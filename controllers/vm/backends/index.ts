import type { BackendType } from '../../../lib/api/v1alpha1/index.js';
import { KubevirtBackend } from './kubevirt/driver.js';
import { LibvirtBackend } from './libvirt/driver.js';
import type { BackendFactory } from './provider.js';

/** The product's drivers, by backend type. */
export const backendFactories: Partial<Record<BackendType, BackendFactory>> = {
  libvirt: async (host, { log }) =>
    new LibvirtBackend(host.spec.backend.libvirt!, log.child({ component: 'libvirt-backend' })),
  kubevirt: async (host, { kube, log }) =>
    new KubevirtBackend({ kube, settings: host.spec.backend.kubevirt!, log }),
};
