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
 * of whole samples, each run adding its own chunks.
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
}

/** The most chunks one run of samples splits a channel's values into. */
export const MAX_CHUNKS = 128;

const WORKGROUP = 256;

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
    "batchNorm",
    shape.batch,
    operands.map(([name, buffer]) => [name, buffer, sampleBytes] as const),
    options.maxBindingBytes,
  );
  let first = 0, most = 0;
  const out = runs.map(({ start, count, parts }) => {
    const values = shape.perSample ? shape.spatial : count * shape.spatial;
    const perThread = Math.max(1, Math.ceil(values / (WORKGROUP * MAX_CHUNKS)));
    const chunks = Math.ceil(values / (WORKGROUP * perThread));
    const run = {
      start,
      count,
      bindings: parts.map((part, i) => ({ buffer: operands[i][1], ...part.range })),
      shift: parts[0].shift,
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
  reduce(device, "batchNormPartials", "moments", shape, runs, chunks, buffers.partials, null);
  return chunks;
}

/**
 * Per channel and chunk: `(Σdy, Σdy·(x − mean), 0, 0)` into `partials` (as
 * {@link batchNormPartials}), the mean read from the forward's coefficients `coef`.
 */
export function batchNormGradPartials(
  device: Device,
  shape: BatchNormShape,
  buffers: { gradOut: GpuBuffer; x: GpuBuffer; coef: GpuBuffer; partials: GpuBuffer },
  options: BatchNormOptions = {},
): number {
  const { runs, chunks } = batchNormChunks(
    device,
    shape,
    [["gradOut", buffers.gradOut], ["x", buffers.x]],
    options,
  );
  reduce(device, "batchNormGradPartials", "gradSums", shape, runs, chunks, buffers.partials, {
    buffer: buffers.coef,
  });
  return chunks;
}

/** The sizes the reduction reads from its uniforms. */
type ReduceSizes =
  | "groups"
  | "channels"
  | "spatial"
  | "values"
  | "perThread"
  | "chunks"
  | "first"
  | "parts"
  | "groupBase"
  | "shift";

const reduceKernel = memoisedKernel(
  (p: { kind: "moments" | "gradSums" }, u: Record<ReduceSizes, string>, uniforms) =>
    reduceWgsl(p.kind, u, uniforms),
);

function reduce(
  device: Device,
  op: string,
  kind: "moments" | "gradSums",
  shape: BatchNormShape,
  runs: readonly ChunkedRun[],
  parts: number,
  partials: GpuBuffer,
  coef: Binding | null,
): void {
  const bytes = 16 * statisticGroups(shape) * parts;
  if (partials.capacity < bytes) {
    throw new RangeError(`${op}: partials hold ${partials.capacity} bytes, need ${bytes}`);
  }
  for (const run of runs) {
    // Per sample, the run's groups are its samples' channels, numbered from groupBase.
    const local = shape.perSample ? run.count * shape.channels : shape.channels;
    const groups = local * run.chunks;
    const { wgsl, uniforms } = reduceKernel({ kind }, {
      groups,
      channels: shape.channels,
      spatial: shape.spatial,
      values: shape.perSample ? shape.spatial : run.count * shape.spatial,
      perThread: run.perThread,
      chunks: run.chunks,
      first: run.first,
      parts,
      groupBase: shape.perSample ? run.start * shape.channels : 0,
      shift: run.shift,
    });
    device.dispatch(
      {
        name: `${op}[${run.count}×${shape.channels}×${shape.spatial}, ${run.chunks} chunks]`,
        wgsl,
        uniforms,
        workgroups: groups,
        cost: { bytes: 4 * run.bindings.length * run.count * shape.channels * shape.spatial },
      },
      [...run.bindings, ...(coef ? [coef] : []), { buffer: partials }],
    );
  }
}

/**
 * One workgroup per (channel, chunk): each thread folds its values (Welford's update, or plain
 * sums), then the workgroup merges its threads' results in a tree (Chan's formula for moments).
 */
function reduceWgsl(
  kind: "moments" | "gradSums",
  u: Record<ReduceSizes, string>,
  uniforms: Uniforms,
): string {
  const moments = kind === "moments";
  const list = storage(
    !moments && ["gradOut", "f32"],
    ["x", "f32"],
    !moments && ["coef", "vec4f"],
    ["partials", "vec4f", "write"],
  );
  const fold = moments
    ? `let d = v - acc.y;
      acc.x += 1.0;
      acc.y += d / acc.x;
      acc.z += d * (v - acc.y);`
    : `let g = gradOut[at];
      acc.x += g;
      acc.y += g * (v - mean);`;
  const merge = moments ? "chan(acc, lanes[lid + stride])" : "acc + lanes[lid + stride]";
  return `// batch norm ${kind}
${declare(list)}
${uniforms.declare(list.length)}
var<workgroup> lanes: array<vec3f, ${WORKGROUP}>;
${CHAN}
${flatMainHead(WORKGROUP, u.groups, { index: "workgroup", perWorkgroup: true })}
  // The group's values: k = n·S + s of channel c (per sample, n is always 0 and c the
  // run's group, its sample's channels in a row), at (n·C + c)·S + s.
  let c = workgroup / ${u.chunks};
  let chunk = workgroup % ${u.chunks};
  let group = ${u.groupBase} + c;
  let spatial = ${u.spatial};
  let sampleStride = ${u.channels} * spatial;
  ${moments ? "" : "let mean = coef[group].z;"}
  var acc = vec3f(0.0);
  let start = chunk * ${u.perThread} * ${WORKGROUP}u + lid;
  for (var r = 0u; r < ${u.perThread}; r++) {
    let k = start + r * ${WORKGROUP}u;
    if (k < ${u.values}) {
      let at = ${u.shift} + (k / spatial) * sampleStride + c * spatial + k % spatial;
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
}
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
}

/**
 * The normalising pass: forward `out = scale·(x − mean) + shift` (`gradOut` absent), backward
 * `out = a·dy + b·(x − mean) + c` (`gradOut` given), with `coef` from the finalizing kernels.
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
  for (const [r, { start, count, parts }] of runs.entries()) {
    const threads = count * shape.channels * shape.spatial;
    const counts = r === 0 && !!buffers.tracked;
    const { wgsl, uniforms } = applyKernel({ backward, counts }, {
      threads,
      // Element i of the run is in group groupBase + (i / S) % period: per channel, the
      // channel; per sample, the run's groups in a row (the period exceeds their count).
      period: shape.perSample ? count * shape.channels : shape.channels,
      groupBase: shape.perSample ? start * shape.channels : 0,
      spatial: shape.spatial,
      shift: parts[0].shift,
    });
    const bindings: Binding[] = parts.map((part, i) => ({ buffer: operands[i][1], ...part.range }));
    bindings.splice(bindings.length - 1, 0, { buffer: coef(buffers.coef, groups) });
    if (counts) bindings.push({ buffer: buffers.tracked! });
    device.dispatch(
      {
        name: `batchNorm${backward ? "Backward" : "Apply"}[${count}×${shape.channels}×` +
          `${shape.spatial}${shape.perSample ? ", per sample" : ""}]`,
        wgsl,
        uniforms,
        workgroups: Math.ceil(threads / WORKGROUP),
        cost: { bytes: 4 * operands.length * threads },
      },
      bindings,
    );
  }
}

const applyKernel = memoisedKernel(
  (
    v: { backward: boolean; counts: boolean },
    u: Record<"threads" | "period" | "groupBase" | "spatial" | "shift", string>,
    uf,
  ) => {
    const list = storage(
      v.backward && ["gradOut", "f32"],
      ["x", "f32"],
      ["coef", "vec4f"],
      ["out", "f32", "write"],
      v.counts && ["tracked", "i32", "write"],
    );
    return `// batch norm ${v.backward ? "backward" : "forward"} pass
${declare(list)}
${uf.declare(list.length)}
${flatMainHead(WORKGROUP, u.threads)}
  let at = ${u.shift} + i;
  let k = coef[${u.groupBase} + (i / ${u.spatial}) % ${u.period}];
  out[at] = ${v.backward ? "k.x * gradOut[at] + " : ""}k.y * (x[at] - k.z) + k.w;
  ${v.counts ? "if (i == 0u) { tracked[0] += 1; }" : ""}
}
`;
  },
);

function check(shape: BatchNormShape): void {
  for (const key of ["batch", "channels", "spatial"] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`batchNorm: ${key} must be a positive integer, got ${v}`);
    }
  }
}
