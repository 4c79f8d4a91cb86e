import { cidrContains } from '../../lib/api/ip.js';
import type { HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { Lookups } from '../lookups.js';
import { addressOf, cidrsOverlap, inRange, subnetOf } from '../network.js';
import { backendImages, changed, noFindings, type Admission, type Findings } from './findings.js';

type Spec = HostConfig['spec'];

/**
 * Whether VM NICs sit on the host's own LAN: libvirt in bridge mode, Proxmox (always a bridge) and
 * KubeVirt through a Multus network. Their pool must then be part of the host subnet (as in the
 * seed, where br0 carries the host address and the VMs alike).
 */
export function bridgedOntoHostNetwork(backend: Spec['backend']): boolean {
  switch (backend.type) {
    case 'libvirt':
      return (backend.libvirt?.networkMode ?? 'bridge') === 'bridge';
    case 'proxmox':
      return true;
    case 'kubevirt':
      return backend.kubevirt?.networkName !== undefined;
  }
}

/** The IPv4 pool against a static host network; with DHCP the host subnet is unknown here. */
function checkPoolAgainstHost(spec: Spec, findings: Findings): void {
  const { network, ipv4Pool: pool, backend } = spec;
  if (network.mode !== 'static' || !network.address) return;
  const subnet = subnetOf(network.address);
  if (!subnet) return;
  const hostAddress = addressOf(network.address);
  if (bridgedOntoHostNetwork(backend)) {
    const why = `${backend.type} VMs are bridged onto the host network`;
    for (const field of ['start', 'end', 'gateway'] as const) {
      if (!cidrContains(subnet, pool[field])) {
        findings.errors.push({
          path: `spec.ipv4Pool.${field}`,
          message: `must be inside the host subnet ${subnet} (spec.network.address): ${why}`,
        });
      }
    }
    for (const [what, address] of [
      ['host address', hostAddress],
      ['host gateway', network.gateway],
    ] as const) {
      if (address && inRange(address, pool.start, pool.end)) {
        findings.errors.push({
          path: 'spec.ipv4Pool.start',
          message: `the range ${pool.start}-${pool.end} must not include the ${what} ${address}: a VM would be given it`,
        });
      }
    }
    if (network.gateway && pool.gateway !== network.gateway) {
      findings.warnings.push(
        `spec.ipv4Pool.gateway ${pool.gateway} differs from the host gateway ${network.gateway}; bridged VMs usually share the host's router`,
      );
    }
  } else if (backend.type === 'libvirt' && cidrsOverlap(subnet, pool.network)) {
    findings.errors.push({
      path: 'spec.ipv4Pool.network',
      message: `must not overlap the host subnet ${subnet} (spec.network.address): in nat mode the host routes the pool, which cannot share its LAN's addresses`,
    });
  }
}

/** Chain and contracts cannot move while the contracts in status hold subscriptions and NFTs. */
function checkChainInUse(admission: Admission<HostConfig>, findings: Findings): void {
  const old = admission.oldObject;
  const inUse = old?.status?.contracts;
  if (!old || !(inUse?.subscriptions || inUse?.nft)) return;
  const { chain } = admission.object.spec;
  const recreate = 'delete and recreate the HostConfig to move to other contracts';
  if (chain.chainId !== old.spec.chain.chainId) {
    findings.errors.push({
      path: 'spec.chain.chainId',
      message: `cannot change from ${old.spec.chain.chainId} while contracts are in use there (status.contracts); ${recreate}`,
      reason: 'FieldValueForbidden',
    });
  }
  for (const name of ['subscriptions', 'nft'] as const) {
    const wanted = chain.contracts?.[name];
    const current = inUse[name];
    if (
      wanted &&
      current &&
      wanted.toLowerCase() !== current.toLowerCase() &&
      changed(admission, (h) => h.spec.chain.contracts?.[name])
    ) {
      findings.errors.push({
        path: `spec.chain.contracts.${name}`,
        message: `cannot change while ${current} is in use (status.contracts.${name}); ${recreate}`,
        reason: 'FieldValueForbidden',
      });
    }
  }
}

/** What existing VMs and Plans need from the backend and pool stays there. */
async function checkUsers(admission: Admission<HostConfig>, lookups: Lookups, findings: Findings) {
  const old = admission.oldObject;
  if (!old) return;
  const { spec } = admission.object;
  const typeChanged = spec.backend.type !== old.spec.backend.type;
  const imagesChanged = changed(admission, (h) => backendImages(h, h.spec.backend.type));
  const poolChanged = changed(admission, (h) => h.spec.ipv4Pool);
  if (!typeChanged && !imagesChanged && !poolChanged) return;
  const vms = (await lookups.vms()).filter((vm) => !vm.metadata.deletionTimestamp);
  const names = (list: { metadata: { namespace?: string; name?: string } }[]) =>
    list
      .slice(0, 5)
      .map((o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name))
      .join(', ') + (list.length > 5 ? ', …' : '');
  if (typeChanged) {
    const running = vms.filter((vm) => vm.spec.backend === old.spec.backend.type);
    if (running.length > 0) {
      findings.errors.push({
        path: 'spec.backend.type',
        message: `cannot change from ${old.spec.backend.type} while ${running.length} VM(s) run there (${names(running)}); delete them first`,
        reason: 'FieldValueForbidden',
      });
    }
    return;
  }
  const images = new Set(backendImages(admission.object, spec.backend.type) ?? []);
  if (imagesChanged) {
    const orphans = vms.filter((vm) => !images.has(vm.spec.image));
    if (orphans.length > 0)
      findings.warnings.push(
        `spec.backend.${spec.backend.type}.images no longer lists the image of VM(s) ${names(orphans)}; they cannot be recreated`,
      );
    const plans = (await lookups.plans()).filter((p) => p.spec.size?.image && !images.has(p.spec.size.image));
    if (plans.length > 0)
      findings.warnings.push(
        `spec.backend.${spec.backend.type}.images no longer lists the image of Plan(s) ${names(plans)}`,
      );
  }
  if (poolChanged) {
    const outside = vms.filter(
      (vm) => vm.spec.network?.ipv4 && !inRange(vm.spec.network.ipv4, spec.ipv4Pool.start, spec.ipv4Pool.end),
    );
    if (outside.length > 0)
      findings.warnings.push(
        `spec.ipv4Pool no longer contains the addresses of VM(s) ${names(outside)}; they keep them`,
      );
  }
}

/** Checks the schema cannot express: the pool against the host network, the chain in use, and users of the backend. */
export async function validateHostConfig(
  admission: Admission<HostConfig>,
  lookups: Lookups,
): Promise<Findings> {
  const findings = noFindings();
  if (changed(admission, (h) => [h.spec.network, h.spec.ipv4Pool, h.spec.backend]))
    checkPoolAgainstHost(admission.object.spec, findings);
  checkChainInUse(admission, findings);
  await checkUsers(admission, lookups, findings);
  return findings;
}
