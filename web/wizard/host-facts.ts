/**
 * What the wizard knows about the node it configures: block devices and network interfaces, from
 * the ConfigMap `blockhost-host-facts` in the release namespace (the web server runs in a pod and
 * cannot look at the host). First boot writes it; see README.md for the format.
 */
import { z } from 'zod';
import { interfaceName, ipAddress } from '../../lib/api/v1alpha1/common.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { Logger } from '../../lib/log.js';

export const HOST_FACTS_CONFIGMAP = 'blockhost-host-facts';

export const blockDeviceSchema = z.object({
  path: z
    .string()
    .max(128)
    .regex(/^\/dev\/[A-Za-z0-9._/-]+$/),
  sizeBytes: z.int().min(0),
  model: z.string().max(128).optional(),
  /** Holds the running system (or is mounted): never offered for VM storage. */
  inUse: z.boolean().default(false),
});

export const interfaceSchema = z.object({
  name: interfaceName,
  mac: z.string().max(17).optional(),
  /** Addresses with prefix length, e.g. 192.168.1.10/24. */
  addresses: z.array(z.string().max(43)).max(32).default([]),
  gateway: ipAddress.optional(),
  /** Carries the default route: the interface the wizard suggests. */
  defaultRoute: z.boolean().default(false),
});

export const hostFactsSchema = z.object({
  blockDevices: z.array(blockDeviceSchema).max(64).default([]),
  interfaces: z.array(interfaceSchema).max(64).default([]),
});
export type HostFacts = z.infer<typeof hostFactsSchema>;
export type BlockDevice = z.infer<typeof blockDeviceSchema>;

/** The facts, or undefined when the ConfigMap is absent or unreadable (the wizard then asks less). */
export async function readHostFacts(
  kube: KubeClient,
  namespace: string,
  log: Logger,
): Promise<HostFacts | undefined> {
  let configMap: KubeObject & { data?: Record<string, string> };
  try {
    configMap = await kube.get(coreTypes.configMap, HOST_FACTS_CONFIGMAP, namespace);
  } catch (error) {
    if (!isNotFound(error)) log.warn({ err: error }, 'host facts unreadable');
    return undefined;
  }
  try {
    return hostFactsSchema.parse({
      blockDevices: JSON.parse(configMap.data?.blockDevices ?? '[]'),
      interfaces: JSON.parse(configMap.data?.interfaces ?? '[]'),
    });
  } catch (error) {
    log.warn({ err: error }, `ConfigMap ${HOST_FACTS_CONFIGMAP} is malformed; ignoring it`);
    return undefined;
  }
}
