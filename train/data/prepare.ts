/**
 * Offline preparation of an image folder (ImageNet layout: one subfolder per class) into
 * packed shards of fixed-size records, with the statistics the paper's pipeline needs.
 *
 * Each image is rescaled so its shorter side is `size` and its central `size × size` patch is
 * kept (paper §2), to the byte as torchvision's `Resize(size)` then `CenterCrop(size)` on a
 * PIL image (PIL's antialiased bilinear filter). Output folder:
 *
 * - `shard-00000.bin`, …: see the format below; images in folder order (class by class).
 * - `mean.f32`: the per-pixel mean image, float32 little-endian, HWC `[size, size, 3]`.
 * - `manifest.json`: a {@link ShardManifest} (class names, shards, counts, skipped files,
 *   the mean's file and per-channel value, and the RGB PCA). Written last: a folder without
 *   it is an unfinished run.
 *
 * All statistics are in units of pixel/255 (values in [0, 1]), the scale with which the
 * paper's PCA noise (α ~ N(0, 0.1²) times eigenvalues) has its usual magnitude; pass the
 * same `scale: 1/255` to `augmentBatch`.
 *
 * Shard format (all little-endian): a 32-byte header — magic `"AXSH"`, u32 version = 1,
 * u32 count, u32 height, u32 width, u32 channels = 3, two reserved u32 — then `count` u32
 * labels, then `count` images of `height × width × 3` u8 each, HWC RGB.
 *
 * Every file is written to a temporary name and renamed into place.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import { emptyClass, ImageFolder } from "./image_folder.ts";
import type { DecodeOptions } from "./_decode.ts";
import { shorterSideCenterCrop } from "./_resize.ts";
import { symmetricEigen3 } from "./_jacobi.ts";
import { writeFileAtomic } from "../../nn/_atomic.ts";
import { encodeShard } from "./_shard_format.ts";

/** The RGB principal components of the training pixels (units: pixel/255). */
export interface RgbPca {
  /** Eigenvalues λ1 ≥ λ2 ≥ λ3 of the 3×3 RGB covariance. */
  eigenvalues: number[];
  /** `eigenvectors[i]` is the unit eigenvector p_i (as [r, g, b]) of `eigenvalues[i]`. */
  eigenvectors: number[][];
  /** The covariance matrix itself, row-major. */
  covariance: number[];
}

/** The `manifest.json` of a prepared folder. */
export interface ShardManifest {
  /** Format tag. */
  format: "alexnet-webgpu-shards";
  /** Format version. */
  version: 1;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel (RGB). */
  channels: 3;
  /** Class names, indexed by label. */
  classNames: string[];
  /** Total images written. */
  count: number;
  /** Images per class, indexed by label. */
  classCounts: number[];
  /** The shard files and their image counts, in order. */
  shards: { file: string; count: number }[];
  /** Files skipped as undecodable. */
  skipped: number;
  /** Their paths. */
  skippedFiles: string[];
  /** Units of `mean` and `pca`: always 1/255 (pixel values divided by 255). */
  statsScale: number;
  /** The mean image file (float32 LE, HWC) and the per-channel mean; null with `stats: false`. */
  mean: { file: string; dtype: "float32"; layout: "HWC"; shape: number[]; rgb: number[] } | null;
  /** The RGB PCA of the pixels; null with `stats: false`. */
  pca: RgbPca | null;
}

/** Options of {@link prepareImageFolder}. */
export interface PrepareOptions extends DecodeOptions {
  /** The image folder (one subfolder per class). */
  input: string;
  /** Output folder (created if missing). */
  output: string;
  /** Output side in pixels; default 256. */
  size?: number;
  /** Images per shard; default 1024. */
  shardSize?: number;
  /** Skip (log and count) bad files instead of failing. Default false. */
  skipBad?: boolean;
  /** Keep an empty class folder as a class with no images, with a warning; default false. */
  allowEmptyClasses?: boolean;
  /** Compute the mean image and PCA (for a training set). Default true. */
  stats?: boolean;
  /**
   * The files listed as images, by extension (with the dot), or `"all"`; default
   * `IMAGE_EXTENSIONS`, torchvision's (others are ignored and reported in one line).
   */
  extensions?: readonly string[] | "all";
  /** Receives skip messages; default console.warn. */
  log?: (message: string) => void;
  /** Called after each file. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Aborting it stops before the next image: the preparation rejects with its reason, and
   * the output has no manifest (so it is never taken for prepared data).
   */
  signal?: AbortSignal;
}

const PREPARE_OPTIONS = optionNames<PrepareOptions>({
  maxPixels: true,
  alpha: true,
  input: true,
  output: true,
  size: true,
  shardSize: true,
  skipBad: true,
  allowEmptyClasses: true,
  stats: true,
  extensions: true,
  log: true,
  onProgress: true,
  signal: true,
});

/**
 * Prepares an image folder into shards, mean image and PCA (see the module doc).
 *
 * @example
 * ```ts
 * import { prepareImageFolder } from "./prepare.ts";
 * import { encode } from "npm:fast-png@8.0.0";
 * const dir = await Deno.makeTempDir();
 * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
 *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
 * }
 * const manifest = await prepareImageFolder({
 *   input: dir,
 *   output: `${dir}-prepared`,
 *   size: 8,
 *   skipBad: true,
 * });
 * console.log(manifest.count, manifest.classNames, manifest.pca?.eigenvalues);
 * ```
 */
export async function prepareImageFolder(options: PrepareOptions): Promise<ShardManifest> {
  checkOptions("prepareImageFolder", options, PREPARE_OPTIONS);
  const { input, output, size = 256, shardSize = 1024, stats = true } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`prepareImageFolder: size must be a positive integer, got ${size}`);
  }
  if (!Number.isInteger(shardSize) || shardSize < 1) {
    throw new RangeError(`prepareImageFolder: shardSize must be a positive integer`);
  }
  const folder = await ImageFolder.open(input, options);
  await Deno.mkdir(output, { recursive: true });
  const stride = size * size * 3;
  const header = { height: size, width: size, channels: 3 };
  const shards: { file: string; count: number }[] = [];
  const classCounts = new Array<number>(folder.classNames.length).fill(0);
  const meanSum = stats ? new Float64Array(stride) : null;
  // Sums of r, g, b and of rr, rg, rb, gg, gb, bb over all pixels (exact integers < 2^53).
  const sums = new Float64Array(9);
  const buffer = new Uint8Array(Math.min(shardSize, Math.max(1, folder.files.length)) * stride);
  let labels: number[] = [];
  let count = 0;

  const flush = async (): Promise<void> => {
    if (labels.length === 0) return;
    const file = `shard-${String(shards.length).padStart(5, "0")}.bin`;
    const bytes = encodeShard({ ...header, count: labels.length }, labels, buffer);
    await writeFileAtomic(`${output}/${file}`, bytes);
    shards.push({ file, count: labels.length });
    labels = [];
  };

  for (let i = 0; i < folder.files.length; i++) {
    options.signal?.throwIfAborted();
    const img = await folder.read(i);
    options.onProgress?.(i + 1, folder.files.length);
    if (img === null) continue;
    const px = shorterSideCenterCrop(img.pixels, img.width, img.height, size);
    if (labels.length === shardSize) await flush(); // encodeShard copies: buffer is reused
    buffer.set(px, labels.length * stride);
    const label = folder.files[i].label;
    labels.push(label);
    classCounts[label]++;
    count++;
    if (meanSum) {
      let r = 0, g = 0, b = 0, rr = 0, rg = 0, rb = 0, gg = 0, gb = 0, bb = 0;
      for (let p = 0; p < stride; p += 3) {
        const pr = px[p], pg = px[p + 1], pb = px[p + 2];
        meanSum[p] += pr;
        meanSum[p + 1] += pg;
        meanSum[p + 2] += pb;
        r += pr;
        g += pg;
        b += pb;
        rr += pr * pr;
        rg += pr * pg;
        rb += pr * pb;
        gg += pg * pg;
        gb += pg * pb;
        bb += pb * pb;
      }
      const local = [r, g, b, rr, rg, rb, gg, gb, bb];
      for (let k = 0; k < 9; k++) sums[k] += local[k];
    }
  }
  if (count === 0) {
    throw new Error(`${input}: no usable images (${folder.skipped} skipped)`);
  }
  // Classes whose every file was skipped as bad (listing already caught empty folders).
  classCounts.forEach((n, label) => {
    const listed = folder.files.some((f) => f.label === label);
    if (n === 0 && listed) emptyClass(`${input}/${folder.classNames[label]}`, label, options);
  });
  await flush();

  let mean: ShardManifest["mean"] = null;
  let pca: RgbPca | null = null;
  if (meanSum) {
    const meanImage = new Float32Array(stride);
    for (let k = 0; k < stride; k++) meanImage[k] = meanSum[k] / count / 255;
    await writeFileAtomic(`${output}/mean.f32`, new Uint8Array(meanImage.buffer));
    const n = count * size * size;
    const mu = [sums[0] / n, sums[1] / n, sums[2] / n];
    const e2 = [sums[3], sums[4], sums[5], sums[4], sums[6], sums[7], sums[5], sums[7], sums[8]];
    const covariance = e2.map((s, k) => (s / n - mu[Math.floor(k / 3)] * mu[k % 3]) / 255 ** 2);
    const eig = symmetricEigen3(covariance);
    mean = {
      file: "mean.f32",
      dtype: "float32",
      layout: "HWC",
      shape: [size, size, 3],
      rgb: mu.map((m) => m / 255),
    };
    pca = {
      eigenvalues: eig.values.map((v) => Math.max(0, v)),
      eigenvectors: eig.vectors,
      covariance,
    };
  }
  const manifest: ShardManifest = {
    format: "alexnet-webgpu-shards",
    version: 1,
    height: size,
    width: size,
    channels: 3,
    classNames: [...folder.classNames],
    count,
    classCounts,
    shards,
    skipped: folder.skipped,
    skippedFiles: [...folder.skippedFiles],
    statsScale: 1 / 255,
    mean,
    pca,
  };
  const json = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
  await writeFileAtomic(`${output}/manifest.json`, json);
  return manifest;
}
