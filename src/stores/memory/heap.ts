/**
 * A binary min-heap keyed by a number (epoch ms), for the memory store's due-job and pending-run indexes.
 * Entries are never removed from the middle: the store marks them stale and drops them when they reach the
 * top (lazy deletion), and rebuilds the heap when stale entries outnumber live ones.
 * @module
 */

/** One heap entry: a key and the item it belongs to. */
export interface HeapEntry<T> {
  key: number;
  item: T;
}

export class MinHeap<T> {
  private readonly a: HeapEntry<T>[] = [];

  get size(): number {
    return this.a.length;
  }

  push(key: number, item: T): void {
    const a = this.a;
    const entry = { key, item };
    let i = a.length;
    a.push(entry);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (parent.key <= key) break;
      a[i] = parent;
      i = p;
    }
    a[i] = entry;
  }

  /** The entry with the smallest key, left in place. */
  peek(): HeapEntry<T> | undefined {
    return this.a[0];
  }

  /** Removes and returns the entry with the smallest key. */
  pop(): HeapEntry<T> | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.key < a[l]!.key ? r : l;
      if (a[c]!.key >= last.key) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }

  /** Keeps only the entries for which `keep` holds, then restores the heap order (O(n)). */
  filter(keep: (entry: HeapEntry<T>) => boolean): void {
    const kept = this.a.filter(keep);
    this.a.length = 0;
    kept.sort((x, y) => x.key - y.key); // a sorted array is a valid heap
    for (const e of kept) this.a.push(e);
  }
}
