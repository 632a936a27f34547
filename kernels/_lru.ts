/**
 * The one bound every cache of a device shares: a map that keeps its most recently used
 * entries up to a capacity and hands the least recently used one to its owner when it must
 * make room. A long run meets ever-new keys (a learning rate per step, a batch size per
 * evaluation, a new model's shapes); kept forever, each would hold GPU memory for the life of
 * the device. The owner decides what an evicted value's release means (a GPU buffer is
 * destroyed only once no recorded command can still use it: see `GpuStream.afterSubmitted`).
 *
 * @module
 */

/**
 * A least-recently-used map of at most `capacity` entries; `evict` gets each value it drops.
 *
 * @example
 * ```ts
 * import { LruCache } from "./_lru.ts";
 * const dropped: string[] = [];
 * const cache = new LruCache<string, number>(2, (_, key) => dropped.push(key));
 * cache.set("a", 1);
 * cache.set("b", 2);
 * cache.get("a"); // "a" is now the most recently used
 * cache.set("c", 3);
 * console.log(dropped, cache.size); // ["b"] 2
 * ```
 */
export class LruCache<K, V> {
  /** The most entries kept. */
  readonly capacity: number;
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  #entries = new Map<K, V>();
  #evict: (value: V, key: K) => void;

  /** An empty cache of at most `capacity` (≥ 1) entries. */
  constructor(capacity: number, evict: (value: V, key: K) => void = () => {}) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`a cache needs a capacity of at least 1 entry, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#evict = evict;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The value of `key`, which becomes the most recently used; undefined if absent. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Adds (or replaces) `key`; past the capacity the least recently used entry is evicted. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.capacity) {
      const [oldKey, oldValue] = this.#entries.entries().next().value!;
      this.#entries.delete(oldKey);
      this.#evict(oldValue, oldKey);
    }
  }

  /** The values, least recently used first. */
  values(): IterableIterator<V> {
    return this.#entries.values();
  }

  /** Forgets every entry without evicting (the owner releases them itself if it must). */
  clear(): void {
    this.#entries.clear();
  }
}
