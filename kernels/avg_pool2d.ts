/**
 * Average pooling over NCHW f32 tensors, forward and backward, with PyTorch's two ways of
 * placing the windows: fixed ones (`nn.AvgPool2d`: kernel, stride, zero padding, a divisor
 * that counts the padding or not, or is given) and adaptive ones (`nn.AdaptiveAvgPool2d`:
 * output `i` averages rows `floor(i·H/OH)` to `ceil((i+1)·H/OH)`). One program per pass; every
 * size is a uniform, so a shader compiles once per pass and window kind. The backward pass
 * gathers (one thread per input pixel, its windows in ascending order): no atomics, and the
 * same bits on every run.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { memoisedKernel } from "./_memo.ts";
import type { Uniforms } from "./_uniforms.ts";
import { dispatchSampleRuns, flatMainHead, type SampleOperand } from "./_program.ts";

/** Fixed windows, as `nn.AvgPool2d` places them. */
export interface FixedWindows {
  /** Window height. */
  kernelH: number;
  /** Window width. */
  kernelW: number;
  /** Vertical step between windows. */
  strideH: number;
  /** Horizontal step between windows. */
  strideW: number;
  /** Rows of zero padding above and below; at most `kernelH / 2`. */
  padH: number;
  /** Columns of zero padding left and right; at most `kernelW / 2`. */
  padW: number;
  /**
   * Divide by the window's size including the padding it covers (PyTorch's default), else by
   * the input elements it covers. A ceil-mode window past the padding never counts that part.
   */
  countIncludePad: boolean;
  /** Divide every window by this instead (PyTorch's `divisor_override`), or null. */
  divisorOverride: number | null;
}

/** Shape of an average pooling: an NCHW input, the output's size and how windows are placed. */
export interface AvgPool2dGeometry {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** H of the input. */
  height: number;
  /** W of the input. */
  width: number;
  /** H of the output. */
  outH: number;
  /** W of the output. */
  outW: number;
  /** Fixed windows, or `"adaptive"` ones that tile the input into `outH × outW` cells. */
  windows: FixedWindows | "adaptive";
}

/** Buffers of {@link avgPool2d}: NCHW f32, allocated by the caller. */
export interface AvgPool2dBuffers {
  /** Input, `N·C·H·W`. */
  x: GpuBuffer;
  /** Output, `N·C·OH·OW`. */
  out: GpuBuffer;
}

/** Buffers of {@link avgPool2dBackward}: NCHW f32, allocated by the caller. */
export interface AvgPool2dBackwardBuffers {
  /** Gradient of the output, `N·C·OH·OW`. */
  gradOut: GpuBuffer;
  /** Gradient of the input, `N·C·H·W`; every element is written. */
  gradX: GpuBuffer;
}

/** Options of the average-pooling kernels. */
export interface AvgPoolOptions {
  /**
   * Largest byte range to bind at once (default and ceiling: the device's
   * `maxStorageBufferBindingSize`). Larger tensors are processed in slices of the batch;
   * tests lower it to force that path on small shapes.
   */
  maxBindingBytes?: number;
}

const WORKGROUP = 256;

/**
 * Average pooling: each output is the sum of its window's input elements divided by the
 * window's divisor (a window with no input element gives 0).
 *
 * @example 2×2 windows over a 4×4 image, and the adaptive 1×1 (global) average
 * ```ts
 * import { Device } from "./device.ts";
 * import { avgPool2d } from "./avg_pool2d.ts";
 * const device = await Device.acquire();
 * const windows = { kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0,
 *   countIncludePad: true, divisorOverride: null };
 * const g = { batch: 1, channels: 1, height: 4, width: 4, outH: 2, outW: 2, windows };
 * const x = device.alloc(64), out = device.alloc(16);
 * device.write(x, new Float32Array([...Array(16).keys()]));
 * avgPool2d(device, g, { x, out });
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [2.5, 4.5, 10.5, 12.5]
 * avgPool2d(device, { ...g, outH: 1, outW: 1, windows: "adaptive" }, { x, out });
 * console.log(new Float32Array(await device.read(out, 0, 4))); // [7.5]
 * ```
 */
export function avgPool2d(
  device: Device,
  g: AvgPool2dGeometry,
  buffers: AvgPool2dBuffers,
  options: AvgPoolOptions = {},
): void {
  const { inSample, outSample } = sampleBytes(g);
  run(device, "avgPool2d", g, options, "forward", [
    ["x", buffers.x, inSample],
    ["out", buffers.out, outSample],
  ]);
}

/**
 * Gradient of {@link avgPool2d}: each input pixel gathers `gradOut / divisor` of every window
 * that holds it, in ascending window order.
 *
 * @example The gradient of a global average spreads evenly
 * ```ts
 * import { Device } from "./device.ts";
 * import { avgPool2dBackward } from "./avg_pool2d.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, channels: 1, height: 2, width: 2, outH: 1, outW: 1,
 *   windows: "adaptive" as const };
 * const gradOut = device.alloc(4), gradX = device.alloc(16);
 * device.write(gradOut, new Float32Array([8]));
 * avgPool2dBackward(device, g, { gradOut, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 16))); // [2, 2, 2, 2]
 * ```
 */
export function avgPool2dBackward(
  device: Device,
  g: AvgPool2dGeometry,
  buffers: AvgPool2dBackwardBuffers,
  options: AvgPoolOptions = {},
): void {
  const { inSample, outSample } = sampleBytes(g);
  run(device, "avgPool2dBackward", g, options, "backward", [
    ["gradOut", buffers.gradOut, outSample],
    ["gradX", buffers.gradX, inSample],
  ]);
}

function sampleBytes(g: AvgPool2dGeometry): { inSample: number; outSample: number } {
  checkGeometry(g);
  return {
    inSample: 4 * g.channels * g.height * g.width,
    outSample: 4 * g.channels * g.outH * g.outW,
  };
}

/** The sizes a kernel reads from its uniforms. */
type Sizes =
  | "threads"
  | "height"
  | "width"
  | "outH"
  | "outW"
  | "kernelH"
  | "kernelW"
  | "strideH"
  | "strideW"
  | "padH"
  | "padW"
  | "divisor"
  | "shift0"
  | "shift1";

/** What a kernel's WGSL depends on: the pass, the window kind and how fixed windows divide. */
interface Variant {
  pass: "forward" | "backward";
  adaptive: boolean;
  countIncludePad: boolean;
}

const kernel = memoisedKernel((v: Variant, u: Record<Sizes, string>, uniforms: Uniforms) =>
  v.pass === "forward" ? forwardWgsl(v, u, uniforms) : backwardWgsl(v, u, uniforms)
);

/**
 * Checks capacities, slices the batch to fit the binding limit and dispatches one shader per
 * slice, one thread per element of the last operand (the one the kernel writes).
 */
function run(
  device: Device,
  op: string,
  g: AvgPool2dGeometry,
  options: AvgPoolOptions,
  pass: Variant["pass"],
  operands: SampleOperand[],
): void {
  const fixed = g.windows === "adaptive" ? null : g.windows;
  const variant = {
    pass,
    adaptive: fixed === null,
    countIncludePad: fixed?.countIncludePad ?? false,
  };
  const windows = fixed
    ? `${fixed.kernelH}×${fixed.kernelW} s${fixed.strideH}×${fixed.strideW} ` +
      `p${fixed.padH}×${fixed.padW}`
    : "adaptive";
  dispatchSampleRuns(device, op, g.batch, operands, options.maxBindingBytes, WORKGROUP, (run) => {
    const { wgsl, uniforms } = kernel(variant, {
      threads: run.threads,
      height: g.height,
      width: g.width,
      outH: g.outH,
      outW: g.outW,
      kernelH: fixed?.kernelH ?? 0,
      kernelW: fixed?.kernelW ?? 0,
      strideH: fixed?.strideH ?? 0,
      strideW: fixed?.strideW ?? 0,
      padH: fixed?.padH ?? 0,
      padW: fixed?.padW ?? 0,
      divisor: fixed?.divisorOverride ?? 0,
      shift0: run.shifts[0],
      shift1: run.shifts[1],
    });
    const name = `${op}[${run.count}×${g.channels}×${g.height}×${g.width} → ${g.outH}×${g.outW}, ` +
      `${windows}]`;
    return { name, wgsl, uniforms };
  });
}

/**
 * The WGSL both passes share: `span` places output `o`'s window along an axis (clipped to the
 * input, with the unclipped size that `countIncludePad` divides by), and `divisor` of a window.
 */
function windowsWgsl(v: Variant, u: Record<Sizes, string>): string {
  const span = v.adaptive
    ? `  let start = i32((o * size) / out);
  let end = i32(((o + 1u) * size + out - 1u) / out);
  return Span(start, end, end - start);`
    : `  let start = i32(o * stride) - i32(pad);
  let end = min(start + i32(k), i32(size + pad));
  return Span(max(start, 0), min(end, i32(size)), end - start);`;
  const divide = v.adaptive ? "" : `if (${u.divisor} != 0u) { return f32(${u.divisor}); }\n  `;
  const count = v.countIncludePad ? "r.padded * c.padded" : "(r.end - r.start) * (c.end - c.start)";
  return `struct Span { start: i32, end: i32, padded: i32 }

fn span(o: u32, size: u32, out: u32, k: u32, stride: u32, pad: u32) -> Span {
${span}
}

fn rows(o: u32) -> Span { return span(o, ${u.height}, ${u.outH}, ${u.kernelH}, ${u.strideH}, ${u.padH}); }
fn cols(o: u32) -> Span { return span(o, ${u.width}, ${u.outW}, ${u.kernelW}, ${u.strideW}, ${u.padW}); }

fn divisor(r: Span, c: Span) -> f32 {
  ${divide}return f32(${count});
}`;
}

/** One thread per output: the sum of its window, divided. */
function forwardWgsl(v: Variant, u: Record<Sizes, string>, uniforms: Uniforms): string {
  return `// avgPool2d forward (${v.adaptive ? "adaptive" : "fixed"} windows)
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> pooled: array<f32>;
${uniforms.declare(2)}
${windowsWgsl(v, u)}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let ow = idx % ${u.outW};
  let rest = idx / ${u.outW};
  let oh = rest % ${u.outH};
  let plane = rest / ${u.outH};
  let r = rows(oh);
  let c = cols(ow);
  let base = ${u.shift0} + plane * ${u.height} * ${u.width};
  var acc = 0.0;
  for (var h = r.start; h < r.end; h++) {
    for (var w = c.start; w < c.end; w++) {
      acc += x[base + u32(h) * ${u.width} + u32(w)];
    }
  }
  // A window with no input element (possible only at odd edges) averages nothing: 0.
  let empty = r.start >= r.end || c.start >= c.end;
  pooled[${u.shift1} + idx] = select(acc / divisor(r, c), 0.0, empty);
}
`;
}

/**
 * One thread per input pixel: the windows along each axis that can hold it are a short range
 * (`first`), each tested against its span, visited in ascending order.
 */
function backwardWgsl(v: Variant, u: Record<Sizes, string>, uniforms: Uniforms): string {
  // The first window that can hold pixel `i` of an axis, and one past the last.
  const range = v.adaptive
    ? (
      i: string,
      size: string,
      out: string,
    ) => [
      `(${i} * ${out}) / ${size}`,
      `min(((${i} + 1u) * ${out} + ${size} - 1u) / ${size}, ${out})`,
    ]
    : (i: string, _size: string, out: string, k: string, s: string, p: string) => [
      `select(0u, (${i} + ${p} + 1u - ${k} + ${s} - 1u) / ${s}, ${i} + ${p} + 1u > ${k})`,
      `min((${i} + ${p}) / ${s} + 1u, ${out})`,
    ];
  const [h0, h1] = range("h", u.height, u.outH, u.kernelH, u.strideH, u.padH);
  const [w0, w1] = range("w", u.width, u.outW, u.kernelW, u.strideW, u.padW);
  return `// avgPool2d backward (${v.adaptive ? "adaptive" : "fixed"} windows, gather)
@group(0) @binding(0) var<storage, read> gradOut: array<f32>;
@group(0) @binding(1) var<storage, read_write> gradX: array<f32>;
${uniforms.declare(2)}
${windowsWgsl(v, u)}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let w = idx % ${u.width};
  let rest = idx / ${u.width};
  let h = rest % ${u.height};
  let plane = rest / ${u.height};
  let base = ${u.shift0} + plane * ${u.outH} * ${u.outW};
  var acc = 0.0;
  for (var oh = ${h0}; oh < ${h1}; oh++) {
    let r = rows(oh);
    if (i32(h) < r.start || i32(h) >= r.end) { continue; }
    for (var ow = ${w0}; ow < ${w1}; ow++) {
      let c = cols(ow);
      if (i32(w) < c.start || i32(w) >= c.end) { continue; }
      acc += gradOut[base + oh * ${u.outW} + ow] / divisor(r, c);
    }
  }
  gradX[${u.shift1} + idx] = acc;
}
`;
}

function checkGeometry(g: AvgPool2dGeometry): void {
  for (const key of ["batch", "channels", "height", "width", "outH", "outW"] as const) {
    const v = g[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`avgPool2d: ${key} must be a positive integer, got ${v}`);
    }
  }
  if (g.windows === "adaptive") return;
  const w = g.windows;
  for (const key of ["kernelH", "kernelW", "strideH", "strideW"] as const) {
    if (!Number.isInteger(w[key]) || w[key] < 1) {
      throw new RangeError(`avgPool2d: ${key} must be a positive integer, got ${w[key]}`);
    }
  }
  const axes = [["H", g.height, g.outH], ["W", g.width, g.outW]] as const;
  for (const [axis, size, out] of axes) {
    const k = w[`kernel${axis}`], s = w[`stride${axis}`], p = w[`pad${axis}`];
    if (!Number.isInteger(p) || p < 0 || p > k / 2) {
      throw new RangeError(
        `avgPool2d: pad${axis} must be an integer in [0, ${Math.floor(k / 2)}] (half the ` +
          `kernel), got ${p}`,
      );
    }
    // Every window must start inside the padded input (ceil mode may clip the last, or a
    // window larger than the input, to it), so that none lies wholly in the padding.
    if ((out - 1) * s >= size + p) {
      throw new RangeError(
        `avgPool2d: ${out} windows of ${k} (stride ${s}, pad ${p}) do not fit an axis of ${size}`,
      );
    }
  }
  const d = w.divisorOverride;
  if (d !== null && (!Number.isInteger(d) || d < 1)) {
    throw new RangeError(`avgPool2d: divisorOverride must be a positive integer, got ${d}`);
  }
}
