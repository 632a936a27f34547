/**
 * The one bound every cache of a device shares. A long run meets ever-new keys (a learning
 * rate per step, a batch size per evaluation, a new model's shapes); kept forever, each would
 * hold memory for the life of the device. A {@link BoundedCache} keeps the recently used and
 * hands what it drops to its owner, who decides what releasing it means (a GPU buffer is
 * destroyed or reused only once no recorded command can still use it: see
 * `GpuStream.afterSubmitted`).
 *
 * @module
 */

/**
 * A map of at most `capacity` entries in two generations: new entries go into the young one;
 * when it holds half the capacity, the old generation is dropped (each value to `evict`) and
 * the young one becomes old. A hit in the young generation changes nothing (a lookup on the
 * hot path stays one `Map.get`); a hit in the old one moves the entry back to the young. So a
 * working set of up to half the capacity is never evicted, and an entry is dropped only after
 * a whole generation of other entries came in without it being used: about least recently
 * used, at the cost of a plain map lookup.
 *
 * @example
 * ```ts
 * import { BoundedCache } from "./_bounded_cache.ts";
 * const dropped: string[] = [];
 * const cache = new BoundedCache<string, number>(4, (_, key) => dropped.push(key));
 * for (const key of ["a", "b", "c"]) cache.set(key, 0); // "a" and "b" are the old generation
 * cache.get("a"); // used again: back in the young one
 * cache.set("d", 0); // the young generation is full: the old one ("b") goes
 * console.log(dropped, cache.size); // ["b"] 3
 * ```
 */
export class BoundedCache<K, V> {
  /** The most entries kept. */
  readonly capacity: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  #generation: number;
  #evict: (value: V, key: K) => void;

  /** An empty cache of at most `capacity` (≥ 2) entries. */
  constructor(capacity: number, evict: (value: V, key: K) => void = () => {}) {
    if (!Number.isInteger(capacity) || capacity < 2) {
      throw new RangeError(`a cache needs a capacity of at least 2 entries, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#generation = Math.floor(capacity / 2);
    this.#evict = evict;
  }

  /** Entries held. */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** The value of `key` (now counted as recently used), or undefined. */
  get(key: K): V | undefined {
    const value = this.#young.get(key);
    if (value !== undefined) return value;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      this.#add(key, old);
    }
    return old;
  }

  /** Adds `key` (absent: call after a missed {@link get}); may drop the old generation. */
  set(key: K, value: V): void {
    this.#add(key, value);
  }

  #add(key: K, value: V): void {
    if (this.#young.size >= this.#generation) {
      const dropped = this.#old;
      this.#old = this.#young;
      this.#young = new Map();
      for (const [k, v] of dropped) this.#evict(v, k);
    }
    this.#young.set(key, value);
  }

  /** Every value held. */
  *values(): IterableIterator<V> {
    yield* this.#old.values();
    yield* this.#young.values();
  }

  /** Forgets every entry without evicting (the owner releases them itself if it must). */
  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}
