/**
 * An in-memory {@link Dataset} over packed u8 pixels, used by the CIFAR-10 and IDX loaders.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import type { Sample } from "./dataset.ts";
import { DatasetBase } from "./_dataset_base.ts";
import { plural } from "../_format.ts";

/** Construction options of {@link ArrayDataset}. */
export interface ArrayDatasetOptions {
  /** `count × height × width × storedChannels` bytes, HWC per image. */
  pixels: Uint8Array;
  /** One label per image. */
  labels: ArrayLike<number>;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** 3 for RGB storage, 1 for greyscale storage (expanded to RGB by `get`). Default 3. */
  storedChannels?: 1 | 3;
  /** Class names; `numClasses` is their count. */
  classNames: readonly string[];
  /** Used in error messages (e.g. the file the data came from). */
  source?: string;
}

const ARRAY_DATASET_OPTIONS = optionNames<ArrayDatasetOptions>({
  pixels: true,
  labels: true,
  height: true,
  width: true,
  storedChannels: true,
  classNames: true,
  source: true,
});

/**
 * A dataset held in one packed byte array. RGB samples are returned as zero-copy views;
 * greyscale storage (one byte per pixel, a third of the memory) is expanded to RGB on `get`.
 *
 * @example
 * ```ts
 * import { ArrayDataset } from "./array_dataset.ts";
 * const ds = new ArrayDataset({
 *   pixels: new Uint8Array(2 * 4 * 4 * 3),
 *   labels: [0, 1],
 *   height: 4,
 *   width: 4,
 *   classNames: ["a", "b"],
 * });
 * console.assert(ds.get(1).label === 1);
 * ```
 *
 * @example Greyscale storage comes back as RGB
 * ```ts
 * import { ArrayDataset } from "./array_dataset.ts";
 * const ds = new ArrayDataset({
 *   pixels: new Uint8Array([9]), labels: [0], height: 1, width: 1,
 *   storedChannels: 1, classNames: ["x"],
 * });
 * console.assert(ds.get(0).pixels.join() === "9,9,9");
 * ```
 */
export class ArrayDataset extends DatasetBase {
  /** Bytes per stored image. */
  readonly #stride: number;
  readonly #stored: 1 | 3;
  readonly #pixels: Uint8Array;
  readonly #labels: Int32Array;

  /** Checks the sizes and labels; keeps `pixels` as is (not copied). */
  constructor(options: ArrayDatasetOptions) {
    checkOptions("ArrayDataset", options, ARRAY_DATASET_OPTIONS, true);
    const { pixels, labels, height, width, classNames } = options;
    const stored = options.storedChannels ?? 3;
    const where = options.source ? ` (${options.source})` : "";
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
      throw new RangeError(`ArrayDataset: bad image size ${height}×${width}${where}`);
    }
    if (stored !== 1 && stored !== 3) {
      throw new RangeError(`ArrayDataset: storedChannels must be 1 or 3${where}`);
    }
    if (!(pixels instanceof Uint8Array)) {
      // Float images in [0, 1] (a PyTorch habit) were taken as bytes: all but black and white
      // truncated to 0 when a batch gathered them, and the model trained on nothing.
      const kind = (pixels as object)?.constructor?.name ?? typeof pixels;
      throw new TypeError(
        `ArrayDataset: pixels must be a Uint8Array of bytes (0–255, HWC), got a ${kind}` +
          `${where}: scale float images by 255 and round them into one`,
      );
    }
    if (classNames.length < 1) throw new RangeError(`ArrayDataset: no class names${where}`);
    const stride = height * width * stored;
    if (pixels.length !== labels.length * stride) {
      // Greyscale bytes given as RGB (or the reverse) fit the other channel count exactly.
      const other = 4 - stored;
      const hint = pixels.length === labels.length * height * width * other
        ? `: they hold ${height}×${width}×${other} images, so pass storedChannels: ${other}`
        : "";
      throw new RangeError(
        `ArrayDataset: ${pixels.length} pixel bytes do not hold ` +
          `${plural(labels.length, "image")} of ${height}×${width}×${stored}${where}${hint}`,
      );
    }
    const lab = new Int32Array(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (!Number.isInteger(l) || l < 0 || l >= classNames.length) {
        throw new RangeError(
          `ArrayDataset: label ${l} of sample ${i} is outside [0, ${classNames.length})${where}`,
        );
      }
      lab[i] = l;
    }
    super({ name: "ArrayDataset", length: labels.length, classNames, height, width });
    this.#stride = stride;
    this.#stored = stored;
    this.#pixels = pixels;
    this.#labels = lab;
  }

  /** The stored label, without the pixels. */
  protected override labelAt(index: number): number {
    return this.#labels[index];
  }

  /** A view of the stored pixels, or (greyscale storage) their RGB expansion. */
  protected sample(index: number): Sample {
    const start = index * this.#stride;
    const src = this.#pixels.subarray(start, start + this.#stride);
    if (this.#stored === 3) return { pixels: src, label: this.#labels[index] };
    const rgb = new Uint8Array(src.length * 3);
    for (let i = 0, j = 0; i < src.length; i++, j += 3) {
      const v = src[i];
      rgb[j] = v;
      rgb[j + 1] = v;
      rgb[j + 2] = v;
    }
    return { pixels: rgb, label: this.#labels[index] };
  }
}
