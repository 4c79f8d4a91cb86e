import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { KubeApiError } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import type { ResourceType } from '../../lib/kube/resource-types.js';
import type { FaceContext } from '../face.js';
import { requireHostConfig } from './host.js';
import { publicNameOf } from './hostname.js';

const nodeType: ResourceType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
const storageClassType: ResourceType = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  namespaced: false,
};

interface NodeObject extends KubeObject {
  status?: {
    nodeInfo?: { kubeletVersion?: string; osImage?: string; kernelVersion?: string; architecture?: string };
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    addresses?: { type: string; address: string }[];
  };
}

interface StorageClassObject extends KubeObject {
  provisioner?: string;
  reclaimPolicy?: string;
  volumeBindingMode?: string;
}

/** A list, or why it could not be read (RBAC, API down) — shown on the page instead of failing it. */
async function listOrReason<T extends KubeObject>(
  read: () => Promise<{ items: T[] }>,
): Promise<{ items: T[] } | { error: string }> {
  try {
    return { items: (await read()).items };
  } catch (error) {
    if (error instanceof KubeApiError && (error.status === 403 || error.status === 401))
      return { error: 'the web server is not allowed to read these (RBAC)' };
    throw error;
  }
}

/** System page API: the host's public name, the k3s node(s) and storage. */
export function registerSystemRoutes(
  app: FastifyInstance,
  context: FaceContext,
  requireAdmin: preHandlerAsyncHookHandler,
): void {
  app.get('/api/system', { preHandler: requireAdmin }, async () => {
    const host = await requireHostConfig(context.kube);
    const [nodes, storageClasses] = await Promise.all([
      listOrReason(() => context.kube.list<NodeObject>(nodeType)),
      listOrReason(() => context.kube.list<StorageClassObject>(storageClassType)),
    ]);
    return {
      publicName: publicNameOf(host),
      backend: host.spec.backend.type,
      storageDevice: host.spec.storage?.device,
      nodes:
        'error' in nodes
          ? nodes
          : {
              items: nodes.items.map((node) => ({
                name: node.metadata.name,
                kubeletVersion: node.status?.nodeInfo?.kubeletVersion,
                osImage: node.status?.nodeInfo?.osImage,
                kernelVersion: node.status?.nodeInfo?.kernelVersion,
                architecture: node.status?.nodeInfo?.architecture,
                capacity: node.status?.capacity ?? {},
                addresses: node.status?.addresses ?? [],
                conditions: (node.status?.conditions ?? []).map(({ type, status, reason }) => ({
                  type,
                  status,
                  reason,
                })),
              })),
            },
      storageClasses:
        'error' in storageClasses
          ? storageClasses
          : {
              items: storageClasses.items.map((sc) => ({
                name: sc.metadata.name,
                provisioner: sc.provisioner,
                reclaimPolicy: sc.reclaimPolicy,
                volumeBindingMode: sc.volumeBindingMode,
                default: sc.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true',
              })),
            },
    };
  });
}
