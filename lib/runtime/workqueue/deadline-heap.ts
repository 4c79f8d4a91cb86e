interface Entry<K> {
  readonly key: K;
  readyAt: number;
  /** Insertion order, so keys with equal deadlines come out first-in, first-out. */
  readonly seq: number;
  index: number;
}

/** Keys waiting for a deadline, earliest first (a binary min-heap). Each key is held once. */
export class DeadlineHeap<K> {
  private readonly entries: Entry<K>[] = [];
  private readonly byKey = new Map<K, Entry<K>>();
  private nextSeq = 0;

  get size(): number {
    return this.entries.length;
  }

  /** Holds `key` until `readyAt`; a key already held keeps the earlier of its two deadlines. */
  schedule(key: K, readyAt: number): void {
    const existing = this.byKey.get(key);
    if (existing) {
      if (readyAt < existing.readyAt) {
        existing.readyAt = readyAt;
        this.siftUp(existing.index);
      }
      return;
    }
    const entry = { key, readyAt, seq: this.nextSeq++, index: this.entries.length };
    this.entries.push(entry);
    this.byKey.set(key, entry);
    this.siftUp(entry.index);
  }

  nextDeadline(): number | undefined {
    return this.entries[0]?.readyAt;
  }

  /** Removes and returns the keys whose deadline is at or before `now`, earliest first. */
  popDue(now: number): K[] {
    const due: K[] = [];
    for (let top = this.entries[0]; top && top.readyAt <= now; top = this.entries[0]) {
      this.removeTop();
      due.push(top.key);
    }
    return due;
  }

  clear(): void {
    this.entries.length = 0;
    this.byKey.clear();
  }

  private removeTop(): void {
    const top = this.entries[0];
    const last = this.entries.pop();
    if (!top || !last) return;
    this.byKey.delete(top.key);
    if (last === top) return;
    this.place(last, 0);
    this.siftDown(0);
  }

  private siftUp(index: number): void {
    const entry = this.at(index);
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.at(parentIndex);
      if (!this.before(entry, parent)) break;
      this.place(parent, index);
      index = parentIndex;
    }
    this.place(entry, index);
  }

  private siftDown(index: number): void {
    const entry = this.at(index);
    for (;;) {
      let smallest = entry;
      let smallestIndex = index;
      for (const childIndex of [2 * index + 1, 2 * index + 2]) {
        const child = this.entries[childIndex];
        if (child && this.before(child, smallest)) {
          smallest = child;
          smallestIndex = childIndex;
        }
      }
      if (smallest === entry) break;
      this.place(smallest, index);
      index = smallestIndex;
    }
    this.place(entry, index);
  }

  private before(a: Entry<K>, b: Entry<K>): boolean {
    return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
  }

  private place(entry: Entry<K>, index: number): void {
    this.entries[index] = entry;
    entry.index = index;
  }

  private at(index: number): Entry<K> {
    const entry = this.entries[index];
    if (!entry) throw new Error(`deadline heap has no entry at ${index}`);
    return entry;
  }
}
