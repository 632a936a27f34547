/**
 * Max pooling over NCHW f32 tensors, forward and backward, as AlexNet uses it (3×3 windows at
 * stride 2, overlapping). The forward pass records, per output, which input won; the backward
 * pass routes each output gradient back to that input by gathering, so it needs no float
 * atomics and gives the same bits on every run.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { memoisedKernel } from "./_memo.ts";
import type { Uniforms } from "./_uniforms.ts";
import {
  dispatchSampleRuns,
  flatMainHead,
  IS_NAN,
  reluMasked,
  type SampleOperand,
} from "./_program.ts";
import { windowCount, windowSpan } from "./_window.ts";

/** Shape of a pooling: an NCHW input and a window sliding over H and W. */
export interface Pool2dGeometry {
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** H of the input. */
  height: number;
  /** W of the input. */
  width: number;
  /** Window height. */
  kernelH: number;
  /** Window width. */
  kernelW: number;
  /** Vertical step between windows. */
  strideH: number;
  /** Horizontal step between windows. */
  strideW: number;
  /** Rows of −∞ padding above and below; at most half the window's span (`kernelH / 2` undilated). */
  padH: number;
  /** Columns of −∞ padding left and right; at most half the window's span. */
  padW: number;
  /** Rows between window taps (PyTorch's `dilation`; default 1). */
  dilationH?: number;
  /** Columns between window taps (default 1). */
  dilationW?: number;
  /**
   * Keep a last window that runs past the padded input (PyTorch's `ceil_mode`; default false):
   * see `windowCount` in `_window.ts`. Such a window is clipped to the input.
   */
  ceilMode?: boolean;
}

/** Buffers of {@link maxPool2d}: all NCHW, allocated by the caller. */
export interface MaxPool2dBuffers {
  /** Input, `N·C·H·W` f32. */
  x: GpuBuffer;
  /** Output, `N·C·OH·OW` f32. */
  out: GpuBuffer;
  /** Winner of each window, `N·C·OH·OW` i32: `h·W + w` within its (n, c) plane. */
  argmax: GpuBuffer;
}

/** Buffers of {@link maxPool2dBackward}. */
export interface MaxPool2dBackwardBuffers {
  /** Gradient of the output, `N·C·OH·OW` f32. */
  gradOut: GpuBuffer;
  /** The `argmax` written by {@link maxPool2d}. */
  argmax: GpuBuffer;
  /** Gradient of the input, `N·C·H·W` f32; every element is written. */
  gradX: GpuBuffer;
  /**
   * A ReLU's output `N·C·H·W` (the pooling's input, when a ReLU made it): gradX is multiplied
   * by its mask (`gradX` where `mask > 0`, else 0), which gives the gradient of the ReLU's
   * input without a separate pass over memory.
   */
  mask?: GpuBuffer;
}

/** Options shared by the pooling kernels. */
export interface PoolOptions {
  /**
   * Largest byte range to bind at once (default and ceiling: the device's
   * `maxStorageBufferBindingSize`). Larger tensors are processed in slices of the batch;
   * tests lower it to force that path on small shapes.
   */
  maxBindingBytes?: number;
}

const WORKGROUP = 256;

/**
 * Output height and width of a pooling: `floor((H + 2·pad − dilation·(kernel − 1) − 1) / stride)
 * + 1`, or PyTorch's ceil-mode count (`windowCount` in `_window.ts`). Throws a RangeError for a
 * bad geometry or an empty output.
 *
 * @example AlexNet's pool1
 * ```ts
 * import { pool2dOutputSize } from "./max_pool2d.ts";
 * const g = { batch: 1, channels: 96, height: 55, width: 55, kernelH: 3, kernelW: 3,
 *   strideH: 2, strideW: 2, padH: 0, padW: 0 };
 * console.log(pool2dOutputSize(g)); // { outH: 27, outW: 27 }
 * ```
 */
export function pool2dOutputSize(g: Pool2dGeometry): { outH: number; outW: number } {
  checkGeometry(g);
  const [spanH, spanW] = spans(g);
  const outH = windowCount(g.height, spanH, g.strideH, g.padH, g.ceilMode);
  const outW = windowCount(g.width, spanW, g.strideW, g.padW, g.ceilMode);
  if (outH < 1 || outW < 1) {
    const dilated = spanH !== g.kernelH || spanW !== g.kernelW
      ? ` at dilation ${g.dilationH ?? 1}×${g.dilationW ?? 1} (spanning ${spanH}×${spanW})`
      : "";
    throw new RangeError(
      `maxPool2d: a ${g.kernelH}×${g.kernelW} window${dilated} (pad ${g.padH}×${g.padW}) does ` +
        `not fit a ${g.height}×${g.width} input`,
    );
  }
  return { outH, outW };
}

/**
 * Max pooling. Padding counts as −∞. Ties go to the first maximum in row-major window order
 * (smallest kh, then kw); a window holding a NaN outputs NaN, and its argmax is the first NaN.
 *
 * @example Pool a 4×4 image with 2×2 windows
 * ```ts
 * import { Device } from "./device.ts";
 * import { maxPool2d } from "./max_pool2d.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, channels: 1, height: 4, width: 4, kernelH: 2, kernelW: 2,
 *   strideH: 2, strideW: 2, padH: 0, padW: 0 };
 * const x = device.alloc(64), out = device.alloc(16), argmax = device.alloc(16);
 * device.write(x, new Float32Array([...Array(16).keys()]));
 * maxPool2d(device, g, { x, out, argmax });
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [5, 7, 13, 15]
 * ```
 */
export function maxPool2d(
  device: Device,
  g: Pool2dGeometry,
  buffers: MaxPool2dBuffers,
  options: PoolOptions = {},
): void {
  const { inSample, outSample } = sampleBytes(g);
  run(device, "maxPool2d", g, options, "forward", [
    ["x", buffers.x, inSample],
    ["out", buffers.out, outSample],
    ["argmax", buffers.argmax, outSample],
  ]);
}

/**
 * Gradient of {@link maxPool2d}: each input gathers the gradients of the windows whose argmax
 * is itself, visiting them in a fixed order, so the result is deterministic.
 *
 * @example Route gradients back to the winners
 * ```ts
 * import { Device } from "./device.ts";
 * import { maxPool2d, maxPool2dBackward } from "./max_pool2d.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, channels: 1, height: 4, width: 4, kernelH: 2, kernelW: 2,
 *   strideH: 2, strideW: 2, padH: 0, padW: 0 };
 * const x = device.alloc(64), out = device.alloc(16), argmax = device.alloc(16);
 * const gradOut = device.alloc(16), gradX = device.alloc(64);
 * device.write(x, new Float32Array([...Array(16).keys()]));
 * device.write(gradOut, new Float32Array([1, 2, 3, 4]));
 * maxPool2d(device, g, { x, out, argmax });
 * maxPool2dBackward(device, g, { gradOut, argmax, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 64))); // 1, 2, 3, 4 at 5, 7, 13, 15
 * ```
 */
export function maxPool2dBackward(
  device: Device,
  g: Pool2dGeometry,
  buffers: MaxPool2dBackwardBuffers,
  options: PoolOptions = {},
): void {
  const { inSample, outSample } = sampleBytes(g);
  const masked = !!buffers.mask;
  run(device, "maxPool2dBackward", g, options, masked ? "backward masked" : "backward", [
    ["gradOut", buffers.gradOut, outSample],
    ["argmax", buffers.argmax, outSample],
    ...(masked ? [["mask", buffers.mask!, inSample] as SampleOperand] : []),
    ["gradX", buffers.gradX, inSample],
  ], masked ? "relu-mask" : undefined);
}

function sampleBytes(g: Pool2dGeometry): { inSample: number; outSample: number } {
  const { outH, outW } = pool2dOutputSize(g);
  return { inSample: 4 * g.channels * g.height * g.width, outSample: 4 * g.channels * outH * outW };
}

/** The sizes a kernel reads from its uniforms, then the operands' shifts (elements). */
type Sizes = "threads" | "height" | "width" | "outH" | "outW" | "plane" | "outPlane";
type Uniform = Sizes | `shift${number}`;

/** A window's size, stride, padding and dilation: what shapes the WGSL besides the pass. */
type Window =
  & Pick<Pool2dGeometry, "kernelH" | "kernelW" | "strideH" | "strideW" | "padH" | "padW">
  & { dilationH: number; dilationW: number };

/**
 * What a shader generator gets: the window and the sizes, thread count and operand shifts as
 * uniform expressions.
 */
interface Shader {
  g: Window;
  u: Record<Sizes, string>;
  shifts: string[];
  uniforms: Uniforms;
}

/** The kernels: the forward pass, and the backward pass with or without the ReLU mask. */
type Pass = "forward" | "backward" | "backward masked";

/**
 * A pooling kernel and its uniforms, generated once per pass, window, sizes and shifts (the
 * shifts are the uniforms `shift0`, `shift1`, … after the sizes).
 */
const kernel = memoisedKernel(
  (k: { pass: Pass; g: Window; shifts: number }, u: Record<Uniform, string>, uniforms) => {
    const shifts = Array.from({ length: k.shifts }, (_, i) => u[`shift${i}`]);
    const shader = { g: k.g, u, shifts, uniforms };
    return k.pass === "forward"
      ? forwardWgsl(shader)
      : backwardWgsl(shader, k.pass === "backward masked");
  },
);

/**
 * Dispatches the pass over the batch, sliced to fit the binding limit, one thread per element
 * of the last operand (the one the kernel writes per thread); `variant` names a fused variant
 * in the profiler.
 */
function run(
  device: Device,
  op: string,
  g: Pool2dGeometry,
  options: PoolOptions,
  pass: Pass,
  operands: SampleOperand[],
  variant?: string,
): void {
  const { outH, outW } = pool2dOutputSize(g);
  const { kernelH, kernelW, strideH, strideW, padH, padW } = g;
  const { dilationH = 1, dilationW = 1 } = g;
  const window = { kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW };
  const dilated = dilationH > 1 || dilationW > 1 ? ` d${dilationH}×${dilationW}` : "";
  const windowName = `${kernelH}×${kernelW} s${strideH}×${strideW} p${padH}×${padW}` +
    `${dilated}${g.ceilMode ? " ceil" : ""}`;
  dispatchSampleRuns(device, op, g.batch, operands, options.maxBindingBytes, WORKGROUP, (run) => {
    const { wgsl, uniforms } = kernel({ pass, g: window, shifts: run.shifts.length }, {
      threads: run.threads,
      height: g.height,
      width: g.width,
      outH,
      outW,
      plane: g.height * g.width,
      outPlane: outH * outW,
      ...Object.fromEntries(run.shifts.map((shift, i) => [`shift${i}`, shift])),
    });
    const name = `${op}[${run.count}×${g.channels}×${g.height}×${g.width}, ${windowName}]`;
    return { name, wgsl, uniforms, variant };
  });
}

/**
 * One thread per output; consecutive threads take consecutive columns, so their loads of a
 * window row are close together. The window is unrolled (its size is baked in) and every tap
 * is tested against the image's edges (the sizes are uniforms): padding (−∞) never wins, so
 * skipping it is the same as reading it.
 */
function forwardWgsl({ g, u, shifts, uniforms }: Shader): string {
  const [xShift, outShift, argShift] = shifts;
  // What a window with no tap inside the input gives. Undilated, padding of at most half the
  // kernel leaves none such; dilated, the taps can all fall in the padding (a 2-tap window at
  // dilation 3 padded by 2 over 1 pixel): −∞ then, as PyTorch, with an argmax of −1 that routes
  // no gradient.
  const dilated = g.dilationH > 1 || g.dilationW > 1;
  const empty = dilated ? "bitcast<f32>(0xff800000u)" : "0.0";
  const taps: string[] = [];
  for (let kh = 0; kh < g.kernelH; kh++) {
    for (let kw = 0; kw < g.kernelW; kw++) {
      const [dh, dw] = [g.dilationH * kh, g.dilationW * kw];
      const inside = `u32(h0 + ${dh}) < ${u.height} && u32(w0 + ${dw}) < ${u.width}`;
      const tap = `tap(&best, &bestAt, u32((h0 + ${dh}) * width + w0 + ${dw}), base);`;
      taps.push(`if (${inside}) { ${tap} }`);
    }
  }
  return `// maxPool2d forward
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> pooled: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>;
${uniforms.declare(3)}
${IS_NAN}

fn tap(best: ptr<function, f32>, bestAt: ptr<function, i32>, at: u32, base: u32) {
  let v = x[base + at];
  // Strict ">" keeps the first maximum; the first NaN wins and then sticks.
  if (*bestAt < 0 || (!isNan(*best) && (v > *best || isNan(v)))) {
    *best = v;
    *bestAt = i32(at);
  }
}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let ow = idx % ${u.outW};
  let rest = idx / ${u.outW};
  let oh = rest % ${u.outH};
  let plane = rest / ${u.outH};
  let width = i32(${u.width});
  let h0 = i32(oh * ${g.strideH}u) - ${g.padH};
  let w0 = i32(ow * ${g.strideW}u) - ${g.padW};
  let base = ${xShift} + plane * ${u.plane};
  var best = ${empty};
  var bestAt = -1;
  ${taps.join("\n  ")}
  pooled[${outShift} + idx] = best;
  argmax[${argShift} + idx] = bestAt;
}
`;
}

/**
 * One thread per input pixel, gathering from the windows that contain it. With `q, r` the
 * quotient and remainder of `h + pad` by the stride, those windows are `oh = q − m` for
 * `m < ceil(span / s)` with `m·s + r < span` and `0 ≤ oh < OH` (2 × 2 candidates for 3×3 stride
 * 2); dilated, `m·s + r` must also fall on a tap (a multiple of the dilation).
 * The candidates are unrolled, each test emitted only where it can fail, and summed in
 * ascending (oh, ow) order, so the sum is the same on every run. With `masked`, the sum is
 * multiplied by the ReLU mask of the `mask` operand (shaped as gradX) as it is stored.
 */
function backwardWgsl({ g, u, shifts, uniforms }: Shader, masked: boolean): string {
  const [gradShift, argShift] = shifts;
  const [maskShift, gradXShift] = masked ? shifts.slice(2) : [null, shifts[2]];
  const rows = candidates(g.kernelH, g.strideH, g.dilationH, u.outH, "h");
  const cols = candidates(g.kernelW, g.strideW, g.dilationW, u.outW, "w");
  const body: string[] = [];
  for (const row of rows) {
    for (const col of cols) {
      const o = `base + (qh - ${row.m}u) * ${u.outW} + qw - ${col.m}u`;
      const step = `gather(&acc, ${o}, me);`;
      const cond = [...row.tests, ...col.tests].join(" && ");
      body.push(cond ? `if (${cond}) { ${step} }` : step);
    }
  }
  return `// maxPool2d backward (gather)
@group(0) @binding(0) var<storage, read> gradOut: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
${
    masked
      ? "@group(0) @binding(2) var<storage, read> mask: array<f32>;\n@group(0) @binding(3)"
      : "@group(0) @binding(2)"
  } var<storage, read_write> gradX: array<f32>;
${uniforms.declare(masked ? 4 : 3)}

fn gather(acc: ptr<function, f32>, o: u32, me: i32) {
  if (argmax[${argShift} + o] == me) {
    *acc += gradOut[${gradShift} + o];
  }
}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let w = idx % ${u.width};
  let rest = idx / ${u.width};
  let h = rest % ${u.height};
  let plane = rest / ${u.height};
  let me = i32(h * ${u.width} + w);
  let qh = (h + ${g.padH}u) / ${g.strideH}u;
  let rh = (h + ${g.padH}u) % ${g.strideH}u;
  let qw = (w + ${g.padW}u) / ${g.strideW}u;
  let rw = (w + ${g.padW}u) % ${g.strideW}u;
  let base = plane * ${u.outPlane};
  var acc = 0.0;
  ${body.join("\n  ")}
  gradX[${gradXShift} + idx] = ${masked ? reluMasked("acc", `mask[${maskShift} + idx]`) : "acc"};
}
`;
}

/**
 * Along one axis, the candidate windows `q − m` of a pixel in ascending window order, each
 * with the WGSL tests (on `q<axis>`, `r<axis>`) that can fail for some pixel of some image
 * (`out` is the uniform output size). A window of `k` taps `d` apart spans `d·(k − 1) + 1`
 * pixels; the pixel `m·s + r` into it is one of its taps when that is a multiple of `d`.
 */
function candidates(
  k: number,
  s: number,
  d: number,
  out: string,
  axis: string,
): { m: number; tests: string[] }[] {
  const span = windowSpan(k, d);
  const list: { m: number; tests: string[] }[] = [];
  for (let m = Math.ceil(span / s) - 1; m >= 0; m--) {
    // Whether m·s + r hits a tap for every r, for none, or only for some.
    const onTap = Array.from({ length: s }, (_, r) => (m * s + r) % d === 0);
    if (!onTap.some(Boolean)) continue;
    const tests = [
      m > 0 ? `q${axis} >= ${m}u` : "", // window index q − m ≥ 0
      `q${axis} < ${out} + ${m}u`, // q − m < OH
      m * s + s - 1 >= span ? `r${axis} < ${span - m * s}u` : "", // pixel inside: m·s + r < span
      onTap.every(Boolean) ? "" : `(r${axis} + ${m * s}u) % ${d}u == 0u`, // on a tap
    ];
    list.push({ m, tests: tests.filter(Boolean) });
  }
  return list;
}

function checkGeometry(g: Pool2dGeometry): void {
  const sizes = ["batch", "channels", "height", "width"] as const;
  for (const key of [...sizes, "kernelH", "kernelW", "strideH", "strideW"] as const) {
    const v = g[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`maxPool2d: ${key} must be a positive integer, got ${v}`);
    }
  }
  for (const key of ["dilationH", "dilationW"] as const) {
    const d = g[key] ?? 1;
    if (!Number.isInteger(d) || d < 1) {
      throw new RangeError(`maxPool2d: ${key} must be a positive integer, got ${d}`);
    }
  }
  const [spanH, spanW] = spans(g);
  for (const [pad, span] of [["padH", spanH], ["padW", spanW]] as const) {
    const p = g[pad];
    // A window wholly inside the −∞ padding would have no maximum and nowhere to route to.
    const most = Math.floor(span / 2);
    if (!Number.isInteger(p) || p < 0 || p > most) {
      const what = span === (pad === "padH" ? g.kernelH : g.kernelW) ? "kernel" : "dilated window";
      throw new RangeError(
        `maxPool2d: ${pad} must be an integer in [0, ${most}] (half the ${what}), got ${p}`,
      );
    }
  }
}

/** The pixels a window spans along H and W: `dilation·(kernel − 1) + 1`. */
function spans(g: Pool2dGeometry): [number, number] {
  return [windowSpan(g.kernelH, g.dilationH), windowSpan(g.kernelW, g.dilationW)];
}
