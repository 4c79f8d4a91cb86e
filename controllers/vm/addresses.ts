import { formatIp, parseCidr, parseIp } from '../../lib/api/ip.js';
import type { VM } from '../../lib/api/v1alpha1/index.js';
import { blockhostTypes } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { setControllerReference } from '../../lib/runtime/owners.js';

export type Family = 'ipv4' | 'ipv6';

/** Every usable IPv4 of the pool, start to end, skipping the gateway (any prefix length). */
export function* ipv4Candidates(pool: { start: string; end: string; gateway: string }): Generator<string> {
  const start = parseIp(pool.start);
  const end = parseIp(pool.end);
  if (!start || !end || start.bits !== 32 || end.bits !== 32)
    throw new Error(`invalid IPv4 pool ${pool.start}-${pool.end}`);
  for (let value = start.value; value <= end.value; value += 1n) {
    const text = formatIp({ value, bits: 32 });
    if (text !== pool.gateway) yield text;
  }
}

/** /128s of the prefix from network + 2 (network + 1 is the gateway, INTEROP §5), at most `limit`. */
export function* ipv6Candidates(prefix: string, limit = 65_536): Generator<string> {
  const cidr = parseCidr(prefix);
  if (!cidr || cidr.bits !== 128) throw new Error(`invalid IPv6 prefix ${prefix}`);
  const size = 1n << BigInt(128 - cidr.prefix);
  for (let offset = 2n; offset < size && offset < BigInt(limit) + 2n; offset += 1n) {
    yield formatIp({ value: cidr.value + offset, bits: 128 });
  }
}

const claimName = (family: Family, address: string) =>
  `blockhost-${family}-${address.toLowerCase().replace(/[.:]/g, '-')}`;

interface Claim extends KubeObject {
  data?: { address?: string; vm?: string };
}

/**
 * Race-free address claims: each address is a ConfigMap named after it, so creating it is an atomic
 * test-and-set in the API server; two VMs reconciled at once can never get the same address. A claim
 * is owned by its VM, so garbage collection frees it when the VM is deleted. A retry after a crash
 * finds the claim the VM already holds instead of taking a second one.
 */
export class AddressClaims {
  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
  ) {}

  async claim(family: Family, vm: VM, candidates: Iterable<string>): Promise<string> {
    const held = await this.held(family, vm);
    if (held) return held;
    for (const address of candidates) {
      const claim: Claim = {
        metadata: {
          name: claimName(family, address),
          namespace: this.namespace,
          labels: { 'blockhost.io/address-family': family, 'blockhost.io/vm': vm.metadata.name! },
        },
        data: { address, vm: vm.metadata.name! },
      };
      setControllerReference(claim, vm, blockhostTypes.vm);
      try {
        await this.kube.create(coreTypes.configMap, claim);
        return address;
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
    throw new Error(`the ${family} pool is exhausted: every address is claimed`);
  }

  private async held(family: Family, vm: VM): Promise<string | undefined> {
    const list = await this.kube.list<Claim>(coreTypes.configMap, {
      namespace: this.namespace,
      labelSelector: `blockhost.io/address-family=${family},blockhost.io/vm=${vm.metadata.name}`,
    });
    return list.items.find((c) => c.metadata.ownerReferences?.some((o) => o.uid === vm.metadata.uid))?.data
      ?.address;
  }
}
