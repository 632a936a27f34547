/**
 * The registry of data formats: detection of what a data folder holds, and loading of a
 * {@link DataSource}. A new format is one file exporting a {@link DataFormat} (its parser,
 * detection and loading together) plus its line in {@link DATA_FORMATS}.
 *
 * @module
 */

import { cifar10Format } from "./cifar10.ts";
import { cifar100Format } from "./cifar100.ts";
import {
  type DataFormat,
  DataFormatError,
  type DataSource,
  type DataSplits,
  type DataSubset,
} from "./data_format.ts";
import { requireSameClasses } from "./classes.ts";
import type { Dataset } from "./dataset.ts";
import { balancedSubset } from "./subset.ts";
import { idxFormat } from "./idx.ts";
import { shardFormat } from "./shard_dataset.ts";
import { syntheticFormat } from "./synthetic.ts";
import { FILE_NOT_FOLDER, folderProblem } from "./_fs.ts";
import { dirname } from "node:path";

/**
 * The formats known to {@link detectDataFormat} and {@link loadDataSplits}, in the order
 * detection tries them.
 *
 * @example
 * ```ts
 * import { DATA_FORMATS } from "./formats.ts";
 * console.log(DATA_FORMATS.map((f) => f.kind)); // ["cifar10", "cifar100", "idx", "shards", "synthetic"]
 * ```
 */
export const DATA_FORMATS: readonly DataFormat[] = [
  cifar10Format,
  cifar100Format,
  idxFormat,
  shardFormat,
  syntheticFormat,
];

/**
 * Works out what a data folder holds: the source of the first format that recognises it.
 * Throws a {@link DataFormatError} naming the folder and what each format looks for when
 * none does.
 *
 * @param dir The data folder.
 * @param valDir A separate validation folder, for formats that take one (prepared shards); an
 *   error for the others, which have their own validation split.
 *
 * @example
 * ```ts
 * import { detectDataFormat } from "./formats.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/data_batch_1.bin`, new Uint8Array(0));
 * console.log(await detectDataFormat(dir)); // { kind: "cifar10", dir }
 * ```
 */
export async function detectDataFormat(dir: string, valDir?: string): Promise<DataSource> {
  const problem = await folderProblem(dir);
  if (problem === FILE_NOT_FOLDER) {
    throw new DataFormatError(`${dir}: ${problem}: give the folder holding it (${dirname(dir)})`);
  }
  if (problem) throw new DataFormatError(`${dir}: ${problem}`);
  for (const format of DATA_FORMATS) {
    const source = await format.detect(dir, valDir);
    if (source && valDir !== undefined && source.valDir !== valDir) {
      // A format with its own validation split ignored the folder given: say so, rather
      // than validate on other data than asked.
      throw new DataFormatError(
        `${dir} holds ${source.kind} data, with its own validation split; a separate ` +
          `validation folder (${valDir}) is for prepared shards`,
      );
    }
    if (source) return source;
  }
  const wanted = DATA_FORMATS.map((f) => f.looksFor).filter((s) => s !== "");
  throw new DataFormatError(
    `${dir}: found none of ${wanted.slice(0, -1).join(", ")} or ${wanted.at(-1)}`,
  );
}

/**
 * The format registered under `kind`, or a {@link DataFormatError} listing the known ones.
 *
 * @example
 * ```ts
 * import { dataFormat } from "./formats.ts";
 * console.log(dataFormat("idx").looksFor);
 * ```
 */
export function dataFormat(kind: string): DataFormat {
  const format = DATA_FORMATS.find((f) => f.kind === kind);
  if (!format) {
    throw new DataFormatError(
      `unknown data format "${kind}" (known: ${DATA_FORMATS.map((f) => f.kind).join(", ")})`,
    );
  }
  return format;
}

/**
 * Loads the training and validation data of a source through its format.
 *
 * @example
 * ```ts
 * import { loadDataSplits } from "./formats.ts";
 * const { train, val } = await loadDataSplits({ kind: "synthetic", trainSize: 8, valSize: 4, size: 8 });
 * console.log(train.length, val.length); // 8 4
 * ```
 */
export async function loadDataSplits(source: DataSource): Promise<DataSplits> {
  const splits = await dataFormat(source.kind).load(source);
  // Labels are indices into the class list: a validation set with other classes is shifted.
  const trainName = typeof source.dir === "string" ? source.dir : `the ${source.kind} training set`;
  const valName = typeof source.valDir === "string"
    ? source.valDir
    : `the ${source.kind} validation set`;
  requireSameClasses(splits.train.classNames, splits.val.classNames, trainName, valName);
  return source.subset ? subsetSplits(splits, source.subset) : splits;
}

/**
 * The splits cut to the subset's sizes, the description saying so, and saying when a size asks
 * for more images than the data holds (all are used).
 */
function subsetSplits(splits: DataSplits, subset: DataSubset): DataSplits {
  const train = balancedSubset(splits.train, subset.train ?? Infinity, subset.seed);
  const val = balancedSubset(splits.val, subset.val ?? Infinity, subset.seed + 1);
  const part = (kept: Dataset, all: Dataset, asked: number | undefined, what: string) => {
    if (asked !== undefined && asked > all.length) {
      return [`all ${all.length} ${what} (${asked} asked for)`];
    }
    return kept === all ? [] : [`${kept.length} of ${all.length} ${what}`];
  };
  const parts = [
    ...part(train, splits.train, subset.train, "training"),
    ...part(val, splits.val, subset.val, "validation"),
  ];
  if (parts.length === 0) return splits;
  const balanced = train !== splits.train || val !== splits.val;
  return {
    ...splits,
    train,
    val,
    description: `${splits.description}; using ${parts.join(" and ")} images` +
      (balanced ? `, balanced across classes (seed ${subset.seed})` : ""),
  };
}
