import type { BackendType, HostConfig } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { Logger } from '../../../lib/log.js';
import { BackendError, type VmBackend } from '../backend.js';
import type { BackendMetrics } from './instrumented.js';

export interface BackendDeps {
  kube: KubeClient;
  /** Times every driver call (Prometheus); absent in tests that do not look. */
  metrics?: BackendMetrics;
  /** The controller's namespace, where backend credentials (Secrets) live. */
  namespace: string;
  log: Logger;
}

/** Builds a driver from the HostConfig's settings of its type. */
export type BackendFactory = (host: HostConfig, deps: BackendDeps) => Promise<VmBackend>;

/**
 * One driver instance per backend type and settings: a HostConfig edit (new images, another
 * endpoint) yields a fresh driver on the next reconcile, and the old one is closed.
 */
export class BackendProvider {
  private readonly cache = new Map<BackendType, { key: string; backend: Promise<VmBackend> }>();

  constructor(
    private readonly factories: Partial<Record<BackendType, BackendFactory>>,
    private readonly deps: BackendDeps,
  ) {}

  async for(host: HostConfig, type: BackendType): Promise<VmBackend> {
    if (host.spec.backend.type !== type)
      throw new BackendError(
        `the VM wants the ${type} backend but the HostConfig configures ${host.spec.backend.type}`,
        'BackendMismatch',
      );
    const factory = this.factories[type];
    if (!factory) throw new BackendError(`no driver for the ${type} backend is registered`, 'NoDriver');
    const key = JSON.stringify(host.spec.backend[type]);
    const cached = this.cache.get(type);
    if (cached?.key === key) return cached.backend;
    const backend = factory(host, this.deps).then((b) => this.deps.metrics?.instrument(b) ?? b);
    // A failed build (say, a missing credentials Secret) is retried on the next call.
    backend.catch(() => {
      if (this.cache.get(type)?.backend === backend) this.cache.delete(type);
    });
    this.cache.set(type, { key, backend });
    if (cached) void cached.backend.then((old) => old.close?.()).catch(() => undefined);
    return backend;
  }

  async close(): Promise<void> {
    const backends = [...this.cache.values()];
    this.cache.clear();
    await Promise.allSettled(backends.map(async (b) => (await b.backend).close?.()));
  }
}
