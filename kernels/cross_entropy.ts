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
 * Logits `[N, C, d1, …, dk]` (as for segmentation) are read in place: each of the `S = Π d`
 * positions of a sample is a row whose classes lie `S` apart, so `[N, C]` is the case S = 1.
 * The targets may also be class probabilities laid out as the logits (PyTorch's soft labels).
 *
 * The options are uniforms, so every option but `weight` (an extra binding, so a second
 * pipeline of each pass) shares the default's pipelines; `none` skips the reduction's dispatch.
 * S is a literal 1 for `[N, C]` (whose pipelines are as before, the strides folded away: a
 * uniform 1 made the backward about 5% slower on lavapipe, measured on `[256, 1000]`) and a
 * uniform otherwise, so every `[N, C, d1, …]` shape shares one more pipeline of each pass.
 * Probabilities (a binding of another type) are a pipeline of each pass of their own, and their
 * gradient a third backward.
 *
 * A label outside `[0, C)` (other than the ignored one) is checked on the GPU, as `oneHot`
 * checks it: its row's loss (so the reduced loss) and its row's gradient are NaN, and the next
 * read from the device throws a `DeviceAssertionError` naming the label and its sample.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain, IS_NAN, splitBatch } from "./_program.ts";
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
  /**
   * Positions per sample, S (default 1): the logits are `[rows, classes, S]` (the product of
   * PyTorch's `d1, …, dk`), so class `c` of position `(n, s)` lies at `n·C·S + c·S + s`, and
   * every position is a row of its own. A uniform when above 1 (one pipeline for all S > 1).
   */
  spatial?: number;
  /**
   * The targets are class probabilities (f32, laid out as the logits) rather than class
   * indices: a position's loss is `−Σ_c w_c·t'_c·log p_c` with `t' = t·(1 − ε) + ε/C`, the
   * mean divides by the number of positions, and `ignoreIndex` plays no part (as PyTorch).
   */
  probabilities?: boolean;
}

/** The operands and sizes of {@link crossEntropy}. */
export interface CrossEntropyArgs extends CrossEntropyOptions {
  /** `[rows, classes]` f32 logits, row-major from element 0. */
  logits: GpuBuffer;
  /** `rows·spatial` i32 class indices, or f32 probabilities laid out as the logits. */
  labels: GpuBuffer;
  /** Written: `[rows·spatial, 4]` f32, {@link STATS_PER_ROW} per position for the backward. */
  stats: GpuBuffer;
  /** Written: one f32, the reduced loss, or `rows·spatial` f32 for the reduction `none`. */
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
  const { spatial = 1, probabilities = false } = args;
  const perRow = reduction === "none";
  const positions = rows * spatial;
  // Besides the rows' losses, the reduction reads their weights (their divisor for a mean).
  const losses = perRow
    ? args.loss
    : device.alloc(Math.max(positions, 1) * 8, "cross-entropy row losses and weights");
  // Class indices are checked on the GPU; probabilities need no check (and no fault binding).
  const fault = probabilities ? undefined : device.faultSlot(
    `label range: ${op}${spatial === 1 ? "" : ` (${spatial} positions per sample)`}`,
    ([at, label, count]) =>
      `${op}: label ${label | 0} of sample ${Math.floor(at / spatial)}${
        spatial === 1 ? "" : ` at position ${at % spatial}`
      } is outside the ${count} classes [0, ${count})`,
  );
  const lanes = lanesPerRow(classes);
  forEachRun(device, args, (run, uf, u) => {
    const groups = Math.ceil(run.positions / (ROW_WORKGROUP / lanes));
    const ux = uf.all({ lanes, groups, batch: positions, perRow: +perRow });
    const w = weightOf(args.weight);
    const finish = probabilities
      ? probabilityRow()
      : labelRow(u, w, uf.u32("faultCode", fault!.code));
    // A row's lanes are a segment of the workgroup; rows past the run's end still take part in
    // the barriers, reading nothing. A row is one position: its classes lie `spatial` apart.
    const body = `
  let lanes = ${ux.lanes};
  let lane = lid % lanes;
  let row = group * (${ROW_WORKGROUP}u / lanes) + lid / lanes;
  let inRun = row < ${u.positions};
  let at = ${u.first} + row;
  let base = ${u.shift} + (row / ${u.spatial}) * ${u.classes} * ${u.spatial} + row % ${u.spatial};
  let end = select(0u, ${u.classes}, inRun);
  var m = bitcast<f32>(0xff800000u);
  for (var c = lane; c < end; c += lanes) { m = maxOrNaN(m, logits[base + c * ${u.spatial}]); }
  maxes[lid] = m;
  workgroupBarrier();${segmentTree("maxes", "lanes", (a, b) => `maxOrNaN(${a}, ${b})`)}
  let rowMax = maxes[lid - lane];
  // Σ exp(x − m), then Σ v_c (x_c − m) and Σ v_c in one sweep, with v the class weights (for the
  // smoothing), or the weighted smoothed probabilities.
  var s = vec3f();
  for (var c = lane; c < end; c += lanes) {
    let z = logits[base + c * ${u.spatial}] - rowMax;
    let v = ${
      probabilities
        ? `${w("c")} * (targets[base + c * ${u.spatial}] * ${u.keep} + ${u.spread})`
        : w("c")
    };
    s += vec3f(exp(z), v * z, v);
  }
  sums[lid] = s;
  workgroupBarrier();${segmentTree("sums", "lanes", (a, b) => `${a} + ${b}`)}
  if (inRun && lane == 0u) {
    let total = sums[lid];
    let logSum = log(total.x);${finish}
    stats[at] = kept;
    losses[at] = loss;
    if (${ux.perRow} == 0u) { losses[${ux.batch} + at] = rowWeight; }
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> ${
      probabilities ? "targets: array<f32>" : "labels: array<i32>"
    };
@group(0) @binding(2) var<storage, read_write> stats: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
${fault ? faultWgsl(4) : ""}
${w.declare(fault ? 5 : 4)}
${uf.declare((fault ? 5 : 4) + w.bindings.length)}
var<workgroup> maxes: array<f32, ${ROW_WORKGROUP}>;
var<workgroup> sums: array<vec3f, ${ROW_WORKGROUP}>;
// NaN wins, as in PyTorch (a comparison with NaN is false, so it is tested for).${IS_NAN}
fn maxOrNaN(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, isNan(a) || isNan(b)); }
${flatMain(ROW_WORKGROUP, ux.groups, body, { index: "group", perWorkgroup: true })}`;
    device.dispatch(
      {
        name: `${op} rows [${run.positions}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: groups,
        cost: {
          flops: 6 * run.positions * classes,
          bytes: 4 * run.positions * ((probabilities ? 3 : 2) * classes + 6),
        },
      },
      [
        { buffer: args.logits, ...run.range },
        probabilities ? { buffer: labels, ...run.range } : { buffer: labels },
        { buffer: stats },
        { buffer: losses },
        ...(fault ? [{ buffer: fault.buffer }] : []),
        ...w.bindings,
      ],
    );
  });
  if (!perRow) {
    reduce(device, {
      losses,
      stats,
      out: args.loss,
      rows: positions,
      mean: reduction === "mean",
      op,
    });
    device.release(losses);
  }
}

/**
 * WGSL ending a row of class indices: its `loss`, its weight (`rowWeight`, the mean's share)
 * and the four numbers `kept` for the backward ({@link STATS_PER_ROW}), from the row's `total`
 * (`Σ exp z`, `Σ w_c z_c`, `Σ w_c`, with `z = x − rowMax`) and `logSum`.
 */
function labelRow(
  u: RunUniforms,
  w: (index: string) => string,
  faultCode: string,
): string {
  return `
    let label = labels[at];
    var loss = 0.0;
    var rowWeight = 0.0;
    var gradient = vec3f();
    if (label != ${u.ignoreIndex}) {
      if (label >= 0 && label < i32(${u.classes})) {
        rowWeight = ${w("u32(label)")};
        // lse − (x[label] − m): no large m added and subtracted back. Without smoothing, the
        // smoothing term is left out, not multiplied by 0: a logit of −∞ (a masked class) makes
        // it +∞, and the loss stays finite, as PyTorch's.
        loss = ${u.keep} * rowWeight * (logSum - (logits[base + u32(label) * ${u.spatial}] - rowMax));
        if (${u.spread} != 0.0) { loss += ${u.spread} * (total.z * logSum - total.y); }
        let onLabel = ${u.keep} * rowWeight;
        gradient = vec3f((onLabel + ${u.spread} * total.z) / total.x, onLabel, ${u.spread});
      } else {
        // The loss and the row's gradient are NaN (a guarded step changes nothing), reported
        // at the next read; the row's weight stays 0, so that the other rows keep their divisor.
        raiseFault(${faultCode}, at, bitcast<u32>(label), ${u.classes});
        loss = ${NAN};
        gradient = vec3f(${NAN});
      }
    }
    let kept = vec4f(rowMax, gradient);`;
}

/**
 * WGSL ending a row of class probabilities `t` (smoothed: `t' = t·(1 − ε) + ε/C`), as
 * {@link labelRow} does: the loss `Σ_c w_c·t'_c·(lse − z_c)` from `total` (`Σ exp z`,
 * `Σ w_c t'_c z_c`, `Σ w_c t'_c`), the row's weight 1 (PyTorch's mean divides by the number of
 * positions), and kept for the backward: `lse + m` (so `log p_c = x_c − kept.x`), `Σ_c w_c t'_c`
 * and 1, the last two divided by the reduction's divisor.
 */
function probabilityRow(): string {
  return `
    let loss = total.z * logSum - total.y;
    let rowWeight = 1.0;
    let kept = vec4f(rowMax + logSum, total.z, 1.0, 0.0);`;
}

/** The operands and sizes of {@link crossEntropyBackward}. */
export interface CrossEntropyBackwardArgs extends CrossEntropyOptions {
  /** The forward's `[rows, classes]` logits. */
  logits: GpuBuffer;
  /** The forward's labels. */
  labels: GpuBuffer;
  /** What the forward wrote into its `stats`. */
  stats: GpuBuffer;
  /** The gradient of the loss: one f32, or `rows·spatial` f32 for the reduction `none`. */
  gradLoss: GpuBuffer;
  /** Written: f32 laid out as the logits, their gradient. */
  gradLogits: GpuBuffer;
  /** Written when given (with `probabilities` only): the gradient of the probabilities. */
  gradTargets?: GpuBuffer;
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
  const { labels, stats, gradLoss, classes, op = "crossEntropy" } = args;
  const { probabilities = false, gradTargets } = args;
  if (gradTargets && !probabilities) {
    throw new TypeError(`${op}: class indices have no gradient (gradTargets needs probabilities)`);
  }
  forEachRun(device, args, (run, uf, u) => {
    const elements = run.positions * classes;
    const ux = uf.all({ elements, perRow: +(args.reduction === "none") });
    const w = weightOf(args.weight);
    // Element i of the run is class c of position (sample n, spatial s), at n·C·S + c·S + s.
    const gradient = probabilities
      ? `
  let probability = targets[${u.shift} + i];
  let logP = logits[${u.shift} + i] - k.x;
  let weighted = ${w("column")} * k.z * scale;
  gradLogits[${u.shift} + i] = exp(logP) * k.y * scale - weighted * (probability * ${u.keep} + ${u.spread});${
        gradTargets
          ? `
  gradTargets[${u.shift} + i] = -weighted * ${u.keep} * logP;`
          : ""
      }`
      : `
  let label = labels[at];
  let g = exp(logits[${u.shift} + i] - k.x) * k.y - select(0.0, k.z, i32(column) == label)
    - k.w * ${w("column")};
  gradLogits[${u.shift} + i] = g * scale;`;
    const body = `
  // Two divisions, the remainders by multiplication (lavapipe divides element by element).
  let sample = i / (${u.classes} * ${u.spatial});
  let inSample = i - sample * ${u.classes} * ${u.spatial};
  let column = inSample / ${u.spatial};
  let at = ${u.first} + sample * ${u.spatial} + inSample - column * ${u.spatial};
  let k = stats[at];
  // A uniform branch: one gradient for every row is read from one address (faster on lavapipe).
  var scale = gradLoss[0];
  if (${ux.perRow} == 1u) { scale = gradLoss[at]; }${gradient}`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> ${
      probabilities ? "targets: array<f32>" : "labels: array<i32>"
    };
@group(0) @binding(2) var<storage, read> stats: array<vec4f>;
@group(0) @binding(3) var<storage, read> gradLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradLogits: array<f32>;
${gradTargets ? "@group(0) @binding(5) var<storage, read_write> gradTargets: array<f32>;" : ""}
${w.declare(gradTargets ? 6 : 5)}
${uf.declare((gradTargets ? 6 : 5) + w.bindings.length)}
${flatMain(GRAD_WORKGROUP, ux.elements, body)}`;
    device.dispatch(
      {
        name: `${op} backward [${run.positions}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(elements / GRAD_WORKGROUP),
        cost: { flops: 9 * elements, bytes: (probabilities ? 12 : 8) * elements },
      },
      [
        { buffer: args.logits, ...run.range },
        probabilities ? { buffer: labels, ...run.range } : { buffer: labels },
        { buffer: stats },
        { buffer: gradLoss },
        { buffer: args.gradLogits, ...run.range },
        ...(gradTargets ? [{ buffer: gradTargets, ...run.range }] : []),
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

/** One run of whole samples that one dispatch covers, and the binding range of its logits. */
interface RowRun {
  /** Positions (rows of classes) in the run: its samples times `spatial`. */
  positions: number;
  /** The bytes of the logits (and their gradient) to bind. */
  range: { offset: number; size: number };
}

/** The WGSL of a run's uniforms (see {@link forEachRun}). */
type RunUniforms = Record<
  "positions" | "classes" | "spatial" | "first" | "shift" | "keep" | "spread" | "ignoreIndex",
  string
>;

/**
 * Calls `dispatch` once per run of whole samples whose logits fit one binding (usually one
 * run), with the run's uniforms `positions`, `classes`, `spatial` (the class stride), `first`
 * (its first position) and `shift` (elements between the binding's start and the run's first
 * logit) already registered, and the options' `keep` (`1 − ε`), `spread` (`ε/C`) and
 * `ignoreIndex` (an i32).
 */
function forEachRun(
  device: Device,
  args: CrossEntropyOptions & {
    rows: number;
    classes: number;
    spatial?: number;
    op?: string;
    maxBindingBytes?: number;
  },
  dispatch: (run: RowRun, uf: Uniforms, u: RunUniforms) => void,
): void {
  const { rows, classes, spatial = 1, op = "crossEntropy" } = args;
  const { ignoreIndex = -100, labelSmoothing = 0 } = args;
  if (!(classes >= 1)) {
    throw new RangeError(`${op}: logits need at least one class, got ${classes}`);
  }
  if (rows === 0 || spatial === 0) return;
  const runs = splitBatch(device.limits, {
    what: op,
    batch: rows,
    sampleBytes: [classes * spatial * 4],
    maxBindingBytes: args.maxBindingBytes,
  });
  for (const { start, count, parts: [{ range, shift }] } of runs) {
    const uf = new Uniforms();
    const positions = count * spatial;
    const u = {
      ...uf.all({ positions, classes, first: start * spatial, shift }),
      // 1 as a literal for [N, C] logits: the compiler folds the strides and divisions away (a
      // uniform 1 cost the backward a division per element, measured); any S > 1 is a uniform,
      // so every spatial shape shares one more pipeline per pass.
      spatial: spatial === 1 ? "1u" : uf.u32("spatial", spatial),
      keep: uf.f32("keep", 1 - labelSmoothing),
      spread: uf.f32("spread", labelSmoothing / classes),
      ignoreIndex: `bitcast<i32>(${uf.u32("ignoreIndex", ignoreIndex)})`,
    };
    dispatch({ positions, range }, uf, u);
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
