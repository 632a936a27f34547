/**
 * Cross-entropy of `[N, C]` logits against N i32 labels, fused as PyTorch fuses log-softmax and
 * the negative log-likelihood, with `F.cross_entropy`'s options: class weights, an ignored
 * label, label smoothing and the reduction. The forward is one pass over the rows, whose
 * invocations (a workgroup for a long row, a segment of one for a short row) find the row's
 * maximum `m`, then `Σ exp(x − m)`, `Σ w_c (x_c − m)` and `Σ w_c`, and keep what the backward
 * needs; then, unless the reduction is `none`, a one-workgroup sum of the row losses divided by
 * the sum of their weights (`mean`) or by 1 (`sum`), which also divides the coefficients kept
 * per row for the backward. The backward is one pass that recomputes the softmax from those
 * coefficients. No `[N, C]` intermediate is stored.
 *
 * The options are uniforms, so every option but `weight` (an extra binding, so a second
 * pipeline of each pass) shares the default's pipelines; `none` skips the reduction's dispatch.
 *
 * A label outside `[0, C)` (other than the ignored one) is checked on the GPU, as `oneHot`
 * checks it: its row's loss (so the reduced loss) and its row's gradient are NaN, and the next
 * read from the device throws a `DeviceAssertionError` naming the label and its sample.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain, splitBatch } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

/** Invocations of a workgroup of the row pass (one or more rows) and of the reduction. */
const ROW_WORKGROUP = 128;
/** Invocations of a workgroup of the gradient pass (one per element). */
const GRAD_WORKGROUP = 256;
/**
 * Floats kept per row (a `vec4f`) for the backward, which writes `dx_c = (exp(x_c − m)·a −
 * onehot(y)_c·b − w_c·s)·g`: the row's maximum `m`, then `a = ((1 − ε)·w[y] + (ε/C)·Σ_c w_c) /
 * Σ_c exp(x_c − m)`, `b = (1 − ε)·w[y]` and `s = ε/C`, each divided by the reduction's divisor;
 * all 0 for an ignored row, NaN for a label out of range.
 */
export const STATS_PER_ROW = 4;

const NAN = "bitcast<f32>(0x7fc00000u)";

/** How the row losses become the loss, as PyTorch's `reduction`. */
export type CrossEntropyReduction = "mean" | "sum" | "none";

/** `F.cross_entropy`'s options, shared by the forward and the backward (defaults: PyTorch's). */
export interface CrossEntropyOptions {
  /**
   * `mean` (default): the sum of the row losses over the sum of the rows' weights (their count
   * without `weight`; NaN when every row is ignored); `sum`; `none`: the `rows` row losses.
   */
  reduction?: CrossEntropyReduction;
  /** The label whose rows give 0 loss and 0 gradient and count for nothing (default -100). */
  ignoreIndex?: number;
  /** `ε` in [0, 1]: the loss is `(1 − ε)·nll + (ε/C)·Σ_c w_c·(−log p_c)` per row (default 0). */
  labelSmoothing?: number;
  /** `classes` f32 class weights `w` (default: all 1); an extra binding. */
  weight?: GpuBuffer;
}

/** The operands and sizes of {@link crossEntropy}. */
export interface CrossEntropyArgs extends CrossEntropyOptions {
  /** `[rows, classes]` f32 logits, row-major from element 0. */
  logits: GpuBuffer;
  /** `rows` i32 class indices. */
  labels: GpuBuffer;
  /** Written: `[rows, 4]` f32, {@link STATS_PER_ROW} per row for the backward. */
  stats: GpuBuffer;
  /** Written: one f32, the reduced loss, or `rows` f32 for the reduction `none`. */
  loss: GpuBuffer;
  /** Rows (samples), N; none gives a NaN mean, as a mean of nothing. */
  rows: number;
  /** Classes, C ≥ 1. */
  classes: number;
  /** Names the op in the label check's error (default `crossEntropy`). */
  op?: string;
  /** Largest byte range of the logits to bind at once (default: the device's limit). */
  maxBindingBytes?: number;
}

/**
 * The cross-entropy of each row, as PyTorch defines it with class weights `w` (default 1),
 * smoothing `ε` and the ignored label: 0 for an ignored row, else
 * `(1 − ε)·w[y]·(lse − (x_y − m)) + (ε/C)·Σ_c w_c·(lse − (x_c − m))`, with `m = max x` and
 * `lse = log Σ exp(x − m)`, computed stably; then reduced into `loss` (see
 * {@link CrossEntropyOptions.reduction}), and what the backward needs into `stats`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { crossEntropy } from "./cross_entropy.ts";
 * const device = await Device.acquire();
 * const logits = device.alloc(16), labels = device.alloc(8);
 * const stats = device.alloc(32), loss = device.alloc(4);
 * device.write(logits, new Float32Array([0, 0, 1000, 1000]));
 * device.write(labels, new Int32Array([1, 0]));
 * crossEntropy(device, { logits, labels, stats, loss, rows: 2, classes: 2 });
 * console.log(new Float32Array(await device.read(loss, 0, 4))); // [0.6931…] (log 2)
 * ```
 */
export function crossEntropy(device: Device, args: CrossEntropyArgs): void {
  const { labels, stats, rows, classes, op = "crossEntropy", reduction = "mean" } = args;
  const perRow = reduction === "none";
  // Besides the rows' losses, the reduction reads their weights (their divisor for a mean).
  const losses = perRow
    ? args.loss
    : device.alloc(Math.max(rows, 1) * 8, "cross-entropy row losses and weights");
  const fault = device.faultSlot(
    `label range: ${op}`,
    ([row, label, count]) =>
      `${op}: label ${label | 0} of sample ${row} is outside the ${count} classes [0, ${count})`,
  );
  const lanes = lanesPerRow(classes);
  forEachRun(device, args, (run, uf, u) => {
    const groups = Math.ceil(run.count / (ROW_WORKGROUP / lanes));
    const ux = uf.all({ lanes, groups, faultCode: fault.code, batch: rows, perRow: +perRow });
    const w = weightOf(args.weight);
    // A row's lanes are a segment of the workgroup; rows past the run's end still take part in
    // the barriers, reading nothing.
    const body = `
  let lanes = ${ux.lanes};
  let lane = lid % lanes;
  let row = group * (${ROW_WORKGROUP}u / lanes) + lid / lanes;
  let inRun = row < ${u.rows};
  let at = ${u.first} + row;
  let base = ${u.shift} + row * ${u.classes};
  let end = select(0u, ${u.classes}, inRun);
  var m = bitcast<f32>(0xff800000u);
  for (var c = lane; c < end; c += lanes) { m = maxOrNaN(m, logits[base + c]); }
  maxes[lid] = m;
  workgroupBarrier();${segmentTree("maxes", "lanes", (a, b) => `maxOrNaN(${a}, ${b})`)}
  let rowMax = maxes[lid - lane];
  // Σ exp(x − m), and for the smoothing Σ w_c (x_c − m) and Σ w_c, in one sweep.
  var s = vec3f();
  for (var c = lane; c < end; c += lanes) {
    let z = logits[base + c] - rowMax;
    s += vec3f(exp(z), ${w("c")} * z, ${w("c")});
  }
  sums[lid] = s;
  workgroupBarrier();${segmentTree("sums", "lanes", (a, b) => `${a} + ${b}`)}
  if (inRun && lane == 0u) {
    let total = sums[lid];
    let logSum = log(total.x);
    let label = labels[at];
    var loss = 0.0;
    var rowWeight = 0.0;
    var gradient = vec3f();
    if (label != ${u.ignoreIndex}) {
      if (label >= 0 && label < i32(${u.classes})) {
        rowWeight = ${w("u32(label)")};
        // lse − (x[label] − m): no large m added and subtracted back.
        loss = ${u.keep} * rowWeight * (logSum - (logits[base + u32(label)] - rowMax))
          + ${u.spread} * (total.z * logSum - total.y);
        let onLabel = ${u.keep} * rowWeight;
        gradient = vec3f((onLabel + ${u.spread} * total.z) / total.x, onLabel, ${u.spread});
      } else {
        // The loss and the row's gradient are NaN (a guarded step changes nothing), reported
        // at the next read; the row's weight stays 0, so that the other rows keep their divisor.
        raiseFault(${ux.faultCode}, at, bitcast<u32>(label), ${u.classes});
        loss = ${NAN};
        gradient = vec3f(${NAN});
      }
    }
    stats[at] = vec4f(rowMax, gradient);
    losses[at] = loss;
    if (${ux.perRow} == 0u) { losses[${ux.batch} + at] = rowWeight; }
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> stats: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
${faultWgsl(4)}
${w.declare(5)}
${uf.declare(5 + w.bindings.length)}
var<workgroup> maxes: array<f32, ${ROW_WORKGROUP}>;
var<workgroup> sums: array<vec3f, ${ROW_WORKGROUP}>;
// NaN wins, as in PyTorch (a comparison with NaN is false, so it is tested for).
fn maxOrNaN(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, a != a || b != b); }
${flatMain(ROW_WORKGROUP, ux.groups, body, { index: "group", perWorkgroup: true })}`;
    device.dispatch(
      {
        name: `${op} rows [${run.count}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: groups,
        cost: { flops: 6 * run.count * classes, bytes: 4 * run.count * (2 * classes + 6) },
      },
      [
        { buffer: args.logits, ...run.range },
        { buffer: labels },
        { buffer: stats },
        { buffer: losses },
        { buffer: fault.buffer },
        ...w.bindings,
      ],
    );
  });
  if (!perRow) {
    reduce(device, { losses, stats, out: args.loss, rows, mean: reduction === "mean", op });
    device.release(losses);
  }
}

/** The operands and sizes of {@link crossEntropyBackward}. */
export interface CrossEntropyBackwardArgs extends CrossEntropyOptions {
  /** The forward's `[rows, classes]` logits. */
  logits: GpuBuffer;
  /** The forward's labels. */
  labels: GpuBuffer;
  /** What the forward wrote into its `stats`. */
  stats: GpuBuffer;
  /** The gradient of the loss: one f32, or `rows` f32 for the reduction `none`. */
  gradLoss: GpuBuffer;
  /** Written: `[rows, classes]` f32, the gradient of the logits. */
  gradLogits: GpuBuffer;
  /** Rows (samples), N, as in the forward. */
  rows: number;
  /** Classes, C ≥ 1, as in the forward. */
  classes: number;
  /** Names the op in the profiler (default `crossEntropy`). */
  op?: string;
  /** Largest byte range of the logits (and their gradient) to bind at once. */
  maxBindingBytes?: number;
}

/**
 * The gradient of the forward's loss (same options) in one pass:
 * `((1 − ε)·w[y]·(p − onehot(y)) + (ε/C)·(p·Σ_c w_c − w)) · g / d`, where `p` is the softmax,
 * `g` the loss's gradient (the row's own for `none`) and `d` the reduction's divisor, from the
 * coefficients the forward kept per row ({@link STATS_PER_ROW}). An ignored row gets 0; a row
 * whose label is out of range gets NaN (its fault was raised by the forward).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { crossEntropy, crossEntropyBackward } from "./cross_entropy.ts";
 * const device = await Device.acquire();
 * const logits = device.alloc(8), labels = device.alloc(4), stats = device.alloc(16);
 * const loss = device.alloc(4), gradLoss = device.alloc(4), gradLogits = device.alloc(8);
 * device.write(logits, new Float32Array([0, 0]));
 * device.write(labels, new Int32Array([1]));
 * device.write(gradLoss, new Float32Array([1]));
 * crossEntropy(device, { logits, labels, stats, loss, rows: 1, classes: 2 });
 * crossEntropyBackward(device, { logits, labels, stats, gradLoss, gradLogits, rows: 1, classes: 2 });
 * console.log(new Float32Array(await device.read(gradLogits, 0, 8))); // [0.5, -0.5]
 * ```
 */
export function crossEntropyBackward(device: Device, args: CrossEntropyBackwardArgs): void {
  const { labels, stats, gradLoss, rows, classes, op = "crossEntropy" } = args;
  forEachRun(device, args, (run, uf, u) => {
    const ux = uf.all({ elements: run.count * classes, perRow: +(args.reduction === "none") });
    const w = weightOf(args.weight);
    const body = `
  let row = i / ${u.classes};
  let at = ${u.first} + row;
  let label = labels[at];
  let column = i32(i % ${u.classes});
  let k = stats[at];
  let g = exp(logits[${u.shift} + i] - k.x) * k.y - select(0.0, k.z, column == label)
    - k.w * ${w("u32(column)")};
  // A uniform branch: one gradient for every row is read from one address (faster on lavapipe).
  var scale = gradLoss[0];
  if (${ux.perRow} == 1u) { scale = gradLoss[at]; }
  gradLogits[${u.shift} + i] = g * scale;`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> stats: array<vec4f>;
@group(0) @binding(3) var<storage, read> gradLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradLogits: array<f32>;
${w.declare(5)}
${uf.declare(5 + w.bindings.length)}
${flatMain(GRAD_WORKGROUP, ux.elements, body)}`;
    const elements = run.count * classes;
    device.dispatch(
      {
        name: `${op} backward [${run.count}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(elements / GRAD_WORKGROUP),
        cost: { flops: 9 * elements, bytes: 8 * elements },
      },
      [
        { buffer: args.logits, ...run.range },
        { buffer: labels },
        { buffer: stats },
        { buffer: gradLoss },
        { buffer: args.gradLogits, ...run.range },
        ...w.bindings,
      ],
    );
  });
}

/**
 * The class weights in WGSL: `w(c)` reads `weight[c]`, or is `1.0` without weights (then
 * nothing more is declared or bound, and the pipeline is the default one). Bound after the
 * other buffers, before the uniforms (which the device binds last).
 */
function weightOf(weight: GpuBuffer | undefined): {
  (index: string): string;
  declare(binding: number): string;
  bindings: { buffer: GpuBuffer }[];
} {
  const w = (index: string) => weight ? `weight[${index}]` : "1.0";
  return Object.assign(w, {
    declare: (binding: number) =>
      weight ? `@group(0) @binding(${binding}) var<storage, read> weight: array<f32>;` : "",
    bindings: weight ? [{ buffer: weight }] : [],
  });
}

/** One run of whole rows that one dispatch covers, and the binding range of its logits. */
interface RowRun {
  /** Rows in the run. */
  count: number;
  /** The bytes of the logits (and their gradient) to bind. */
  range: { offset: number; size: number };
}

/**
 * Calls `dispatch` once per run of whole rows whose logits fit one binding (usually one run),
 * with the run's uniforms `rows`, `classes`, `first` (its first row) and `shift` (elements
 * between the binding's start and the run's first logit) already registered, and the options'
 * `keep` (`1 − ε`), `spread` (`ε/C`) and `ignoreIndex` (an i32).
 */
function forEachRun(
  device: Device,
  args: CrossEntropyOptions & {
    rows: number;
    classes: number;
    op?: string;
    maxBindingBytes?: number;
  },
  dispatch: (
    run: RowRun,
    uf: Uniforms,
    u: Record<"rows" | "classes" | "first" | "shift" | "keep" | "spread" | "ignoreIndex", string>,
  ) => void,
): void {
  const { rows, classes, op = "crossEntropy", ignoreIndex = -100, labelSmoothing = 0 } = args;
  if (!(classes >= 1)) {
    throw new RangeError(`${op}: logits need at least one class, got ${classes}`);
  }
  if (rows === 0) return;
  const runs = splitBatch(device.limits, {
    what: op,
    batch: rows,
    sampleBytes: [classes * 4],
    maxBindingBytes: args.maxBindingBytes,
  });
  for (const { start, count, parts: [{ range, shift }] } of runs) {
    const uf = new Uniforms();
    const u = {
      ...uf.all({ rows: count, classes, first: start, shift }),
      keep: uf.f32("keep", 1 - labelSmoothing),
      spread: uf.f32("spread", labelSmoothing / classes),
      ignoreIndex: `bitcast<i32>(${uf.u32("ignoreIndex", ignoreIndex)})`,
    };
    dispatch({ count, range }, uf, u);
  }
}

/**
 * Lanes (invocations) given to one row: a power of two near a quarter of its length, at most a
 * workgroup, so that short rows share a workgroup instead of leaving most of it idle.
 */
function lanesPerRow(classes: number): number {
  let lanes = 1;
  while (lanes < ROW_WORKGROUP && lanes * 4 < classes) lanes *= 2;
  return lanes;
}

/**
 * WGSL of a tree reduction of the workgroup array `scratch` within segments of `lanes` (a WGSL
 * expression, uniform, a power of two) invocations: the first of each segment ends with
 * `combine` of all of it. Each invocation knows its `lane` in its segment.
 */
function segmentTree(
  scratch: string,
  lanes: string,
  combine: (a: string, b: string) => string,
): string {
  // Unrolled to the workgroup's size (lavapipe runs a loop around a barrier slower), each step
  // idle where it is wider than the segments.
  let out = "";
  for (let w = ROW_WORKGROUP / 2; w >= 1; w /= 2) {
    out += `
  if (lane < ${w}u && ${w}u < ${lanes}) { ${scratch}[lid] = ${
      combine(`${scratch}[lid]`, `${scratch}[lid + ${w}u]`)
    }; }
  workgroupBarrier();`;
  }
  return out;
}

/** The operands of {@link reduce}. */
interface ReduceArgs {
  /** `rows` f32 row losses, then the rows' `rows` weights. */
  losses: GpuBuffer;
  /** The forward's stats: their gradient coefficients are divided by the divisor. */
  stats: GpuBuffer;
  /** Written: one f32. */
  out: GpuBuffer;
  rows: number;
  /** Divide by the sum of the rows' weights (else by 1). */
  mean: boolean;
  op: string;
}

/**
 * `out[0] = Σ losses / d` in one workgroup, in a fixed order, with `d` the sum of the rows'
 * weights for a mean (0 when every row is ignored or there is none: NaN, as PyTorch), else 1;
 * then each row's gradient coefficients divided by `d` (an ignored row's zeros stay zeros).
 */
function reduce(device: Device, { losses, stats, out, rows, mean, op }: ReduceArgs): void {
  const uf = new Uniforms();
  const u = uf.all({ rows, mean: +mean });
  const body = `
  let lane = lid;
  var s = vec2f();
  for (var r = lid; r < ${u.rows}; r += ${ROW_WORKGROUP}u) {
    s += vec2f(losses[r], losses[${u.rows} + r]);
  }
  sums[lid] = s;
  workgroupBarrier();${segmentTree("sums", `${ROW_WORKGROUP}u`, (a, b) => `${a} + ${b}`)}
  let divisor = select(1.0, sums[0].y, ${u.mean} == 1u);
  if (lid == 0u) { out[0] = sums[0].x / divisor; }
  let inverse = 1.0 / divisor;
  for (var r = lid; r < ${u.rows}; r += ${ROW_WORKGROUP}u) {
    let k = stats[r];
    stats[r] = vec4f(k.x, select(k.yzw * inverse, vec3f(), k.yzw == vec3f()));
  }`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> losses: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${uf.declare(3)}
var<workgroup> sums: array<vec2f, ${ROW_WORKGROUP}>;
${flatMain(ROW_WORKGROUP, 1, body, { index: "group", perWorkgroup: true })}`;
  device.dispatch(
    {
      name: `${op} ${mean ? "mean" : "sum"} [${rows}]`,
      wgsl,
      uniforms: uf.data(),
      workgroups: 1,
      cost: { flops: 5 * rows, bytes: 40 * rows + 4 },
    },
    [{ buffer: losses }, { buffer: stats }, { buffer: out }],
  );
}
