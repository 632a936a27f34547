/**
 * A small, fast, seedable pseudo-random number generator (xoshiro128**) whose whole state is
 * four 32-bit words, so that it can be saved with {@link Rng.state} and put back with
 * {@link Rng.restore} (for example in a training checkpoint).
 *
 * @module
 */

/** The serialisable state of an {@link Rng}: the four 32-bit words of xoshiro128**. */
export type RngState = readonly [number, number, number, number];

const TWO_POW_32 = 4294967296;

/** A 32-bit finaliser (from MurmurHash3 / splitmix) that spreads every input bit. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * xoshiro128** pseudo-random generator, seeded from any number of integer words (a seed and,
 * optionally, stream coordinates such as epoch and batch index), so independent streams can be
 * derived without sharing state.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(42, 7); // seed 42, stream 7
 * const saved = rng.state();
 * const a = rng.next();
 * rng.restore(saved);
 * console.assert(rng.next() === a);
 * ```
 */
export class Rng {
  readonly #s = new Uint32Array(4);

  /** Seeds the generator from one or more finite integers (each may be up to 2^53 in size). */
  constructor(seed: number, ...stream: number[]) {
    let h = 0x9e3779b9;
    for (const word of [seed, stream.length, ...stream]) {
      if (!Number.isSafeInteger(word)) {
        throw new RangeError(`Rng seed words must be safe integers, got ${word}`);
      }
      const lo = word >>> 0;
      const hi = Math.floor(word / TWO_POW_32) >>> 0;
      h = mix32(h ^ lo);
      h = mix32((h + 0x6d2b79f5) ^ hi);
    }
    // splitmix32 to fill the four state words.
    const next = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      return mix32(h);
    };
    const s = this.#s;
    s[0] = next();
    s[1] = next();
    s[2] = next();
    s[3] = next();
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  }

  /**
   * Returns a copy of the generator's state (plain numbers, JSON-serialisable).
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const json = JSON.stringify(new Rng(1).state());
   * ```
   */
  state(): RngState {
    const s = this.#s;
    return [s[0], s[1], s[2], s[3]];
  }

  /**
   * Puts back a state returned by {@link Rng.state}; the generator then continues exactly as
   * the one that state was taken from.
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const r = new Rng(1);
   * r.restore(new Rng(2).state());
   * ```
   */
  restore(state: RngState): void {
    if (!Array.isArray(state) || state.length !== 4) {
      throw new TypeError("Rng.restore: state must be an array of four 32-bit integers");
    }
    for (const w of state) {
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
        throw new RangeError(`Rng.restore: state word ${w} is not a 32-bit unsigned integer`);
      }
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) {
      throw new RangeError("Rng.restore: the all-zero state is invalid for xoshiro128**");
    }
    this.#s.set(state);
  }

  /**
   * The next 32-bit unsigned integer.
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const word = new Rng(3).nextU32(); // 0 ≤ word < 2^32
   * ```
   */
  nextU32(): number {
    const s = this.#s;
    const s1 = s[1];
    const r = Math.imul(s1, 5);
    const result = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s[2] ^= s[0];
    s[3] ^= s1;
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    const s3 = s[3];
    s[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  /**
   * A uniform float in [0, 1) with 32 random bits.
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const u = new Rng(4).next();
   * ```
   */
  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /**
   * A uniform integer in [0, n) for 1 ≤ n ≤ 2^32.
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const die = 1 + new Rng(5).int(6);
   * ```
   */
  int(n: number): number {
    if (!(n >= 1 && n <= TWO_POW_32) || !Number.isInteger(n)) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /**
   * Shuffles `items` in place and returns them: Fisher–Yates, drawing `int(i + 1)` for each
   * index `i` from the last down to 1 (the data loader's epoch orders and the balanced subsets
   * both come from it).
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * console.log(new Rng(7).shuffle([1, 2, 3, 4])); // the same order for every Rng(7)
   * ```
   */
  shuffle<T extends { length: number; [index: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swapped = items[i];
      items[i] = items[j];
      items[j] = swapped;
    }
    return items;
  }

  /**
   * A uniform float in [lo, hi).
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const angle = new Rng(6).uniform(-Math.PI, Math.PI);
   * ```
   */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /**
   * A normally distributed float with the given mean and standard deviation (Box–Muller; one
   * draw consumes two 32-bit words and nothing is cached, so the state is all there is).
   *
   * @example
   * ```ts
   * import { Rng } from "./rng.ts";
   * const alpha = new Rng(7).normal(0, 0.1);
   * ```
   */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.next(); // (0, 1]
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
