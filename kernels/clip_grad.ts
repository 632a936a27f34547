/**
 * Gradient clipping kernels, multi-tensor as `sgd.ts` (PyTorch's `clip_grad_norm_` and
 * `clip_grad_value_` with `foreach`): every gradient of a device is bound in a few dispatches,
 * a segment (a gradient, or one binding window of a large one) per `switch` case, and nothing
 * comes back to the host.
 *
 * The total norm of order p over all the gradients, ‖g‖ = (Σ |gᵢ|ᵖ)^(1/p) (max |gᵢ| for p = ∞):
 *
 * 1. {@link gradNormTotal}: each workgroup sums |g|ᵖ (or takes the max) of 8,192 elements into
 *    a partial, and one workgroup sums the partials into `stats[0]` (the device's sum S), then
 *    finishes: `stats[1]` = the clip coefficient min(maxNorm / (‖g‖ + 1e-6), 1), and the norm
 *    into `norm`.
 * 2. With gradients on several devices, their sums S are combined through the host (one
 *    readback of 4 bytes each, without the caller waiting: `Device.combineAcross`), and
 *    {@link gradNormFinish} finishes again on each device from the combined sum.
 * 3. {@link scaleGrads}: every gradient times `stats[1]`, in place.
 *
 * A NaN in any gradient makes the norm NaN, and ±∞ (with no NaN) makes it ∞, as in PyTorch; the
 * coefficient is then NaN or 0, and the gradients follow (PyTorch multiplies them too).
 * {@link clampGrads} is `clip_grad_value_`: each element clamped to [−v, v], NaN kept.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoised } from "./_memo.ts";
import { checkDistinct, FINITE_WGSL, planSegments, searchSteps } from "./_multi_tensor.ts";
import { FLAT_WORKGROUP } from "./_program.ts";

/** One gradient: its buffer and element count. */
export interface GradBuffer {
  /** The gradient (f32), read, or written in place by {@link scaleGrads}/{@link clampGrads}. */
  grad: GpuBuffer;
  /** Number of elements. */
  n: number;
}

/** Options of the multi-tensor clipping kernels. */
export interface ClipGradOptions {
  /** Largest bytes one binding may cover; default the device's limit (tests lower it). */
  maxBindingBytes?: number;
  /** Segments one dispatch covers; default as many as the device binds (2 on lavapipe). */
  segmentsPerDispatch?: number;
}

/** Bytes of a device's clipping statistics: [S, coefficient, 0, 0] as f32. */
export const CLIP_STATS_BYTES = 16;

const WORKGROUP = 256;
/**
 * vec4s each invocation of the norm pass sums before the workgroup's tree: the tree's barriers
 * are paid once per 8 (lavapipe ran the pass at 0.4 GB/s with one, a tenth of SGD's update).
 */
const NORM_VEC4S = 8;

/** The pass over the gradients: a norm's partials, the scaling, or the clamp. */
type GradPass = "sum" | "max" | "power" | "square" | "scale" | "clamp";

/** The norm pass for a norm order: squares, absolute values, powers, or the maximum. */
function normPass(p: number): GradPass {
  if (p === Infinity) return "max";
  if (p === 2) return "square";
  if (p === 1) return "sum";
  return "power";
}

/** WGSL shared by the passes: the NaN-keeping maximum and the norm's finish. */
const COMMON_WGSL = `
fn isNan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
fn isNan4(x: vec4f) -> vec4<bool> {
  return (bitcast<vec4u>(x) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u);
}
// max that keeps a NaN (WGSL's max may drop it): the ∞-norm of a NaN gradient is NaN.
fn maxNan(a: f32, b: f32) -> f32 {
  return select(max(a, b), bitcast<f32>(0x7fc00000u), isNan(a) || isNan(b));
}`;

/** The per-element term of a norm pass (|g|ᵖ, lanes past the end 0) and how lanes combine. */
function termWgsl(pass: GradPass): { term: string; combine: string } {
  const abs = "abs(gi)";
  const term = {
    sum: abs,
    max: abs,
    square: "gi * gi",
    // pow(0, p) is undefined in WGSL: zeros stay 0.
    power: `select(pow(${abs}, vec4f(p)), vec4f(0.0), ${abs} == vec4f(0.0))`,
  }[pass as "sum" | "max" | "square" | "power"];
  const combine = pass === "max" ? "maxNan(a, b)" : "a + b";
  return { term, combine };
}

const gradWgsl = memoised(gradShader);

/**
 * A pass over `segments` gradient segments. The table's head: x = the dispatch's first partial,
 * y = p (f32 bits, the power pass), z = the clamp's bound (f32 bits); then per segment its
 * first workgroup and its element count.
 */
function gradShader(segments: number, pass: GradPass): string {
  const inPlace = pass === "scale" || pass === "clamp";
  const access = inPlace ? "read_write" : "read";
  const decls: string[] = [];
  const loads: string[] = [];
  const stores: string[] = [];
  for (let k = 0; k < segments; k++) {
    decls.push(`@group(0) @binding(${k}) var<storage, ${access}> g${k}: array<vec4f>;`);
    loads.push(`    case ${k}u: { gi = g${k}[i]; }`);
    stores.push(`    case ${k}u: { g${k}[i] = r; }`);
  }
  // The clamp binds no buffer besides the gradients (its bound is in the table).
  const shared = {
    scale: `@group(0) @binding(${segments}) var<storage, read> stats: array<f32>;`,
    clamp: "",
  }[pass as "scale" | "clamp"] ??
    `@group(0) @binding(${segments}) var<storage, read_write> partials: array<f32>;`;
  const head = `${decls.join("\n")}
${shared}
struct Segment { a: vec4u }
struct Table { head: vec4u, s: array<Segment, ${segments}> }
@group(0) @binding(${pass === "clamp" ? segments : segments + 1}) var<uniform> table: Table;
${FLAT_WORKGROUP}
${COMMON_WGSL}
${FINITE_WGSL}`;
  const find = `  let wg = flatWorkgroup(wid, nwg);
  var s = 0u;
${searchSteps(segments)}
  let a = table.s[s].a;
  let i = (wg - a.x) * ${inPlace ? WORKGROUP : WORKGROUP * NORM_VEC4S}u + lid;`;
  const main = `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {`;
  if (inPlace) {
    const rule = pass === "scale"
      ? "gi * stats[1]"
      // clamp, keeping NaN (WGSL's clamp may not).
      : "select(clamp(gi, vec4f(-v), vec4f(v)), gi, isNan4(gi))";
    return `${head}
${main}
${find}
  if (i * 4u >= a.y) { return; }
  let v = bitcast<f32>(table.head.z);
  var gi: vec4f;
  switch s {
${loads.join("\n")}
    default: {}
  }
  let r = ${rule};
  switch s {
${stores.join("\n")}
    default: {}
  }
}`;
  }
  const { term, combine } = termWgsl(pass);
  // Each invocation's vec4s, 256 apart (unrolled: lavapipe runs loops at a cost).
  const sums: string[] = [];
  for (let k = 0; k < NORM_VEC4S; k++) {
    sums.push(`  {
    let j = i + ${k * WORKGROUP}u;
    if (j * 4u < a.y) {
      var gi: vec4f;
      switch s {
${loads.map((l) => "  " + l.replaceAll("[i]", "[j]")).join("\n")}
        default: {}
      }
      let t = select(vec4f(0.0), ${term}, validLanes(j, a.y));
      x = combine(x, combine(combine(t.x, t.y), combine(t.z, t.w)));
    }
  }`);
  }
  // The workgroup's tree, unrolled; the barriers stay in uniform control flow.
  const tree: string[] = [];
  for (let stride = WORKGROUP / 2; stride >= 1; stride /= 2) {
    tree.push(
      `  if (lid < ${stride}u) { acc[lid] = combine(acc[lid], acc[lid + ${stride}u]); }`,
      "  workgroupBarrier();",
    );
  }
  return `${head}
var<workgroup> acc: array<f32, ${WORKGROUP}>;
fn combine(a: f32, b: f32) -> f32 { return ${combine}; }
${main}
${find}
  let p = bitcast<f32>(table.head.y);
  var x = 0.0;
${sums.join("\n")}
  acc[lid] = x;
  workgroupBarrier();
${tree.join("\n")}
  if (lid == 0u) { partials[table.head.x + wg] = acc[0]; }
}`;
}

/**
 * The sum of the partials (or their max) into `stats[0]`, then the finish: the total norm into
 * `norm[0]` and the clip coefficient into `stats[1]`. With `count` 0 the sum is not touched and
 * only the finish runs (after a combine across devices).
 */
const totalWgsl = memoised((pass: GradPass) => {
  const { combine } = termWgsl(pass);
  const root = {
    sum: "s",
    max: "s",
    square: "sqrt(s)",
    power: "select(pow(s, 1.0 / p), 0.0, s == 0.0)",
  }[pass as "sum" | "max" | "square" | "power"];
  return `@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> norm: array<f32>;
// x = partials to sum, y = p, z = maxNorm (f32 bits)
@group(0) @binding(3) var<uniform> params: vec4u;
${COMMON_WGSL}
var<workgroup> acc: array<f32, ${WORKGROUP}>;
fn combine(a: f32, b: f32) -> f32 { return ${combine}; }
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32) {
  let count = params.x;
  let p = bitcast<f32>(params.y);
  let maxNorm = bitcast<f32>(params.z);
  var x = 0.0;
  for (var k = lid; k < count; k += ${WORKGROUP}u) { x = combine(x, partials[k]); }
  acc[lid] = x;
  workgroupBarrier();
  for (var stride = ${WORKGROUP / 2}u; stride >= 1u; stride /= 2u) {
    if (lid < stride) { acc[lid] = combine(acc[lid], acc[lid + stride]); }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  if (count > 0u) { stats[0] = acc[0]; }
  let s = stats[0];
  let total = ${root};
  norm[0] = total;
  // PyTorch: clip_coef = max_norm / (total + 1e-6), clamped to at most 1 (a NaN stays).
  let coef = maxNorm / (total + 1e-6);
  stats[1] = select(min(coef, 1.0), coef, isNan(coef));
}`;
});

/**
 * Records the total norm of order `normType` of `grads` (all on `device`): the device's sum of
 * |g|ᵖ (max |g| for ∞) into `stats[0]`, the clip coefficient for `maxNorm` into `stats[1]`, and
 * the norm into the first f32 of `norm`. `stats` holds {@link CLIP_STATS_BYTES}.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { gradNormTotal } from "./clip_grad.ts";
 * const device = await Device.acquire();
 * const grad = device.alloc(16), stats = device.alloc(16), norm = device.alloc(4);
 * device.write(grad, new Float32Array([3, 4, 0, 0]));
 * gradNormTotal(device, [{ grad, n: 2 }], 2, 1, stats, norm);
 * console.log(new Float32Array(await device.read(norm, 0, 4))[0]); // 5
 * ```
 */
export function gradNormTotal(
  device: Device,
  grads: readonly GradBuffer[],
  normType: number,
  maxNorm: number,
  stats: GpuBuffer,
  norm: GpuBuffer,
  options: ClipGradOptions = {},
): void {
  checkNormArguments(normType, maxNorm);
  for (const g of grads) checkGrad(device, g);
  const pass = normPass(normType);
  const dispatches = planSegments("clip_grad", device, grads, layout(options));
  const workgroupsOf = (segments: { count: number }[]) =>
    segments.reduce((sum, s) => sum + Math.ceil(s.count / (WORKGROUP * NORM_VEC4S)), 0);
  const totalWorkgroups = dispatches.reduce((sum, d) => sum + workgroupsOf(d), 0);
  const partials = device.alloc(Math.max(totalWorkgroups, 1) * 4, "clip partials");
  try {
    let first = 0;
    dispatches.forEach((segments, d) => {
      const { table, workgroups } = segmentTable(segments, WORKGROUP * NORM_VEC4S);
      table[0] = first;
      new Float32Array(table.buffer)[1] = normType;
      const bindings: Binding[] = segments.map(({ parameter, start, count }) => ({
        buffer: parameter.grad,
        offset: start * 16,
        size: count * 16,
      }));
      // Bound whole (an offset would need the device's alignment): the table says where.
      bindings.push({ buffer: partials, offset: 0, size: Math.max(totalWorkgroups, 1) * 4 });
      device.dispatch(
        {
          name: `clip_grad norm ${segments.length} segments part ${d + 1}/${dispatches.length}`,
          wgsl: gradWgsl(segments.length, pass),
          uniforms: table,
          workgroups,
          cost: { bytes: segments.reduce((sum, s) => sum + s.count, 0) * 16 },
        },
        bindings,
      );
      first += workgroups;
    });
    dispatchTotal(device, pass, totalWorkgroups, normType, maxNorm, partials, stats, norm);
  } finally {
    device.release(partials);
  }
}

/**
 * Finishes again from `stats[0]` (a sum combined across devices): the norm into `norm` and the
 * coefficient into `stats[1]`, as {@link gradNormTotal} does.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { gradNormFinish } from "./clip_grad.ts";
 * const device = await Device.acquire();
 * const stats = device.alloc(16), norm = device.alloc(4);
 * device.write(stats, new Float32Array([25, 0, 0, 0])); // Σ g² of two devices
 * gradNormFinish(device, 2, 10, stats, norm);
 * console.log(new Float32Array(await device.read(stats, 0, 8))[1]); // 1 (5 < 10: no clipping)
 * ```
 */
export function gradNormFinish(
  device: Device,
  normType: number,
  maxNorm: number,
  stats: GpuBuffer,
  norm: GpuBuffer,
): void {
  checkNormArguments(normType, maxNorm);
  const unused = device.alloc(4, "clip partials");
  try {
    dispatchTotal(device, normPass(normType), 0, normType, maxNorm, unused, stats, norm);
  } finally {
    device.release(unused);
  }
}

/**
 * How the sums S of several devices combine into one: added, or for the ∞-norm the maximum
 * (a NaN kept). Each part is a device's `stats` (its first f32 is S).
 *
 * @example
 * ```ts
 * import { combineNormSums } from "./clip_grad.ts";
 * const part = (s: number) => new Uint8Array(Float32Array.of(s, 1, 0, 0).buffer);
 * console.log(new Float32Array(combineNormSums(2)([part(9), part(16)]).buffer)[0]); // 25
 * ```
 */
export function combineNormSums(normType: number): (parts: readonly Uint8Array[]) => Uint8Array {
  return (parts) => {
    const sums = parts.map((p) => new Float32Array(p.buffer, p.byteOffset, 1)[0]);
    const total = normType === Infinity
      ? (sums.some(Number.isNaN) ? NaN : Math.max(...sums))
      : sums.reduce((a, b) => a + b, 0);
    return new Uint8Array(Float32Array.of(total).buffer);
  };
}

/**
 * Multiplies every gradient in place by the coefficient in `stats[1]` (from
 * {@link gradNormTotal} or {@link gradNormFinish}).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { gradNormTotal, scaleGrads } from "./clip_grad.ts";
 * const device = await Device.acquire();
 * const grad = device.alloc(16), stats = device.alloc(16), norm = device.alloc(4);
 * device.write(grad, new Float32Array([3, 4, 0, 0]));
 * gradNormTotal(device, [{ grad, n: 2 }], 2, 1, stats, norm);
 * scaleGrads(device, [{ grad, n: 2 }], stats);
 * console.log(new Float32Array(await device.read(grad, 0, 8))); // about [0.6, 0.8]
 * ```
 */
export function scaleGrads(
  device: Device,
  grads: readonly GradBuffer[],
  stats: GpuBuffer,
  options: ClipGradOptions = {},
): void {
  if (stats.device !== device) {
    throw new Error(`clip_grad: the statistics live on ${stats.device.label}, not ${device.label}`);
  }
  dispatchInPlace(device, grads, "scale", 0, stats, options);
}

/**
 * Clamps every element of every gradient to [−clipValue, clipValue] in place (a NaN stays):
 * PyTorch's `clip_grad_value_`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { clampGrads } from "./clip_grad.ts";
 * const device = await Device.acquire();
 * const grad = device.alloc(16);
 * device.write(grad, new Float32Array([3, -4, 0.5, NaN]));
 * clampGrads(device, [{ grad, n: 4 }], 1);
 * console.log(new Float32Array(await device.read(grad, 0, 16))); // [1, -1, 0.5, NaN]
 * ```
 */
export function clampGrads(
  device: Device,
  grads: readonly GradBuffer[],
  clipValue: number,
  options: ClipGradOptions = {},
): void {
  if (!(clipValue >= 0) || !Number.isFinite(clipValue)) {
    throw new RangeError(`clip_grad: clipValue must be a finite number ≥ 0, got ${clipValue}`);
  }
  dispatchInPlace(device, grads, "clamp", clipValue, undefined, options);
}

function dispatchInPlace(
  device: Device,
  grads: readonly GradBuffer[],
  pass: "scale" | "clamp",
  clipValue: number,
  stats: GpuBuffer | undefined,
  options: ClipGradOptions,
): void {
  for (const g of grads) checkGrad(device, g);
  checkDistinct("clip_grad", grads.map((g) => ({ written: [["gradient", g.grad]], read: [] })));
  const dispatches = planSegments("clip_grad", device, grads, layout(options));
  dispatches.forEach((segments, d) => {
    const { table, workgroups } = segmentTable(segments, WORKGROUP);
    new Float32Array(table.buffer)[2] = clipValue;
    const bindings: Binding[] = segments.map(({ parameter, start, count }) => ({
      buffer: parameter.grad,
      offset: start * 16,
      size: count * 16,
    }));
    if (stats) bindings.push({ buffer: stats, offset: 0, size: CLIP_STATS_BYTES });
    const vec4s = segments.reduce((sum, s) => sum + s.count, 0);
    device.dispatch(
      {
        name: `clip_grad ${pass} ${segments.length} segments part ${d + 1}/${dispatches.length}`,
        wgsl: gradWgsl(segments.length, pass),
        uniforms: table,
        workgroups,
        cost: { bytes: vec4s * 32 },
      },
      bindings,
    );
  });
}

function dispatchTotal(
  device: Device,
  pass: GradPass,
  count: number,
  normType: number,
  maxNorm: number,
  partials: GpuBuffer,
  stats: GpuBuffer,
  norm: GpuBuffer,
): void {
  for (const [name, b, bytes] of [["statistics", stats, 16], ["norm", norm, 4]] as const) {
    if (b.device !== device) {
      throw new Error(`clip_grad: the ${name} live on ${b.device.label}, not ${device.label}`);
    }
    if (b.capacity < bytes) throw new RangeError(`clip_grad: the ${name} buffer is too small`);
  }
  const params = new Uint32Array(4);
  params[0] = count;
  new Float32Array(params.buffer).set([normType, maxNorm], 1);
  device.dispatch(
    {
      name: `clip_grad total ${count}`,
      wgsl: totalWgsl(pass),
      uniforms: params,
      workgroups: 1,
      cost: { bytes: count * 4 },
    },
    [
      { buffer: partials, offset: 0, size: Math.max(count, 1) * 4 },
      { buffer: stats, offset: 0, size: CLIP_STATS_BYTES },
      { buffer: norm, offset: 0, size: 4 },
    ],
  );
}

/** One gradient buffer a segment, and the partials or statistics. */
function layout(options: ClipGradOptions) {
  return { buffersPerSegment: 1, sharedBuffers: 1, ...options };
}

/** The uniform table (head, then a row a segment) and the dispatch's workgroups. */
function segmentTable(
  segments: readonly { parameter: GradBuffer; start: number; count: number }[],
  vec4sPerWorkgroup: number,
): { table: Uint32Array; workgroups: number } {
  const table = new Uint32Array(4 + segments.length * 4);
  let workgroups = 0;
  segments.forEach(({ parameter, start, count }, k) => {
    table[4 + 4 * k] = workgroups;
    table[4 + 4 * k + 1] = Math.min(parameter.n - start * 4, count * 4);
    workgroups += Math.ceil(count / vec4sPerWorkgroup);
  });
  return { table, workgroups };
}

function checkGrad(device: Device, { grad, n }: GradBuffer): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`clip_grad: element count must be a non-negative integer, got ${n}`);
  }
  if (grad.device !== device) {
    throw new Error(`clip_grad: a gradient lives on ${grad.device.label}, not ${device.label}`);
  }
  if (grad.capacity < Math.ceil(n / 4) * 16) {
    throw new RangeError(`clip_grad: a gradient buffer holds ${grad.capacity} bytes, too few`);
  }
}

/**
 * Throws a one-line error for a norm order other than a number > 0 or ∞, or a maximum norm
 * that is not a finite number ≥ 0.
 *
 * @example
 * ```ts
 * import { checkNormArguments } from "./clip_grad.ts";
 * try { checkNormArguments(-1, 1); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkNormArguments(normType: number, maxNorm: number, where = "clip_grad"): void {
  if (!(normType > 0)) {
    throw new RangeError(`${where}: normType must be a number > 0 or Infinity, got ${normType}`);
  }
  if (!(maxNorm >= 0) || !Number.isFinite(maxNorm)) {
    throw new RangeError(`${where}: maxNorm must be a finite number ≥ 0, got ${maxNorm}`);
  }
}
