/**
 * What the convolution kernels share: the geometry and its checks, the split of a batch into
 * runs of samples that each fit one storage binding, and the skeleton of a tiled implicit GEMM
 * whose operand tiles are gathered on the fly by code each kernel supplies.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { type BatchRun, splitBatch } from "./_program.ts";
import { windowCount, windowSpan } from "./_window.ts";

/**
 * The shape of one 2-D convolution over NCHW tensors (weights `[O, C/groups, KH, KW]`). Kernel
 * taps are `dilationH` rows and `dilationW` columns apart (PyTorch's `dilation`; default 1).
 */
export interface Conv2dGeometry {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  groups: number;
  /** Rows between kernel taps (default 1). */
  dilationH?: number;
  /** Columns between kernel taps (default 1). */
  dilationW?: number;
}

/** A checked geometry with the sizes every kernel derives from it. */
export interface Resolved extends Conv2dGeometry {
  /**
   * Dilation per axis, 1 on an axis whose kernel has one tap (where it changes nothing), so
   * that a 1×k kernel dilated along H stays eligible for every kernel that takes no dilation.
   */
  dilationH: number;
  dilationW: number;
  outH: number;
  outW: number;
  /** Input channels per group. */
  cg: number;
  /** Output channels per group. */
  og: number;
  /** Weights per output channel: `cg · kernelH · kernelW`. */
  wk: number;
}

/**
 * Output size of a convolution: `floor((size + 2·pad − dilation·(kernel − 1) − 1) / stride) + 1`
 * on each axis (PyTorch's).
 *
 * @example
 * ```ts
 * import { conv2dOutputSize } from "./_conv_geometry.ts";
 * const g = { batch: 1, inChannels: 3, height: 227, width: 227, outChannels: 96, kernelH: 11,
 *   kernelW: 11, strideH: 4, strideW: 4, padH: 0, padW: 0, groups: 1 };
 * console.log(conv2dOutputSize(g)); // { outH: 55, outW: 55 }
 * ```
 */
export function conv2dOutputSize(g: Conv2dGeometry): { outH: number; outW: number } {
  return {
    outH: windowCount(g.height, windowSpan(g.kernelH, g.dilationH), g.strideH, g.padH),
    outW: windowCount(g.width, windowSpan(g.kernelW, g.dilationW), g.strideW, g.padW),
  };
}

/** Whether a resolved convolution's kernel taps are spread out (dilation above 1 on an axis). */
export function isDilated(g: Resolved): boolean {
  return g.dilationH > 1 || g.dilationW > 1;
}

/** Validates a geometry (integers, positive sizes, divisibility) and derives its sizes. */
export function resolve(g: Conv2dGeometry, what: string): Resolved {
  const positive = [
    "batch",
    "inChannels",
    "height",
    "width",
    "outChannels",
    "kernelH",
    "kernelW",
    "strideH",
    "strideW",
    "groups",
  ] as const;
  for (const key of positive) {
    if (!Number.isInteger(g[key]) || g[key] < 1) {
      throw new RangeError(`${what}: ${key} must be a positive integer, got ${g[key]}`);
    }
  }
  for (const key of ["padH", "padW"] as const) {
    if (!Number.isInteger(g[key]) || g[key] < 0) {
      throw new RangeError(`${what}: ${key} must be a non-negative integer, got ${g[key]}`);
    }
  }
  for (const key of ["dilationH", "dilationW"] as const) {
    const d = g[key] ?? 1;
    if (!Number.isInteger(d) || d < 1) {
      throw new RangeError(`${what}: ${key} must be a positive integer, got ${d}`);
    }
  }
  const dilationH = g.kernelH === 1 ? 1 : g.dilationH ?? 1;
  const dilationW = g.kernelW === 1 ? 1 : g.dilationW ?? 1;
  if (g.inChannels % g.groups !== 0 || g.outChannels % g.groups !== 0) {
    throw new RangeError(
      `${what}: inChannels ${g.inChannels} and outChannels ${g.outChannels} must both be ` +
        `divisible by groups ${g.groups}`,
    );
  }
  const { outH, outW } = conv2dOutputSize({ ...g, dilationH, dilationW });
  if (outH < 1 || outW < 1) {
    const dilated = dilationH > 1 || dilationW > 1
      ? ` at dilation ${dilationH}×${dilationW} (spanning ` +
        `${windowSpan(g.kernelH, dilationH)}×${windowSpan(g.kernelW, dilationW)})`
      : "";
    throw new RangeError(
      `${what}: a ${g.kernelH}×${g.kernelW} kernel${dilated} (padding ${g.padH}×${g.padW}) ` +
        `does not fit a ${g.height}×${g.width} input`,
    );
  }
  const cg = g.inChannels / g.groups;
  const wk = cg * g.kernelH * g.kernelW;
  return { ...g, dilationH, dilationW, outH, outW, cg, og: g.outChannels / g.groups, wk };
}

/**
 * A geometry's dilation as it appears in names and keys: empty at dilation 1 (so every name and
 * cache key of an undilated convolution stays as it was), else ` d2×3` (`sep` between).
 */
export function dilationTag(g: Resolved, sep = "×"): string {
  return isDilated(g) ? ` d${g.dilationH}${sep}${g.dilationW}` : "";
}

/** A geometry as the autotuner's cache key: every size, in a fixed order. */
export function geometryKey(g: Resolved): string {
  return `${g.batch}x${g.inChannels}x${g.height}x${g.width} o${g.outChannels} ` +
    `k${g.kernelH}x${g.kernelW} s${g.strideH}x${g.strideW} p${g.padH}x${g.padW} g${g.groups}` +
    dilationTag(g, "x");
}

/** Throws unless `buffer` holds at least `elements` f32 values. */
export function checkCapacity(buffer: GpuBuffer, elements: number, what: string): void {
  if (buffer.capacity < elements * 4) {
    throw new RangeError(
      `${what} needs ${
        elements * 4
      } bytes (${elements} f32) but its buffer holds ${buffer.capacity}`,
    );
  }
}

/**
 * Splits the batch into runs of whole samples (see {@link splitBatch}) so that every per-sample
 * tensor of a run (sizes in f32 per sample, in binding order) fits one binding.
 */
export function batchRuns(
  device: Device,
  batch: number,
  perSample: readonly number[],
  maxBindingBytes: number | undefined,
  what: string,
): BatchRun[] {
  return splitBatch(device.limits, {
    what,
    batch,
    sampleBytes: perSample.map((elements) => elements * 4),
    maxBindingBytes,
    tooLarge: (bytes, limit) =>
      `one sample takes ${bytes} bytes, more than a ${limit}-byte binding allows`,
  });
}

/**
 * Register tile of the direct kernels: each invocation computes `ty × tx` positions of `q`
 * channels (in vec4s, the last one narrower where q is not a multiple of 4), and a workgroup
 * has `wg` invocations.
 */
export interface DirectTile {
  ty: number;
  tx: number;
  q: number;
  wg: number;
}

/**
 * One phase of an axis of a direct convolution: `count` positions u, each reading inputs from
 * `stride·u + origin` on through `taps` kernel taps starting at `tapFirst`, and writing output
 * position `scale·u + outOffset`. The forward pass has one phase per axis; the input gradient
 * has one per stride residue.
 */
export interface AxisPhase {
  count: number;
  taps: number;
  origin: number;
  outOffset: number;
  tapFirst: number;
}

/**
 * Samples the tile choices assume: a tile must not depend on the batch size, or a new batch
 * size would compile new pipelines. The paper's batch, so a GPU keeps the tiles it was measured
 * with at batch 128.
 */
export const NOMINAL_BATCH = 128;

/** The shape facts {@link pickDirectTile} looks at. */
export interface DirectShape {
  /** Samples times phase pairs. */
  batch: number;
  groups: number;
  uH: number;
  uW: number;
  outChannels: number;
  strideY: number;
  strideX: number;
  tapsY: number;
  tapsX: number;
  /** Input rows and columns between consecutive taps (default 1). */
  dilationY?: number;
  dilationX?: number;
}

/** The {@link DirectShape} of a dispatch over the given phases (largest count and taps). */
export function directShape(
  s: {
    batch: number;
    groups: number;
    outChannels: number;
    strideY: number;
    strideX: number;
    dilationY?: number;
    dilationX?: number;
  },
  phasesY: AxisPhase[],
  phasesX: AxisPhase[],
): DirectShape {
  const max = (list: AxisPhase[], key: "count" | "taps"): number =>
    Math.max(...list.map((f) => f[key]));
  return {
    ...s,
    batch: s.batch * phasesY.length * phasesX.length,
    uH: max(phasesY, "count"),
    uW: max(phasesX, "count"),
    tapsY: max(phasesY, "taps"),
    tapsX: max(phasesX, "taps"),
  };
}

/** The single phase of a forward axis: output u reads inputs from stride·u − pad. */
export function forwardPhase(count: number, taps: number, pad: number): AxisPhase[] {
  return [{ count, taps, origin: -pad, outOffset: 0, tapFirst: 0 }];
}

/**
 * How the kernel taps of one stride phase of the input gradient follow each other along an
 * axis: the taps k that meet a phase satisfy dilation·k ≡ φ (mod stride), so they are
 * `kernelStep = stride / gcd(stride, dilation)` taps apart, and consecutive ones read outputs
 * `readStep = dilation / gcd(stride, dilation)` apart (at dilation 1: every stride-th tap, reading
 * adjacent outputs).
 */
export function phaseTapSteps(
  stride: number,
  dilation: number,
): { kernelStep: number; readStep: number } {
  let [a, b] = [stride, dilation];
  while (b) [a, b] = [b, a % b];
  return { kernelStep: stride / a, readStep: dilation / a };
}

/**
 * The stride phases of one axis of the input gradient. Input positions i with
 * (i + pad) mod stride = φ are i = stride·u + φ − pad; they receive output o through kernel
 * taps k with dilation·k ≡ φ (mod stride), at o = u − (dilation·k − φ)/stride. Those taps are
 * the least one k₀ and every kernelStep-th after it ({@link phaseTapSteps}); with the sub-kernel
 * flipped, tap a (kernel tap tapFirst − kernelStep·a, tapFirst the last of them) reads output
 * u + origin + readStep·a. At dilation 1, k₀ = φ and the steps are stride and 1. Phases that no
 * tap reaches (kernel smaller than the stride, or no k₀) have no taps and get zeros.
 */
export function gradInputPhases(
  stride: number,
  kernel: number,
  pad: number,
  size: number,
  dilation = 1,
): AxisPhase[] {
  const { kernelStep, readStep } = phaseTapSteps(stride, dilation);
  const out: AxisPhase[] = [];
  for (let r = 0; r < stride; r++) {
    const first = Math.ceil((pad - r) / stride);
    const count = Math.floor((size - 1 + pad - r) / stride) - first + 1;
    // The least tap of the phase, if any: dilation·k₀ ≡ r (mod stride), k₀ < kernelStep.
    let least = -1;
    for (let k = 0; k < kernelStep && least < 0; k++) {
      if ((dilation * k - r) % stride === 0) least = k;
    }
    const taps = least >= 0 && least < kernel ? Math.ceil((kernel - least) / kernelStep) : 0;
    // Where tap k₀ reads, from u: (r − dilation·k₀)/stride (0 at dilation 1).
    const shift = least >= 0 ? (r - dilation * least) / stride : 0;
    if (count <= 0) continue;
    out.push({
      count,
      taps,
      origin: first - (taps - 1) * readStep + shift,
      outOffset: stride * first + r - pad,
      tapFirst: Math.max(0, least) + kernelStep * Math.max(0, taps - 1),
    });
  }
  return out;
}

/**
 * Kernel rows an invocation loads per reduced channel: each of the min(SY, KH) row phases
 * loads its TY−1 leading rows once, then one row per kernel row of that phase. Dilated, a
 * phase's taps are `kernelStep` apart and each moves `readStep` rows ({@link phaseTapSteps}):
 * TY − readStep rows kept, readStep (at most TY) loaded per tap.
 */
export function rowsLoaded(ty: number, strideY: number, tapsY: number, dilationY = 1): number {
  const { kernelStep, readStep } = phaseTapSteps(strideY, dilationY);
  const fresh = Math.min(readStep, ty);
  return Math.min(kernelStep, tapsY) * (ty - fresh) + tapsY * fresh;
}

/** Input columns a direct tile of `tx` outputs reads a row: its span of taps included. */
export function columnsRead(tx: number, strideX: number, tapsX: number, dilationX = 1): number {
  return (tx - 1) * strideX + dilationX * (tapsX - 1) + 1;
}

/**
 * Tile for a direct kernel, from a cost model: per invocation and reduced channel it loads
 * `rowsLoaded · cols` inputs and `q·KH·KW` weights and does `ty·tx·q·KH·KW` multiply-adds. On
 * a software driver a load costs about 20 multiply-adds (it is a loop over the SIMD lanes),
 * on a GPU a few; a grid too small to fill the device is charged as if it were full. Limits
 * on accumulators and row registers keep compile time and register pressure sane.
 */
export function pickDirectTile(s: DirectShape, soft: boolean): DirectTile {
  const loadCost = soft ? 20 : 4;
  const maxAcc = soft ? 64 : 16; // vec4 accumulators
  const maxRow = soft ? 128 : 64; // row registers
  const fill = soft ? 64 : 8192; // invocations that keep the device busy
  let best: DirectTile = { ty: 1, tx: 1, q: 4, wg: soft ? 8 : 64 };
  let bestCost = Infinity;
  // Blocks of 4 or 8 channels, or all of them where there are fewer than 8: 5 channels in
  // one block of 5 rather than two of 4 or one of 8 (3 of 8 computed for nothing).
  const blocks = s.outChannels > 4 ? [4, 8] : [4];
  if (s.outChannels < 8 && !blocks.includes(s.outChannels)) blocks.push(s.outChannels);
  for (const q of blocks) {
    for (let ty = 1; ty <= Math.min(8, s.uH); ty++) {
      for (let tx = 1; tx <= Math.min(16, s.uW); tx++) {
        const cols = columnsRead(tx, s.strideX, s.tapsX, s.dilationX);
        if ((ty * tx * q) / 4 > maxAcc || ty * cols > maxRow) continue;
        const inv = Math.ceil(s.uH / ty) * Math.ceil(s.uW / tx) * Math.ceil(s.outChannels / q) *
          s.batch * s.groups;
        const loads = rowsLoaded(ty, s.strideY, s.tapsY, s.dilationY) * cols +
          q * s.tapsY * s.tapsX;
        // Sliding the column window costs a register move per row register and tap.
        const moves = ty * cols * s.tapsY * s.tapsX / 4;
        const work = loads * loadCost + ty * tx * q * s.tapsY * s.tapsX + moves;
        const cost = Math.max(inv, fill) * work;
        if (cost < bestCost) [best, bestCost] = [{ ...best, ty, tx, q }, cost];
      }
    }
  }
  return best;
}

/**
 * Register tile of the weight-gradient kernel: an invocation owns `q` output channels (a
 * multiple of 4) × `qc` input channels × `kb` kernel rows × every kernel column.
 */
export interface WeightTile {
  q: number;
  qc: number;
  kb: number;
  wg: number;
}

/** Invocations of the weight-gradient kernel per split. */
export function weightInvocations(g: Resolved, t: WeightTile): number {
  return Math.ceil(g.og / t.q) * Math.ceil(g.cg / t.qc) * Math.ceil(g.kernelH / t.kb) * g.groups;
}

/**
 * Input columns per kernel row that the direct weight gradient loads anew as it moves to the
 * next output column: min(SW, KW) (the rest slide over), or, dilated, min(SW / DW, KW) where DW
 * divides SW (tap k then meets what tap k + SW/DW met) and all KW where it does not.
 */
export function freshColumns(g: Resolved): number {
  const shift = g.strideW % g.dilationW === 0 ? g.strideW / g.dilationW : g.kernelW;
  return Math.min(shift, g.kernelW);
}

/**
 * Tile of the weight gradient, by the same cost model: per output column an invocation loads
 * qc·kb·min(SW, KW) new inputs ({@link freshColumns}) and q output gradients and does
 * qc·kb·KW·q multiply-adds.
 */
export function pickWeightTile(g: Resolved, soft: boolean): WeightTile {
  const loadCost = soft ? 20 : 4;
  const maxAcc = soft ? 64 : 16;
  const fresh = freshColumns(g);
  let best: WeightTile = { q: 4, qc: 1, kb: 1, wg: soft ? 8 : 64 };
  let bestCost = Infinity;
  for (const q of g.og > 4 ? [4, 8, 12, 16] : [4]) {
    for (let qc = 1; qc <= Math.min(4, g.cg); qc++) {
      for (let kb = 1; kb <= g.kernelH; kb++) {
        if ((qc * kb * g.kernelW * q) / 4 > maxAcc) continue;
        const work = (qc * kb * fresh + q) * loadCost + qc * kb * g.kernelW * q;
        const cost = weightInvocations(g, { q, qc, kb, wg: 0 }) * work;
        if (cost < bestCost) [best, bestCost] = [{ ...best, q, qc, kb }, cost];
      }
    }
  }
  return best;
}

/**
 * The tiles the kernels pick for a geometry, on a software driver or on a GPU (tests run the
 * GPU tiles on a software driver too).
 *
 * @example
 * ```ts
 * import { conv2dTiles } from "./_conv_geometry.ts";
 * const g = { batch: 4, inChannels: 16, height: 32, width: 32, outChannels: 32, kernelH: 5,
 *   kernelW: 5, strideH: 1, strideW: 1, padH: 2, padW: 2, groups: 1 };
 * console.log(conv2dTiles(g, true).forward); // { ty: 8, tx: 8, q: 4, wg: 8 }
 * ```
 */
export function conv2dTiles(
  geometry: Conv2dGeometry,
  software: boolean,
): { forward: DirectTile; gradInput: DirectTile; gradWeight: WeightTile } {
  const g = resolve(geometry, "conv2dTiles");
  const s = { batch: NOMINAL_BATCH, groups: g.groups, strideY: g.strideH, strideX: g.strideW };
  const forward = directShape(
    { ...s, outChannels: g.og, dilationY: g.dilationH, dilationX: g.dilationW },
    forwardPhase(g.outH, g.kernelH, g.padH),
    forwardPhase(g.outW, g.kernelW, g.padW),
  );
  const [rows, cols] = [
    phaseTapSteps(g.strideH, g.dilationH),
    phaseTapSteps(g.strideW, g.dilationW),
  ];
  const gradInput = directShape(
    {
      ...s,
      outChannels: g.cg,
      strideY: 1,
      strideX: 1,
      dilationY: rows.readStep,
      dilationX: cols.readStep,
    },
    gradInputPhases(g.strideH, g.kernelH, g.padH, g.height, g.dilationH),
    gradInputPhases(g.strideW, g.kernelW, g.padW, g.width, g.dilationW),
  );
  return {
    forward: pickDirectTile(forward, software),
    gradInput: pickDirectTile(gradInput, software),
    gradWeight: pickWeightTile(g, software),
  };
}

/** `n` lines of generated WGSL. */
export function lines(n: number, f: (i: number) => string, sep = "\n"): string {
  return Array.from({ length: n }, (_, i) => f(i)).join(sep);
}
