/**
 * The built-in default dataset: procedurally drawn shapes and textures, generated
 * deterministically from a seed, needing no download.
 *
 * Each image shows one foreground figure of its class at a random position, scale and
 * (small) rotation, in a random colour, on a random two-colour gradient background with
 * random per-pixel noise. Foreground and background colours are drawn identically for every
 * class (only kept apart enough to be visible), so colour statistics carry no class
 * information: a network has to learn spatial features.
 *
 * Sample `i` is drawn from its own generator seeded by `(seed, split, i)`, so any sample can
 * be produced on its own, in any order, always with the same pixels. Labels cycle through the
 * classes (`label = i mod classes`), so the classes are balanced.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import type { DataFormat, DataSource } from "./data_format.ts";
import type { Sample } from "./dataset.ts";
import { DatasetBase } from "./_dataset_base.ts";
import { Rng } from "./rng.ts";
import { drawSynthetic } from "./_synthetic_draw.ts";

/** The ten synthetic classes, indexed by label. */
export const SYNTHETIC_CLASS_NAMES: readonly string[] = Object.freeze([
  "circle",
  "square",
  "triangle",
  "cross",
  "ring",
  "horizontal_stripes",
  "vertical_stripes",
  "checkerboard",
  "diagonal_line",
  "two_dots",
]);

/** Options of {@link SyntheticDataset}. */
export interface SyntheticOptions {
  /** Number of samples. */
  count: number;
  /** Image side in pixels (square images); default 32, at least 8. */
  size?: number;
  /** Seed; default 0. */
  seed?: number;
  /** Stream id, mixed into the seed (`syntheticSplits` uses 0 for train, 1 for val). */
  split?: number;
  /** Use only the first `classes` classes (2–10); default 10. */
  classes?: number;
  /** Keep generated samples in memory (count × size² × 3 bytes); default true. */
  cache?: boolean;
}

const SYNTHETIC_OPTIONS = optionNames<SyntheticOptions>({
  count: true,
  size: true,
  seed: true,
  split: true,
  classes: true,
  cache: true,
});

/**
 * A deterministic synthetic dataset of shapes and textures (see the module doc).
 *
 * @example
 * ```ts
 * import { SyntheticDataset } from "./synthetic.ts";
 * const ds = new SyntheticDataset({ count: 1000, size: 32, seed: 1 });
 * const { pixels, label } = ds.get(0); // pixels: 32×32×3 u8 HWC
 * ```
 *
 * @example Labels cycle through the classes
 * ```ts
 * import { SyntheticDataset } from "./synthetic.ts";
 * const ds = new SyntheticDataset({ count: 10 });
 * console.assert(ds.get(3).label === 3);
 * ```
 */
export class SyntheticDataset extends DatasetBase {
  /** The seed the samples are drawn from. */
  readonly seed: number;
  /** The stream id mixed into the seed. */
  readonly split: number;
  #cache: Uint8Array | null = null;
  #done: Uint8Array | null = null;
  readonly #useCache: boolean;

  /** Checks the options; draws nothing until a sample is asked for. */
  constructor(options: SyntheticOptions) {
    checkOptions("SyntheticDataset", options, SYNTHETIC_OPTIONS, true);
    const { count, size = 32, seed = 0, split = 0, classes = 10 } = options;
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`SyntheticDataset: count must be a non-negative integer, got ${count}`);
    }
    if (!Number.isInteger(size) || size < 8 || size > 4096) {
      throw new RangeError(`SyntheticDataset: size must be an integer in [8, 4096], got ${size}`);
    }
    if (!Number.isInteger(classes) || classes < 2 || classes > SYNTHETIC_CLASS_NAMES.length) {
      throw new RangeError(
        `SyntheticDataset: classes must be an integer in [2, 10], got ${classes}`,
      );
    }
    if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(split)) {
      throw new RangeError("SyntheticDataset: seed and split must be safe integers");
    }
    const classNames = SYNTHETIC_CLASS_NAMES.slice(0, classes);
    super({ name: "SyntheticDataset", length: count, classNames, height: size, width: size });
    this.seed = seed;
    this.split = split;
    this.#useCache = options.cache ?? true;
  }

  /** Labels cycle through the classes. */
  protected override labelAt(index: number): number {
    return index % this.numClasses;
  }

  /** The sample at `index`, generated on first use (and cached unless `cache: false`). */
  protected sample(index: number): Sample {
    const label = index % this.numClasses;
    if (!this.#useCache) {
      const pixels = new Uint8Array(this.sampleBytes);
      drawSynthetic(pixels, 0, this.height, label, new Rng(this.seed, this.split, index));
      return { pixels, label };
    }
    if (this.#cache === null || this.#done === null) {
      this.#cache = new Uint8Array(this.length * this.sampleBytes);
      this.#done = new Uint8Array(this.length);
    }
    const start = index * this.sampleBytes;
    if (this.#done[index] === 0) {
      drawSynthetic(this.#cache, start, this.height, label, new Rng(this.seed, this.split, index));
      this.#done[index] = 1;
    }
    return { pixels: this.#cache.subarray(start, start + this.sampleBytes), label };
  }
}

/** Options of {@link syntheticSplits}. */
export interface SyntheticSplitOptions {
  /** Training images. */
  trainSize: number;
  /** Validation images. */
  valSize: number;
  /** Image side in pixels; default 32. */
  size?: number;
  /** Seed; default 0. */
  seed?: number;
  /** Number of classes (2–10); default 10. */
  classes?: number;
  /** See {@link SyntheticOptions.cache}; default true. */
  cache?: boolean;
}

/**
 * Disjoint train and validation synthetic datasets: the same seed with split ids 0 (train)
 * and 1 (val), so no validation image is a training image.
 *
 * @example
 * ```ts
 * import { syntheticSplits } from "./synthetic.ts";
 * const { train, val } = syntheticSplits({ trainSize: 5000, valSize: 1000, size: 32, seed: 7 });
 * ```
 */
export function syntheticSplits(
  options: SyntheticSplitOptions,
): { train: SyntheticDataset; val: SyntheticDataset } {
  const { trainSize, valSize, size = 32, seed = 0, classes = 10, cache = true } = options;
  return {
    train: new SyntheticDataset({ count: trainSize, size, seed, split: 0, classes, cache }),
    val: new SyntheticDataset({ count: valSize, size, seed, split: 1, classes, cache }),
  };
}

/**
 * The built-in synthetic shapes as a data format. It recognises no folder: a source names it,
 * `{ kind: "synthetic", trainSize, valSize, size, seed }` (the {@link SyntheticSplitOptions}).
 *
 * @example
 * ```ts
 * import { syntheticFormat } from "./synthetic.ts";
 * const splits = await syntheticFormat.load({ kind: "synthetic", trainSize: 8, valSize: 4, size: 8 });
 * console.log(splits.description);
 * ```
 */
export const syntheticFormat: DataFormat = {
  kind: "synthetic",
  looksFor: "",
  detect() {
    return Promise.resolve(null);
  },
  load(source) {
    const { trainSize, valSize, size = 32, seed = 0, classes = 10 } = source as
      & DataSource
      & SyntheticSplitOptions;
    const { train, val } = syntheticSplits({ trainSize, valSize, size, seed, classes });
    return Promise.resolve({
      train,
      val,
      description: `synthetic shapes, ${trainSize} train / ${valSize} val, ${size}×${size}, ` +
        `${classes} classes`,
    });
  },
};
