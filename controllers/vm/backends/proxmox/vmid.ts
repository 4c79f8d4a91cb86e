export interface VmidRange {
  start: number;
  end: number;
}

/** The lowest VMID of `range` that is not in `taken`, or undefined when the range is full. */
export function pickVmid(range: VmidRange, taken: ReadonlySet<number>): number | undefined {
  for (let vmid = range.start; vmid <= range.end; vmid += 1) {
    if (!taken.has(vmid)) return vmid;
  }
  return undefined;
}

/**
 * VMIDs that creates of this process are cloning into. A VMID is taken between the listing of the
 * cluster's VMs and the clone call that makes it visible there; reserving it keeps concurrent creates
 * of one process apart. Other processes can still pick it: the clone then fails with "already exists"
 * and the loser tries the next one.
 */
export class VmidReservations {
  private readonly held = new Set<number>();

  /** Picks a VMID that is neither `inUse` nor reserved, and reserves it (no await in between). */
  reserve(range: VmidRange, inUse: Iterable<number>): number | undefined {
    const taken = new Set([...inUse, ...this.held]);
    const vmid = pickVmid(range, taken);
    if (vmid !== undefined) this.held.add(vmid);
    return vmid;
  }

  isReserved(vmid: number): boolean {
    return this.held.has(vmid);
  }

  release(vmid: number): void {
    this.held.delete(vmid);
  }
}
