import type { HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { KubeObject } from '../../lib/kube/object.js';
import type { ResourceType } from '../../lib/kube/resource-types.js';

const nodeType = {
  group: '',
  version: 'v1',
  kind: 'Node',
  plural: 'nodes',
  namespaced: false,
} as const satisfies ResourceType;

interface Node extends KubeObject {
  status?: { addresses?: { type: string; address: string }[] };
}

/** Addresses a node reports, most public first. */
const PREFERENCE = ['ExternalIP', 'ExternalDNS', 'InternalIP', 'Hostname'];

export type HostAddress = { address: string; source: string } | { unknown: string };

/**
 * The name customers and the admin reach this host by: spec.signup.hostname when set, otherwise the
 * (single) node's most public address. BlockHost runs on one node; with several, the first by name.
 */
export async function publicHostAddress(kube: KubeClient, host: HostConfig): Promise<HostAddress> {
  const hostname = host.spec.signup?.hostname;
  if (hostname) return { address: hostname, source: 'spec.signup.hostname' };
  let nodes: Node[];
  try {
    nodes = (await kube.list<Node>(nodeType)).items;
  } catch (error) {
    return {
      unknown: `cannot list the cluster's nodes (${(error as Error).message}); set spec.signup.hostname`,
    };
  }
  const sorted = [...nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const type of PREFERENCE)
    for (const node of sorted) {
      const found = node.status?.addresses?.find((a) => a.type === type && a.address);
      if (found) return { address: found.address, source: `node ${node.metadata.name} (${type})` };
    }
  return { unknown: 'spec.signup.hostname is not set and no node reports an address' };
}

/** `https://<address>/`, with IPv6 literals in brackets. */
export const httpsUrl = (address: string): string =>
  `https://${address.includes(':') ? `[${address}]` : address}/`;
