/**
 * The paper's data augmentation (§4.1) and its evaluation crops, from u8 HWC samples to float32
 * CHW batches.
 *
 * For every output pixel of channel c the value is
 *
 *     out = pixel · scale + Σ_i p_i[c] · α_i · λ_i − mean
 *
 * where `pixel` is the u8 source value, `scale` (default 1/255) maps it to the units of the
 * statistics, α_i ~ N(0, σ²) is drawn once per image and presentation, and `mean` is either
 * the mean image (HWC, indexed at the source pixel, i.e. subtracted before cropping and
 * flipping, as in the paper) or one value per channel. `mean` and the PCA eigenvalues must be
 * in the units of `pixel · scale`: `prepareImageFolder` writes them for `scale = 1/255`.
 *
 * Every batch is first described as patches ({@link CropBatch}: the samples' bytes and, per
 * output image, its sample, crop corner, reflection and the per-channel offset
 * `Σ_i p_i[c] · α_i · λ_i − mean[c]`), then applied: on the device by `cropImages` (what the
 * trainer does) or on the host by `cropImagesOnHost` ({@link augmentBatch}, {@link centerCrop},
 * {@link tenCrop}), both in the float32 steps `tensor/images.ts` documents, to the same bits.
 *
 * Randomness comes only from the {@link Rng} passed in; per sample, in order: crop x, crop y
 * (only when there is room), flip (only when `flip`), α1..α3 (only with `pca`).
 *
 * @module
 */

import { cropImagesOnHost, type ImageCrops, type ImagePatch } from "../../tensor/images.ts";
import type { Sample } from "./dataset.ts";
import type { Rng } from "./rng.ts";

/** PCA colour noise parameters. */
export interface PcaNoiseOptions {
  /** λ1..λ3 of the RGB covariance. */
  eigenvalues: ArrayLike<number>;
  /** p1..p3, each an [r, g, b] unit vector: `eigenvectors[i]` belongs to `eigenvalues[i]`. */
  eigenvectors: ArrayLike<ArrayLike<number>>;
  /** Standard deviation of α_i; the paper uses 0.1. */
  sigma: number;
}

/** Options shared by {@link augmentBatch}, {@link centerCrop} and {@link tenCrop}. */
export interface AugmentOptions {
  /** Side of the square crop; default: no crop (the whole image). */
  crop?: number;
  /** Mirror horizontally with probability 0.5 (augmentBatch only); default true. */
  flip?: boolean;
  /** PCA colour noise (augmentBatch only); default none. */
  pca?: PcaNoiseOptions | null;
  /** Mean image (`height × width × 3`, HWC) or per-channel [r, g, b] mean; default none. */
  mean?: Float32Array | readonly number[] | null;
  /** Multiplies the u8 pixels before noise and mean; default 1/255. */
  scale?: number;
  /** Height of the samples; default: square images, inferred from the pixel count. */
  height?: number;
  /** Width of the samples; default: as height. */
  width?: number;
}

/** A float batch ready for the network. */
export interface ImageBatch {
  /** `batchShape` float32 values, NCHW. */
  images: Float32Array;
  /** One label per sample (per input sample for `tenCrop`). */
  labels: Int32Array;
  /** [N, 3, H, W] of `images`. */
  batchShape: [number, number, number, number];
}

/**
 * A batch before its pixels become floats: the samples' bytes and one patch per output image
 * (`cropImages` builds it on a device, `cropImagesOnHost` on the host, to the same bits).
 */
export interface CropBatch {
  /** The samples' bytes and the patches to cut from them. */
  crops: ImageCrops;
  /** One label per sample (per input sample for `tenCrop`). */
  labels: Int32Array;
  /** [N, 3, H, W] of the images the crops make. */
  batchShape: [number, number, number, number];
}

interface Geometry {
  h: number;
  w: number;
  ch: number;
  cw: number;
}

function geometry(samples: readonly Sample[], o: AugmentOptions): Geometry {
  let h = o.height, w = o.width;
  if (h === undefined) {
    if (samples.length === 0) throw new RangeError("augment: give height/width for an empty batch");
    const side = Math.round(Math.sqrt(samples[0].pixels.length / 3));
    if (side * side * 3 !== samples[0].pixels.length) {
      throw new RangeError("augment: samples are not square; pass height and width");
    }
    h = side;
  }
  w ??= h;
  const ch = o.crop ?? h, cw = o.crop ?? w;
  if (!Number.isInteger(ch) || ch < 1 || ch > h || cw > w) {
    throw new RangeError(`augment: crop ${o.crop} does not fit in ${h}×${w} images`);
  }
  for (const s of samples) {
    if (s.pixels.length !== h * w * 3) {
      throw new RangeError(`augment: a sample has ${s.pixels.length} bytes, expected ${h}×${w}×3`);
    }
  }
  if (o.mean && o.mean.length !== 3 && o.mean.length !== h * w * 3) {
    throw new RangeError(`augment: mean must have 3 or ${h * w * 3} values, has ${o.mean.length}`);
  }
  return { h, w, ch, cw };
}

/** The samples' bytes, one after another: the only per-pixel work left on the host. */
function gather(samples: readonly Sample[], g: Geometry): Uint8Array {
  const bytes = g.h * g.w * 3;
  const pixels = new Uint8Array(samples.length * bytes);
  samples.forEach((s, n) => pixels.set(s.pixels, n * bytes));
  return pixels;
}

function meanParts(
  mean: AugmentOptions["mean"],
): { image: Float32Array | null; rgb: number[] } {
  if (!mean) return { image: null, rgb: [0, 0, 0] };
  if (mean.length === 3) return { image: null, rgb: [mean[0], mean[1], mean[2]] };
  return { image: mean instanceof Float32Array ? mean : Float32Array.from(mean), rgb: [0, 0, 0] };
}

/** The crops of `samples` with `patches`, labelled per sample. */
function cropBatch(
  samples: readonly Sample[],
  options: AugmentOptions,
  g: Geometry,
  patches: ImagePatch[],
  meanImage: Float32Array | null,
): CropBatch {
  const crops: ImageCrops = {
    pixels: gather(samples, g),
    height: g.h,
    width: g.w,
    cropHeight: g.ch,
    cropWidth: g.cw,
    patches,
    scale: options.scale ?? 1 / 255,
    meanImage,
  };
  const labels = Int32Array.from(samples, (s) => s.label);
  return { crops, labels, batchShape: [patches.length, 3, g.ch, g.cw] };
}

/** A {@link CropBatch}'s images made on the host. */
function withImages({ crops, labels, batchShape }: CropBatch): ImageBatch {
  return { images: cropImagesOnHost(crops), labels, batchShape };
}

/**
 * The training augmentation's patches: per sample a random crop, a random reflection and the
 * PCA colour noise minus the per-channel mean, drawn from `rng` in the order the module doc
 * gives. The mean image, if any, is in `crops.meanImage`.
 *
 * @example
 * ```ts
 * import { augmentedCrops } from "./augment.ts";
 * import { Rng } from "./rng.ts";
 * const samples = [{ pixels: new Uint8Array(32 * 32 * 3), label: 1 }];
 * const { crops } = augmentedCrops(samples, { crop: 28, flip: true }, new Rng(0));
 * console.assert(crops.patches.length === 1 && crops.patches[0].x0 <= 4);
 * ```
 */
export function augmentedCrops(
  samples: readonly Sample[],
  options: AugmentOptions,
  rng: Rng,
): CropBatch {
  const g = geometry(samples, options);
  const flipOn = options.flip ?? true;
  const pca = options.pca ?? null;
  const { image, rgb } = meanParts(options.mean);
  const patches = samples.map((_, sample): ImagePatch => {
    const x0 = g.w > g.cw ? rng.int(g.w - g.cw + 1) : 0;
    const y0 = g.h > g.ch ? rng.int(g.h - g.ch + 1) : 0;
    const flip = flipOn && rng.next() < 0.5;
    const add = rgb.map((m) => -m);
    if (pca) {
      for (let i = 0; i < 3; i++) {
        const k = rng.normal(0, pca.sigma) * pca.eigenvalues[i];
        const p = pca.eigenvectors[i];
        for (let c = 0; c < 3; c++) add[c] += p[c] * k;
      }
    }
    return { sample, x0, y0, flip, offset: float32Rgb(add) };
  });
  return cropBatch(samples, options, g, patches, image);
}

/** The offsets as float32, the precision both the kernel and the host reference add them in. */
function float32Rgb(rgb: readonly number[]): [number, number, number] {
  return [Math.fround(rgb[0]), Math.fround(rgb[1]), Math.fround(rgb[2])];
}

/**
 * Training augmentation: random crop, random horizontal reflection, PCA colour noise, mean
 * subtraction; returns NCHW float32 made on the host ({@link augmentedCrops}'s patches applied
 * by `cropImagesOnHost`; the trainer applies the same patches on the device).
 *
 * @example
 * ```ts
 * import { augmentBatch } from "./augment.ts";
 * import { Rng } from "./rng.ts";
 * const samples = [{ pixels: new Uint8Array(32 * 32 * 3), label: 1 }];
 * const batch = augmentBatch(samples, {
 *   crop: 28,
 *   flip: true,
 *   pca: { eigenvalues: [0.2, 0.02, 0.005], eigenvectors: [[0.58, 0.58, 0.58], [0.71, 0, -0.71], [0.41, -0.82, 0.41]], sigma: 0.1 },
 *   mean: [0.5, 0.5, 0.5],
 *   scale: 1 / 255,
 * }, new Rng(0));
 * console.assert(batch.batchShape.join() === "1,3,28,28");
 * ```
 */
export function augmentBatch(
  samples: readonly Sample[],
  options: AugmentOptions,
  rng: Rng,
): ImageBatch {
  return withImages(augmentedCrops(samples, options, rng));
}

/**
 * The centre crop's patches: one per sample, unmirrored, offset by minus the per-channel mean.
 *
 * @example
 * ```ts
 * import { centerCrops } from "./augment.ts";
 * const { crops } = centerCrops([{ pixels: new Uint8Array(8 * 8 * 3), label: 0 }], { crop: 6 });
 * console.assert(crops.patches[0].x0 === 1 && crops.patches[0].y0 === 1);
 * ```
 */
export function centerCrops(samples: readonly Sample[], options: AugmentOptions): CropBatch {
  return fixedCrops(samples, options, (g) => [
    [centerOffset(g.w - g.cw), centerOffset(g.h - g.ch), false],
  ]);
}

/**
 * The centre crop's offset when `spare` pixels are left over, as torchvision's `CenterCrop`:
 * Python's `round(spare / 2)`, a half going to the even side (3 spare pixels: offset 2).
 */
function centerOffset(spare: number): number {
  const half = Math.floor(spare / 2);
  return spare % 2 === 1 && half % 2 === 1 ? half + 1 : half;
}

/**
 * Evaluation: the central crop of each sample (no flip, no noise), with mean subtraction.
 *
 * @example
 * ```ts
 * import { centerCrop } from "./augment.ts";
 * const b = centerCrop([{ pixels: new Uint8Array(8 * 8 * 3), label: 0 }], { crop: 6 });
 * console.assert(b.images.length === 3 * 6 * 6);
 * ```
 */
export function centerCrop(samples: readonly Sample[], options: AugmentOptions): ImageBatch {
  return withImages(centerCrops(samples, options));
}

/**
 * The ten patches of each sample (see {@link tenCrop}), ten consecutive patches per sample.
 *
 * @example
 * ```ts
 * import { tenCrops } from "./augment.ts";
 * const { crops } = tenCrops([{ pixels: new Uint8Array(8 * 8 * 3), label: 2 }], { crop: 6 });
 * console.assert(crops.patches.length === 10 && crops.patches[9].flip);
 * ```
 */
export function tenCrops(samples: readonly Sample[], options: AugmentOptions): CropBatch {
  return fixedCrops(samples, options, (g) => {
    const xr = g.w - g.cw, yb = g.h - g.ch;
    const corners: [number, number][] = [
      [0, 0],
      [xr, 0],
      [0, yb],
      [xr, yb],
      [centerOffset(xr), centerOffset(yb)],
    ];
    return [false, true].flatMap((flip) => corners.map(([x0, y0]): Place => [x0, y0, flip]));
  });
}

/**
 * Evaluation with ten patches per sample (paper §4.1): images `10·n .. 10·n + 9` of the result
 * are sample n's top-left, top-right, bottom-left, bottom-right and centre crops, then the
 * same five mirrored. `labels` has one entry per sample; average the ten softmax outputs.
 *
 * @example
 * ```ts
 * import { tenCrop } from "./augment.ts";
 * const b = tenCrop([{ pixels: new Uint8Array(8 * 8 * 3), label: 2 }], { crop: 6 });
 * console.assert(b.batchShape[0] === 10 && b.labels.length === 1);
 * ```
 */
export function tenCrop(samples: readonly Sample[], options: AugmentOptions): ImageBatch {
  return withImages(tenCrops(samples, options));
}

/** A crop's top-left corner in the source image, and whether it is mirrored. */
type Place = [x0: number, y0: number, flip: boolean];

/**
 * The evaluation crops: for each sample, one patch per place of `places` (in that order), with
 * mean subtraction but no noise. `labels` has one entry per sample.
 */
function fixedCrops(
  samples: readonly Sample[],
  options: AugmentOptions,
  places: (g: Geometry) => Place[],
): CropBatch {
  const g = geometry(samples, options);
  const { image, rgb } = meanParts(options.mean);
  const offset = float32Rgb(rgb.map((m) => -m));
  const list = places(g);
  const patches = samples.flatMap((_, sample) =>
    list.map(([x0, y0, flip]): ImagePatch => ({ sample, x0, y0, flip, offset }))
  );
  return cropBatch(samples, options, g, patches, image);
}
