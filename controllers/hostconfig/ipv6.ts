import type { HostConfigSpec } from '../../lib/api/v1alpha1/index.js';
import type { StepStatusFields } from './step.js';

export interface Ipv6Outcome {
  status: StepStatusFields;
  /** Shown in status.message; IPv6 never blocks Ready (VMs always get IPv4). */
  note?: string;
}

/** IPv6 for VMs: a manual prefix is used as given; broker leases do not exist yet, and say so. */
export function ipv6Outcome(ipv6: HostConfigSpec['ipv6']): Ipv6Outcome {
  switch (ipv6.mode) {
    case 'manual':
      return { status: { ipv6Prefix: ipv6.prefix } };
    case 'broker':
      return {
        status: { ipv6Prefix: undefined },
        note: 'IPv6 broker leases are not implemented yet: VMs get IPv4 only (use ipv6.mode manual with a routed prefix)',
      };
    default:
      return { status: { ipv6Prefix: undefined } };
  }
}
