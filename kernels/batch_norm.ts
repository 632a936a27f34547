/**
 * Batch normalisation over `[N, C, S]` f32 (S = H·W for images, L for sequences, 1 for
 * `[N, C]`): per-channel statistics over the N·S values of each channel, and their use. With
 * `perSample` the statistics are instead per sample and channel, over the S values of each
 * (layer norm: `[rows, 1, D]`; group norm: `[N, G, C/G·S]`); everything else is the same.
 *
 * Forward, training: {@link batchNormPartials} reads x once and leaves, per channel and chunk
 * of its values, the count, mean and sum of squared deviations (Welford's update per thread,
 * Chan's merge across the workgroup: no E[x²] − E[x]² cancellation, so a channel of mean 1e3 and
 * standard deviation 0.1 keeps its variance); {@link batchNormFinalize} merges each channel's
 * chunks into its coefficients (and updates the running statistics, in place); then
 * {@link batchNormApply} normalises and applies the affine map in one pass. Evaluation skips
 * the reduction: the coefficients come from the running statistics.
 *
 * Backward: {@link batchNormGradPartials} reads dy and x once for Σdy and Σdy·(x − mean) per
 * chunk; {@link batchNormGradFinalize} turns them into ∂weight, ∂bias and dx's coefficients;
 * {@link batchNormApply} then writes dx in one pass. The data passes are thus two forward and
 * two backward, the least the maths allows; the finalizing dispatches read only the chunks.
 *
 * The chunks split a channel's reduction over many workgroups (at most {@link MAX_CHUNKS} per
 * run), so a large N·S keeps the GPU busy; a batch larger than one binding is processed in runs
 * of whole samples, each run adding its own chunks. A group whose values come in short runs
 * (S below {@link COLUMN_SPATIAL}: `[N, C]` after a Linear) is reduced a thread per group and
 * chunk instead of a workgroup, so adjacent threads read adjacent channels; on a software
 * adapter every group is (its workgroup trees cost more than they save there).
 *
 * Per sample (layer and group norm), an elementwise weight and bias (each shared by
 * `affineSpan` consecutive values of a sample) are applied inside the normalising pass; dy is
 * scaled by the weight inside the backward's reduction and pass, and
 * {@link batchNormAffineGradPartials} sums ∂weight and ∂bias over the samples, reading dy and x
 * once more: no elementwise pass of its own either way.
 *
 * The coefficients of a channel are one vec4 (`[C, 4]` f32): forward `(invstd, scale, mean,
 * shift)` with `y = scale·(x − mean) + shift`, `scale = weight·invstd`; backward `(a, b, mean,
 * c)` with `dx = a·dy + b·(x − mean) + c`. Subtracting the mean inside the pass, rather than
 * folding it into the shift, keeps y exact for a channel whose mean dwarfs its spread.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoisedKernel } from "./_memo.ts";
import { flatMainHead, sampleRuns } from "./_program.ts";
import type { Uniforms } from "./_uniforms.ts";

/** The shape batch normalisation sees: samples, channels, values per channel of a sample. */
export interface BatchNormShape {
  /** The op named in errors (default batchNorm; layer, group and instance norm run here too). */
  op?: string;
  /** N. */
  batch: number;
  /** C. */
  channels: number;
  /** S: H·W, L, or 1. */
  spatial: number;
  /**
   * Statistics per sample and channel (N·C groups of S values) instead of per channel (C
   * groups of N·S values); default false.
   */
  perSample?: boolean;
  /**
   * Per sample, with an elementwise weight and bias (layer and group norm): how many
   * consecutive values of a sample share one of them (layer norm 1, group norm H·W), so a
   * sample's C·S values take C·S / affineSpan weights; default 1.
   */
  affineSpan?: number;
}

/** The weights (and biases) of a per-sample affine map: C·S / affineSpan. */
export function affineWeights(shape: BatchNormShape): number {
  return shape.channels * shape.spatial / (shape.affineSpan ?? 1);
}

/** The number of statistics: C, or N·C per sample. */
export function statisticGroups(shape: BatchNormShape): number {
  return shape.perSample ? shape.batch * shape.channels : shape.channels;
}

/** Options of the kernels that read whole tensors. */
export interface BatchNormOptions {
  /**
   * Largest byte range to bind at once (default and ceiling: the device's
   * `maxStorageBufferBindingSize`); tests lower it to force runs of samples on small shapes.
   */
  maxBindingBytes?: number;
  /**
   * The reductions' layout (default by shape and adapter, see {@link COLUMN_SPATIAL}); tests
   * force each.
   */
  layout?: "tree" | "columns";
  /**
   * Consecutive values a thread of {@link batchNormApply} writes (default: 8 on a software
   * adapter, else 1); tests force each.
   */
  valuesPerThread?: number;
}

/** The most chunks one run of samples splits a channel's values into. */
export const MAX_CHUNKS = 128;

const WORKGROUP = 256;

/**
 * Consecutive values a thread of the normalising pass writes on a software adapter: the group
 * (and weight) of the first is divided out of its index, the others' are stepped to (lavapipe
 * spent most of a one-value thread on its two or four integer divisions). A GPU keeps one value
 * a thread, so that a warp's loads stay coalesced.
 */
const SOFTWARE_APPLY_VALUES = 8;

/**
 * The fewest values a thread of a reduction folds before the workgroup's tree merges them: the
 * tree's barriers cost as much as many loads (on lavapipe a workgroup of one value a thread spent
 * most of its time there), so a group of 6,272 values is one workgroup, not 25.
 */
const MIN_PER_THREAD = 16;

/**
 * Groups whose values lie in runs shorter than this (S: `[N, C]` after a Linear, `[N, C, L]`
 * of short sequences, a layer norm over a few values) are reduced a thread per group and chunk
 * (the "columns" layout): adjacent threads read adjacent groups' values, where a workgroup per
 * group would read a value every C·S and leave most of its threads idle.
 */
const COLUMN_SPATIAL = 32;

/** The fewest values a thread of the columns layout folds. */
const COLUMN_PER_THREAD = 32;

/** Chan et al.'s merge of (count, mean, Σ squared deviations) of two disjoint sets. */
const CHAN = `
fn chan(a: vec3f, b: vec3f) -> vec3f {
  let n = a.x + b.x;
  if (n == 0.0) { return vec3f(0.0); }
  let d = b.y - a.y;
  let f = b.x / n;
  return vec3f(n, a.y + d * f, a.z + b.z + d * d * a.x * f);
}`;

/** One run of samples and how its groups' values are chunked. */
interface ChunkedRun {
  /** First sample, samples, and the binding of each operand. */
  start: number;
  count: number;
  bindings: Binding[];
  shift: number;
  /**
   * A workgroup per group and chunk merging its threads' values in a tree, or a thread per
   * group and chunk (for short runs of values, see {@link COLUMN_SPATIAL}).
   */
  layout: "tree" | "columns";
  /** Values each thread reads, and chunks per group. */
  perThread: number;
  chunks: number;
  /** Index of the run's first chunk among a group's chunks (per channel: runs add chunks). */
  first: number;
}

/**
 * How {@link batchNormPartials} and {@link batchNormGradPartials} cut `shape`: the runs of
 * samples and their chunks, and the chunks per channel in all (the size of the partials).
 */
export function batchNormChunks(
  device: Device,
  shape: BatchNormShape,
  operands: readonly [name: string, buffer: GpuBuffer][],
  options: BatchNormOptions = {},
): { runs: ChunkedRun[]; chunks: number } {
  check(shape);
  const sampleBytes = 4 * shape.channels * shape.spatial;
  const runs = sampleRuns(
    device.limits,
    shape.op ?? "batchNorm",
    shape.batch,
    operands.map(([name, buffer]) => [name, buffer, sampleBytes] as const),
    options.maxBindingBytes,
  );
  let first = 0, most = 0;
  const out = runs.map(({ start, count, parts }) => {
    const values = shape.perSample ? shape.spatial : count * shape.spatial;
    // On a software adapter a thread per group wins at every size: lanes gather anyway, and a
    // tree's barriers cost more than its loads; a GPU keeps the tree for long runs of values,
    // its loads coalesced along them.
    const short = shape.spatial < COLUMN_SPATIAL;
    const layout = options.layout ?? (short || device.isSoftware ? "columns" : "tree");
    const [least, lanes] = layout === "tree" ? [MIN_PER_THREAD, WORKGROUP] : [COLUMN_PER_THREAD, 1];
    const perThread = Math.max(least, Math.ceil(values / (lanes * MAX_CHUNKS)));
    const chunks = Math.ceil(values / (lanes * perThread));
    const run = {
      start,
      count,
      bindings: parts.map((part, i) => ({ buffer: operands[i][1], ...part.range })),
      shift: parts[0].shift,
      layout,
      perThread,
      chunks,
      first,
    };
    // A channel's values span every run; a sample's groups lie in one run.
    if (!shape.perSample) first += chunks;
    most = Math.max(most, chunks);
    return run;
  });
  return { runs: out, chunks: shape.perSample ? most : first };
}

/**
 * Per channel and chunk of x's values: `(count, mean, Σ(x − mean)², 0)` into `partials`
 * (`C × chunks` vec4, channel-major), `chunks` from {@link batchNormChunks}.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { batchNormFinalize, batchNormPartials } from "./batch_norm.ts";
 * const device = await Device.acquire();
 * const shape = { batch: 2, channels: 1, spatial: 2 };
 * const x = device.alloc(16), partials = device.alloc(16), coef = device.alloc(16);
 * device.write(x, new Float32Array([1, 2, 3, 4]));
 * const chunks = batchNormPartials(device, shape, { x, partials });
 * batchNormFinalize(device, shape, chunks, { eps: 0, momentum: 0.1 }, { partials, coef });
 * console.log(new Float32Array(await device.read(coef, 0, 16))); // [1/√1.25, 1/√1.25, 2.5, 0]
 * ```
 */
export function batchNormPartials(
  device: Device,
  shape: BatchNormShape,
  buffers: { x: GpuBuffer; partials: GpuBuffer },
  options: BatchNormOptions = {},
): number {
  const { runs, chunks } = batchNormChunks(device, shape, [["x", buffers.x]], options);
  reduce(device, "batchNormPartials", "moments", shape, runs, chunks, buffers.partials, []);
  return chunks;
}

/**
 * Per channel and chunk: `(Σdy, Σdy·(x − mean), 0, 0)` into `partials` (as
 * {@link batchNormPartials}), the mean read from the forward's coefficients `coef`. Given the
 * per-sample `weight` (see {@link BatchNormShape.affineSpan}), dy is the affine map's output
 * gradient and the sums are of dy·weight, the normalised values' gradient.
 */
export function batchNormGradPartials(
  device: Device,
  shape: BatchNormShape,
  buffers: {
    gradOut: GpuBuffer;
    x: GpuBuffer;
    coef: GpuBuffer;
    weight?: GpuBuffer;
    partials: GpuBuffer;
  },
  options: BatchNormOptions = {},
): number {
  const { runs, chunks } = batchNormChunks(
    device,
    shape,
    [["gradOut", buffers.gradOut], ["x", buffers.x]],
    options,
  );
  const weight = perSampleAffine(shape, buffers.weight);
  reduce(device, "batchNormGradPartials", "gradSums", shape, runs, chunks, buffers.partials, [
    buffers.coef,
    ...weight,
  ]);
  return chunks;
}

/**
 * The per-sample affine map's gradients from dy (the map's output gradient) and x: per weight,
 * `(Σdy, Σdy·x̂)` over the N·affineSpan values it scales, x̂ from the forward's per-sample
 * coefficients `coef`, into `partials` (`weights × chunks` vec4, chunks returned); then
 * {@link batchNormAffineGradFinalize} sums the chunks into ∂weight and ∂bias.
 */
export function batchNormAffineGradPartials(
  device: Device,
  shape: BatchNormShape,
  buffers: { gradOut: GpuBuffer; x: GpuBuffer; coef: GpuBuffer; partials: GpuBuffer },
  options: BatchNormOptions = {},
): number {
  const perWeight = affineGradShape(shape);
  const { runs, chunks } = batchNormChunks(
    device,
    perWeight,
    [["gradOut", buffers.gradOut], ["x", buffers.x]],
    options,
  );
  reduce(
    device,
    "batchNormAffineGradPartials",
    "affineSums",
    perWeight,
    runs,
    chunks,
    buffers.partials,
    [buffers.coef],
    { groupsPerSample: shape.channels, weightsPerGroup: perWeight.channels / shape.channels },
  );
  return chunks;
}

/**
 * The values of a per-sample shape as the affine map's gradients reduce them: per weight (as
 * batch norm's per channel), over the samples and the affineSpan values that share it.
 */
export function affineGradShape(shape: BatchNormShape): BatchNormShape {
  if (!shape.perSample) throw new Error("batchNorm: an elementwise affine map is per sample");
  const span = shape.affineSpan ?? 1;
  const weights = affineWeights(shape);
  if (!Number.isInteger(weights) || !Number.isInteger(shape.spatial / span)) {
    throw new RangeError(
      `batchNorm: affineSpan ${span} does not divide a group's ${shape.spatial} values`,
    );
  }
  return { batch: shape.batch, channels: weights, spatial: span };
}

/** `buffer` as a per-sample weight or bias (checked against `shape`), or none. */
function perSampleAffine(shape: BatchNormShape, buffer: GpuBuffer | undefined): GpuBuffer[] {
  if (!buffer) return [];
  const weights = affineGradShape(shape).channels;
  if (buffer.capacity < 4 * weights) {
    throw new RangeError(
      `batchNorm: the affine map holds ${buffer.capacity} bytes, need ${4 * weights}`,
    );
  }
  return [buffer];
}

/** Buffers of {@link batchNormAffineGradFinalize}. */
export interface BatchNormAffineGradBuffers {
  /** The chunks of {@link batchNormAffineGradPartials}. */
  partials: GpuBuffer;
  /** `[weights]` ∂weight = Σ dy·x̂, written where given. */
  gradWeight?: GpuBuffer;
  /** `[weights]` ∂bias = Σ dy, written where given. */
  gradBias?: GpuBuffer;
}

/** Sums {@link batchNormAffineGradPartials}' chunks into ∂weight and ∂bias. */
export function batchNormAffineGradFinalize(
  device: Device,
  shape: BatchNormShape,
  chunks: number,
  buffers: BatchNormAffineGradBuffers,
): void {
  check(shape);
  const weights = affineGradShape(shape).channels;
  const { gradWeight, gradBias } = buffers;
  const variant = { weight: !!gradWeight, bias: !!gradBias };
  const { wgsl, uniforms } = affineGradFinalizeKernel(variant, { weights, parts: chunks });
  device.dispatch(
    {
      name: `batchNormAffineGradFinalize[${weights} weights, ${chunks} chunks]`,
      wgsl,
      uniforms,
      workgroups: Math.ceil(weights / WORKGROUP),
    },
    [buffers.partials, ...(gradWeight ? [gradWeight] : []), ...(gradBias ? [gradBias] : [])].map(
      (buffer) => ({ buffer }),
    ),
  );
}

const affineGradFinalizeKernel = memoisedKernel(
  (v: { weight: boolean; bias: boolean }, u: Record<"weights" | "parts", string>, uniforms) => {
    const list = storage(
      ["partials", "vec4f"],
      v.weight && ["gradWeight", "f32", "write"],
      v.bias && ["gradBias", "f32", "write"],
    );
    return `// batch norm's per-sample affine map, backward finalize
${declare(list)}
${uniforms.declare(list.length)}
${flatMainHead(WORKGROUP, u.weights, { index: "c" })}
  var sums = vec2f(0.0);
  for (var j = 0u; j < ${u.parts}; j++) {
    sums += partials[c * ${u.parts} + j].xy;
  }
  ${v.weight ? "gradWeight[c] = sums.y;" : ""}
  ${v.bias ? "gradBias[c] = sums.x;" : ""}
}
`;
  },
);

/** The sizes the reduction reads from its uniforms. */
type ReduceSizes =
  | "groups"
  | "channels"
  | "spatial"
  | "values"
  | "perThread"
  | "local"
  | "chunks"
  | "first"
  | "parts"
  | "groupBase"
  | "shift"
  | "span"
  | "sampleBase"
  | "groupsPerSample"
  | "weightsPerGroup";

/**
 * What a reduction sums: moments of x; Σdy and Σdy·(x − mean) per statistic (dy times the
 * per-sample weight when one is bound); or per weight of a per-sample affine map, Σdy and Σdy·x̂.
 */
type ReduceKind = "moments" | "gradSums" | "affineSums";

/** Where the per-sample statistics of an affine map's weights are (affineSums). */
interface AffineGroups {
  /** The statistics of a sample (its groups). */
  groupsPerSample: number;
  /** Weights in a group. */
  weightsPerGroup: number;
}

/** What a reduction's WGSL depends on. */
interface ReduceVariant {
  kind: ReduceKind;
  /** gradSums: dy times a per-sample weight. */
  weight: boolean;
  layout: ChunkedRun["layout"];
}

const reduceKernel = memoisedKernel(
  (v: ReduceVariant, u: Record<ReduceSizes, string>, uniforms) => reduceWgsl(v, u, uniforms),
);

function reduce(
  device: Device,
  op: string,
  kind: ReduceKind,
  shape: BatchNormShape,
  runs: readonly ChunkedRun[],
  parts: number,
  partials: GpuBuffer,
  reads: readonly GpuBuffer[],
  affine: AffineGroups = { groupsPerSample: 0, weightsPerGroup: 1 },
): void {
  const bytes = 16 * statisticGroups(shape) * parts;
  if (partials.capacity < bytes) {
    throw new RangeError(`${op}: partials hold ${partials.capacity} bytes, need ${bytes}`);
  }
  for (const run of runs) {
    // Per sample, the run's groups are its samples' channels, numbered from groupBase.
    const local = shape.perSample ? run.count * shape.channels : shape.channels;
    const groups = local * run.chunks;
    // gradSums reads [coef, weight?], affineSums [coef].
    const weight = kind === "gradSums" && reads.length > 1;
    const { wgsl, uniforms } = reduceKernel({ kind, weight, layout: run.layout }, {
      groups,
      local,
      channels: shape.channels,
      spatial: shape.spatial,
      values: shape.perSample ? shape.spatial : run.count * shape.spatial,
      perThread: run.perThread,
      chunks: run.chunks,
      first: run.first,
      parts,
      groupBase: shape.perSample ? run.start * shape.channels : 0,
      shift: run.shift,
      span: shape.affineSpan ?? 1,
      sampleBase: run.start,
      groupsPerSample: affine.groupsPerSample,
      weightsPerGroup: affine.weightsPerGroup,
    });
    device.dispatch(
      {
        name: `${op}[${run.count}×${shape.channels}×${shape.spatial}, ${run.chunks} chunks]`,
        wgsl,
        uniforms,
        workgroups: run.layout === "tree" ? groups : Math.ceil(groups / WORKGROUP),
        cost: { bytes: 4 * run.bindings.length * run.count * shape.channels * shape.spatial },
      },
      [...run.bindings, ...reads.map((buffer) => ({ buffer })), { buffer: partials }],
    );
  }
}

/**
 * The tree layout: one workgroup per (group, chunk); each thread folds its values (Welford's
 * update, or plain sums), then the workgroup merges its threads' results in a tree (Chan's
 * formula for moments). The columns layout: one thread per (group, chunk), the group varying
 * fastest, folding its chunk's values in order; no merge.
 */
function reduceWgsl(v: ReduceVariant, u: Record<ReduceSizes, string>, uniforms: Uniforms): string {
  const { kind, weight } = v;
  const moments = kind === "moments";
  const list = storage(
    !moments && ["gradOut", "f32"],
    ["x", "f32"],
    !moments && ["coef", "vec4f"],
    weight && ["weight", "f32"],
    ["partials", "vec4f", "write"],
  );
  const fold = {
    moments: `let d = v - acc.y;
      acc.x += 1.0;
      acc.y += d / acc.x;
      acc.z += d * (v - acc.y);`,
    // Per sample, value k of run-local group c is at (c % C)·S + k in its sample.
    gradSums: `let g = gradOut[at]${
      weight ? ` * weight[((c % ${u.channels}) * spatial + k) / ${u.span}]` : ""
    };
      acc.x += g;
      acc.y += g * (v - mean);`,
    // Weight c of sample n is normalised by that sample's statistics of its group.
    affineSums:
      `let stats = coef[(${u.sampleBase} + n) * ${u.groupsPerSample} + c / ${u.weightsPerGroup}];
      let g = gradOut[at];
      acc.x += g;
      acc.y += g * ((v - stats.z) * stats.x);`,
  }[kind];
  const merge = moments ? "chan(acc, lanes[lid + stride])" : "acc + lanes[lid + stride]";
  // The group's values: k = n·S + s of channel c (per sample, n is always 0 and c the run's
  // group, its sample's channels in a row), at (n·C + c)·S + s.
  const common = `let group = ${u.groupBase} + c;
  let spatial = ${u.spatial};
  let sampleStride = ${u.channels} * spatial;
  ${kind === "gradSums" ? "let mean = coef[group].z;" : ""}
  var acc = vec3f(0.0);`;
  const body = v.layout === "tree"
    ? `${flatMainHead(WORKGROUP, u.groups, { index: "workgroup", perWorkgroup: true })}
  let c = workgroup / ${u.chunks};
  let chunk = workgroup % ${u.chunks};
  ${common}
  let start = chunk * ${u.perThread} * ${WORKGROUP}u + lid;
  for (var r = 0u; r < ${u.perThread}; r++) {
    let k = start + r * ${WORKGROUP}u;
    if (k < ${u.values}) {
      let n = k / spatial;
      let at = ${u.shift} + n * sampleStride + c * spatial + k % spatial;
      let v = x[at];
      ${fold}
    }
  }
  lanes[lid] = acc;
  for (var stride = ${WORKGROUP / 2}u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid < stride) {
      acc = ${merge};
      lanes[lid] = acc;
    }
  }
  if (lid == 0u) {
    partials[group * ${u.parts} + ${u.first} + chunk] = vec4f(acc, 0.0);
  }
}`
    : `${flatMainHead(WORKGROUP, u.groups, { index: "t" })}
  let c = t % ${u.local};
  let chunk = t / ${u.local};
  ${common}
  let start = chunk * ${u.perThread};
  let end = min(start + ${u.perThread}, ${u.values});
  // k = n·S + s, stepped without a division per value.
  var n = start / spatial;
  var s = start % spatial;
  for (var k = start; k < end; k++) {
    let at = ${u.shift} + n * sampleStride + c * spatial + s;
    let v = x[at];
    ${fold}
    s++;
    if (s == spatial) { s = 0u; n++; }
  }
  partials[group * ${u.parts} + ${u.first} + chunk] = vec4f(acc, 0.0);
}`;
  return `// batch norm ${kind}, ${v.layout}
${declare(list)}
${uniforms.declare(list.length)}
${v.layout === "tree" ? `var<workgroup> lanes: array<vec3f, ${WORKGROUP}>;` : ""}
${CHAN}
${body}
`;
}

/** The constants of the forward. */
export interface BatchNormParams {
  /** Added to the variance before its square root. */
  eps: number;
  /**
   * Weight of the batch in the running statistics' update (PyTorch's `momentum`), or null for
   * the cumulative average (`1 / num_batches_tracked`, which then must be given).
   */
  momentum: number | null;
}

/** Buffers of {@link batchNormFinalize}. */
export interface BatchNormFinalizeBuffers {
  /** The chunks of {@link batchNormPartials}, or null in evaluation (running statistics). */
  partials: GpuBuffer | null;
  /** `[C]` scales, or none for 1. */
  weight?: GpuBuffer;
  /** `[C]` shifts, or none for 0. */
  bias?: GpuBuffer;
  /** `[groups, 4]` coefficients, written. */
  coef: GpuBuffer;
  /**
   * `[C]` running mean and variance: updated from the batch in place when `partials` is
   * given, else read as the statistics. A channel whose batch mean or variance is not finite
   * keeps its running values (a skipped step then changes nothing).
   */
  runningMean?: GpuBuffer;
  /** See `runningMean`. */
  runningVar?: GpuBuffer;
  /**
   * `[1]` i32 count of batches before this one, read for the cumulative average (momentum
   * null); {@link batchNormApply} given it increments it once the coefficients are made.
   */
  tracked?: GpuBuffer;
}

/**
 * Each group's coefficients: from its chunks `partials` (batch statistics: biased variance to
 * normalise, unbiased variance into the running one), or from the running statistics. A
 * thread per group (the chunks are few).
 */
export function batchNormFinalize(
  device: Device,
  shape: BatchNormShape,
  chunks: number,
  p: BatchNormParams,
  buffers: BatchNormFinalizeBuffers,
): void {
  check(shape);
  const { partials, weight, bias, runningMean, runningVar, tracked } = buffers;
  const batch = partials !== null;
  if (!batch && !(runningMean && runningVar)) {
    throw new Error("batchNormFinalize: without partials the running statistics are needed");
  }
  if (shape.perSample && (runningMean || runningVar || weight || bias)) {
    throw new Error("batchNormFinalize: per-sample statistics take no running ones nor affine");
  }
  const update = batch && !!runningMean && !!runningVar;
  const cumulative = update && p.momentum === null;
  if (cumulative && !tracked) {
    throw new Error("batchNormFinalize: a cumulative average (momentum null) needs the count");
  }
  const variant: FinalizeVariant = { batch, weight: !!weight, bias: !!bias, update, cumulative };
  const groups = statisticGroups(shape);
  const { wgsl, uniforms } = finalizeKernel(variant, {
    groups,
    parts: chunks,
    eps: floatBits(p.eps),
    momentum: floatBits(p.momentum ?? 0),
  });
  const bindings = [
    ...(batch ? [partials!] : []),
    ...(weight ? [weight] : []),
    ...(bias ? [bias] : []),
    ...(batch ? [] : [runningMean!, runningVar!]),
    ...(cumulative ? [tracked!] : []),
    coef(buffers.coef, groups),
    ...(update ? [runningMean!, runningVar!] : []),
  ].map((buffer) => ({ buffer }));
  device.dispatch(
    {
      name: `batchNormFinalize[${groups} groups, ${chunks} chunks]`,
      wgsl,
      uniforms,
      workgroups: Math.ceil(groups / WORKGROUP),
    },
    bindings,
  );
}

/** The f32 `x` as the u32 of its bits (a uniform). */
function floatBits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** Checks `buffer` holds `[groups, 4]` f32 and returns it. */
function coef(buffer: GpuBuffer, groups: number): GpuBuffer {
  if (buffer.capacity < 16 * groups) {
    throw new RangeError(
      `batchNorm: coefficients hold ${buffer.capacity} bytes, need ${16 * groups}`,
    );
  }
  return buffer;
}

/** What the forward's finalizing WGSL depends on. */
interface FinalizeVariant {
  batch: boolean;
  weight: boolean;
  bias: boolean;
  update: boolean;
  cumulative: boolean;
}

const finalizeKernel = memoisedKernel(
  (v: FinalizeVariant, u: Record<"groups" | "parts" | "eps" | "momentum", string>, uniforms) =>
    finalizeWgsl(v, u, uniforms),
);

/** A storage binding: its name, element type, and whether the kernel writes it. */
type Storage = readonly [name: string, element: "f32" | "vec4f" | "i32", access?: "write"];

/** The bindings given, in order (a `false` is one the variant leaves out). */
function storage(...entries: (Storage | false)[]): Storage[] {
  return entries.filter((e): e is Storage => e !== false);
}

/** WGSL declarations of `list`, bound in its order from 0. */
function declare(list: readonly Storage[]): string {
  return list.map(([name, element, access], i) =>
    `@group(0) @binding(${i}) var<storage, ${access === "write" ? "read_write" : "read"}> ` +
    `${name}: array<${element}>;`
  ).join("\n");
}

function finalizeWgsl(
  v: FinalizeVariant,
  u: Record<"groups" | "parts" | "eps" | "momentum", string>,
  uniforms: Uniforms,
): string {
  const list = storage(
    v.batch && ["partials", "vec4f"],
    v.weight && ["weight", "f32"],
    v.bias && ["bias", "f32"],
    !v.batch && ["runningMean", "f32"],
    !v.batch && ["runningVar", "f32"],
    v.cumulative && ["tracked", "i32"],
    ["coef", "vec4f", "write"],
    v.update && ["runningMean", "f32", "write"],
    v.update && ["runningVar", "f32", "write"],
  );
  const eps = `bitcast<f32>(${u.eps})`;
  const stats = v.batch
    ? `var acc = vec3f(0.0);
  for (var j = 0u; j < ${u.parts}; j++) {
    acc = chan(acc, partials[c * ${u.parts} + j].xyz);
  }
  let mean = acc.y;
  let variance = acc.z / acc.x;`
    : `let mean = runningMean[c];
  let variance = runningVar[c];`;
  // The cumulative average's weight of this batch: 1 / (the batches before it + 1).
  const factor = v.cumulative ? "1.0 / f32(tracked[0] + 1)" : `bitcast<f32>(${u.momentum})`;
  const update = v.update
    ? `let factor = ${factor};
  let unbiased = acc.z / (acc.x - 1.0);
  // A non-finite batch leaves the running statistics as they were.
  if (isFinite(mean) && isFinite(unbiased)) {
    runningMean[c] = factor * mean + (1.0 - factor) * runningMean[c];
    runningVar[c] = factor * unbiased + (1.0 - factor) * runningVar[c];
  }`
    : "";
  return `// batch norm finalize
${declare(list)}
${uniforms.declare(list.length)}
// On the bits: compilers may assume that NaNs are absent (see _program.ts's IS_NAN).
fn isFinite(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) < 0x7f800000u; }
${CHAN}
${flatMainHead(WORKGROUP, u.groups, { index: "c" })}
  ${stats}
  let invstd = inverseSqrt(variance + ${eps});
  let scale = ${v.weight ? "weight[c] * invstd" : "invstd"};
  coef[c] = vec4f(invstd, scale, mean, ${v.bias ? "bias[c]" : "0.0"});
  ${update}
}
`;
}

/** Buffers of {@link batchNormGradFinalize}. */
export interface BatchNormGradFinalizeBuffers {
  /** The chunks of {@link batchNormGradPartials}. */
  partials: GpuBuffer;
  /** The forward's `[groups, 4]` coefficients (groups: C, or N·C per sample). */
  coef: GpuBuffer;
  /** `[groups]` ∂weight = Σ dy·x̂, written. */
  gradWeight: GpuBuffer;
  /** `[groups]` ∂bias = Σ dy, written. */
  gradBias: GpuBuffer;
  /** `[groups, 4]` coefficients of dx, written (for {@link batchNormApply}'s backward). */
  gradCoef: GpuBuffer;
}

/**
 * ∂weight, ∂bias and dx's coefficients from the chunks. With batch statistics (`batchStats`)
 * the mean and variance depend on x: `dx = scale·(dy − Σdy/M − x̂·Σdy·x̂/M)` over the M values
 * of a group (N·S, per sample S); with running statistics they are constants: `dx = scale·dy`.
 */
export function batchNormGradFinalize(
  device: Device,
  shape: BatchNormShape,
  chunks: number,
  batchStats: boolean,
  buffers: BatchNormGradFinalizeBuffers,
): void {
  check(shape);
  const groups = statisticGroups(shape);
  const { wgsl, uniforms } = gradFinalizeKernel({ batchStats }, {
    groups,
    parts: chunks,
    values: shape.perSample ? shape.spatial : shape.batch * shape.spatial,
  });
  device.dispatch(
    {
      name: `batchNormGradFinalize[${groups} groups, ${chunks} chunks]`,
      wgsl,
      uniforms,
      workgroups: Math.ceil(groups / WORKGROUP),
    },
    [
      buffers.partials,
      coef(buffers.coef, groups),
      buffers.gradWeight,
      buffers.gradBias,
      coef(buffers.gradCoef, groups),
    ].map((buffer) => ({ buffer })),
  );
}

const gradFinalizeKernel = memoisedKernel(
  (v: { batchStats: boolean }, u: Record<"groups" | "parts" | "values", string>, uniforms) => `
// batch norm backward finalize
${
    declare([
      ["partials", "vec4f"],
      ["coef", "vec4f"],
      ["gradWeight", "f32", "write"],
      ["gradBias", "f32", "write"],
      ["gradCoef", "vec4f", "write"],
    ])
  }
${uniforms.declare(5)}
${flatMainHead(WORKGROUP, u.groups, { index: "c" })}
  var sums = vec2f(0.0);
  for (var j = 0u; j < ${u.parts}; j++) {
    sums += partials[c * ${u.parts} + j].xy;
  }
  let k = coef[c];
  let invstd = k.x;
  let scale = k.y;
  let sumDyXhat = sums.y * invstd;
  gradWeight[c] = sumDyXhat;
  gradBias[c] = sums.x;
  ${
    v.batchStats
      ? `let m = f32(${u.values});
  gradCoef[c] = vec4f(scale, -scale * invstd * sumDyXhat / m, k.z, -scale * sums.x / m);`
      : "gradCoef[c] = vec4f(scale, 0.0, k.z, 0.0);"
  }
}
`,
);

/** Buffers of {@link batchNormApply}. */
export interface BatchNormApplyBuffers {
  /** The forward's input. */
  x: GpuBuffer;
  /** The output's gradient: given for the backward pass. */
  gradOut?: GpuBuffer;
  /** `[groups, 4]` coefficients of {@link batchNormFinalize} or {@link batchNormGradFinalize}. */
  coef: GpuBuffer;
  /** y, or dx for the backward pass. */
  out: GpuBuffer;
  /** `[1]` i32 count of batches, incremented by one (the forward's, after its finalize). */
  tracked?: GpuBuffer;
  /**
   * Per sample, the elementwise weight (see {@link BatchNormShape.affineSpan}): forward it
   * scales the normalised values, backward dy (the map's output gradient) before dx's map.
   */
  weight?: GpuBuffer;
  /** Per sample, the elementwise bias (forward only). */
  bias?: GpuBuffer;
}

/**
 * The normalising pass: forward `out = scale·(x − mean) + shift` (`gradOut` absent), backward
 * `out = a·dy + b·(x − mean) + c` (`gradOut` given), with `coef` from the finalizing kernels.
 * Per sample, an elementwise weight w and bias b make the forward `w·(scale·(x − mean) + shift)
 * + b` and the backward `a·dy·w + b·(x − mean) + c`.
 */
export function batchNormApply(
  device: Device,
  shape: BatchNormShape,
  buffers: BatchNormApplyBuffers,
  options: BatchNormOptions = {},
): void {
  check(shape);
  const sampleBytes = 4 * shape.channels * shape.spatial;
  const operands: [string, GpuBuffer][] = [
    ...(buffers.gradOut ? [["gradOut", buffers.gradOut] as [string, GpuBuffer]] : []),
    ["x", buffers.x],
    ["out", buffers.out],
  ];
  const runs = sampleRuns(
    device.limits,
    "batchNormApply",
    shape.batch,
    operands.map(([name, buffer]) => [name, buffer, sampleBytes] as const),
    options.maxBindingBytes,
  );
  const backward = !!buffers.gradOut, groups = statisticGroups(shape);
  const perThread = options.valuesPerThread ?? (device.isSoftware ? SOFTWARE_APPLY_VALUES : 1);
  if (!Number.isInteger(perThread) || perThread < 1) {
    throw new RangeError(
      `batchNormApply: valuesPerThread must be a positive integer, got ${perThread}`,
    );
  }
  const weight = perSampleAffine(shape, buffers.weight);
  const bias = backward ? [] : perSampleAffine(shape, buffers.bias);
  for (const [r, { start, count, parts }] of runs.entries()) {
    const values = count * shape.channels * shape.spatial;
    const counts = r === 0 && !!buffers.tracked;
    const variant = {
      backward,
      counts,
      weight: weight.length > 0,
      bias: bias.length > 0,
      perThread,
    };
    const { wgsl, uniforms } = applyKernel(variant, {
      threads: Math.ceil(values / perThread),
      values,
      // Element i of the run is in group groupBase + (i / S) % period: per channel, the
      // channel; per sample, the run's groups in a row (the period exceeds their count).
      period: shape.perSample ? count * shape.channels : shape.channels,
      groupBase: shape.perSample ? start * shape.channels : 0,
      spatial: shape.spatial,
      shift: parts[0].shift,
      // The run starts at a sample: element i is at i % (C·S) in its sample.
      sampleValues: shape.channels * shape.spatial,
      span: shape.affineSpan ?? 1,
    });
    const bindings: Binding[] = parts.map((part, i) => ({ buffer: operands[i][1], ...part.range }));
    const reads = [coef(buffers.coef, groups), ...weight, ...bias].map((buffer) => ({ buffer }));
    bindings.splice(bindings.length - 1, 0, ...reads);
    if (counts) bindings.push({ buffer: buffers.tracked! });
    device.dispatch(
      {
        name: `batchNorm${backward ? "Backward" : "Apply"}[${count}×${shape.channels}×` +
          `${shape.spatial}${shape.perSample ? ", per sample" : ""}]`,
        wgsl,
        uniforms,
        workgroups: Math.ceil(values / (perThread * WORKGROUP)),
        cost: { bytes: 4 * operands.length * values },
      },
      bindings,
    );
  }
}

/** What the normalising pass's WGSL depends on. */
interface ApplyVariant {
  backward: boolean;
  counts: boolean;
  /** A per-sample elementwise weight, and bias (forward). */
  weight: boolean;
  bias: boolean;
  /** Consecutive values a thread writes. */
  perThread: number;
}

type ApplySizes =
  | "threads"
  | "values"
  | "period"
  | "groupBase"
  | "spatial"
  | "shift"
  | "sampleValues"
  | "span";

const applyKernel = memoisedKernel((v: ApplyVariant, u: Record<ApplySizes, string>, uf) => {
  const list = storage(
    v.backward && ["gradOut", "f32"],
    ["x", "f32"],
    ["coef", "vec4f"],
    v.weight && ["weight", "f32"],
    v.bias && ["bias", "f32"],
    ["out", "f32", "write"],
    v.counts && ["tracked", "i32", "write"],
  );
  const affine = v.weight || v.bias;
  const scaled = (value: string) => v.weight ? `${value} * weight[j]` : value;
  const value = v.backward
    ? `k.x * ${scaled("gradOut[at]")} + k.y * (x[at] - k.z) + k.w`
    : `${scaled("(k.y * (x[at] - k.z) + k.w)")}${v.bias ? " + bias[j]" : ""}`;
  // Element e is in group groupBase + (e / S) % period and, per sample, takes weight
  // (e % sampleValues) / span: divided out once for the thread's first element, then stepped.
  return `// batch norm ${v.backward ? "backward" : "forward"} pass
${declare(list)}
${uf.declare(list.length)}
${flatMainHead(WORKGROUP, u.threads)}
  let first = i * ${v.perThread}u;
  let last = min(first + ${v.perThread}u, ${u.values});
  var s = first % ${u.spatial};
  var group = (first / ${u.spatial}) % ${u.period};
  ${
    affine
      ? `var p = first % ${u.sampleValues};
  var j = p / ${u.span};
  var q = p % ${u.span};`
      : ""
  }
  for (var e = first; e < last; e++) {
    let at = ${u.shift} + e;
    let k = coef[${u.groupBase} + group];
    out[at] = ${value};
    s++;
    if (s == ${u.spatial}) {
      s = 0u;
      group++;
      if (group == ${u.period}) { group = 0u; }
    }
    ${
    affine
      ? `q++;
    if (q == ${u.span}) { q = 0u; j++; }
    p++;
    if (p == ${u.sampleValues}) { p = 0u; j = 0u; q = 0u; }`
      : ""
  }
  }
  ${v.counts ? "if (i == 0u) { tracked[0] += 1; }" : ""}
}
`;
});

function check(shape: BatchNormShape): void {
  for (const key of ["batch", "channels", "spatial"] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`batchNorm: ${key} must be a positive integer, got ${v}`);
    }
  }
}
