/**
 * Gradients of {@link conv2d}: with respect to the input (a transposed convolution: per stride
 * phase a stride-1 direct convolution of gradOut with the flipped sub-kernel, all phases in one
 * dispatch), the weights (an implicit GEMM over the N·OH·OW output pixels, split over
 * invocations into partial sums that a second kernel adds in a fixed order) and the bias (a
 * fixed-order tree sum). No float atomics anywhere, so every run gives identical bits.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { flatMain, flatMainHead } from "./_program.ts";
import { directConv } from "./conv2d.ts";
import {
  batchRuns,
  checkCapacity,
  type Conv2dGeometry,
  type DirectTile,
  gradInputPhases,
  lines,
  offsetExpr,
  pickWeightTile,
  resolve,
  type Resolved,
  weightInvocations,
  type WeightTile,
} from "./_conv_geometry.ts";

export { conv2dTiles, type WeightTile } from "./_conv_geometry.ts";

/** Buffers and options of {@link conv2dBackwardInput}. */
export interface Conv2dBackwardInputArgs {
  /** Gradient of the output `[N, O, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Weights `[O, C/groups, KH, KW]`. */
  w: GpuBuffer;
  /** Gradient of the input `[N, C, H, W]`, written (every element). */
  gradX: GpuBuffer;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
  /** Register tile; by default one chosen for the device and the problem. */
  tile?: DirectTile;
}

/**
 * gradX = ∂L/∂x of `out = conv2d(x, w)` given gradOut = ∂L/∂out.
 *
 * Input row iy receives gradOut row oy through kernel row ky exactly when
 * iy + padH − ky = oy·strideH, so the rows of one phase φ = (iy + padH) mod strideH use only
 * the kernel rows ky ≡ φ: per phase pair a stride-1 convolution of gradOut with that sub-kernel,
 * flipped. Pixels that no kernel tap reaches (kernel smaller than the stride) get zeros.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2dBackwardInput } from "./conv2d_backward.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const gradOut = device.alloc(16), w = device.alloc(16), gradX = device.alloc(36);
 * device.write(gradOut, new Float32Array([1, 1, 1, 1]));
 * device.write(w, new Float32Array([1, 2, 3, 4]));
 * conv2dBackwardInput(device, g, { gradOut, w, gradX });
 * console.log(new Float32Array(await device.read(gradX, 0, 36))); // [1, 3, 2, 4, 10, 6, 3, 7, 4]
 * ```
 */
export function conv2dBackwardInput(
  device: Device,
  geometry: Conv2dGeometry,
  args: Conv2dBackwardInputArgs,
): void {
  const what = "conv2dBackwardInput";
  const g = resolve(geometry, what);
  const inSample = g.inChannels * g.height * g.width;
  const outSample = g.outChannels * g.outH * g.outW;
  checkCapacity(args.gradOut, g.batch * outSample, `${what}: gradOut`);
  checkCapacity(args.w, g.outChannels * g.wk, `${what}: w`);
  checkCapacity(args.gradX, g.batch * inSample, `${what}: gradX`);
  const runs = batchRuns(device, g.batch, [outSample, inSample], args.maxBindingBytes, what);
  for (const { count, parts: [dy, dx] } of runs) {
    directConv(device, {
      name: `${what} ${count}×${g.outChannels}×${g.outH}×${g.outW}→${g.inChannels} ` +
        `k${g.kernelH}×${g.kernelW} s${g.strideH}×${g.strideW} p${g.padH}×${g.padW} g${g.groups}`,
      batch: count,
      groups: g.groups,
      reduce: g.og,
      outChannels: g.cg,
      inH: g.outH,
      inW: g.outW,
      inSample: outSample,
      inShift: dy.shift,
      strideY: 1,
      strideX: 1,
      phasesY: gradInputPhases(g.strideH, g.kernelH, g.padH, g.height),
      phasesX: gradInputPhases(g.strideW, g.kernelW, g.padW, g.width),
      // The sub-kernel is flipped: tap a is kernel row tapFirst − strideH·a.
      tapStepY: -g.strideH,
      tapStepX: -g.strideW,
      kernelW: g.kernelW,
      wGroup: g.og * g.wk,
      wOut: g.kernelH * g.kernelW,
      wReduce: g.wk,
      outH: g.height,
      outW: g.width,
      scaleY: g.strideH,
      scaleX: g.strideW,
      outSample: inSample,
      outShift: dx.shift,
      bias: false,
      relu: false,
      tile: args.tile,
    }, {
      x: { buffer: args.gradOut, ...dy.range },
      w: { buffer: args.w, size: g.outChannels * g.wk * 4 },
      out: { buffer: args.gradX, ...dx.range },
    });
  }
}

/** Buffers and options of {@link conv2dBackwardWeight}. */
export interface Conv2dBackwardWeightArgs {
  /** Input `[N, C, H, W]` of the forward pass. */
  x: GpuBuffer;
  /** Gradient of the output `[N, O, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Gradient of the weights `[O, C/groups, KH, KW]`, written (or added to). */
  gradW: GpuBuffer;
  /** Add to gradW instead of overwriting it. */
  accumulate?: boolean;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
  /** Register tile; by default one chosen for the device and the problem. */
  tile?: WeightTile;
  /** Partial sums per run of samples (default: enough invocations to fill the device). */
  splits?: number;
}

/** Scratch for partial sums is kept under this size (and under one binding). */
const PARTIAL_BYTES = 64 << 20;

/**
 * gradW = ∂L/∂w of `out = conv2d(x, w)` given gradOut: for every weight, the sum over samples
 * and output pixels of gradOut times the input value that weight met. The (sample, output row)
 * pairs are split into `splits` ranges whose partial sums land in a scratch buffer and are then
 * added in ascending order; runs of samples (batch splitting) add to gradW in order.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2dBackwardWeight } from "./conv2d_backward.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const x = device.alloc(36), gradOut = device.alloc(16), gradW = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
 * device.write(gradOut, new Float32Array([1, 1, 1, 1]));
 * conv2dBackwardWeight(device, g, { x, gradOut, gradW });
 * console.log(new Float32Array(await device.read(gradW, 0, 16))); // [12, 16, 24, 28]
 * ```
 */
export function conv2dBackwardWeight(
  device: Device,
  geometry: Conv2dGeometry,
  args: Conv2dBackwardWeightArgs,
): void {
  const what = "conv2dBackwardWeight";
  const g = resolve(geometry, what);
  const inSample = g.inChannels * g.height * g.width;
  const outSample = g.outChannels * g.outH * g.outW;
  const nw = g.outChannels * g.wk;
  checkCapacity(args.x, g.batch * inSample, `${what}: x`);
  checkCapacity(args.gradOut, g.batch * outSample, `${what}: gradOut`);
  checkCapacity(args.gradW, nw, `${what}: gradW`);
  const tile = args.tile ?? pickWeightTile(g, device.isSoftware);
  if (tile.q % 4 !== 0 || tile.qc < 1 || tile.kb < 1 || tile.kb > g.kernelH || tile.wg < 1) {
    throw new RangeError(`${what}: unusable tile ${JSON.stringify(tile)}`);
  }
  const limit = Math.min(
    args.maxBindingBytes ?? Infinity,
    device.limits.maxStorageBufferBindingSize,
  );
  const invocations = weightInvocations(g, tile);
  const gradW = { buffer: args.gradW, size: nw * 4 };
  const runs = batchRuns(device, g.batch, [inSample, outSample], args.maxBindingBytes, what);
  runs.forEach(({ count, parts: [xPart, dyPart] }, index) => {
    const accumulate = index > 0 || !!args.accumulate;
    const x = { buffer: args.x, ...xPart.range };
    const dy = { buffer: args.gradOut, ...dyPart.range };
    // A GPU wants many more invocations than a direct kernel (each walks a long reduction):
    // splitting conv2–5 at batch 128 into ~64K invocations ran 1.5–3× faster on an H200.
    const wanted = args.splits ?? Math.ceil((device.isSoftware ? 64 : 65536) / invocations);
    const room = Math.floor(Math.min(limit, PARTIAL_BYTES) / (nw * 4));
    const splits = Math.max(1, Math.min(wanted, count * g.outH, room));
    const name = `${what} ${count}×${g.inChannels}×${g.height}×${g.width}→` +
      `${g.outChannels} k${g.kernelH}×${g.kernelW} s${g.strideH}×${g.strideW} g${g.groups}`;
    const store = splits > 1 ? "partial" : accumulate ? "add" : "set";
    const wgsl = weightGradWgsl(g, tile, count, xPart.shift, dyPart.shift, splits, store);
    const workgroups = Math.ceil((invocations * splits) / tile.wg);
    if (splits === 1) {
      device.dispatch({ name, wgsl, workgroups }, [x, dy, gradW]);
      return;
    }
    const bytes = splits * nw * 4;
    const partial = { buffer: device.alloc(bytes, "conv2d partials"), size: bytes };
    device.dispatch({ name, wgsl, workgroups }, [x, dy, partial]);
    const sum = { name: `${name} sum`, wgsl: sumWgsl(nw, splits, accumulate) };
    device.dispatch({ ...sum, workgroups: Math.ceil(nw / 64) }, [partial, gradW]);
    // Commands already recorded keep the buffer's contents; later users are ordered after them.
    device.release(partial.buffer);
  });
}

/**
 * The weight-gradient kernel. An invocation owns q output channels × qc input channels × kb
 * kernel rows × every kernel column of one group and walks its share of the (sample, output
 * row) pairs. Along an output row it keeps, per (input channel, kernel row), a window of KW
 * input columns in registers and slides it by the stride, so each input value is loaded once
 * per row; accumulator n·q4 + j holds tap n (channel, row, column) for channels 4j..4j+3.
 */
function weightGradWgsl(
  g: Resolved,
  t: WeightTile,
  count: number,
  xShift: number,
  dyShift: number,
  splits: number,
  store: "set" | "add" | "partial",
): string {
  const { q, qc, kb } = t;
  const kw = g.kernelW;
  const fresh = Math.min(g.strideW, kw); // new input columns per output column
  const q4 = q / 4;
  const taps = qc * kb * kw;
  const hw = g.height * g.width;
  const ohw = g.outH * g.outW;
  const rows = count * g.outH;
  const per = Math.ceil(rows / splits);
  const [blocksK, blocksC, blocksO] = [g.kernelH / kb, g.cg / qc, g.og / q].map(Math.ceil);
  const invocations = blocksK * blocksC * blocksO * g.groups;
  // Tap n = (c·kb + r)·KW + k: input channel c0 + c, kernel row ky0 + r, column k. Columns
  // k < KW − fresh come from the previous output column; the rest are loaded.
  const col = (n: number): number => n % kw;
  const ld = (n: number, ox: string): string =>
    `v${n} = ldx(xs + xc${Math.floor(n / (kb * kw))}, iy0 + ${Math.floor(n / kw) % kb}u, ${ox});`;
  const kept = (n: number): boolean => col(n) + fresh < kw;
  const preload = lines(taps, (n) => kept(n) ? ld(n, `${(col(n) - g.padW) >>> 0}u`) : "");
  const ox = (n: number): string => offsetExpr(`ox * ${g.strideW}u`, col(n) - g.padW);
  const load = lines(taps, (n) => kept(n) ? "" : ld(n, ox(n)));
  const dy4 = (j: number): string => lines(4, (e) => `dy[ds + dc${j * 4 + e} + ox]`, ", ");
  const dys = lines(q4, (j) => `let d${j} = vec4<f32>(${dy4(j)});`);
  const fmas = lines(
    taps * q4,
    (i) => `a${i} = fma(vec4<f32>(v${i / q4 | 0}), d${i % q4}, a${i});`,
  );
  const slide = lines(taps, (n) => kept(n) ? `v${n} = v${n + fresh};` : "", " ");
  const shift = lines(taps * q4 - q4, (i) => `a${i} = a${i + q4};`, " ");
  const puts = lines(
    q,
    (j) => `if (o0 + ${j}u < ${g.og}u) { put(wi + ${j * g.wk}u, a${j >> 2}.${"xyzw"[j & 3]}); }`,
  );
  const put = store === "add"
    ? "dst[i] = dst[i] + v;"
    : `dst[${store === "partial" ? `s * ${g.outChannels * g.wk}u + i` : "i"}] = v;`;
  return `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<private> s: u32;

fn put(i: u32, v: f32) {
  ${put}
}

fn ldx(cb: u32, iy: u32, ix: u32) -> f32 {
  let ok = iy < ${g.height}u && ix < ${g.width}u;
  return select(0.0, x[select(0u, cb + iy * ${g.width}u + ix, ok)], ok);
}

${flatMainHead(t.wg, invocations * splits, { index: "inv" })}
  let ky0 = (inv % ${blocksK}u) * ${kb}u;
  let c0 = ((inv / ${blocksK}u) % ${blocksC}u) * ${qc}u;
  let o0 = ((inv / ${blocksK * blocksC}u) % ${blocksO}u) * ${q}u;
  let g = (inv / ${blocksK * blocksC * blocksO}u) % ${g.groups}u;
  s = inv / ${invocations}u;
  // Channels past the end read valid rows; their sums are never stored.
  ${lines(q, (j) => `let dc${j} = (g * ${g.og}u + min(o0 + ${j}u, ${g.og - 1}u)) * ${ohw}u;`)}
  ${lines(qc, (c) => `let xc${c} = (g * ${g.cg}u + min(c0 + ${c}u, ${g.cg - 1}u)) * ${hw}u;`)}
  ${lines(taps * q4, (i) => `var a${i} = vec4<f32>(0.0);`)}
  ${lines(taps, (n) => `var v${n} = 0.0;`, " ")}
  for (var row = s * ${per}u; row < min(${rows}u, (s + 1u) * ${per}u); row++) {
    let b = row / ${g.outH}u;
    let oy = row % ${g.outH}u;
    let xs = ${xShift}u + b * ${g.inChannels * hw}u;
    let ds = ${dyShift}u + b * ${g.outChannels * ohw}u + oy * ${g.outW}u;
    // Kernel row ky0 meets input row oy·SH − PH + ky0 (wrapping u32: rows above are huge).
    let iy0 = ${offsetExpr(`oy * ${g.strideH}u`, -g.padH)} + ky0;
    ${preload}
    for (var ox = 0u; ox < ${g.outW}u; ox++) {
      ${load}
      ${dys}
      ${fmas}
      ${slide}
    }
  }
  // Taps leave in a run-time loop (store tap 0, shift the rest down): unrolled, every store
  // site would be a loop over the SIMD lanes on a software driver.
  for (var n = 0u; n < ${taps}u; n++) {
    let c = c0 + n / ${kb * kw}u;
    let ky = ky0 + (n / ${kw}u) % ${kb}u;
    if (c < ${g.cg}u && ky < ${g.kernelH}u) {
      let wi = (g * ${g.og}u + o0) * ${g.wk}u + c * ${g.kernelH * kw}u + ky * ${kw}u + n % ${kw}u;
      ${puts}
    }
    ${shift}
  }
}
`;
}

/** dst[e] (+)= Σ_s partial[s·n + e], s ascending: a fixed order, so the same bits every run. */
function sumWgsl(n: number, splits: number, accumulate: boolean): string {
  const body = `
  var v = ${accumulate ? "dst[e]" : "0.0"};
  for (var s = 0u; s < ${splits}u; s++) {
    v += partial[s * ${n}u + e];
  }
  dst[e] = v;`;
  return `
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
${flatMain(64, n, body, { index: "e" })}
`;
}

/** Buffers and options of {@link conv2dBackwardBias}. */
export interface Conv2dBackwardBiasArgs {
  /** Gradient of the output `[N, O, OH, OW]`. */
  gradOut: GpuBuffer;
  /** Gradient of the bias `[O]`, written (or added to). */
  gradB: GpuBuffer;
  /** Add to gradB instead of overwriting it. */
  accumulate?: boolean;
  /** Largest binding to make (bytes); below the device limit it forces batch splitting. */
  maxBindingBytes?: number;
}

const BIAS_WG = 256;

/**
 * gradB[o] = Σ over samples and pixels of gradOut[·, o, ·, ·]: one workgroup per channel, each
 * invocation summing a fixed strided share, then a fixed tree in workgroup memory.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { conv2dBackwardBias } from "./conv2d_backward.ts";
 * const device = await Device.acquire();
 * const g = { batch: 1, inChannels: 1, height: 3, width: 3, outChannels: 1, kernelH: 2,
 *   kernelW: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1 };
 * const gradOut = device.alloc(16), gradB = device.alloc(4);
 * device.write(gradOut, new Float32Array([1, 2, 3, 4]));
 * conv2dBackwardBias(device, g, { gradOut, gradB });
 * console.log(new Float32Array(await device.read(gradB, 0, 4))); // [10]
 * ```
 */
export function conv2dBackwardBias(
  device: Device,
  geometry: Conv2dGeometry,
  args: Conv2dBackwardBiasArgs,
): void {
  const what = "conv2dBackwardBias";
  const g = resolve(geometry, what);
  const ohw = g.outH * g.outW;
  const outSample = g.outChannels * ohw;
  checkCapacity(args.gradOut, g.batch * outSample, `${what}: gradOut`);
  checkCapacity(args.gradB, g.outChannels, `${what}: gradB`);
  const runs = batchRuns(device, g.batch, [outSample], args.maxBindingBytes, what);
  runs.forEach(({ count, parts: [dy] }, index) => {
    const add = index > 0 || args.accumulate ? "gb[o] + " : "";
    const wgsl = `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> gb: array<f32>;
var<workgroup> part: array<f32, ${BIAS_WG}>;
${flatMainHead(BIAS_WG, g.outChannels, { index: "o", perWorkgroup: true })}
  var v = 0.0;
  for (var e = lid; e < ${count * ohw}u; e += ${BIAS_WG}u) {
    v += dy[${dy.shift}u + (e / ${ohw}u) * ${outSample}u + o * ${ohw}u + e % ${ohw}u];
  }
  part[lid] = v;
  for (var half = ${BIAS_WG / 2}u; half > 0u; half >>= 1u) {
    workgroupBarrier();
    if (lid < half) { part[lid] += part[lid + half]; }
  }
  if (lid == 0u) { gb[o] = ${add}part[0]; }
}
`;
    device.dispatch(
      {
        name: `${what} ${count}×${g.outChannels}×${g.outH}×${g.outW}`,
        wgsl,
        workgroups: g.outChannels,
      },
      [{ buffer: args.gradOut, ...dy.range }, { buffer: args.gradB, size: g.outChannels * 4 }],
    );
  });
}
