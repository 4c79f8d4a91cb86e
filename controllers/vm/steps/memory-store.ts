import { isDeepStrictEqual } from 'node:util';
import type { VM, VMStatus } from '../../../lib/api/v1alpha1/index.js';
import type { Family } from '../addresses.js';
import { VM_FINALIZER } from './finalizer.js';
import type { AddressClaimer, VmStore } from './store.js';

/**
 * One VM object in memory with the API server's rules that the steps rely on: guarded writes fail
 * on a stale resourceVersion, each write bumps it, and removing the last finalizer of an object
 * being deleted deletes it. For unit tests of the steps; the controller uses kube-store.ts.
 */
export class MemoryVmStore implements VmStore {
  readonly events: { type: string; reason: string; note: string }[] = [];
  /** Status writes that changed something (what the API server would have been sent). */
  statusWrites = 0;
  private stored: VM | undefined;
  private version = 1;

  constructor(vm: VM) {
    this.stored = structuredClone({ ...vm, metadata: { ...vm.metadata, resourceVersion: '1' } });
  }

  /** The object as stored (undefined once deleted). */
  get vm(): VM | undefined {
    return this.stored && structuredClone(this.stored);
  }

  /** Edits the stored object as another writer would (a user, a restore that loses status). */
  edit(change: (vm: VM) => void): VM {
    const vm = this.current();
    change(vm);
    return this.save(vm);
  }

  async writeStatus(_vm: VM, mutate: (status: VMStatus) => VMStatus) {
    const vm = this.current();
    const next = mutate(structuredClone(vm.status ?? {}));
    // Compared as the API server would see them, in JSON (structuredClone under jest's VM modules
    // makes objects of another realm, which isDeepStrictEqual never finds equal).
    const asJson = (status: VMStatus) => JSON.parse(JSON.stringify(status)) as unknown;
    if (isDeepStrictEqual(asJson(next), asJson(vm.status ?? {}))) return vm;
    this.statusWrites += 1;
    return this.save({ ...vm, status: next });
  }

  async annotate(vm: VM, annotations: Record<string, string>) {
    const latest = this.guarded(vm);
    return this.save({
      ...latest,
      metadata: { ...latest.metadata, annotations: { ...latest.metadata.annotations, ...annotations } },
    });
  }

  async setNetwork(vm: VM, network: NonNullable<VM['spec']['network']>) {
    const latest = this.guarded(vm);
    return this.save({ ...latest, spec: { ...latest.spec, network } });
  }

  async ensureFinalizer(vm: VM) {
    const latest = this.guarded(vm);
    if (latest.metadata.finalizers?.includes(VM_FINALIZER)) return latest;
    return this.save({
      ...latest,
      metadata: { ...latest.metadata, finalizers: [...(latest.metadata.finalizers ?? []), VM_FINALIZER] },
    });
  }

  async removeFinalizer(vm: VM) {
    if (!this.stored) return;
    const latest = this.guarded(vm);
    const finalizers = (latest.metadata.finalizers ?? []).filter((f) => f !== VM_FINALIZER);
    if (finalizers.length === 0 && latest.metadata.deletionTimestamp) this.stored = undefined;
    else this.save({ ...latest, metadata: { ...latest.metadata, finalizers } });
  }

  async event(_vm: VM, type: string, reason: string, note: string) {
    this.events.push({ type, reason, note });
  }

  private current(): VM {
    if (!this.stored) throw new Error('the VM object is gone');
    return structuredClone(this.stored);
  }

  private guarded(vm: VM): VM {
    const latest = this.current();
    if (vm.metadata.resourceVersion !== latest.metadata.resourceVersion)
      throw new Error(`conflict: resourceVersion ${vm.metadata.resourceVersion} is stale`);
    return latest;
  }

  private save(vm: VM): VM {
    this.version += 1;
    this.stored = structuredClone({
      ...vm,
      metadata: { ...vm.metadata, resourceVersion: String(this.version) },
    });
    return structuredClone(this.stored);
  }
}

/** Address claims in memory: first free candidate per family, as AddressClaims hands them out. */
export class MemoryClaims implements AddressClaimer {
  private readonly holders = new Map<string, string>();

  async claim(family: Family, vm: VM, candidates: Iterable<string>): Promise<string> {
    for (const address of candidates) if (await this.claimExact(family, vm, address)) return address;
    throw new Error(`no free ${family} address`);
  }

  async claimExact(family: Family, vm: VM, address: string): Promise<boolean> {
    const key = `${family}/${address}`;
    const holder = this.holders.get(key);
    if (holder !== undefined && holder !== vm.metadata.uid) return false;
    this.holders.set(key, vm.metadata.uid!);
    return true;
  }

  async release(vm: VM): Promise<void> {
    for (const [key, uid] of this.holders) if (uid === vm.metadata.uid) this.holders.delete(key);
  }

  get claimed(): number {
    return this.holders.size;
  }
}
