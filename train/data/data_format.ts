/**
 * What a data format is to the training pipeline: a way to recognise a folder, and a way to
 * load a recognised folder as training and validation datasets. The registry of the formats
 * this package knows is `formats.ts`.
 *
 * @module
 */

import type { PcaNoiseOptions } from "./augment.ts";
import type { Dataset } from "./dataset.ts";

/**
 * Where a run's data comes from: a format's `kind` plus what its loader needs. It is plain
 * JSON, stored in a run's configuration so that a resumed run loads the same data.
 *
 * @example
 * ```ts
 * import type { DataSource } from "./data_format.ts";
 * const source: DataSource = { kind: "cifar10", dir: "/data/cifar-10-batches-bin" };
 * console.log(source.kind);
 * ```
 */
export interface DataSource {
  /** The format's {@link DataFormat.kind}. */
  kind: string;
  /** The (training) data folder, for formats read from disk. */
  dir?: string;
  /** A separate validation folder, for formats that keep it apart. */
  valDir?: string;
  /** Use only part of the data: seeded subsets balanced across classes, for any format. */
  subset?: DataSubset;
  /** Settings of the format (for example the synthetic data's sizes). */
  [setting: string]: unknown;
}

/**
 * How many training and validation images a run uses (all when absent), drawn by
 * `balancedSubset` with `seed`.
 *
 * @example
 * ```ts
 * import type { DataSubset } from "./data_format.ts";
 * const quick: DataSubset = { train: 2000, val: 500, seed: 0 };
 * console.log(quick.train);
 * ```
 */
export interface DataSubset {
  /** Training images to keep. */
  train?: number;
  /** Validation images to keep. */
  val?: number;
  /** Seed of the draw. */
  seed: number;
}

/**
 * Training and validation data of a source, with the statistics that a prepared folder
 * carries for the paper's preprocessing.
 *
 * @example
 * ```ts
 * import { syntheticSplits } from "./synthetic.ts";
 * import type { DataSplits } from "./data_format.ts";
 * const { train, val } = syntheticSplits({ trainSize: 8, valSize: 4, size: 8 });
 * const splits: DataSplits = { train, val, description: "8 / 4 synthetic" };
 * console.log(splits.description);
 * ```
 */
export interface DataSplits {
  /** Training images. */
  train: Dataset;
  /** Validation images. */
  val: Dataset;
  /** One line for a log: the format, where it came from, the counts. */
  description: string;
  /** The prepared mean image (HWC, pixel/255 units), when the data has one. */
  meanImage?: Float32Array | null;
  /** The prepared PCA colour noise, when the data has it. */
  pca?: PcaNoiseOptions | null;
}

/**
 * One data format: how to recognise its folders and how to load them. Formats are tried in
 * the order of `DATA_FORMATS` (`formats.ts`), and the first whose `detect` returns a source
 * wins.
 *
 * @example A format of its own (recognises a folder holding `labels.txt`)
 * ```ts
 * import type { DataFormat } from "./data_format.ts";
 * import { syntheticSplits } from "./synthetic.ts";
 * const demo: DataFormat = {
 *   kind: "demo",
 *   looksFor: "labels.txt",
 *   async detect(dir) {
 *     const found = await Deno.stat(`${dir}/labels.txt`).then(() => true, () => false);
 *     return found ? { kind: "demo", dir } : null;
 *   },
 *   load() {
 *     const { train, val } = syntheticSplits({ trainSize: 8, valSize: 4, size: 8 });
 *     return Promise.resolve({ train, val, description: "demo" });
 *   },
 * };
 * console.log(await demo.detect(Deno.cwd())); // null unless ./labels.txt exists
 * ```
 */
export interface DataFormat {
  /** Its name in a {@link DataSource} (and so in a run's `config.json`). */
  readonly kind: string;
  /** What `detect` looks for, for the message when no format recognises a folder. */
  readonly looksFor: string;
  /**
   * The source for `dir` if it holds this format, else null. Throws a
   * {@link DataFormatError} when the folder is this format but unusable as given.
   */
  detect(dir: string, valDir?: string): Promise<DataSource | null>;
  /** Loads a source this format detected (or one stored in a run's configuration). */
  load(source: DataSource): Promise<DataSplits>;
}

/**
 * A data folder that no format recognises, or that one recognises but cannot use as given.
 *
 * @example
 * ```ts
 * import { DataFormatError } from "./data_format.ts";
 * console.log(new DataFormatError("/tmp/x: not a folder").name); // "DataFormatError"
 * ```
 */
export class DataFormatError extends Error {
  /** `"DataFormatError"`. */
  override name = "DataFormatError";
}

/** The source's `dir`, or an error naming the format that needs one. */
export function sourceDir(source: DataSource, key: "dir" | "valDir" = "dir"): string {
  const dir = source[key];
  if (typeof dir !== "string") {
    throw new DataFormatError(`a "${source.kind}" data source needs "${key}"`);
  }
  return dir;
}
