/**
 * The dataset interface shared by every data source of the training pipeline.
 *
 * Images are kept compact as 8-bit RGB in HWC order (row by row, pixel by pixel, R G B);
 * conversion to float, cropping, flipping, colour noise and mean subtraction happen later,
 * batch by batch, in `augment.ts`.
 *
 * @module
 */

/** One labelled image. */
export interface Sample {
  /**
   * `height × width × 3` bytes, HWC order, RGB. May be a view into the dataset's own storage:
   * treat it as read-only.
   */
  readonly pixels: Uint8Array;
  /** The class index, in `[0, numClasses)`. */
  readonly label: number;
}

/**
 * A random-access collection of equally sized labelled RGB images.
 *
 * @example
 * ```ts
 * import type { Dataset } from "./dataset.ts";
 * function classHistogram(ds: Dataset): number[] {
 *   const counts = new Array<number>(ds.numClasses).fill(0);
 *   for (let i = 0; i < ds.length; i++) counts[ds.get(i).label]++;
 *   return counts;
 * }
 * ```
 */
export interface Dataset {
  /** The number of samples. */
  readonly length: number;
  /** The number of classes; every label lies in `[0, numClasses)`. */
  readonly numClasses: number;
  /** One human-readable name per class, indexed by label. */
  readonly classNames: readonly string[];
  /** Channels of every sample's `pixels`: always 3 (RGB). */
  readonly channels: number;
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** The sample at `index` (`0 ≤ index < length`); throws a RangeError outside. */
  get(index: number): Sample;
  /**
   * The label of sample `index`, without reading its pixels (optional: datasets kept on disk
   * offer it so that class counts and subsets do not read every image).
   */
  label?(index: number): number;
}
