/**
 * Finding and loading a run's data for the command line.
 *
 * @module
 */

import { join } from "node:path";
import type { AugmentOptions, PcaNoiseOptions } from "../data/augment.ts";
import { loadCifar10 } from "../data/cifar10.ts";
import type { Dataset } from "../data/dataset.ts";
import { requireSameClasses } from "../data/classes.ts";
import { loadIdx } from "../data/idx.ts";
import { ShardDataset } from "../data/shard_dataset.ts";
import { syntheticSplits } from "../data/synthetic.ts";
import type { RunConfig } from "./_config.ts";
import { UsageError } from "./_options.ts";

/** Training and validation data of a run. */
export interface Splits {
  /** Training images. */
  train: Dataset;
  /** Validation images. */
  val: Dataset;
  /** One line for the log. */
  description: string;
  /** Prepared statistics, when the data has them. */
  meanImage?: Float32Array | null;
  /** Prepared PCA colour noise, when the data has it. */
  pca?: PcaNoiseOptions | null;
}

/** Whether `path` is a file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Whether `path` is a folder. */
export async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** Works out what a `--data` folder holds. */
export async function detectData(
  dir: string,
  valDir: string | undefined,
): Promise<RunConfig["data"]> {
  if (!(await isDir(dir))) throw new UsageError(`--data ${dir}: not a folder`, "train");
  if (await isFile(join(dir, "data_batch_1.bin"))) return { kind: "cifar10", dir };
  if (await isFile(join(dir, "cifar-10-batches-bin", "data_batch_1.bin"))) {
    return { kind: "cifar10", dir: join(dir, "cifar-10-batches-bin") };
  }
  for await (const e of Deno.readDir(dir)) {
    if (/^train-images[.-]idx3-ubyte(\.gz)?$/.test(e.name)) return { kind: "idx", dir };
  }
  if (await isFile(join(dir, "manifest.json"))) {
    if (!valDir) {
      throw new UsageError(
        `--data ${dir} is one prepared folder: give the validation folder with --val-data ` +
          `(or pass their parent holding train/ and val/)`,
        "train",
      );
    }
    return { kind: "shards", dir, valDir };
  }
  if (
    (await isFile(join(dir, "train", "manifest.json"))) &&
    (await isFile(join(dir, "val", "manifest.json")))
  ) {
    return { kind: "shards", dir: join(dir, "train"), valDir: valDir ?? join(dir, "val") };
  }
  throw new UsageError(
    `--data ${dir}: found neither CIFAR-10 binaries (data_batch_1.bin), IDX files ` +
      `(train-images-idx3-ubyte[.gz]) nor prepared shards (manifest.json, or train/ and val/)`,
    "train",
  );
}

/** Loads the training and validation data a run describes. */
export async function loadSplits(data: RunConfig["data"]): Promise<Splits> {
  switch (data.kind) {
    case "synthetic": {
      const { train, val } = syntheticSplits({
        trainSize: data.trainSize,
        valSize: data.valSize,
        size: data.size,
        seed: data.seed,
      });
      return {
        train,
        val,
        description: `synthetic shapes, ${data.trainSize} train / ${data.valSize} val, ` +
          `${data.size}×${data.size}, 10 classes`,
      };
    }
    case "cifar10": {
      const train = await loadCifar10({ dir: data.dir, split: "train" });
      const val = await loadCifar10({ dir: data.dir, split: "test" });
      return { train, val, description: `CIFAR-10 ${data.dir}, ${train.length} / ${val.length}` };
    }
    case "idx": {
      const find = async (re: RegExp): Promise<string> => {
        for await (const e of Deno.readDir(data.dir)) {
          if (re.test(e.name)) return join(data.dir, e.name);
        }
        throw new Error(`${data.dir}: no file matching ${re}`);
      };
      const train = await loadIdx({
        images: await find(/^train-images[.-]idx3-ubyte(\.gz)?$/),
        labels: await find(/^train-labels[.-]idx1-ubyte(\.gz)?$/),
      });
      // The test labels are checked against the training set's classes.
      const val = await loadIdx({
        images: await find(/^t10k-images[.-]idx3-ubyte(\.gz)?$/),
        labels: await find(/^t10k-labels[.-]idx1-ubyte(\.gz)?$/),
        classNames: train.classNames,
      });
      return { train, val, description: `IDX ${data.dir}, ${train.length} / ${val.length}` };
    }
    case "shards": {
      const train = await ShardDataset.open(data.dir);
      const val = await ShardDataset.open(data.valDir!);
      requireSameClasses(train.classNames, val.classNames, data.dir, data.valDir!);
      const pca = train.pca
        ? { eigenvalues: train.pca.eigenvalues, eigenvectors: train.pca.eigenvectors, sigma: 0.1 }
        : null;
      return {
        train,
        val,
        meanImage: train.mean,
        pca,
        description: `prepared ${data.dir} (${train.length}) / ${data.valDir} (${val.length}), ` +
          `${train.height}×${train.width}, ${train.numClasses} classes`,
      };
    }
  }
}

/** Per-channel mean of a dataset's pixels (in pixel/255 units), from up to 10 000 images. */
export function channelMean(ds: Dataset): number[] {
  const sums = [0, 0, 0];
  const n = Math.min(ds.length, 10000);
  const step = ds.length / n;
  let pixels = 0;
  for (let k = 0; k < n; k++) {
    const p = ds.get(Math.floor(k * step)).pixels;
    for (let i = 0; i < p.length; i += 3) {
      sums[0] += p[i];
      sums[1] += p[i + 1];
      sums[2] += p[i + 2];
    }
    pixels += p.length / 3;
  }
  return sums.map((s) => Number((s / pixels / 255).toFixed(6)));
}

/** The training and validation augmentations of a run. */
export function augmentations(
  config: RunConfig,
  splits: Splits,
): { train: AugmentOptions; val: AugmentOptions } {
  const mean = config.mean === "image" ? splits.meanImage ?? null : config.mean;
  const base: AugmentOptions = { crop: config.crop, scale: 1 / 255, mean };
  return {
    train: { ...base, flip: true, pca: config.pca ? splits.pca ?? null : null },
    val: base,
  };
}
