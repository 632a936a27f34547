/**
 * The optimiser's kernels: one fused SGD-with-momentum update per parameter (reads w, v, g;
 * writes w, v in place; nothing comes back to the host), and the two tiny kernels that let a
 * training loop watch its loss without a per-step readback: a step guard that checks the loss
 * for NaN/±∞ on the GPU, raises or lowers a flag the update kernel obeys, and accumulates the
 * loss, and a top-1/top-5 error counter over a batch's logits.
 *
 * Hyperparameters (learning rate, momentum, weight decay) are baked into the WGSL as
 * constants: they change a handful of times in a run (the paper divides the learning rate by
 * 10 three times), and every parameter of a group shares one pipeline (the element count comes
 * from `arrayLength`), so a change costs one compilation. Nothing that changes from step to
 * step is baked: the guard flag is read from a buffer.
 *
 * Parameters larger than `maxStorageBufferBindingSize` (fc6's 151 MB weight against lavapipe's
 * 128 MiB) are updated window by window, each window binding the same aligned byte range of
 * w, v and g.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { f32Literal, FLAT_WORKGROUP, windows } from "./_program.ts";

/**
 * Which SGD rule: the paper's (learning rate inside the velocity) or PyTorch's (outside).
 *
 * - `paper`: v ← μ·v − λ·ε·w − ε·g; w ← w + v
 * - `pytorch`: d = g + λ·w; v ← μ·v + d; w ← w − ε·v (zero-initialised v, so the first step
 *   gives v = d exactly, as PyTorch's `momentum_buffer = d` does; dampening 0, no Nesterov)
 *
 * The two agree while ε is constant and differ after ε changes.
 */
export type SgdFormulation = "paper" | "pytorch";

/** The constants of one update. */
export interface SgdHyperparameters {
  /** Which rule. */
  formulation: SgdFormulation;
  /** Learning rate ε. */
  lr: number;
  /** Momentum μ. */
  momentum: number;
  /** Weight decay λ. */
  weightDecay: number;
}

/** The buffers of one parameter; all hold at least `n` f32 elements laid out alike. */
export interface SgdBuffers {
  /** The weights, updated in place. */
  weight: GpuBuffer;
  /** The velocity (momentum buffer), updated in place; zeros before the first step. */
  velocity: GpuBuffer;
  /** The gradient, read only. */
  grad: GpuBuffer;
  /** Number of elements. */
  n: number;
}

/** Options of {@link sgdUpdate}. */
export interface SgdUpdateOptions {
  /**
   * A guard buffer (see {@link stepGuard}): the update is skipped entirely when its first u32
   * is 0 (the step's loss was not finite). Without it the update always runs.
   */
  guard?: GpuBuffer;
  /**
   * Largest bytes one binding may cover; default the device's `maxStorageBufferBindingSize`.
   * Tests lower it to exercise the windowed path on small buffers.
   */
  maxBindingBytes?: number;
}

const WORKGROUP = 256;

/** The WGSL of one update rule; exported for tests that inspect the generated code. */
export function sgdWgsl(h: SgdHyperparameters, guarded: boolean): string {
  checkHyperparameters(h);
  const mu = `vec4f(${f32Literal(h.momentum)})`;
  const body = h.formulation === "paper"
    ? `  let vi = ${mu} * v[i] - vec4f(${f32Literal(h.weightDecay * h.lr)}) * wi -
      vec4f(${f32Literal(h.lr)}) * gi;
  v[i] = vi;
  w[i] = wi + vi;`
    : `  let d = gi + vec4f(${f32Literal(h.weightDecay)}) * wi;
  let vi = ${mu} * v[i] + d;
  v[i] = vi;
  w[i] = wi - vec4f(${f32Literal(h.lr)}) * vi;`;
  return `
@group(0) @binding(0) var<storage, read_write> w: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(2) var<storage, read> g: array<vec4f>;
${guarded ? "@group(0) @binding(3) var<storage, read> guard: array<u32>;" : ""}
${FLAT_WORKGROUP}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flatWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= arrayLength(&w)) { return; }
  ${guarded ? "if (guard[0] == 0u) { return; }" : ""}
  let wi = w[i];
  let gi = g[i];
${body}
}`;
}

/**
 * Applies one SGD-with-momentum step to one parameter, in place, in a single fused kernel per
 * binding window. No readback: the work is only recorded.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { sgdUpdate } from "./sgd.ts";
 * const device = await Device.acquire();
 * const weight = device.alloc(16), velocity = device.alloc(16), grad = device.alloc(16);
 * device.write(weight, new Float32Array([1, 2, 3, 4]));
 * device.write(velocity, new Float32Array(4));
 * device.write(grad, new Float32Array([1, 1, 1, 1]));
 * const h = { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 } as const;
 * sgdUpdate(device, { weight, velocity, grad, n: 4 }, h);
 * console.log(new Float32Array(await device.read(weight, 0, 16))); // [0.9, 1.9, 2.9, 3.9]
 * ```
 */
export function sgdUpdate(
  device: Device,
  buffers: SgdBuffers,
  h: SgdHyperparameters,
  options: SgdUpdateOptions = {},
): void {
  const { weight, velocity, grad, n } = buffers;
  if (n === 0) return;
  for (const [name, b] of [["weight", weight], ["velocity", velocity], ["grad", grad]] as const) {
    if (b.device !== device) {
      throw new Error(
        `sgdUpdate: the ${name} buffer lives on ${b.device.label}, not ${device.label}`,
      );
    }
    if (b.capacity < Math.ceil(n / 4) * 16) {
      throw new RangeError(
        `sgdUpdate: the ${name} buffer holds ${b.capacity} bytes, fewer than ${n} elements need`,
      );
    }
  }
  const guard = options.guard;
  const wgsl = sgdWgsl(h, guard !== undefined);
  const maxBinding = options.maxBindingBytes ?? device.limits.maxStorageBufferBindingSize;
  const alignment = device.limits.minStorageBufferOffsetAlignment;
  if (maxBinding < Math.max(alignment, 16)) {
    throw new RangeError(
      `sgdUpdate: maxBindingBytes ${maxBinding} is below the offset alignment ${alignment}`,
    );
  }
  const parts = windows(Math.ceil(n / 4), 16, maxBinding, alignment);
  for (const part of parts) {
    const range = { offset: part.start * 16, size: part.count * 16 };
    const bindings: Binding[] = [
      { buffer: weight, ...range },
      { buffer: velocity, ...range },
      { buffer: grad, ...range },
    ];
    if (guard) bindings.push({ buffer: guard, offset: 0, size: 16 });
    const suffix = parts.length > 1 ? ` window ${part.start * 4}+${part.count * 4}` : "";
    device.dispatch(
      {
        name: `sgd ${h.formulation} (${n})${suffix}`,
        wgsl,
        workgroups: Math.ceil(part.count / WORKGROUP),
      },
      bindings,
    );
  }
}

function checkHyperparameters(h: SgdHyperparameters): void {
  if (h.formulation !== "paper" && h.formulation !== "pytorch") {
    throw new RangeError(`sgd: formulation must be "paper" or "pytorch", got ${h.formulation}`);
  }
  for (const key of ["lr", "momentum", "weightDecay"] as const) {
    if (!Number.isFinite(h[key]) || h[key] < 0) {
      throw new RangeError(`sgd: ${key} must be a finite number ≥ 0, got ${h[key]}`);
    }
  }
}

// Step statistics ------------------------------------------------------------------------------

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
  /** Whether the last guarded loss was finite (its update ran). */
  lastOk: boolean;
  /** Non-finite losses in a row up to the last guarded step. */
  consecutiveNonFinite: number;
  /** Non-finite losses since the buffer was created. */
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

/**
 * Checks one step's loss on the GPU and records it: when `loss[0]` is finite, raises the flag
 * (word 0 = 1), adds `loss · count` to a compensated (Kahan) sum and counts the step and its
 * `count` images; when it is NaN or ±∞, lowers the flag (so guarded {@link sgdUpdate}s skip this step)
 * and counts a skipped step. Runs as one invocation; nothing is read back.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { decodeStepStats, initialStepStats, STEP_STATS_BYTES, stepGuard } from "./sgd.ts";
 * const device = await Device.acquire();
 * const stats = device.alloc(STEP_STATS_BYTES), loss = device.alloc(4);
 * device.write(stats, initialStepStats());
 * device.write(loss, new Float32Array([NaN]));
 * stepGuard(device, loss, stats, 128);
 * const s = decodeStepStats(await device.read(stats, 0, STEP_STATS_BYTES));
 * console.log(s.lastOk, s.skipped); // false 1
 * ```
 */
export function stepGuard(device: Device, loss: GpuBuffer, stats: GpuBuffer, count: number): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`stepGuard: count must be a non-negative integer, got ${count}`);
  }
  const wgsl = `
@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> s: array<u32>;
@compute @workgroup_size(1)
fn main() {
  let x = loss[0];
  // Exponent bits all ones: ±∞ or NaN. Bit tests survive compilers that assume finite math.
  let finite = (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
  if (finite) {
    s[${W.OK}] = 1u;
    s[${W.CONSECUTIVE}] = 0u;
    // Image-weighted; Kahan summation keeps many steps' worth of f32 losses accurate.
    let sum = bitcast<f32>(s[${W.LOSS_SUM}]);
    let y = x * ${count}.0 - bitcast<f32>(s[${W.LOSS_COMP}]);
    let t = sum + y;
    s[${W.LOSS_COMP}] = bitcast<u32>((t - sum) - y);
    s[${W.LOSS_SUM}] = bitcast<u32>(t);
    s[${W.STEPS}] = s[${W.STEPS}] + 1u;
    s[${W.IMAGES}] = s[${W.IMAGES}] + ${count}u;
  } else {
    s[${W.OK}] = 0u;
    s[${W.CONSECUTIVE}] = s[${W.CONSECUTIVE}] + 1u;
    s[${W.TOTAL_SKIPPED}] = s[${W.TOTAL_SKIPPED}] + 1u;
    s[${W.SKIPPED}] = s[${W.SKIPPED}] + 1u;
    s[${W.SKIPPED_IMAGES}] = s[${W.SKIPPED_IMAGES}] + ${count}u;
  }
}`;
  device.dispatch(
    { name: "step guard", wgsl, workgroups: 1 },
    [{ buffer: loss, offset: 0, size: 16 }, { buffer: stats, offset: 0, size: STEP_STATS_BYTES }],
  );
}

/** Options of {@link countTopKErrors}. */
export interface TopKCountOptions {
  /** Count nothing when the step guard's flag is down (default true; evaluation passes false). */
  guarded?: boolean;
}

/**
 * Counts top-1 and top-5 errors of a `[batch, classes]` logits matrix against i32 labels into
 * the statistics buffer (atomically, one invocation per image), unless the step guard's flag is
 * down (when `guarded`). The rule matches the host reference `topKErrors` in `tests/_reference.ts`: an image errs at k when k or more
 * classes score strictly higher than its label, or when its label's score is NaN.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { countTopKErrors, decodeStepStats, initialStepStats, STEP_STATS_BYTES } from "./sgd.ts";
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
  const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> s: array<atomic<u32>>;
${FLAT_WORKGROUP}
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
  let nan = (bitcast<u32>(mine) & 0x7fffffffu) > 0x7f800000u;
  if (nan || higher >= 1u) { atomicAdd(&s[${W.TOP1}], 1u); }
  if (nan || higher >= 5u) { atomicAdd(&s[${W.TOP5}], 1u); }
}`;
  device.dispatch(
    { name: `top-k errors [${batch}, ${classes}]`, wgsl, workgroups: Math.ceil(batch / 64) },
    [
      { buffer: logits, offset: 0, size: Math.ceil((batch * classes) / 4) * 16 },
      { buffer: labels, offset: 0, size: Math.ceil(batch / 4) * 16 },
      { buffer: stats, offset: 0, size: STEP_STATS_BYTES },
    ],
  );
}
