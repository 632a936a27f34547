/**
 * Cross-entropy of `[N, C]` logits against N i32 labels, fused as PyTorch fuses log-softmax and
 * the negative log-likelihood. The forward is one pass over the rows, whose invocations (a
 * workgroup for a long row, a segment of one for a short row) find the row's maximum, then
 * `Σ exp(x − max)`, and keep both, then a tiny mean over the N row losses. The backward is one
 * pass that recomputes the softmax from the two numbers kept per row:
 * `dlogits = (softmax(x) − onehot(label)) · dloss / N`. No `[N, C]` intermediate is stored.
 *
 * A label outside `[0, C)` is checked on the GPU, as `oneHot` checks it: its row's loss (so the
 * mean) and its row's gradient are NaN, and the next read from the device throws a
 * `DeviceAssertionError` naming the label and its sample.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { faultWgsl } from "./_fault.ts";
import { flatMain, splitBatch } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";

/** Invocations of a workgroup of the row pass (one or more rows) and of the mean. */
const ROW_WORKGROUP = 128;
/** Invocations of a workgroup of the gradient pass (one per element). */
const GRAD_WORKGROUP = 256;
/** Floats kept per row for the backward: the row's maximum and `log Σ exp(x − max)`. */
export const STATS_PER_ROW = 2;

const NAN = "bitcast<f32>(0x7fc00000u)";

/** The operands and sizes of {@link crossEntropy}. */
export interface CrossEntropyArgs {
  /** `[rows, classes]` f32 logits, row-major from element 0. */
  logits: GpuBuffer;
  /** `rows` i32 class indices. */
  labels: GpuBuffer;
  /** Written: `[rows, 2]` f32, each row's maximum and `log Σ exp(x − max)`, for the backward. */
  stats: GpuBuffer;
  /** Written: one f32, the mean loss. */
  loss: GpuBuffer;
  /** Rows (samples), N; none gives a NaN loss, as a mean of nothing. */
  rows: number;
  /** Classes, C ≥ 1. */
  classes: number;
  /** Names the op in the label check's error (default `crossEntropy`). */
  op?: string;
  /** Largest byte range of the logits to bind at once (default: the device's limit). */
  maxBindingBytes?: number;
}

/**
 * The mean cross-entropy `(1/N) Σᵣ (log Σ exp(xᵣ − mᵣ) − (xᵣ[labelᵣ] − mᵣ))`, `mᵣ = max xᵣ`,
 * computed stably, into `loss`, and each row's `mᵣ` and log-sum into `stats`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { crossEntropy } from "./cross_entropy.ts";
 * const device = await Device.acquire();
 * const logits = device.alloc(16), labels = device.alloc(8);
 * const stats = device.alloc(16), loss = device.alloc(4);
 * device.write(logits, new Float32Array([0, 0, 1000, 1000]));
 * device.write(labels, new Int32Array([1, 0]));
 * crossEntropy(device, { logits, labels, stats, loss, rows: 2, classes: 2 });
 * console.log(new Float32Array(await device.read(loss, 0, 4))); // [0.6931…] (log 2)
 * ```
 */
export function crossEntropy(device: Device, args: CrossEntropyArgs): void {
  const { labels, stats, rows, classes, op = "crossEntropy" } = args;
  const losses = device.alloc(Math.max(rows, 1) * 4, "cross-entropy row losses");
  const fault = device.faultSlot(
    `label range: ${op}`,
    ([row, label, count]) =>
      `${op}: label ${label | 0} of sample ${row} is outside the ${count} classes [0, ${count})`,
  );
  const lanes = lanesPerRow(classes);
  forEachRun(device, args, (run, uf, u) => {
    const groups = Math.ceil(run.count / (ROW_WORKGROUP / lanes));
    const ux = uf.all({ lanes, groups, faultCode: fault.code });
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
  scratch[lid] = m;
  workgroupBarrier();${segmentTree("lanes", (a, b) => `maxOrNaN(${a}, ${b})`)}
  let rowMax = scratch[lid - lane];
  // Every lane has read its row's maximum before the sum reuses the scratch.
  workgroupBarrier();
  var s = 0.0;
  for (var c = lane; c < end; c += lanes) { s += exp(logits[base + c] - rowMax); }
  scratch[lid] = s;
  workgroupBarrier();${segmentTree("lanes", (a, b) => `${a} + ${b}`)}
  if (inRun && lane == 0u) {
    let logSum = log(scratch[lid]);
    stats[${STATS_PER_ROW}u * at] = rowMax;
    stats[${STATS_PER_ROW}u * at + 1u] = logSum;
    // An out-of-range label makes the loss NaN (a guarded step changes nothing) and is
    // reported at the next read.
    let label = labels[at];
    if (label >= 0 && label < i32(${u.classes})) {
      // log Σ exp(x − m) − (x[label] − m): no large m added and subtracted back.
      losses[at] = logSum - (logits[base + u32(label)] - rowMax);
    } else {
      raiseFault(${ux.faultCode}, at, bitcast<u32>(label), ${u.classes});
      losses[at] = ${NAN};
    }
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
${faultWgsl(4)}
${uf.declare(5)}
var<workgroup> scratch: array<f32, ${ROW_WORKGROUP}>;
// NaN wins, as in PyTorch (a comparison with NaN is false, so it is tested for).
fn maxOrNaN(a: f32, b: f32) -> f32 { return select(max(a, b), a + b, a != a || b != b); }
${flatMain(ROW_WORKGROUP, ux.groups, body, { index: "group", perWorkgroup: true })}`;
    device.dispatch(
      {
        name: `${op} rows [${run.count}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: groups,
        cost: { flops: 4 * run.count * classes, bytes: 4 * run.count * (2 * classes + 4) },
      },
      [
        { buffer: args.logits, ...run.range },
        { buffer: labels },
        { buffer: stats },
        { buffer: losses },
        { buffer: fault.buffer },
      ],
    );
  });
  mean(device, losses, args.loss, rows, op);
  device.release(losses);
}

/** The operands and sizes of {@link crossEntropyBackward}. */
export interface CrossEntropyBackwardArgs {
  /** The forward's `[rows, classes]` logits. */
  logits: GpuBuffer;
  /** The forward's labels. */
  labels: GpuBuffer;
  /** What the forward wrote into its `stats`. */
  stats: GpuBuffer;
  /** One f32: the gradient of the mean loss. */
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
 * `gradLogits = (softmax(x) − onehot(label)) · gradLoss / rows` in one pass, the softmax
 * recomputed as `exp(x − m − log Σ exp(x − m))` from the forward's `stats`. A row whose label is
 * out of range gets NaN (its fault was raised by the forward).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { crossEntropy, crossEntropyBackward } from "./cross_entropy.ts";
 * const device = await Device.acquire();
 * const logits = device.alloc(8), labels = device.alloc(4), stats = device.alloc(8);
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
    const ux = uf.all({ elements: run.count * classes, batch: rows });
    const body = `
  let row = i / ${u.classes};
  let at = ${u.first} + row;
  let label = labels[at];
  let column = i32(i % ${u.classes});
  let x = logits[${u.shift} + i];
  let p = exp((x - stats[${STATS_PER_ROW}u * at]) - stats[${STATS_PER_ROW}u * at + 1u]);
  let g = (p - select(0.0, 1.0, column == label)) * (gradLoss[0] / f32(${ux.batch}));
  gradLogits[${u.shift} + i] = select(${NAN}, g, label >= 0 && label < i32(${u.classes}));`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gradLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradLogits: array<f32>;
${uf.declare(5)}
${flatMain(GRAD_WORKGROUP, ux.elements, body)}`;
    const elements = run.count * classes;
    device.dispatch(
      {
        name: `${op} backward [${run.count}, ${classes}]`,
        wgsl,
        uniforms: uf.data(),
        workgroups: Math.ceil(elements / GRAD_WORKGROUP),
        cost: { flops: 5 * elements, bytes: 8 * elements },
      },
      [
        { buffer: args.logits, ...run.range },
        { buffer: labels },
        { buffer: stats },
        { buffer: gradLoss },
        { buffer: args.gradLogits, ...run.range },
      ],
    );
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
 * between the binding's start and the run's first logit) already registered.
 */
function forEachRun(
  device: Device,
  args: { rows: number; classes: number; op?: string; maxBindingBytes?: number },
  dispatch: (
    run: RowRun,
    uf: Uniforms,
    u: Record<"rows" | "classes" | "first" | "shift", string>,
  ) => void,
): void {
  const { rows, classes, op = "crossEntropy" } = args;
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
    const u = uf.all({ rows: count, classes, first: start, shift });
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
 * WGSL of a tree reduction of `scratch` within segments of `lanes` (a WGSL expression, uniform,
 * a power of two) invocations: the first of each segment ends with `combine` of all of it. Each
 * invocation knows its `lane` in its segment.
 */
function segmentTree(lanes: string, combine: (a: string, b: string) => string): string {
  // Unrolled to the workgroup's size (lavapipe runs a loop around a barrier slower), each step
  // idle where it is wider than the segments.
  let out = "";
  for (let w = ROW_WORKGROUP / 2; w >= 1; w /= 2) {
    out += `
  if (lane < ${w}u && ${w}u < ${lanes}) { scratch[lid] = ${
      combine("scratch[lid]", `scratch[lid + ${w}u]`)
    }; }
  workgroupBarrier();`;
  }
  return out;
}

/** `out[0] = Σ losses[0..rows) / rows` in one workgroup, in a fixed order (NaN when rows is 0). */
function mean(device: Device, losses: GpuBuffer, out: GpuBuffer, rows: number, op: string): void {
  const uf = new Uniforms();
  const u = uf.all({ rows });
  const body = `
  let lane = lid;
  var s = 0.0;
  for (var r = lid; r < ${u.rows}; r += ${ROW_WORKGROUP}u) { s += losses[r]; }
  scratch[lid] = s;
  workgroupBarrier();${segmentTree(`${ROW_WORKGROUP}u`, (a, b) => `${a} + ${b}`)}
  if (lid == 0u) { out[0] = scratch[0] / f32(${u.rows}); }`;
  const wgsl = `
@group(0) @binding(0) var<storage, read> losses: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
${uf.declare(2)}
var<workgroup> scratch: array<f32, ${ROW_WORKGROUP}>;
${flatMain(ROW_WORKGROUP, 1, body, { index: "group", perWorkgroup: true })}`;
  device.dispatch(
    {
      name: `${op} mean [${rows}]`,
      wgsl,
      uniforms: uf.data(),
      workgroups: 1,
      cost: { flops: rows, bytes: 4 * rows + 4 },
    },
    [{ buffer: losses }, { buffer: out }],
  );
}
