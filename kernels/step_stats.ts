/**
 * A training loop's statistics on the GPU, so that it never reads a loss back per step: a
 * guard flag that the SGD check lowers and the SGD update obeys, compensated loss totals,
 * counts of accepted and skipped steps, and top-1/top-5 error counts. One step runs
 * {@link guardLoss} (the flag follows the loss), the SGD checks, {@link commitStep} (the step is
 * counted as accepted or skipped) and then the guarded updates and {@link countTopKErrors}.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { memoised } from "./_memo.ts";
import { FLAT_WORKGROUP, IS_NAN } from "./_program.ts";

/** u32 words of a step-statistics buffer (see {@link StepStats}). */
export const STEP_STATS_WORDS: number = 12;
/** Bytes of a step-statistics buffer. */
export const STEP_STATS_BYTES: number = STEP_STATS_WORDS * 4;
/**
 * Word offsets. `OK` and `CONSECUTIVE` persist; the counters from `LOSS_SUM` on are the ones a
 * trainer zeroes after each readback (see {@link STEP_STATS_COUNTERS_FROM}).
 */
const W = {
  OK: 0,
  CONSECUTIVE: 1,
  TOTAL_SKIPPED: 2,
  LOSS_SUM: 4,
  LOSS_COMP: 5,
  STEPS: 6,
  IMAGES: 7,
  SKIPPED: 8,
  SKIPPED_IMAGES: 9,
  TOP1: 10,
  TOP5: 11,
} as const;
/** First word of the counters that are zeroed after each readback. */
export const STEP_STATS_COUNTERS_FROM: number = W.LOSS_SUM;

/** Totals of the accepted and skipped steps since the last reset. */
export interface StepTotals {
  /** Image-weighted sum (mean loss × images) over the accepted steps since the last reset. */
  lossSum: number;
  /** Accepted steps since the last reset. */
  steps: number;
  /** Images in accepted steps since the last reset. */
  images: number;
  /** Skipped (non-finite) steps since the last reset. */
  skipped: number;
  /** Images in skipped steps since the last reset. */
  skippedImages: number;
  /** Top-1 errors in accepted steps since the last reset (when counted). */
  top1: number;
  /** Top-5 errors in accepted steps since the last reset (when counted). */
  top5: number;
}

/** Decoded step statistics, as {@link decodeStepStats} returns them. */
export interface StepStats extends StepTotals {
  /** Whether the last step was accepted (its updates ran). */
  lastOk: boolean;
  /** Skipped steps in a row up to the last one. */
  consecutiveNonFinite: number;
  /** Skipped steps since the buffer was created. */
  totalNonFinite: number;
}

/** The initial contents of a step-statistics buffer: flag raised, counters zero. */
export function initialStepStats(): Uint32Array {
  const words = new Uint32Array(STEP_STATS_WORDS);
  words[W.OK] = 1;
  return words;
}

/** Decodes a step-statistics buffer read back from the GPU. */
export function decodeStepStats(bytes: ArrayBuffer): StepStats {
  const u = new Uint32Array(bytes, 0, STEP_STATS_WORDS);
  const f = new Float32Array(bytes, 0, STEP_STATS_WORDS);
  return {
    lastOk: u[W.OK] !== 0,
    consecutiveNonFinite: u[W.CONSECUTIVE],
    totalNonFinite: u[W.TOTAL_SKIPPED],
    lossSum: f[W.LOSS_SUM],
    steps: u[W.STEPS],
    images: u[W.IMAGES],
    skipped: u[W.SKIPPED],
    skippedImages: u[W.SKIPPED_IMAGES],
    top1: u[W.TOP1],
    top5: u[W.TOP5],
  };
}

// Exponent bits all ones: ±∞ or NaN. Bit tests survive compilers that assume finite math.
const FINITE = `fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}`;

/** The WGSL of {@link guardLoss} (one string: the pipeline cache finds it at once). */
const GUARD_LOSS_WGSL = `
@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> s: array<u32>;
${FINITE}
@compute @workgroup_size(1)
fn main() {
  s[${W.OK}] = select(0u, 1u, finite(loss[0]));
}`;

/**
 * Starts a step: sets the flag (word 0 of `stats`) to 1 when `loss[0]` is finite, else 0.
 * Nothing is counted until {@link commitStep}.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { decodeStepStats, guardLoss, initialStepStats, STEP_STATS_BYTES } from "./step_stats.ts";
 * const device = await Device.acquire();
 * const stats = device.alloc(STEP_STATS_BYTES), loss = device.alloc(4);
 * device.write(stats, initialStepStats());
 * device.write(loss, new Float32Array([NaN]));
 * guardLoss(device, loss, stats);
 * console.log(decodeStepStats(await device.read(stats, 0, STEP_STATS_BYTES)).lastOk); // false
 * ```
 */
export function guardLoss(device: Device, loss: GpuBuffer, stats: GpuBuffer): void {
  device.dispatch(
    { name: "step guard", wgsl: GUARD_LOSS_WGSL, workgroups: 1 },
    [{ buffer: loss, offset: 0, size: 16 }, { buffer: stats, offset: 0, size: STEP_STATS_BYTES }],
  );
}

/** The WGSL of {@link commitStep} for `count` images, generated once per count. */
const commitWgsl = memoised((count: number): string => `
@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> s: array<u32>;
@compute @workgroup_size(1)
fn main() {
  if (s[${W.OK}] != 0u) {
    s[${W.CONSECUTIVE}] = 0u;
    // Image-weighted; Kahan summation keeps many steps' worth of f32 losses accurate.
    let sum = bitcast<f32>(s[${W.LOSS_SUM}]);
    let y = loss[0] * ${count}.0 - bitcast<f32>(s[${W.LOSS_COMP}]);
    let t = sum + y;
    s[${W.LOSS_COMP}] = bitcast<u32>((t - sum) - y);
    s[${W.LOSS_SUM}] = bitcast<u32>(t);
    s[${W.STEPS}] = s[${W.STEPS}] + 1u;
    s[${W.IMAGES}] = s[${W.IMAGES}] + ${count}u;
  } else {
    s[${W.CONSECUTIVE}] = s[${W.CONSECUTIVE}] + 1u;
    s[${W.TOTAL_SKIPPED}] = s[${W.TOTAL_SKIPPED}] + 1u;
    s[${W.SKIPPED}] = s[${W.SKIPPED}] + 1u;
    s[${W.SKIPPED_IMAGES}] = s[${W.SKIPPED_IMAGES}] + ${count}u;
  }
}`);

/**
 * Counts one step by the flag's verdict: accepted — adds `loss · count` to a compensated
 * (Kahan) sum and counts the step and its `count` images; skipped — counts a skipped step (in
 * a row, in all, and since the last reset) and its images. One invocation; nothing is read back.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import {
 *   commitStep, decodeStepStats, guardLoss, initialStepStats, STEP_STATS_BYTES,
 * } from "./step_stats.ts";
 * const device = await Device.acquire();
 * const stats = device.alloc(STEP_STATS_BYTES), loss = device.alloc(4);
 * device.write(stats, initialStepStats());
 * device.write(loss, new Float32Array([2.5]));
 * guardLoss(device, loss, stats);
 * commitStep(device, loss, stats, 8);
 * const s = decodeStepStats(await device.read(stats, 0, STEP_STATS_BYTES));
 * console.log(s.steps, s.lossSum); // 1 20
 * ```
 */
export function commitStep(
  device: Device,
  loss: GpuBuffer,
  stats: GpuBuffer,
  count: number,
): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`commitStep: count must be a non-negative integer, got ${count}`);
  }
  const wgsl = commitWgsl(count);
  device.dispatch(
    { name: "step commit", wgsl, workgroups: 1 },
    [{ buffer: loss, offset: 0, size: 16 }, { buffer: stats, offset: 0, size: STEP_STATS_BYTES }],
  );
}

/** Options of {@link countTopKErrors}. */
export interface TopKCountOptions {
  /** Count nothing when the step guard's flag is down (default true; evaluation passes false). */
  guarded?: boolean;
}

/** The WGSL of {@link countTopKErrors}, generated once per batch, classes and guard. */
const topKWgsl = memoised((batch: number, classes: number, guarded: boolean): string => `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> s: array<atomic<u32>>;
${FLAT_WORKGROUP}${IS_NAN}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = flatWorkgroup(wid, nwg) * 64u + lid;
  if (row >= ${batch}u) { return; }
  ${guarded ? `if (atomicLoad(&s[${W.OK}]) == 0u) { return; }` : ""}
  let base = row * ${classes}u;
  let label = u32(labels[row]);
  let mine = logits[base + label];
  var higher = 0u;
  for (var c = 0u; c < ${classes}u; c++) {
    if (logits[base + c] > mine) { higher++; }
  }
  let nan = isNan(mine);
  if (nan || higher >= 1u) { atomicAdd(&s[${W.TOP1}], 1u); }
  if (nan || higher >= 5u) { atomicAdd(&s[${W.TOP5}], 1u); }
}`);

/**
 * Counts top-1 and top-5 errors of a `[batch, classes]` logits matrix against i32 labels into
 * the statistics buffer (atomically, one invocation per image), unless the step guard's flag is
 * down (when `guarded`). An image errs at k when k or more
 * classes score strictly higher than its label, or when its label's score is NaN.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import {
 *   countTopKErrors, decodeStepStats, initialStepStats, STEP_STATS_BYTES,
 * } from "./step_stats.ts";
 * const device = await Device.acquire();
 * const stats = device.alloc(STEP_STATS_BYTES), logits = device.alloc(24), labels = device.alloc(8);
 * device.write(stats, initialStepStats());
 * device.write(logits, new Float32Array([3, 1, 0, 2, 1, 0]));
 * device.write(labels, new Int32Array([0, 1]));
 * countTopKErrors(device, logits, labels, stats, 2, 3);
 * console.log(decodeStepStats(await device.read(stats, 0, STEP_STATS_BYTES)).top1); // 1
 * ```
 */
export function countTopKErrors(
  device: Device,
  logits: GpuBuffer,
  labels: GpuBuffer,
  stats: GpuBuffer,
  batch: number,
  classes: number,
  options: TopKCountOptions = {},
): void {
  if (batch === 0) return;
  const guarded = options.guarded ?? true;
  const wgsl = topKWgsl(batch, classes, guarded);
  device.dispatch(
    { name: `top-k errors [${batch}, ${classes}]`, wgsl, workgroups: Math.ceil(batch / 64) },
    [
      { buffer: logits, offset: 0, size: Math.ceil((batch * classes) / 4) * 16 },
      { buffer: labels, offset: 0, size: Math.ceil(batch / 4) * 16 },
      { buffer: stats, offset: 0, size: STEP_STATS_BYTES },
    ],
  );
}
