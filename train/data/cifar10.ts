/**
 * CIFAR-10 in its binary distribution format (`cifar-10-batches-bin`): each file is a run of
 * 3073-byte records, one label byte (0–9) then 3072 pixel bytes as three 32×32 planes R, G, B.
 * `batches.meta.txt`, when present, names the classes one per line.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import type { ArrayDataset } from "./array_dataset.ts";
import { type DataFormat, DataFormatError, sourceDir } from "./data_format.ts";
import { isFile } from "./_fs.ts";
import {
  type CifarLayout,
  inDir as join,
  loadCifarFiles,
  parseCifarRecords,
} from "./_cifar_records.ts";

/** Bytes in one CIFAR-10 record. */
export const CIFAR10_RECORD_BYTES = 3073;

/** The standard CIFAR-10 class names, used when `batches.meta.txt` is absent. */
export const CIFAR10_CLASS_NAMES: readonly string[] = Object.freeze([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]);

/** Parsed content of one CIFAR-10 batch file. */
export interface Cifar10Batch {
  /** Images in the file. */
  count: number;
  /** `count × 32 × 32 × 3` bytes, HWC RGB (converted from the file's CHW planes). */
  pixels: Uint8Array;
  /** One label per image, each in [0, 10). */
  labels: Uint8Array;
}

/** CIFAR-10's records: one label byte. */
const LAYOUT: CifarLayout = {
  dataset: "CIFAR-10",
  labelBytes: 1,
  labelAt: 0,
  classes: 10,
  labelNote: "1 label byte",
};

/**
 * Parses the bytes of one CIFAR-10 batch file. `name` (the file name) is used in errors.
 *
 * @example
 * ```ts
 * import { parseCifar10 } from "./cifar10.ts";
 * const record = new Uint8Array(3073);
 * record[0] = 3; // label "cat"
 * const batch = parseCifar10(record, "one.bin");
 * console.assert(batch.count === 1 && batch.labels[0] === 3);
 * ```
 */
export function parseCifar10(bytes: Uint8Array, name: string): Cifar10Batch {
  return parseCifarRecords(bytes, name, LAYOUT);
}

/** Options of {@link loadCifar10}. */
export interface Cifar10Options {
  /** The `cifar-10-batches-bin` folder. */
  dir: string;
  /** `train` reads data_batch_1..5.bin, `test` reads test_batch.bin. Default `train`. */
  split?: "train" | "test";
  /** Explicit file names inside `dir`, overriding `split`. */
  files?: readonly string[];
}

const CIFAR10_OPTIONS = optionNames<Cifar10Options>({ dir: true, split: true, files: true });

/**
 * Loads CIFAR-10 batch files into an in-memory dataset (50 000 training images take 150 MB).
 *
 * @example
 * ```ts
 * import { CIFAR10_RECORD_BYTES, loadCifar10 } from "./cifar10.ts";
 * // A test batch of one record: its label (3, a cat), then 1024 red, green and blue bytes.
 * const dir = await Deno.makeTempDir();
 * const record = new Uint8Array(CIFAR10_RECORD_BYTES).fill(128);
 * record[0] = 3;
 * await Deno.writeFile(`${dir}/test_batch.bin`, record);
 * const test = await loadCifar10({ dir, split: "test" }); // split "train": data_batch_1…5.bin
 * console.log(test.length, test.classNames[test.get(0).label]); // 1 "cat"
 * ```
 */
export async function loadCifar10(options: Cifar10Options): Promise<ArrayDataset> {
  checkOptions("loadCifar10", options, CIFAR10_OPTIONS);
  const { dir, split = "train" } = options;
  const files = options.files ??
    (split === "train"
      ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`)
      : split === "test"
      ? ["test_batch.bin"]
      : (() => {
        throw new RangeError(`loadCifar10: split must be "train" or "test", got ${split}`);
      })());
  if (files.length === 0) throw new RangeError("loadCifar10: no files given");
  return await loadCifarFiles(dir, files, LAYOUT, "batches.meta.txt", CIFAR10_CLASS_NAMES);
}

/**
 * CIFAR-10's binary version as a data format: a `cifar-10-batches-bin` folder (or its parent),
 * trained on the five data batches and validated on the test batch.
 *
 * @example
 * ```ts
 * import { cifar10Format } from "./cifar10.ts";
 * console.log(await cifar10Format.detect(Deno.cwd())); // null: no data_batch_1.bin here
 * ```
 */
export const cifar10Format: DataFormat = {
  kind: "cifar10",
  looksFor: "CIFAR-10 binaries (data_batch_1.bin)",
  async detect(dir) {
    if (await isFile(join(dir, "data_batch_1.bin"))) return { kind: "cifar10", dir };
    const inner = join(dir, "cifar-10-batches-bin");
    return (await isFile(join(inner, "data_batch_1.bin"))) ? { kind: "cifar10", dir: inner } : null;
  },
  async load(source) {
    const dir = sourceDir(source);
    // A missing batch failed as 'cannot read CIFAR-10 file: No such file … readfile …'.
    const files = [...[1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), "test_batch.bin"];
    const missing = [];
    for (const f of files) if (!(await isFile(join(dir, f)))) missing.push(f);
    if (missing.length > 0) {
      throw new DataFormatError(
        `${dir}: no ${missing.join(", ")} (CIFAR-10 data is six files: data_batch_1.bin to ` +
          `data_batch_5.bin and test_batch.bin)`,
      );
    }
    const train = await loadCifar10({ dir, split: "train" });
    const val = await loadCifar10({ dir, split: "test" });
    return { train, val, description: `CIFAR-10 ${dir}, ${train.length} / ${val.length}` };
  },
};
