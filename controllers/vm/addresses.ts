import { formatIp, parseCidr, parseIp } from '../../lib/api/ip.js';
import type { VM } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { Informer } from '../../lib/runtime/informer.js';

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

export interface Claim extends KubeObject {
  data?: { address?: string; vm?: string };
}

/** A claim known before the cache shows it: being created, or created and not yet seen. */
interface LocalClaim {
  family: Family;
  address: string;
  uid: string;
}

/**
 * Race-free address claims: each address is a ConfigMap named after it, so creating it is an atomic
 * test-and-set in the API server; two VMs reconciled at once, even by two processes, can never get
 * the same address. All claims of the host live in one namespace (the controller's) because the
 * pool is shared by VMs of every namespace; so they cannot be owned by their VMs (owner references
 * do not cross namespaces) and the VM controller releases them in its finalizer instead. A retry
 * after a crash finds the claim the VM already holds instead of taking a second one.
 *
 * With `cache` (an informer of the claims, {@link AddressClaims.informerOptions}), the free address
 * is picked from the cache and from the claims this process is making or has just made, so
 * concurrent reconciles pick different addresses instead of all trying the same next one (a 409
 * storm), and a VM's recorded address that the cache shows it holding costs no request. The cache
 * only narrows the choice: the create stays the test-and-set, so a stale cache costs a retry with
 * the next address, never a shared one.
 */
export class AddressClaims {
  /** By claim name; an entry is dropped once the cache shows that claim, or on release. */
  private readonly local = new Map<string, LocalClaim>();

  constructor(
    private readonly kube: KubeClient,
    private readonly namespace: string,
    private readonly cache?: Informer<Claim>,
  ) {
    cache?.addHandlers({
      onAdd: (claim) => this.local.delete(claim.metadata.name!),
      onUpdate: (_, claim) => this.local.delete(claim.metadata.name!),
    });
  }

  /** What the claims informer of `namespace` watches. */
  static informerOptions(namespace: string): { namespace: string; labelSelector: string } {
    return { namespace, labelSelector: FAMILY_LABEL };
  }

  async claim(family: Family, vm: VM, candidates: Iterable<string>): Promise<string> {
    const uid = vm.metadata.uid!;
    const known = await this.known(family);
    const held = known.find((c) => c.uid === uid)?.address;
    if (held) return held;
    const taken = new Set(known.map((c) => c.address));
    for (const address of candidates) {
      // Claims started by other reconciles since `known` was read are taken too.
      if (taken.has(address) || this.local.has(claimName(family, address))) continue;
      if (await this.create(family, vm, address)) return address;
    }
    throw new Error(`the ${family} pool is exhausted: every address is claimed`);
  }

  /**
   * Claims `address` as given in the VM's spec (an explicit address, or one claimed before and
   * recorded). Returns false when another VM holds it: the caller must not boot with it.
   */
  async claimExact(family: Family, vm: VM, address: string): Promise<boolean> {
    const name = claimName(family, address);
    const mine = (claim: LocalClaim | undefined) =>
      claim?.uid === vm.metadata.uid && claim?.address === address;
    // Only "ours" is taken from the cache: "another VM's" is confirmed on the API server below.
    if (
      mine(this.local.get(name)) ||
      (this.cache?.hasSynced() && mine(toLocal(this.cache.get(`${this.namespace}/${name}`))))
    )
      return true;
    if (await this.create(family, vm, address)) return true;
    const held = await this.kube
      .get<Claim>(coreTypes.configMap, name, this.namespace)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined; // released in between: the next reconcile claims it
        throw error;
      });
    return mine(toLocal(held));
  }

  /** Frees every address `vm` holds; idempotent. */
  async release(vm: VM): Promise<void> {
    for (const [name, claim] of this.local) if (claim.uid === vm.metadata.uid) this.local.delete(name);
    for (const claim of await this.list(`${VM_UID_LABEL}=${vm.metadata.uid}`)) {
      await this.kube
        .delete(coreTypes.configMap, claim.metadata.name!, this.namespace)
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
    }
  }

  /** Creates the claim; false when the address is taken (AlreadyExists). */
  private async create(family: Family, vm: VM, address: string): Promise<boolean> {
    const name = claimName(family, address);
    const uid = vm.metadata.uid!;
    this.local.set(name, { family, address, uid });
    const claim: Claim = {
      metadata: {
        name,
        namespace: this.namespace,
        labels: { [FAMILY_LABEL]: family, [VM_UID_LABEL]: uid },
      },
      data: { address, vm: `${vm.metadata.namespace}/${vm.metadata.name}` },
    };
    try {
      const created = await this.kube.create(coreTypes.configMap, claim);
      // Kept until the cache shows it; without a cache (or if its watch event came first) not at all.
      if (!this.cache || this.cache.get(`${this.namespace}/${name}`)?.metadata.uid === created.metadata.uid)
        this.local.delete(name);
      return true;
    } catch (error) {
      if (this.local.get(name)?.uid === uid) this.local.delete(name);
      if (!isAlreadyExists(error)) throw error;
      return false;
    }
  }

  /** The family's claims: the cache's (once synced) or the API server's, and the ones in flight here. */
  private async known(family: Family): Promise<LocalClaim[]> {
    const stored = this.cache?.hasSynced() ? this.cache.list() : await this.list(`${FAMILY_LABEL}=${family}`);
    const claims = stored.map(toLocal).filter((c): c is LocalClaim => c?.family === family);
    return [...claims, ...[...this.local.values()].filter((c) => c.family === family)];
  }

  private async list(labelSelector: string): Promise<Claim[]> {
    const list = await this.kube.list<Claim>(coreTypes.configMap, {
      namespace: this.namespace,
      labelSelector,
    });
    return list.items;
  }
}

function toLocal(claim: Claim | undefined): LocalClaim | undefined {
  const family = claim?.metadata.labels?.[FAMILY_LABEL];
  const uid = claim?.metadata.labels?.[VM_UID_LABEL];
  const address = claim?.data?.address;
  if ((family !== 'ipv4' && family !== 'ipv6') || !uid || !address) return undefined;
  return { family, address, uid };
}
