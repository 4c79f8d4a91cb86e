import { cidrContains, compareIps, formatIp, parseCidr } from '../../lib/api/ip.js';
import { HOST_CONFIG_NAME, loginWalletOf, type HostConfig, type VM } from '../../lib/api/v1alpha1/index.js';
import type { Lookups } from '../lookups.js';
import { inRange } from '../network.js';
import { backendImages, changed, noFindings, type Admission, type Findings } from './findings.js';

const HOST = `HostConfig "${HOST_CONFIG_NAME}"`;

/**
 * A VM must run on the host's backend, from an image that backend lists, at addresses from the
 * host's pools that no other VM uses, for a Subscription that exists. A subscription's VM logs in
 * the Subscription's holder and nobody else: its owner wallet and NFT follow the Subscription, so
 * no writer of VMs (the web server patches them for the dashboard's actions) can hand its login
 * to another wallet. Only what the write changes is checked.
 */
export async function validateVm(admission: Admission<VM>, lookups: Lookups): Promise<Findings> {
  const findings = noFindings();
  const { spec, metadata } = admission.object;
  const needsHost =
    changed(admission, (v) => [v.spec.backend, v.spec.image]) ||
    changed(admission, (v) => v.spec.network?.ipv4) ||
    changed(admission, (v) => v.spec.network?.ipv6);
  if (needsHost) {
    const host = await lookups.hostConfig();
    if (!host) {
      findings.errors.push({
        path: 'spec.backend',
        message: `no ${HOST} exists yet: VMs run on the backend it configures`,
        reason: 'FieldValueNotFound',
      });
    } else {
      if (changed(admission, (v) => [v.spec.backend, v.spec.image])) checkBackend(spec, host, findings);
      if (spec.network?.ipv4 && changed(admission, (v) => v.spec.network?.ipv4))
        checkIpv4(spec.network.ipv4, host, findings);
      if (spec.network?.ipv6 && changed(admission, (v) => v.spec.network?.ipv6))
        checkIpv6(spec.network.ipv6, host, findings);
    }
    for (const family of ['ipv4', 'ipv6'] as const) {
      const address = spec.network?.[family];
      if (address && changed(admission, (v) => v.spec.network?.[family]))
        await checkAddressFree(admission.object, family, address, lookups, findings);
    }
  }
  if (
    spec.subscriptionRef &&
    changed(admission, (v) => [v.spec.ownerWallet, v.spec.nftTokenId, v.spec.cloudInit?.gecos])
  ) {
    await checkLoginFollowsSubscription(admission.object, lookups, findings);
  }
  const oldRef = admission.oldObject?.spec.subscriptionRef?.name;
  const ref = spec.subscriptionRef?.name;
  if (oldRef !== undefined && ref !== oldRef) {
    findings.errors.push({
      path: 'spec.subscriptionRef',
      message: `is immutable once set: the VM serves Subscription "${oldRef}"`,
      reason: 'FieldValueForbidden',
    });
  } else if (ref !== undefined && oldRef === undefined) {
    const namespace = metadata.namespace ?? '';
    if (!(await lookups.subscription(namespace, ref))) {
      findings.errors.push({
        path: 'spec.subscriptionRef.name',
        message: `no Subscription "${ref}" in namespace "${namespace}"`,
        reason: 'FieldValueNotFound',
      });
    }
  }
  return findings;
}

/** The VM controller claims explicit addresses too; refusing here says why before anything boots. */
async function checkAddressFree(
  vm: VM,
  family: 'ipv4' | 'ipv6',
  address: string,
  lookups: Lookups,
  findings: Findings,
): Promise<void> {
  const same = (other: string | undefined) => other !== undefined && compareIps(other, address) === 0;
  const user = (await lookups.vms()).find(
    (other) =>
      !(other.metadata.namespace === vm.metadata.namespace && other.metadata.name === vm.metadata.name) &&
      (same(other.spec.network?.[family]) || same(other.status?.addresses?.[family])),
  );
  if (user)
    findings.errors.push({
      path: `spec.network.${family}`,
      message: `${address} is in use by VM ${user.metadata.namespace}/${user.metadata.name}`,
      reason: 'FieldValueForbidden',
    });
}

async function checkLoginFollowsSubscription(vm: VM, lookups: Lookups, findings: Findings): Promise<void> {
  const namespace = vm.metadata.namespace ?? '';
  const name = vm.spec.subscriptionRef!.name;
  const subscription = await lookups.subscription(namespace, name);
  if (!subscription) return; // the subscriptionRef check reports it
  const holder = loginWalletOf(subscription.spec);
  if (vm.spec.ownerWallet.toLowerCase() !== holder.toLowerCase())
    findings.errors.push({
      path: 'spec.ownerWallet',
      message: `must be ${holder}, the login wallet of Subscription "${name}" (its NFT holder, else its subscriber)`,
      reason: 'FieldValueForbidden',
    });
  // Before the mint nothing is known yet; the subscription controller sets the minted one.
  const tokenId = subscription.spec.credential?.tokenId ?? subscription.status?.nft?.tokenId;
  if (tokenId !== undefined && vm.spec.nftTokenId !== undefined && vm.spec.nftTokenId !== tokenId)
    findings.errors.push({
      path: 'spec.nftTokenId',
      message: `must be ${tokenId}, the NFT of Subscription "${name}"`,
      reason: 'FieldValueForbidden',
    });
  if (vm.spec.cloudInit?.gecos !== undefined)
    findings.errors.push({
      path: 'spec.cloudInit.gecos',
      message: `must not be set on a subscription's VM: its GECOS names the Subscription's login wallet and NFT`,
      reason: 'FieldValueForbidden',
    });
}

function checkBackend(spec: VM['spec'], host: HostConfig, findings: Findings): void {
  const hostType = host.spec.backend.type;
  if (spec.backend !== hostType) {
    findings.errors.push({
      path: 'spec.backend',
      message: `must be ${hostType}, the backend of ${HOST} (spec.backend.type)`,
    });
    return;
  }
  const images = backendImages(host, hostType);
  if (!images) {
    findings.errors.push({
      path: 'spec.backend',
      message: `${HOST} has no spec.backend.${hostType} settings to run it with`,
      reason: 'FieldValueNotFound',
    });
  } else if (!images.includes(spec.image)) {
    findings.errors.push({
      path: 'spec.image',
      message: `must be one of the images of ${HOST} spec.backend.${hostType}.images: ${images.join(', ')}`,
      reason: 'FieldValueNotFound',
    });
  }
}

function checkIpv4(address: string, host: HostConfig, findings: Findings): void {
  const { start, end, gateway } = host.spec.ipv4Pool;
  if (!inRange(address, start, end) || address === gateway) {
    findings.errors.push({
      path: 'spec.network.ipv4',
      message: `must be inside the pool of ${HOST} spec.ipv4Pool (${start}-${end}, not the gateway ${gateway})`,
    });
  }
}

/** The prefix VMs take /128s from, chosen as the VM controller chooses it: in use (status), else manual. */
function ipv6Prefix(host: HostConfig): string | undefined {
  return host.status?.ipv6Prefix ?? (host.spec.ipv6?.mode === 'manual' ? host.spec.ipv6.prefix : undefined);
}

function checkIpv6(address: string, host: HostConfig, findings: Findings): void {
  const prefix = ipv6Prefix(host);
  if (!prefix) {
    if ((host.spec.ipv6?.mode ?? 'none') === 'none') {
      findings.errors.push({
        path: 'spec.network.ipv6',
        message: `must not be set: ${HOST} has spec.ipv6.mode none and no IPv6 prefix`,
        reason: 'FieldValueForbidden',
      });
    } else {
      findings.warnings.push(
        `spec.network.ipv6 was not checked: ${HOST} has no IPv6 prefix leased from the broker yet`,
      );
    }
    return;
  }
  const cidr = parseCidr(prefix)!;
  // INTEROP §5: network + 1 is the gateway, so VMs start at network + 2.
  const gateway = formatIp({ value: cidr.value + 1n, bits: 128 });
  const network = formatIp({ value: cidr.value, bits: 128 });
  if (!cidrContains(prefix, address) || compareIps(address, gateway)! <= 0) {
    findings.errors.push({
      path: 'spec.network.ipv6',
      message: `must be inside the IPv6 prefix ${prefix} of ${HOST}, above its network ${network} and gateway ${gateway}`,
    });
  }
}
