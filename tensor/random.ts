/**
 * Seeded random tensors. A {@link Generator} is a Philox key plus a counter: each draw takes
 * the next block of counters, so a sequence of draws is reproducible from the seed alone and
 * its state (two numbers) can be checkpointed and restored.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { type Distribution, random, type RandomStream } from "./_primitives.ts";
import { currentDevice } from "./default_device.ts";
import { numel, type Shape, validateShape } from "./shape.ts";
import { fromRaw, type Tensor } from "./tensor.ts";

export type { RandomStream } from "./_primitives.ts";

/** The serialisable state of a {@link Generator}. */
export interface GeneratorState {
  /** The seed. */
  seed: number;
  /** Philox counters consumed so far. */
  offset: number;
}

/**
 * A stream of random tensors.
 *
 * @example
 * ```ts
 * import { Generator } from "./random.ts";
 * import { defaultDevice } from "./default_device.ts";
 * await defaultDevice();
 * const g = new Generator(7);
 * const a = await g.normal([3]).data();
 * const b = await new Generator(7).normal([3]).data();
 * console.log(a.every((v, i) => v === b[i])); // true
 * ```
 */
export class Generator {
  #seed: number;
  #offset = 0;

  /** Starts a stream from `seed` (an integer below 2^53). */
  constructor(seed: number) {
    this.#seed = checkedSeed(seed);
  }

  /** The state to checkpoint. */
  state(): GeneratorState {
    return { seed: this.#seed, offset: this.#offset };
  }

  /** Restores a checkpointed state. */
  setState(state: GeneratorState): void {
    if (!Number.isSafeInteger(state?.offset) || state.offset < 0) {
      throw new RangeError(
        `Generator: the state's offset must be an integer ≥ 0, got ${state?.offset}`,
      );
    }
    this.#seed = checkedSeed(state.seed);
    this.#offset = state.offset;
  }

  /** Fills a new tensor from `dist` (i32 for integers, else f32). */
  #sample(
    shape: readonly number[],
    dist: Distribution,
    device: Device = currentDevice(),
  ): Tensor<Shape, "f32"> {
    validateShape(shape, "random");
    return fromRaw(random(device, shape, dist, this.reserve(numel(shape))));
  }

  /**
   * Takes the counters of a draw of `count` values (a quarter of them: each Philox call gives
   * four) and returns where the draw starts. Every draw of this generator goes through here;
   * a kernel that draws for itself (dropout) reserves its counters the same way.
   *
   * @example
   * ```ts
   * import { Generator } from "./random.ts";
   * const g = new Generator(5);
   * console.log(g.reserve(10)); // { seed: [5, 0], offset: 0 }
   * console.log(g.state()); // { seed: 5, offset: 3 }
   * ```
   */
  reserve(count: number): RandomStream {
    const seed: [number, number] = [this.#seed >>> 0, Math.floor(this.#seed / 2 ** 32) >>> 0];
    const stream = { seed, offset: this.#offset };
    this.#offset += Math.ceil(count / 4);
    return stream;
  }

  /** Normal draws with the given mean and standard deviation. */
  normal(shape: readonly number[], mean = 0, std = 1, device?: Device): Tensor<Shape, "f32"> {
    // As torch's normal_: a negative (or NaN) deviation is an error, not a mirrored draw.
    if (!(std >= 0) || Number.isNaN(mean)) {
      throw new RangeError(`normal: needs std ≥ 0 and a mean, got mean ${mean}, std ${std}`);
    }
    return this.#sample(shape, { kind: "normal", mean, std }, device);
  }

  /** Uniform draws in `[low, high)`. */
  uniform(shape: readonly number[], low = 0, high = 1, device?: Device): Tensor<Shape, "f32"> {
    // As torch's uniform_: an empty or inverted range is an error.
    if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high)) {
      throw new RangeError(`uniform: needs finite low ≤ high, got [${low}, ${high})`);
    }
    return this.#sample(shape, { kind: "uniform", low, high }, device);
  }

  /**
   * i32 integers in `[low, high)`, each exactly equally likely (Lemire's multiply and reject on
   * the Philox words), as `torch.randint`. `low < high`, both integers in `[−2³¹, 2³¹]`.
   *
   * @example
   * ```ts
   * import { Generator } from "./random.ts";
   * import { defaultDevice } from "./default_device.ts";
   * await defaultDevice();
   * const dice = await new Generator(1).integers([100], 1, 7).data();
   * console.log(dice.every((v) => v >= 1 && v <= 6)); // true
   * ```
   */
  integers(
    shape: readonly number[],
    low: number,
    high: number,
    device?: Device,
  ): Tensor<Shape, "i32"> {
    const inRange = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v <= 2 ** 31;
    if (!(inRange(low) && inRange(high) && low < high)) {
      throw new RangeError(
        `randint: needs integers low < high in [-2^31, 2^31], got [${low}, ${high})`,
      );
    }
    const draw = this.#sample(shape, { kind: "integer", low, high }, device);
    return draw as unknown as Tensor<Shape, "i32">;
  }

  /** `scale` with probability `p`, else 0. */
  bernoulli(shape: readonly number[], p: number, scale = 1, device?: Device): Tensor<Shape, "f32"> {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`bernoulli: p must be in [0, 1], got ${p}`);
    return this.#sample(shape, { kind: "bernoulli", p, scale }, device);
  }
}

/** `seed`, checked: an integer in [0, 2⁵³) (a fraction or NaN would seed a stream silently). */
function checkedSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`Generator: the seed must be an integer in [0, 2^53), got ${seed}`);
  }
  return seed;
}

let global = new Generator(0);

/**
 * Reseeds the global generator used by `randn`, `rand` and dropout.
 *
 * @example
 * ```ts
 * import { manualSeed } from "./random.ts";
 * manualSeed(42);
 * ```
 */
export function manualSeed(seed: number): Generator {
  global = new Generator(seed);
  return global;
}

/**
 * The global generator: the stream of `randn`, `rand` and dropout unless one is given.
 *
 * @example
 * ```ts
 * import { globalGenerator, manualSeed } from "../mod.ts";
 * manualSeed(3);
 * console.log(globalGenerator().state()); // { seed: 3, offset: 0 }
 * ```
 */
export function globalGenerator(): Generator {
  return global;
}
