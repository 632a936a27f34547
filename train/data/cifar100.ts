/**
 * CIFAR-100 in its binary distribution format (`cifar-100-binary`): `train.bin` (50,000 images)
 * and `test.bin` (10,000), runs of 3074-byte records: the coarse label (one of 20
 * superclasses), the fine label (one of 100 classes), then 3072 pixel bytes as three 32×32
 * planes R, G, B. The classes are the fine labels, as torchvision's `CIFAR100`;
 * `fine_label_names.txt`, when present, names them one per line.
 *
 * @module
 */

import type { ArrayDataset } from "./array_dataset.ts";
import { type DataFormat, DataFormatError, sourceDir } from "./data_format.ts";
import { isFile } from "./_fs.ts";
import { type CifarLayout, inDir as join, loadCifarFiles } from "./_cifar_records.ts";

/** Bytes in one CIFAR-100 record: two label bytes, then the pixels. */
export const CIFAR100_RECORD_BYTES = 3074;

/** CIFAR-100's fine class names (its `fine_label_names.txt`), used when that file is absent. */
export const CIFAR100_CLASS_NAMES: readonly string[] = Object.freeze(
  ("apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus " +
    "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch " +
    "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house " +
    "kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle " +
    "mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree " +
    "plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew " +
    "skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank " +
    "telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf " +
    "woman worm").split(" "),
);

/** CIFAR-100's records: the coarse and the fine label byte; the fine one is the class. */
const LAYOUT: CifarLayout = {
  dataset: "CIFAR-100",
  labelBytes: 2,
  labelAt: 1,
  classes: 100,
  labelNote: "coarse and fine label bytes",
};

/** The files of the binary distribution, by split. */
const FILES = { train: "train.bin", test: "test.bin" } as const;

/**
 * Loads one split of CIFAR-100's binaries into an in-memory dataset, labelled by the fine
 * classes (50,000 training images take 150 MB).
 *
 * @example
 * ```ts
 * import { CIFAR100_RECORD_BYTES, loadCifar100 } from "./cifar100.ts";
 * // A test file of one record: coarse label 4, fine label 30 (a dolphin), then the pixels.
 * const dir = await Deno.makeTempDir();
 * const record = new Uint8Array(CIFAR100_RECORD_BYTES).fill(128);
 * record.set([4, 30]);
 * await Deno.writeFile(`${dir}/test.bin`, record);
 * const test = await loadCifar100(dir, "test");
 * console.log(test.length, test.numClasses, test.classNames[test.get(0).label]); // 1 100 "dolphin"
 * ```
 */
export async function loadCifar100(
  dir: string,
  split: "train" | "test" = "train",
): Promise<ArrayDataset> {
  const file = FILES[split];
  if (file === undefined) {
    throw new RangeError(`loadCifar100: split must be "train" or "test", got ${split}`);
  }
  return await loadCifarFiles(dir, [file], LAYOUT, "fine_label_names.txt", CIFAR100_CLASS_NAMES);
}

/**
 * CIFAR-100's binary version as a data format: a `cifar-100-binary` folder (or its parent),
 * trained on `train.bin` and validated on `test.bin`, labelled by the 100 fine classes.
 *
 * @example
 * ```ts
 * import { cifar100Format } from "./cifar100.ts";
 * console.log(await cifar100Format.detect(Deno.cwd())); // null: no train.bin here
 * ```
 */
export const cifar100Format: DataFormat = {
  kind: "cifar100",
  looksFor: "CIFAR-100 binaries (train.bin and test.bin)",
  async detect(dir) {
    // train.bin alone is too common a name: with test.bin or the class names beside it.
    for (const at of [dir, join(dir, "cifar-100-binary")]) {
      if (!(await isFile(join(at, FILES.train)))) continue;
      for (const other of [FILES.test, "fine_label_names.txt"]) {
        if (await isFile(join(at, other))) return { kind: "cifar100", dir: at };
      }
    }
    return null;
  },
  async load(source) {
    const dir = sourceDir(source);
    const missing = [];
    for (const f of Object.values(FILES)) if (!(await isFile(join(dir, f)))) missing.push(f);
    if (missing.length > 0) {
      throw new DataFormatError(
        `${dir}: no ${missing.join(", ")} (CIFAR-100 data is two files: train.bin and test.bin)`,
      );
    }
    const train = await loadCifar100(dir, "train");
    const val = await loadCifar100(dir, "test");
    return { train, val, description: `CIFAR-100 ${dir}, ${train.length} / ${val.length}` };
  },
};
