/**
 * A run's data on the command line: `--data` detection, the channel mean, the augmentations.
 *
 * @module
 */

import { join, resolve } from "node:path";
import type { AugmentOptions } from "../train/data/augment.ts";
import type { Dataset } from "../train/data/dataset.ts";
import { DataFormatError, type DataSource, type DataSplits } from "../train/data/data_format.ts";
import { detectDataFormat } from "../train/data/formats.ts";
import { folderProblem } from "../train/data/_fs.ts";
import type { RunConfig } from "./_config.ts";
import { shellArg, UsageError } from "./_options.ts";

/**
 * What a `--data` folder holds (see `train/data/formats.ts`); a folder no format recognises is
 * a usage error of the command.
 */
export async function detectData(
  dir: string,
  valDir: string | undefined,
  command: string,
): Promise<DataSource> {
  const valProblem = valDir === undefined ? null : await folderProblem(valDir);
  if (valProblem) throw new UsageError(`--val-data ${valDir}: ${valProblem}`, command);
  try {
    const source = await detectDataFormat(dir, valDir);
    for (const key of ["dir", "valDir"] as const) {
      if (typeof source[key] === "string") source[key] = resolve(source[key]);
    }
    return source;
  } catch (error) {
    if (!(error instanceof DataFormatError)) throw error;
    throw new UsageError(`--data ${error.message}${await prepareHint(dir)}`, command);
  }
}

/**
 * The hint for a folder of images given to `--data`: prepare it first. An image folder (one
 * subfolder per class), or a parent holding `train/` and `val/` image folders (ImageNet's
 * layout), which are prepared one by one.
 */
async function prepareHint(dir: string): Promise<string> {
  if (await looksLikeImageFolder(dir)) {
    return `; it looks like an image folder (one subfolder per class): prepare it first, with ` +
      `'deno run -A cli.ts prepare --input ${shellArg(dir)} --output <folder>'`;
  }
  const [train, val] = [join(dir, "train"), join(dir, "val")];
  if (!(await looksLikeImageFolder(train) && await looksLikeImageFolder(val))) return "";
  return `; its train/ and val/ look like image folders (one subfolder per class): prepare ` +
    `each first, with 'deno run -A cli.ts prepare --input ${shellArg(train)} --output ` +
    `<folder>/train', the same for val/ with --no-stats, then --data <folder>`;
}

/**
 * Whether `dir` has a (non-hidden) subfolder whose first entries include a JPEG or PNG: the
 * layout `prepare` takes, given to `--data` by mistake. Looks at a few entries only, so that
 * an ImageNet-sized folder costs nothing.
 */
async function looksLikeImageFolder(dir: string): Promise<boolean> {
  try {
    let folders = 0;
    for await (const e of Deno.readDir(dir)) {
      if (!e.isDirectory || e.name.startsWith(".")) continue;
      let seen = 0;
      for await (const f of Deno.readDir(join(dir, e.name))) {
        if (/\.(jpe?g|png)$/i.test(f.name)) return true;
        if (++seen >= 50) break;
      }
      if (++folders >= 3) break;
    }
  } catch {
    // Not readable: no hint.
  }
  return false;
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
  splits: DataSplits,
): { train: AugmentOptions; val: AugmentOptions } {
  const mean = config.mean === "image" ? splits.meanImage ?? null : config.mean;
  const base: AugmentOptions = { crop: config.crop, scale: 1 / 255, mean };
  return {
    train: { ...base, flip: true, pca: config.pca ? splits.pca ?? null : null },
    val: base,
  };
}
