/**
 * Network inputs from 8-bit images: a batch's u8 HWC samples and a list of patches (one per
 * output image: which sample, where the crop starts, mirrored or not, an offset per channel)
 * become a float32 `[N, 3, cropHeight, cropWidth]` tensor, on the device ({@link cropImages},
 * one kernel, the bytes uploaded once) or on the host ({@link cropImagesOnHost}, the reference).
 * Both compute, for output image `n` of patch `p`, channel `c`, row `y` and column `x`, with
 * `sx = p.x0 + x` (or `p.x0 + cropWidth − 1 − x` when `p.flip`) and `s` the index of channel c
 * of pixel `(p.y0 + y, sx)` in sample `p.sample`:
 *
 *     out[n, c, y, x] = f32(f32(f32(pixel[s] · scale) − meanImage[s]) + f32(p.offset[c]))
 *
 * every step rounded to float32 (without a mean image: `f32(f32(pixel[s] · scale) +
 * f32(p.offset[c]))`). The products come from a 256-entry table made on the host and the rest
 * are single additions, which every device rounds correctly, so the two give the same bits
 * (short of a subnormal result, which a device may flush to zero).
 *
 * The paper's training augmentation (random crop, reflection, PCA colour noise, mean image) and
 * its evaluation crops (the centre crop, the ten patches) are such patch lists:
 * `train/data/augment.ts` draws them.
 *
 * @module
 */

import type { Device, GpuBuffer } from "../kernels/device.ts";
import { cropImages as cropImagesKernel, type ImagePatch } from "../kernels/crop_images.ts";
import { empty } from "./_core.ts";
import { checkOptions, optionNames } from "./options.ts";
import { currentDevice } from "./default_device.ts";
import { fromRaw, type Tensor } from "./tensor.ts";
import { linkReplicas } from "./transfer.ts";

export type { ImagePatch } from "../kernels/crop_images.ts";

/** A batch of 8-bit RGB images and the crops to make of them. */
export interface ImageCrops {
  /** The samples' bytes, HWC (R, G, B per pixel), one sample after another. */
  readonly pixels: Uint8Array;
  /** Height of every sample. */
  readonly height: number;
  /** Width of every sample. */
  readonly width: number;
  /** Height of the crops. */
  readonly cropHeight: number;
  /** Width of the crops. */
  readonly cropWidth: number;
  /** One patch per output image, in output order. */
  readonly patches: readonly ImagePatch[];
  /** Multiplies the u8 values; 1/255 maps them to [0, 1]. */
  readonly scale: number;
  /**
   * `height × width × 3` values, HWC, subtracted at the source pixel (before crop and flip).
   * A device keeps its copy of the last array it was given and uploads it again only for
   * another array: to change the mean, pass a new array rather than writing into this one.
   */
  readonly meanImage: Float32Array | null;
}

/** Options of {@link cropImages}. */
export interface CropImagesOptions {
  /** Where the batch is built (default: the default device). */
  device?: Device;
}

const CROP_IMAGES_OPTIONS = optionNames<CropImagesOptions>({ device: true });

/**
 * The crops as a float32 `[patches, 3, cropHeight, cropWidth]` tensor on a device, built by one
 * kernel from the uploaded bytes (the module doc gives the arithmetic; it equals
 * {@link cropImagesOnHost} bit for bit). The result is input data: it requires no gradient.
 *
 * @example A mirrored 2×2 crop of a 3×3 image, in [0, 1]
 * ```ts
 * import { cropImages, defaultDevice } from "../mod.ts";
 * await defaultDevice();
 * const pixels = Uint8Array.from({ length: 27 }, (_, i) => i * 9);
 * const x = cropImages({
 *   pixels, height: 3, width: 3, cropHeight: 2, cropWidth: 2, scale: 1 / 255, meanImage: null,
 *   patches: [{ sample: 0, x0: 1, y0: 0, flip: true, offset: [0, 0, 0] }],
 * });
 * console.log(x.shape); // [1, 3, 2, 2]
 * console.log((await x.data()).slice(0, 2)); // Float32Array [0.21176470816135406, 0.10588235408067703]
 * ```
 */
export function cropImages(
  crops: ImageCrops,
  options: CropImagesOptions = {},
): Tensor<[number, 3, number, number], "f32"> {
  checkOptions("cropImages", options, CROP_IMAGES_OPTIONS);
  const samples = checkCrops(crops);
  const device = options.device ?? currentDevice();
  const { height, width, cropHeight, cropWidth, patches } = crops;
  const out = empty(device, [patches.length, 3, cropHeight, cropWidth], "f32", "image batch");
  const pixels = device.alloc(Math.max(crops.pixels.byteLength, 4), "image pixels");
  device.write(pixels, crops.pixels);
  const meanImage = crops.meanImage && meanImageOn(device, crops.meanImage);
  cropImagesKernel(device, {
    pixels,
    samples,
    height,
    width,
    cropHeight,
    cropWidth,
    patches,
    scale: crops.scale,
    meanImage,
    out: out.buffer,
  });
  // The dispatch is recorded: a later write flushes it before the pool hands these out again.
  device.release(pixels);
  return fromRaw(out);
}

/** The mean image each device holds: the last array it was given, and its copy there. */
const meanImages = new WeakMap<Device, { values: Float32Array; buffer: GpuBuffer }>();

/**
 * `mean` on `device`, uploaded once while the same array comes batch after batch (the
 * training loop passes its dataset's mean image every step); another array replaces it.
 */
function meanImageOn(device: Device, mean: Float32Array): GpuBuffer {
  const held = meanImages.get(device);
  if (held?.values === mean) return held.buffer;
  // Recorded dispatches still read the former copy: release hands it out only after them.
  if (held) device.release(held.buffer);
  const buffer = device.alloc(mean.byteLength, "mean image");
  device.write(buffer, mean);
  meanImages.set(device, { values: mean, buffer });
  return buffer;
}

/**
 * {@link cropImages} on each of `devices` (once per distinct device), declared replicas of one
 * another (`linkReplicas`): a model split over devices finds its input on each without a copy.
 *
 * @example
 * ```ts
 * import { Device, replicateImages } from "../mod.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const crops = {
 *   pixels: new Uint8Array(4 * 4 * 3), height: 4, width: 4, cropHeight: 4, cropWidth: 4,
 *   scale: 1, meanImage: null, patches: [{ sample: 0, x0: 0, y0: 0, flip: false, offset: [1, 2, 3] as const }],
 * };
 * const [onA, onB] = replicateImages(crops, [a, b]);
 * console.log((await onA.to(b)).device === b, onB.shape); // true [1, 3, 4, 4], and no copy was made
 * ```
 */
export function replicateImages(
  crops: ImageCrops,
  devices: readonly Device[],
): Tensor<[number, 3, number, number], "f32">[] {
  const copies = [...new Set(devices)].map((device) => cropImages(crops, { device }));
  linkReplicas(copies);
  return copies;
}

/**
 * The host reference of {@link cropImages}: the same float32 steps (the module doc), in
 * JavaScript, as a `[patches, 3, cropHeight, cropWidth]` Float32Array.
 *
 * @example
 * ```ts
 * import { cropImagesOnHost } from "./images.ts";
 * const out = cropImagesOnHost({
 *   pixels: new Uint8Array([255, 0, 51]), height: 1, width: 1, cropHeight: 1, cropWidth: 1,
 *   scale: 1 / 255, meanImage: null, patches: [{ sample: 0, x0: 0, y0: 0, flip: false, offset: [-0.5, 0, 0] }],
 * });
 * console.log(out); // Float32Array [0.5, 0, 0.20000000298023224]
 * ```
 */
export function cropImagesOnHost(crops: ImageCrops): Float32Array {
  checkCrops(crops);
  const { pixels, width, cropHeight, cropWidth, patches, meanImage } = crops;
  const sampleBytes = crops.height * width * 3;
  const table = Float32Array.from({ length: 256 }, (_, v) => v * crops.scale);
  const plane = cropHeight * cropWidth;
  const out = new Float32Array(patches.length * 3 * plane);
  patches.forEach((p, n) => {
    const base = p.sample * sampleBytes;
    for (let c = 0; c < 3; c++) {
      const add = Math.fround(p.offset[c]);
      let o = (n * 3 + c) * plane;
      for (let y = 0; y < cropHeight; y++) {
        const row = (p.y0 + y) * width;
        for (let x = 0; x < cropWidth; x++) {
          const s = (row + (p.flip ? p.x0 + cropWidth - 1 - x : p.x0 + x)) * 3 + c;
          let v = table[pixels[base + s]];
          if (meanImage) v = Math.fround(v - meanImage[s]);
          out[o++] = v + add; // the store rounds to float32
        }
      }
    }
  });
  return out;
}

/** Throws a RangeError naming the first thing that does not fit; returns the sample count. */
function checkCrops(crops: ImageCrops): number {
  const { height, width, cropHeight, cropWidth } = crops;
  for (const [name, v] of Object.entries({ height, width, cropHeight, cropWidth })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`cropImages: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (cropHeight > height || cropWidth > width) {
    throw new RangeError(
      `cropImages: a ${cropHeight}×${cropWidth} crop does not fit in ${height}×${width} images`,
    );
  }
  const sampleBytes = height * width * 3;
  if (crops.pixels.length % sampleBytes !== 0) {
    throw new RangeError(
      `cropImages: ${crops.pixels.length} bytes of pixels are not whole ${height}×${width}×3 samples`,
    );
  }
  if (!Number.isFinite(crops.scale)) {
    throw new RangeError(`cropImages: scale must be finite, got ${crops.scale}`);
  }
  if (crops.meanImage && crops.meanImage.length !== sampleBytes) {
    throw new RangeError(
      `cropImages: meanImage has ${crops.meanImage.length} values, expected ${height}×${width}×3 = ${sampleBytes}`,
    );
  }
  const samples = crops.pixels.length / sampleBytes;
  crops.patches.forEach((p, n) => {
    if (!Number.isInteger(p.sample) || p.sample < 0 || p.sample >= samples) {
      throw new RangeError(`cropImages: patch ${n} reads sample ${p.sample} of ${samples}`);
    }
    const inside = (start: number, size: number, limit: number) =>
      Number.isInteger(start) && start >= 0 && start + size <= limit;
    if (!inside(p.x0, cropWidth, width) || !inside(p.y0, cropHeight, height)) {
      throw new RangeError(
        `cropImages: patch ${n}'s ${cropHeight}×${cropWidth} crop at x ${p.x0}, y ${p.y0} ` +
          `leaves the ${height}×${width} image`,
      );
    }
  });
  return samples;
}
