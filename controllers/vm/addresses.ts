import { formatIp, parseCidr, parseIp } from '../../lib/api/ip.js';
import type { VM } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';

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

const FAMILY_LABEL = 'blockhost.io/address-family';
const VM_UID_LABEL = 'blockhost.io/vm-uid';

interface Claim extends KubeObject {
  data?: { address?: string; vm?: string };
}

/**
 * Race-free address claims: each address is a ConfigMap named after it, so creating it is an atomic
 * test-and-set in the API server; two VMs reconciled at once, even by two processes, can never get
 * the same address. All claims of the host live in one namespace (the controller's) because the
 * pool is shared by VMs of every namespace; so they cannot be owned by their VMs (owner references
 * do not cross namespaces) and the VM controller releases them in its finalizer instead. A retry
 * after a crash finds the claim the VM already holds instead of taking a second one.
 */
export class AddressClaims {
  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
  ) {}

  async claim(family: Family, vm: VM, candidates: Iterable<string>): Promise<string> {
    const claims = await this.list(`${FAMILY_LABEL}=${family}`);
    const held = claims.find((c) => c.metadata.labels?.[VM_UID_LABEL] === vm.metadata.uid)?.data?.address;
    if (held) return held;
    const taken = new Set(claims.map((c) => c.data?.address));
    for (const address of candidates) {
      if (taken.has(address)) continue;
      const claim: Claim = {
        metadata: {
          name: claimName(family, address),
          namespace: this.namespace,
          labels: { [FAMILY_LABEL]: family, [VM_UID_LABEL]: vm.metadata.uid! },
        },
        data: { address, vm: `${vm.metadata.namespace}/${vm.metadata.name}` },
      };
      try {
        await this.kube.create(coreTypes.configMap, claim);
        return address;
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
    throw new Error(`the ${family} pool is exhausted: every address is claimed`);
  }

  /**
   * Claims `address` as given in the VM's spec (an explicit address, or one claimed before and
   * recorded). Returns false when another VM holds it: the caller must not boot with it.
   */
  async claimExact(family: Family, vm: VM, address: string): Promise<boolean> {
    const name = claimName(family, address);
    const claim: Claim = {
      metadata: {
        name,
        namespace: this.namespace,
        labels: { [FAMILY_LABEL]: family, [VM_UID_LABEL]: vm.metadata.uid! },
      },
      data: { address, vm: `${vm.metadata.namespace}/${vm.metadata.name}` },
    };
    try {
      await this.kube.create(coreTypes.configMap, claim);
      return true;
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    const held = await this.kube
      .get<Claim>(coreTypes.configMap, name, this.namespace)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined; // released in between: the next reconcile claims it
        throw error;
      });
    return held?.metadata.labels?.[VM_UID_LABEL] === vm.metadata.uid && held?.data?.address === address;
  }

  /** Frees every address `vm` holds; idempotent. */
  async release(vm: VM): Promise<void> {
    for (const claim of await this.list(`${VM_UID_LABEL}=${vm.metadata.uid}`)) {
      await this.kube
        .delete(coreTypes.configMap, claim.metadata.name!, this.namespace)
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
    }
  }

  private async list(labelSelector: string): Promise<Claim[]> {
    const list = await this.kube.list<Claim>(coreTypes.configMap, {
      namespace: this.namespace,
      labelSelector,
    });
    return list.items;
  }
}
