import { cidrContains, compareIps, formatIp, parseCidr } from '../../lib/api/ip.js';
import { HOST_CONFIG_NAME, type HostConfig, type VM } from '../../lib/api/v1alpha1/index.js';
import type { Lookups } from '../lookups.js';
import { inRange } from '../network.js';
import { backendImages, changed, noFindings, type Admission, type Findings } from './findings.js';

const HOST = `HostConfig "${HOST_CONFIG_NAME}"`;

/**
 * A VM must run on the host's backend, from an image that backend lists, at addresses from the
 * host's pools, for a Subscription that exists. Only what the write changes is checked.
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
