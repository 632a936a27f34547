/**
 * What every in-tree {@link Dataset} shares: the size fields and the bounds check of `get`.
 * A dataset of one's own can extend {@link DatasetBase} too.
 *
 * @module
 */

import type { Dataset, Sample } from "./dataset.ts";

/** The fields a {@link DatasetBase} is built from. */
export interface DatasetShape {
  /** Names the class in messages, e.g. `ArrayDataset`. */
  name: string;
  /** The number of samples. */
  length: number;
  /** One name per class; `numClasses` is their count. */
  classNames: readonly string[];
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
}

/**
 * A dataset of `height × width` RGB images: subclasses implement {@link DatasetBase.sample},
 * which `get` calls once the index is known to be in range.
 *
 * @example
 * ```ts
 * import { DatasetBase } from "./_dataset_base.ts";
 * import type { Sample } from "./dataset.ts";
 * class Black extends DatasetBase {
 *   constructor() {
 *     super({ name: "Black", length: 2, classNames: ["black"], height: 1, width: 1 });
 *   }
 *   protected sample(): Sample {
 *     return { pixels: new Uint8Array(3), label: 0 };
 *   }
 * }
 * console.log(new Black().get(1).label); // 0
 * ```
 */
export abstract class DatasetBase implements Dataset {
  /** The number of samples. */
  readonly length: number;
  /** The number of classes. */
  readonly numClasses: number;
  /** One name per class, indexed by label. */
  readonly classNames: readonly string[];
  /** Channels of every sample: 3 (RGB). */
  readonly channels = 3;
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Bytes of one sample's `pixels`: `height · width · 3`. */
  protected readonly sampleBytes: number;
  readonly #name: string;

  /** Copies (and freezes) the class names. */
  protected constructor(shape: DatasetShape) {
    this.#name = shape.name;
    this.length = shape.length;
    this.classNames = Object.freeze([...shape.classNames]);
    this.numClasses = shape.classNames.length;
    this.height = shape.height;
    this.width = shape.width;
    this.sampleBytes = shape.height * shape.width * 3;
  }

  /** The sample at `index` (`0 ≤ index < length`); throws a RangeError outside. */
  get(index: number): Sample {
    this.#check("get", index);
    return this.sample(index);
  }

  /** The label of sample `index` (`0 ≤ index < length`), without its pixels where possible. */
  label(index: number): number {
    this.#check("label", index);
    return this.labelAt(index);
  }

  #check(method: string, index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`${this.#name}.${method}: index ${index} outside [0, ${this.length})`);
    }
  }

  /** The label at `index`, already checked; subclasses holding labels apart override it. */
  protected labelAt(index: number): number {
    return this.sample(index).label;
  }

  /** The sample at `index`, already checked to be in range. */
  protected abstract sample(index: number): Sample;
}
