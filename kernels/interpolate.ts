/**
 * Resampling of NCHW f32 tensors (PyTorch's `F.interpolate` in the modes `nearest`,
 * `nearest-exact` and `(bi)linear`, and `F.pad` in the modes `reflect`, `replicate` and
 * `circular`), forward and backward. Each axis maps every output
 * position to one or two input positions with weights, computed on the host with PyTorch's
 * index maths in float32 (`UpSample.h`) and kept as a constant table per axis. The forward
 * pass reads its taps in PyTorch's order; the backward pass gathers, per input element, the
 * weighted gradients of the outputs that read it (the table's inverse, also precomputed), in
 * a fixed order: no float atomics, the same bits every run. Sizes are uniforms; the shader
 * depends only on the number of taps per axis.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoisedKernel } from "./_memo.ts";
import { flatMainHead, type SampleOperand, sampleRuns } from "./_program.ts";

/**
 * How one axis maps output positions to input positions: interpolation (`nearest`,
 * `nearest-exact`, `linear`, `cubic`), or padding by `reflect`ion (without repeating the edge),
 * `replicate`d edges or `circular` wrapping (output `o` reads input `o − offset` mapped back
 * into range).
 */
export type AxisMode =
  | "nearest"
  | "nearest-exact"
  | "linear"
  | "cubic"
  | "reflect"
  | "replicate"
  | "circular";

/** One axis of a resampling. */
export interface ResampleAxis {
  /** Input size. */
  size: number;
  /** Output size. */
  out: number;
  /** How outputs read inputs. */
  mode: AxisMode;
  /** PyTorch's `align_corners` (linear only): the corner pixels' centres line up. */
  alignCorners: boolean;
  /**
   * The scale factor given by the caller (output over input), used for the source index as
   * PyTorch uses it (`1 / scale`); null to use `size / out`.
   */
  scale: number | null;
  /** Padding modes: the elements added before the input (negative: cropped). Default 0. */
  offset?: number;
}

/** Shape of a resampling: `planes` = N·C planes, each mapped by `rows` and `cols`. */
export interface ResampleGeometry {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** The H axis. */
  rows: ResampleAxis;
  /** The W axis. */
  cols: ResampleAxis;
}

/** One output position's taps: input indices and their weights (1, 2 or 4 of them). */
export interface Taps {
  index: number[];
  weight: number[];
}

/** PyTorch's cubic convolution constant (Keys' kernel, `A = −0.75`). */
const CUBIC_A = -0.75;

const f32 = Math.fround;

/**
 * PyTorch's source taps of output `o` on an axis, in float32 as its CPU kernels compute them:
 * nearest `min(floor(o·s), in − 1)` (`s` the inverse scale; `o` itself when the sizes agree,
 * `o >> 1` when the output is twice the input), nearest-exact `min(floor((o + ½)·s), in − 1)`,
 * linear from `s·(o + ½) − ½` clamped at 0 (or `o·(in − 1)/(out − 1)` with aligned corners),
 * its floor and the next index (the same at the last), weighted `1 − λ` and `λ`. A padding
 * mode reads `o − offset`, reflected, clamped or wrapped into the input.
 *
 * @example Twice the size, bilinear: output 1 reads inputs 0 and 1 at ¾ and ¼
 * ```ts
 * import { sourceTaps } from "./interpolate.ts";
 * const axis = { size: 2, out: 4, mode: "linear" as const, alignCorners: false, scale: null };
 * console.log(sourceTaps(axis, 1)); // { index: [0, 1], weight: [0.75, 0.25] }
 * ```
 */
export function sourceTaps(axis: ResampleAxis, o: number): Taps {
  const { size, out, mode, alignCorners, scale } = axis;
  if (mode === "reflect" || mode === "replicate" || mode === "circular") {
    return { index: [padSource(mode, o - (axis.offset ?? 0), size)], weight: [1] };
  }
  // compute_scales_value: 1/scale where given (in double, then float), else in/out in float.
  const inverse = scale !== null && scale > 0 ? f32(1 / scale) : f32(size / out);
  if (mode === "nearest" || mode === "nearest-exact") {
    let i: number;
    if (mode === "nearest" && out === size) i = o;
    else if (mode === "nearest" && out === 2 * size) i = o >> 1;
    else {
      // nearest: floorf(dst · scale) in float; nearest-exact: (dst + 0.5) · scale in double.
      const src = mode === "nearest" ? f32(f32(o) * inverse) : f32((o + 0.5) * inverse);
      i = Math.min(Math.floor(src), size - 1);
    }
    return { index: [i], weight: [1] };
  }
  const cubic = mode === "cubic";
  if (out === size && !cubic) return { index: [o, o], weight: [1, 0] };
  const ratio = alignCorners ? (out > 1 ? f32((size - 1) / (out - 1)) : 0) : inverse;
  let src = alignCorners ? f32(ratio * o) : f32(f32(ratio * f32(o + 0.5)) - 0.5);
  if (src < 0 && !cubic) src = 0;
  const i0 = Math.min(Math.floor(src), size - 1);
  const t = Math.min(Math.max(f32(src - i0), 0), 1);
  if (!cubic) return { index: [i0, i0 < size - 1 ? i0 + 1 : i0], weight: [f32(1 - t), t] };
  // upsample_bicubic2d: taps i0 − 1 … i0 + 2, read clamped to the input, weighted by Keys'
  // kernel at distances t + 1, t, 1 − t, 2 − t (get_cubic_upsample_coefficients).
  const near = (x: number) => f32(f32(f32(f32((CUBIC_A + 2) * x) - (CUBIC_A + 3)) * x) * x) + 1;
  const far = (x: number) =>
    f32(f32(f32(f32(f32(CUBIC_A * x) - 5 * CUBIC_A) * x) + 8 * CUBIC_A) * x) - 4 * CUBIC_A;
  const index = [-1, 0, 1, 2].map((k) => Math.min(Math.max(i0 + k, 0), size - 1));
  const u = f32(1 - t);
  return {
    index,
    weight: [f32(far(f32(t + 1))), f32(near(t)), f32(near(u)), f32(far(f32(u + 1)))],
  };
}

/** Where position `j` of a padded axis reads from an input of `size` (PyTorch's pad modes). */
function padSource(mode: "reflect" | "replicate" | "circular", j: number, size: number): number {
  if (mode === "replicate") return Math.min(Math.max(j, 0), size - 1);
  if (mode === "circular") return ((j % size) + size) % size;
  return j < 0 ? -j : j >= size ? 2 * (size - 1) - j : j;
}

/** Taps per output on an axis: 4 (cubic), 2 (linear) or 1 (every other mode). */
function tapsOf(axis: ResampleAxis): Taps1to4 {
  return axis.mode === "cubic" ? 4 : axis.mode === "linear" ? 2 : 1;
}

type Taps1to4 = 1 | 2 | 4;

/** Words per output in an axis's table: four indices, then four weights. */
const SLOT = 8;

/**
 * An axis's table, in u32 words (weights as their f32 bits): for each output its indices and
 * weights (a {@link SLOT} of 8 words: four of each, the unused ones 0); then for each input the start of its entries (`size + 1` words,
 * absolute); then the entries, `(output, weight)` pairs of the outputs that read that input,
 * in ascending output order.
 */
function axisTable(axis: ResampleAxis): Uint32Array {
  const taps = Array.from({ length: axis.out }, (_, o) => sourceTaps(axis, o));
  const readers: [number, number][][] = Array.from({ length: axis.size }, () => []);
  taps.forEach(({ index, weight }, o) => {
    index.forEach((i, t) => readers[i].push([o, weight[t]]));
  });
  const entries = readers.reduce((n, r) => n + r.length, 0);
  const words = new Uint32Array(SLOT * axis.out + axis.size + 1 + 2 * entries);
  const bits = new Float32Array(words.buffer);
  taps.forEach(({ index, weight }, o) => {
    words.set(index, SLOT * o);
    bits.set(weight, SLOT * o + 4);
  });
  let at = SLOT * axis.out + axis.size + 1;
  readers.forEach((list, i) => {
    words[SLOT * axis.out + i] = at;
    for (const [o, w] of list) {
      words[at] = o;
      bits[at + 1] = w;
      at += 2;
    }
  });
  words[SLOT * axis.out + axis.size] = at;
  return words;
}

/** The constant table of an axis, built once per axis and kept by the device. */
function tableOf(device: Device, axis: ResampleAxis): GpuBuffer {
  const key = `resample ${axis.mode}${axis.alignCorners ? " aligned" : ""} ${axis.size}→` +
    `${axis.out} scale ${axis.scale} offset ${axis.offset ?? 0}`;
  return device.constantBuffer(key, () => axisTable(axis), "resample table");
}

/** Buffers of {@link resample}. */
export interface ResampleBuffers {
  /** Input `[N, C, H, W]`. */
  x: GpuBuffer;
  /** Output `[N, C, OH, OW]`, written. */
  out: GpuBuffer;
}

/** Buffers of {@link resampleBackward}. */
export interface ResampleBackwardBuffers {
  /** Gradient of the output `[N, C, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Gradient of the input `[N, C, H, W]`, written (every element). */
  gradX: GpuBuffer;
}

/**
 * Resamples `x` to the output size, each output a weighted sum of its taps along H and W.
 *
 * @example Nearest, twice the size
 * ```ts
 * import { Device } from "./device.ts";
 * import { resample } from "./interpolate.ts";
 * const device = await Device.acquire();
 * const axis = { size: 2, out: 4, mode: "nearest" as const, alignCorners: false, scale: null };
 * const g = { batch: 1, channels: 1, rows: { ...axis, size: 1, out: 1 }, cols: axis };
 * const x = device.alloc(8), out = device.alloc(16);
 * device.write(x, new Float32Array([1, 2]));
 * resample(device, g, { x, out });
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [1, 1, 2, 2]
 * ```
 */
export function resample(
  device: Device,
  g: ResampleGeometry,
  buffers: ResampleBuffers,
  maxBindingBytes?: number,
): void {
  run(device, "resample", g, true, [buffers.x, buffers.out], maxBindingBytes);
}

/**
 * Gradient of {@link resample}: each input element sums the weighted gradients of the outputs
 * that read it.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { resampleBackward } from "./interpolate.ts";
 * const device = await Device.acquire();
 * const axis = { size: 2, out: 4, mode: "linear" as const, alignCorners: false, scale: null };
 * const g = { batch: 1, channels: 1, rows: { ...axis, size: 1, out: 1, mode: "nearest" as const }, cols: axis };
 * const gradOut = device.alloc(16), gradX = device.alloc(8);
 * device.write(gradOut, new Float32Array([1, 1, 1, 1]));
 * resampleBackward(device, g, { gradOut, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 8))); // [2, 2]
 * ```
 */
export function resampleBackward(
  device: Device,
  g: ResampleGeometry,
  buffers: ResampleBackwardBuffers,
  maxBindingBytes?: number,
): void {
  run(device, "resampleBackward", g, false, [buffers.gradOut, buffers.gradX], maxBindingBytes);
}

const WORKGROUP = 256;

type Uniform = "threads" | "height" | "width" | "outH" | "outW" | "shiftIn" | "shiftOut";

/** The kernel of a pass and the taps per axis; every size a uniform. */
const kernel = memoisedKernel(
  (
    k: { forward: boolean; tapsH: Taps1to4; tapsW: Taps1to4 },
    u: Record<Uniform, string>,
    uniforms,
  ) =>
    k.forward
      ? forwardWgsl(u, k.tapsH, k.tapsW, uniforms.declare(4))
      : backwardWgsl(u, uniforms.declare(4)),
);

/**
 * Dispatches a pass over runs of whole samples that fit a binding: `[source, destination]`,
 * one thread per destination element, the two axis tables bound after them.
 */
function run(
  device: Device,
  op: string,
  g: ResampleGeometry,
  forward: boolean,
  [source, destination]: [GpuBuffer, GpuBuffer],
  maxBindingBytes: number | undefined,
): void {
  const { rows, cols } = g;
  for (const [name, axis] of [["rows", rows], ["cols", cols]] as const) {
    for (const key of ["size", "out"] as const) {
      if (!Number.isInteger(axis[key]) || axis[key] < 1) {
        throw new RangeError(`${op}: ${name}.${key} must be a positive integer, got ${axis[key]}`);
      }
    }
  }
  const inSample = 4 * g.channels * rows.size * cols.size;
  const outSample = 4 * g.channels * rows.out * cols.out;
  const [sourceBytes, destinationBytes] = forward ? [inSample, outSample] : [outSample, inSample];
  const operands: SampleOperand[] = [
    ["source", source, sourceBytes],
    ["destination", destination, destinationBytes],
  ];
  const tables: Binding[] = [rows, cols].map((axis) => {
    const buffer = tableOf(device, axis);
    return { buffer, offset: 0, size: buffer.capacity };
  });
  const runs = sampleRuns(device.limits, op, g.batch, operands, maxBindingBytes);
  for (const { count, parts } of runs) {
    const threads = (count * destinationBytes) / 4;
    const { wgsl, uniforms } = kernel({
      forward,
      tapsH: tapsOf(rows),
      tapsW: tapsOf(cols),
    }, {
      threads,
      height: rows.size,
      width: cols.size,
      outH: rows.out,
      outW: cols.out,
      shiftIn: parts[0].shift,
      shiftOut: parts[1].shift,
    });
    const modes = rows.mode === cols.mode ? rows.mode : `${rows.mode}×${cols.mode}`;
    device.dispatch({
      name: `${op}[${count}×${g.channels}×${rows.size}×${cols.size}→${rows.out}×${cols.out} ` +
        `${modes}${rows.alignCorners ? " aligned" : ""}]`,
      wgsl,
      uniforms,
      workgroups: Math.ceil(threads / WORKGROUP),
      cost: { bytes: count * (sourceBytes + destinationBytes) },
    }, [
      { buffer: source, ...parts[0].range },
      { buffer: destination, ...parts[1].range },
      ...tables,
    ]);
  }
}

const BINDINGS = (source: string, destination: string) =>
  `@group(0) @binding(0) var<storage, read> ${source}: array<f32>;
@group(0) @binding(1) var<storage, read_write> ${destination}: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<u32>;
@group(0) @binding(3) var<storage, read> cols: array<u32>;`;

/**
 * One thread per output: `Σₐ hₐ·(Σ_b w_b·x[rowₐ][col_b])` in PyTorch's order (bilinear:
 * `h0λ·(w0λ·x00 + w1λ·x01) + h1λ·(…)`; bicubic: each row interpolated along W, then the rows
 * along H), with only the taps an axis has (one for nearest: a copy).
 */
function forwardWgsl(
  u: Record<Uniform, string>,
  tapsH: Taps1to4,
  tapsW: Taps1to4,
  declare: string,
): string {
  const sum = (terms: string[]) => terms.join(" + ");
  const row = (a: number) => {
    const reads = Array.from({ length: tapsW }, (_, b) => `x[base + r${a} + c${b}]`);
    return tapsW === 1 ? reads[0] : sum(reads.map((read, b) => `wc${b} * ${read}`));
  };
  const value = tapsH === 1 ? row(0) : sum(
    Array.from({ length: tapsH }, (_, a) => `wr${a} * (${row(a)})`),
  );
  const lets = (axis: "rows" | "cols", o: string, short: "r" | "c", taps: number, scale = "") =>
    Array.from(
      { length: taps },
      (_, t) =>
        `let ${short}${t} = ${axis}[${SLOT}u * ${o} + ${t}u]${scale};
  let w${short}${t} = bitcast<f32>(${axis}[${SLOT}u * ${o} + ${4 + t}u]);`,
    ).join("\n  ");
  return `// resample forward (${tapsH}×${tapsW} taps)
${BINDINGS("x", "out")}
${declare}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let ow = idx % ${u.outW};
  let rest = idx / ${u.outW};
  let oh = rest % ${u.outH};
  let plane = rest / ${u.outH};
  let base = ${u.shiftIn} + plane * ${u.height} * ${u.width};
  ${lets("rows", "oh", "r", tapsH, ` * ${u.width}`)}
  ${lets("cols", "ow", "c", tapsW)}
  out[${u.shiftOut} + idx] = ${value};
}
`;
}

/**
 * One thread per input element: over the outputs that read its row (ascending), the weighted
 * sum over the outputs that read its column (ascending).
 */
function backwardWgsl(u: Record<Uniform, string>, declare: string): string {
  return `// resample backward (gather)
${BINDINGS("gradOut", "gradX")}
${declare}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let w = idx % ${u.width};
  let rest = idx / ${u.width};
  let h = rest % ${u.height};
  let plane = rest / ${u.height};
  let base = ${u.shiftIn} + plane * ${u.outH} * ${u.outW};
  let rowEntries = ${SLOT}u * ${u.outH} + h;
  let colEntries = ${SLOT}u * ${u.outW} + w;
  var acc = 0.0;
  for (var a = rows[rowEntries]; a < rows[rowEntries + 1u]; a += 2u) {
    let at = base + rows[a] * ${u.outW};
    var inner = 0.0;
    for (var b = cols[colEntries]; b < cols[colEntries + 1u]; b += 2u) {
      inner += bitcast<f32>(cols[b + 1u]) * gradOut[at + cols[b]];
    }
    acc += bitcast<f32>(rows[a + 1u]) * inner;
  }
  gradX[${u.shiftOut} + idx] = acc;
}
`;
}
