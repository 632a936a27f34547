/**
 * Adaptive max pooling over NCHW f32 tensors, forward and backward, as PyTorch's
 * `F.adaptive_max_pool2d`: output `(i, j)` is the maximum over rows `floor(i·H/OH)` to
 * `ceil((i+1)·H/OH)` (exclusive) and the columns likewise. Every size is a uniform, so one
 * shader serves every shape. As `max_pool2d.ts`, the forward records each window's winner and
 * the backward gathers, per input pixel, the gradients of the windows it won, in a fixed order:
 * no float atomics, the same bits every run.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { memoisedKernel } from "./_memo.ts";
import { dispatchSampleRuns, flatMainHead, IS_NAN, type SampleOperand } from "./_program.ts";

/** Shape of an adaptive pooling: an NCHW input and the output's height and width. */
export interface AdaptivePool2dGeometry {
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
}

/** Buffers of {@link adaptiveMaxPool2d}: all NCHW, allocated by the caller. */
export interface AdaptiveMaxPool2dBuffers {
  /** Input, `N·C·H·W` f32. */
  x: GpuBuffer;
  /** Output, `N·C·OH·OW` f32. */
  out: GpuBuffer;
  /** Winner of each window, `N·C·OH·OW` i32: `h·W + w` within its (n, c) plane. */
  argmax: GpuBuffer;
}

/** Buffers of {@link adaptiveMaxPool2dBackward}. */
export interface AdaptiveMaxPool2dBackwardBuffers {
  /** Gradient of the output, `N·C·OH·OW` f32. */
  gradOut: GpuBuffer;
  /** The `argmax` written by {@link adaptiveMaxPool2d}. */
  argmax: GpuBuffer;
  /** Gradient of the input, `N·C·H·W` f32; every element is written. */
  gradX: GpuBuffer;
}

const WORKGROUP = 256;

/**
 * Adaptive max pooling. Ties go to the first maximum in row-major window order; a window
 * holding a NaN outputs NaN, its argmax the first NaN (as `maxPool2d`).
 *
 * @example A 3×3 image to 2×2: overlapping windows of 2×2
 * ```ts
 * import { Device } from "./device.ts";
 * import { adaptiveMaxPool2d } from "./adaptive_max_pool2d.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, channels: 1, height: 3, width: 3, outH: 2, outW: 2 };
 * const x = device.alloc(36), out = device.alloc(16), argmax = device.alloc(16);
 * device.write(x, new Float32Array([1, 9, 2, 3, 4, 5, 8, 6, 7]));
 * adaptiveMaxPool2d(device, g, { x, out, argmax });
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [9, 9, 8, 7]
 * ```
 */
export function adaptiveMaxPool2d(
  device: Device,
  g: AdaptivePool2dGeometry,
  buffers: AdaptiveMaxPool2dBuffers,
  maxBindingBytes?: number,
): void {
  const { inSample, outSample } = sampleBytes(g);
  run(device, "adaptiveMaxPool2d", g, "forward", maxBindingBytes, [
    ["x", buffers.x, inSample],
    ["out", buffers.out, outSample],
    ["argmax", buffers.argmax, outSample],
  ]);
}

/**
 * Gradient of {@link adaptiveMaxPool2d}: each input pixel sums the gradients of the windows
 * whose winner it is, in ascending window order.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { adaptiveMaxPool2d, adaptiveMaxPool2dBackward } from "./adaptive_max_pool2d.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, channels: 1, height: 3, width: 3, outH: 2, outW: 2 };
 * const x = device.alloc(36), out = device.alloc(16), argmax = device.alloc(16);
 * const gradOut = device.alloc(16), gradX = device.alloc(36);
 * device.write(x, new Float32Array([1, 9, 2, 3, 4, 5, 8, 6, 7]));
 * device.write(gradOut, new Float32Array([1, 2, 3, 4]));
 * adaptiveMaxPool2d(device, g, { x, out, argmax });
 * adaptiveMaxPool2dBackward(device, g, { gradOut, argmax, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 36))); // [0, 3, 0, 0, 0, 0, 3, 0, 4]
 * ```
 */
export function adaptiveMaxPool2dBackward(
  device: Device,
  g: AdaptivePool2dGeometry,
  buffers: AdaptiveMaxPool2dBackwardBuffers,
  maxBindingBytes?: number,
): void {
  const { inSample, outSample } = sampleBytes(g);
  run(device, "adaptiveMaxPool2dBackward", g, "backward", maxBindingBytes, [
    ["gradOut", buffers.gradOut, outSample],
    ["argmax", buffers.argmax, outSample],
    ["gradX", buffers.gradX, inSample],
  ]);
}

function sampleBytes(g: AdaptivePool2dGeometry): { inSample: number; outSample: number } {
  for (const key of ["batch", "channels", "height", "width", "outH", "outW"] as const) {
    if (!Number.isInteger(g[key]) || g[key] < 1) {
      throw new RangeError(`adaptiveMaxPool2d: ${key} must be a positive integer, got ${g[key]}`);
    }
  }
  return {
    inSample: 4 * g.channels * g.height * g.width,
    outSample: 4 * g.channels * g.outH * g.outW,
  };
}

type Uniform = "threads" | "height" | "width" | "outH" | "outW" | `shift${number}`;

/** The two passes' kernels: every size a uniform, so one shader per pass. */
const kernel = memoisedKernel(
  (pass: "forward" | "backward", u: Record<Uniform, string>, uniforms) => {
    const shifts = [0, 1, 2].map((i) => u[`shift${i}`]);
    return pass === "forward"
      ? forwardWgsl(u, shifts, uniforms.declare(3))
      : backwardWgsl(u, shifts, uniforms.declare(3));
  },
);

function run(
  device: Device,
  op: string,
  g: AdaptivePool2dGeometry,
  pass: "forward" | "backward",
  maxBindingBytes: number | undefined,
  operands: SampleOperand[],
): void {
  dispatchSampleRuns(device, op, g.batch, operands, maxBindingBytes, WORKGROUP, (run) => {
    const { wgsl, uniforms } = kernel(pass, {
      threads: run.threads,
      height: g.height,
      width: g.width,
      outH: g.outH,
      outW: g.outW,
      ...Object.fromEntries(run.shifts.map((shift, i) => [`shift${i}`, shift])),
    });
    const name = `${op}[${run.count}×${g.channels}×${g.height}×${g.width}→${g.outH}×${g.outW}]`;
    return { name, wgsl, uniforms };
  });
}

/** WGSL of the window of output `o` over `size` inputs for `out` outputs: `[start, end)`. */
const WINDOW = `
fn windowStart(o: u32, size: u32, out: u32) -> u32 {
  return (o * size) / out;
}
fn windowEnd(o: u32, size: u32, out: u32) -> u32 {
  return ((o + 1u) * size + out - 1u) / out;
}`;

/** One thread per output, scanning its window row by row. */
function forwardWgsl(u: Record<Uniform, string>, shifts: string[], declare: string): string {
  const [xShift, outShift, argShift] = shifts;
  return `// adaptiveMaxPool2d forward
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> pooled: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>;
${declare}
${IS_NAN}
${WINDOW}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let ow = idx % ${u.outW};
  let rest = idx / ${u.outW};
  let oh = rest % ${u.outH};
  let plane = rest / ${u.outH};
  let base = ${xShift} + plane * ${u.height} * ${u.width};
  var best = 0.0;
  var bestAt = -1;
  for (var h = windowStart(oh, ${u.height}, ${u.outH}); h < windowEnd(oh, ${u.height}, ${u.outH}); h++) {
    for (var w = windowStart(ow, ${u.width}, ${u.outW}); w < windowEnd(ow, ${u.width}, ${u.outW}); w++) {
      let at = h * ${u.width} + w;
      let v = x[base + at];
      // Strict ">" keeps the first maximum; the first NaN wins and then sticks.
      if (bestAt < 0 || (!isNan(best) && (v > best || isNan(v)))) {
        best = v;
        bestAt = i32(at);
      }
    }
  }
  pooled[${outShift} + idx] = best;
  argmax[${argShift} + idx] = bestAt;
}
`;
}

/**
 * One thread per input pixel. The windows holding row h are outputs `floor(h·OH/H)` to
 * `ceil((h+1)·OH/H) − 1` (a window starts at or before h and ends after it); likewise columns.
 * Their gradients are summed in ascending (oh, ow) order where h, w won.
 */
function backwardWgsl(u: Record<Uniform, string>, shifts: string[], declare: string): string {
  const [gradShift, argShift, gradXShift] = shifts;
  return `// adaptiveMaxPool2d backward (gather)
@group(0) @binding(0) var<storage, read> gradOut: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
@group(0) @binding(2) var<storage, read_write> gradX: array<f32>;
${declare}

${flatMainHead(WORKGROUP, u.threads, { index: "idx" })}
  let w = idx % ${u.width};
  let rest = idx / ${u.width};
  let h = rest % ${u.height};
  let plane = rest / ${u.height};
  let me = i32(h * ${u.width} + w);
  let base = plane * ${u.outH} * ${u.outW};
  let lastH = ((h + 1u) * ${u.outH} + ${u.height} - 1u) / ${u.height};
  let lastW = ((w + 1u) * ${u.outW} + ${u.width} - 1u) / ${u.width};
  var acc = 0.0;
  for (var oh = (h * ${u.outH}) / ${u.height}; oh < lastH; oh++) {
    for (var ow = (w * ${u.outW}) / ${u.width}; ow < lastW; ow++) {
      let o = base + oh * ${u.outW} + ow;
      if (argmax[${argShift} + o] == me) {
        acc += gradOut[${gradShift} + o];
      }
    }
  }
  gradX[${gradXShift} + idx] = acc;
}
`;
}
