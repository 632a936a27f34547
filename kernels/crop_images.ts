/**
 * Image crops from 8-bit pixels: one kernel builds a float32 NCHW batch from u8 HWC samples,
 * each output image a (possibly mirrored) crop of one sample with a per-channel offset. The
 * paper's training augmentation (random crop, reflection, PCA colour noise, mean subtraction)
 * and its evaluation crops (centre, ten patches) are all lists of such patches, so the host
 * uploads the batch's bytes once and the per-pixel work runs on the device.
 *
 * For output image `n` (patch `p`), channel `c`, row `y`, column `x`, with `sx = p.x0 + x`, or
 * `p.x0 + cropWidth − 1 − x` when `p.flip`, and `s = ((p.y0 + y) · width + sx) · 3 + c` the
 * byte of sample `p.sample`:
 *
 *     out[n, c, y, x] = f32(f32(table[pixel[s]] − meanImage[s]) + p.offset[c])
 *
 * where `table[v] = f32(v · scale)` is computed on the host (256 entries) and every step is
 * one correctly rounded float32 subtraction or addition of values loaded from memory: there is
 * no product for a compiler to contract into a fused multiply-add, so every conforming device
 * gives the same bits (short of a subnormal result, which a device may flush to zero). Without
 * a mean image the subtraction is skipped: `f32(table[pixel[s]] + p.offset[c])`.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { Uniforms } from "./_uniforms.ts";

/** Threads along a crop's row. */
const ROW_WORKGROUP = 64;
/** Adjacent output columns per thread: their 12 source bytes come in four word loads. */
const COLUMNS = 4;
/** 32-bit words per patch in the patch buffer: sample, x0, y0, flip, offset r, g, b, padding. */
const PATCH_WORDS = 8;

/** One output image: the sample it is cut from, where, whether mirrored, and its offsets. */
export interface ImagePatch {
  /** Index of the source sample in the batch's pixels. */
  readonly sample: number;
  /** Column of the crop's left edge in the source image. */
  readonly x0: number;
  /** Row of the crop's top edge in the source image. */
  readonly y0: number;
  /** Mirror the crop horizontally (output column x reads source column x0 + cropWidth − 1 − x). */
  readonly flip: boolean;
  /**
   * Added to every value of channel r, g, b (each rounded to float32): PCA colour noise minus
   * the per-channel mean, for instance.
   */
  readonly offset: readonly [number, number, number];
}

/** What {@link cropImages} reads and writes. */
export interface CropImagesArgs {
  /** The samples' u8 HWC bytes, one sample after another, packed 4 per u32 (little-endian). */
  pixels: GpuBuffer;
  /** Samples in `pixels`. */
  samples: number;
  /** Height of every sample. */
  height: number;
  /** Width of every sample. */
  width: number;
  /** Height of the crops. */
  cropHeight: number;
  /** Width of the crops. */
  cropWidth: number;
  /** One patch per output image, in output order. */
  patches: readonly ImagePatch[];
  /** Multiplies the u8 values (through the 256-entry table); 1/255 for the unit range. */
  scale: number;
  /** `height × width × 3` f32, HWC, subtracted at the source pixel; null for none. */
  meanImage: GpuBuffer | null;
  /** `[patches, 3, cropHeight, cropWidth]` f32, written. */
  out: GpuBuffer;
  /** Largest byte range to bind at once (default and ceiling: the device's limit); for tests. */
  maxBindingBytes?: number;
}

/** A run of output images that one dispatch covers, with the byte ranges it binds. */
interface CropSlice {
  first: number;
  count: number;
  /** Lowest sample the run's patches read: its first byte lies `pixelShift` bytes into the binding. */
  lowSample: number;
  pixels: { offset: number; size: number };
  pixelShift: number;
  out: { offset: number; size: number };
  /** f32 elements between the output binding's start and the run's first image. */
  outShift: number;
}

/**
 * Writes the crops of `patches` as `[patches.length, 3, cropHeight, cropWidth]` f32 (the module
 * doc gives the exact arithmetic). The batch is cut into runs of output images whose output
 * and source bytes each fit one storage binding; a run's patches may read any samples. The
 * patches are trusted to lie inside their samples: `cropImages` in `tensor/images.ts` checks them.
 *
 * @example Two mirrored 1×2 crops of one 1×3 image
 * ```ts
 * import { Device } from "./device.ts";
 * import { cropImages } from "./crop_images.ts";
 * const device = await Device.acquire();
 * const pixels = device.alloc(12), out = device.alloc(2 * 3 * 2 * 4);
 * device.write(pixels, new Uint8Array([0, 1, 2, 10, 11, 12, 20, 21, 22]));
 * const patches = [
 *   { sample: 0, x0: 0, y0: 0, flip: false, offset: [0, 0, 0] as const },
 *   { sample: 0, x0: 1, y0: 0, flip: true, offset: [0, 0, 100] as const },
 * ];
 * cropImages(device, {
 *   pixels, samples: 1, height: 1, width: 3, cropHeight: 1, cropWidth: 2,
 *   patches, scale: 1, meanImage: null, out,
 * });
 * console.log(new Float32Array(await device.read(out, 0, 48)));
 * // [0, 10, 1, 11, 2, 12, 20, 10, 21, 11, 122, 112]
 * ```
 */
export function cropImages(device: Device, args: CropImagesArgs): void {
  const { patches, cropHeight, cropWidth, width } = args;
  if (patches.length === 0) return;
  const plane = cropHeight * cropWidth;
  const sampleBytes = args.height * width * 3;
  const ceiling = device.limits.maxStorageBufferBindingSize;
  if (args.meanImage && sampleBytes * 4 > ceiling) {
    throw new RangeError(
      `cropImages: the ${args.height}×${width} mean image (${sampleBytes * 4} bytes) exceeds ` +
        `the ${ceiling}-byte binding limit`,
    );
  }
  const table = scaleTable(device, args.scale);
  const patchBuffer = device.alloc(patches.length * PATCH_WORDS * 4, "image patches");
  device.write(patchBuffer, packPatches(patches));
  const mean = args.meanImage;
  for (const slice of cropSlices(device, args)) {
    const uf = new Uniforms();
    const u = uf.all({
      plane,
      cropWidth,
      width,
      sampleBytes,
      first: slice.first,
      lowSample: slice.lowSample,
      pixelShift: slice.pixelShift,
      outShift: slice.outShift,
    });
    const wgsl = cropWgsl(uf, u, mean !== null);
    const threads = slice.count * plane;
    device.dispatch(
      {
        name:
          `crop images [${patches.length}, 3, ${cropHeight}, ${cropWidth}] of ${args.samples} ` +
          `${args.height}×${width}`,
        wgsl,
        uniforms: uf.data(),
        variant: mean ? "mean image" : "offsets only",
        workgroups: [
          Math.ceil(cropWidth / (COLUMNS * ROW_WORKGROUP)),
          cropHeight,
          slice.count,
        ],
        cost: { bytes: threads * 3 * (mean ? 9 : 5) },
      },
      [
        { buffer: args.pixels, ...slice.pixels },
        { buffer: patchBuffer },
        { buffer: table, size: 1024 },
        { buffer: args.out, ...slice.out },
        ...(mean ? [{ buffer: mean, size: sampleBytes * 4 }] : []),
      ],
    );
  }
  device.release(patchBuffer);
}

/**
 * The crop kernel's WGSL. The grid is (row segment, row, image): no index is divided out of a
 * flat one. A thread writes {@link COLUMNS} adjacent columns of one row: their source pixels
 * are adjacent too (in reverse order when mirrored), so it loads the words that hold their
 * bytes once, and reads the patch and computes the addresses once, for 3·COLUMNS values.
 */
function cropWgsl(uf: Uniforms, u: Record<string, string>, mean: boolean): string {
  return `
struct Patch { sample: u32, x0: u32, y0: u32, flip: u32, offset: vec4f }
@group(0) @binding(0) var<storage, read> pixels: array<u32>;
@group(0) @binding(1) var<storage, read> patches: array<Patch>;
@group(0) @binding(2) var<storage, read> table: array<f32, 256>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;${
    mean ? "\n@group(0) @binding(4) var<storage, read> meanImage: array<f32>;" : ""
  }
${uf.declare(mean ? 5 : 4)}

@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let x = (wid.x * ${ROW_WORKGROUP}u + lid) * ${COLUMNS}u;
  if (x >= ${u.cropWidth}) { return; }
  let y = wid.y;
  let image = wid.z;
  let p = patches[${u.first} + image];
  let columns = min(${COLUMNS}u, ${u.cropWidth} - x);
  let flip = p.flip != 0u;
  // The leftmost source pixel of the thread's columns: the first, or mirrored the last.
  let left = select(p.x0 + x, p.x0 + ${u.cropWidth} - x - columns, flip);
  let pixel = (p.y0 + y) * ${u.width} + left;
  let source = (p.sample - ${u.lowSample}) * ${u.sampleBytes} + ${u.pixelShift} + pixel * 3u;
  // The 3·columns bytes from source on lie in four words (the last clamped to the binding).
  let word = source / 4u;
  let last = arrayLength(&pixels) - 1u;
  let words = vec4u(
    pixels[word],
    pixels[min(word + 1u, last)],
    pixels[min(word + 2u, last)],
    pixels[min(word + 3u, last)],
  );
  let skip = source % 4u;
  let at = ${u.outShift} + image * 3u * ${u.plane} + y * ${u.cropWidth} + x;
  for (var j = 0u; j < columns; j++) {
    // Column x + j reads source pixel left + q.
    let q = select(j, columns - 1u - j, flip);
    for (var c = 0u; c < 3u; c++) {
      let byte = skip + q * 3u + c;
      let value = (words[byte / 4u] >> ((byte % 4u) * 8u)) & 255u;
      // Loads, one subtraction and one addition: nothing to fuse, so the host's bits.
      var v = table[value];${mean ? "\n      v = v - meanImage[(pixel + q) * 3u + c];" : ""}
      out[at + c * ${u.plane} + j] = v + p.offset[c];
    }
  }
}`;
}

/** The 256 values `f32(v · scale)`, one buffer per device and scale. */
function scaleTable(device: Device, scale: number): GpuBuffer {
  const key = `image scale ${scale}`;
  return device.constantBuffer(key, () => {
    const values = Float32Array.from({ length: 256 }, (_, v) => v * scale);
    return new Uint32Array(values.buffer);
  }, "image scale table");
}

/** The patches as the shader's `Patch` structs (8 words each; offsets as f32 bits). */
function packPatches(patches: readonly ImagePatch[]): Uint32Array {
  const words = new Uint32Array(patches.length * PATCH_WORDS);
  const floats = new Float32Array(words.buffer);
  patches.forEach((p, n) => {
    const at = n * PATCH_WORDS;
    words.set([p.sample, p.x0, p.y0, p.flip ? 1 : 0], at);
    floats.set(p.offset, at + 4);
  });
  return words;
}

/**
 * Cuts the output images into runs whose output bytes and source bytes (from the lowest to the
 * highest sample their patches read) each fit one binding once aligned down; one run binds
 * everything when it all fits.
 */
function cropSlices(device: Device, args: CropImagesArgs): CropSlice[] {
  const ceiling = device.limits.maxStorageBufferBindingSize;
  const limit = Math.min(args.maxBindingBytes ?? ceiling, ceiling);
  const align = device.limits.minStorageBufferOffsetAlignment;
  const grid = device.limits.maxComputeWorkgroupsPerDimension;
  if (args.cropHeight > grid) {
    throw new RangeError(
      `cropImages: crops ${args.cropHeight} rows high exceed the ${grid}-row grid`,
    );
  }
  const imageBytes = 3 * args.cropHeight * args.cropWidth * 4;
  const sampleBytes = args.height * args.width * 3;
  const { patches } = args;
  const outRange = (first: number, count: number) => {
    const start = first * imageBytes, offset = start - (start % align);
    return { offset, size: start - offset + count * imageBytes };
  };
  const pixelRange = (low: number, high: number) => {
    const start = low * sampleBytes, offset = start - (start % align);
    const end = Math.min((high + 1) * sampleBytes, args.samples * sampleBytes);
    return { offset, size: Math.ceil((end - offset) / 4) * 4 };
  };
  const slices: CropSlice[] = [];
  for (let first = 0; first < patches.length;) {
    let low = patches[first].sample, high = low, count = 1;
    const fits = (l: number, h: number, n: number) =>
      outRange(first, n).size <= limit && pixelRange(l, h).size <= limit;
    if (!fits(low, high, 1)) {
      throw new RangeError(
        `cropImages: one ${args.cropHeight}×${args.cropWidth} crop (${imageBytes} bytes) or one ` +
          `${args.height}×${args.width} sample (${sampleBytes} bytes) exceeds the ${limit}-byte ` +
          `binding limit`,
      );
    }
    // One workgroup layer per image: a run has at most the grid's z extent of them.
    while (first + count < patches.length && count < grid) {
      const s = patches[first + count].sample;
      const l = Math.min(low, s), h = Math.max(high, s);
      if (!fits(l, h, count + 1)) break;
      [low, high] = [l, h];
      count++;
    }
    const pixels = pixelRange(low, high), out = outRange(first, count);
    slices.push({
      first,
      count,
      lowSample: low,
      pixels,
      pixelShift: low * sampleBytes - pixels.offset,
      out,
      outShift: (first * imageBytes - out.offset) / 4,
    });
    first += count;
  }
  return slices;
}
