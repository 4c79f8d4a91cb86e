// What first boot records on a real server, read off this machine: its disks (lsblk) and
// interfaces (ip), as the ConfigMap the wizard's storage and network steps read.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KubeClient } from '../../../lib/kube/client.js';
import { apply } from '../../../lib/kube/apply.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { HOST_FACTS_CONFIGMAP, hostFactsSchema, type HostFacts } from '../../../web/wizard/host-facts.js';

const run = promisify(execFile);

interface LsblkDevice {
  path: string;
  size: number;
  model: string | null;
  type: string;
  mountpoints?: (string | null)[];
  children?: LsblkDevice[];
}

interface IpAddress {
  ifname: string;
  address?: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

const mounted = (device: LsblkDevice): boolean =>
  (device.mountpoints ?? []).some(Boolean) || (device.children ?? []).some(mounted);

export async function readLocalHostFacts(): Promise<HostFacts> {
  const lsblk = JSON.parse(
    (await run('lsblk', ['--json', '--bytes', '--tree', '-o', 'PATH,SIZE,MODEL,TYPE,MOUNTPOINTS'])).stdout,
  ) as { blockdevices: LsblkDevice[] };
  const addresses = JSON.parse((await run('ip', ['-j', 'address', 'show'])).stdout) as IpAddress[];
  const routes = JSON.parse((await run('ip', ['-j', 'route', 'show', 'default'])).stdout) as {
    dev: string;
    gateway?: string;
  }[];
  const defaultRoute = routes[0];
  return hostFactsSchema.parse({
    blockDevices: lsblk.blockdevices
      .filter((d) => d.type === 'disk' && d.size > 0)
      .map((d) => ({ path: d.path, sizeBytes: d.size, model: d.model ?? undefined, inUse: mounted(d) })),
    interfaces: addresses
      .filter((i) => i.ifname !== 'lo')
      .map((i) => ({
        name: i.ifname,
        mac: i.address,
        addresses: (i.addr_info ?? [])
          .filter((a) => a.scope === 'global')
          .map((a) => `${a.local}/${a.prefixlen}`),
        gateway: defaultRoute?.dev === i.ifname ? defaultRoute.gateway : undefined,
        defaultRoute: defaultRoute?.dev === i.ifname,
      })),
  });
}

export async function publishHostFacts(kube: KubeClient, namespace: string, facts: HostFacts): Promise<void> {
  await apply(kube, coreTypes.configMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: HOST_FACTS_CONFIGMAP, namespace },
    data: { blockDevices: JSON.stringify(facts.blockDevices), interfaces: JSON.stringify(facts.interfaces) },
  } as KubeObject);
}
