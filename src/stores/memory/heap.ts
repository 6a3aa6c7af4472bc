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

/**
 * Keeps the `k` smallest of the items offered, by `compare`: a max-heap of the `k` smallest seen so far, so
 * that choosing a page of `k` out of `n` items costs `n` comparisons (and `log k` more per item that enters
 * the heap) instead of a sort of all `n`. `compare` must be a total order (no two items equal) for
 * {@link Smallest.sorted} to be what a full sort's first `k` would be.
 */
export class Smallest<T> {
  private readonly h: T[] = [];

  constructor(
    private readonly k: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  offer(x: T): void {
    const { h, k, compare } = this;
    if (h.length < k) {
      // Sift up.
      let i = h.length;
      h.push(x);
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (compare(h[p]!, x) >= 0) break;
        h[i] = h[p]!;
        i = p;
      }
      h[i] = x;
    } else if (k > 0 && compare(x, h[0]!) < 0) {
      // Replaces the largest; sift down.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= k) break;
        const r = l + 1;
        const c = r < k && compare(h[r]!, h[l]!) > 0 ? r : l;
        if (compare(h[c]!, x) <= 0) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = x;
    }
  }

  /** The items kept, smallest first. */
  sorted(): T[] {
    return this.h.slice().sort(this.compare);
  }
}
