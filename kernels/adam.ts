/**
 * Adam's update kernel (Kingma and Ba, 2015), multi-tensor like `sgd.ts`: one dispatch updates
 * every parameter of a step in place (reads w, m, v[, v̂max], g and the step count; writes w, m,
 * v[, v̂max]), one checks them all without writing, lowering a guard flag when a gradient or a
 * new weight or moment would hold a NaN or ±∞, and one small dispatch advances the step counts.
 * The segments, their binding windows and the WGSL's search from a workgroup to its segment are
 * `_multi_tensor.ts`'s, as SGD's are.
 *
 * The step counts live on the device (one f32 a parameter, in a buffer shared by the
 * parameters of a device, as PyTorch's fused and capturable Adam keep `state["step"]` as a
 * tensor): a step that the guard skips on the GPU leaves them as they were, with the moments.
 * The update reads its parameter's count t − 1 and uses t; the counts advance in a dispatch of
 * their own after every update, since workgroups of one parameter may run in any order.
 *
 * Per element, in f32 (PyTorch's `_foreach` float32 path; t the parameter's step count after
 * this step; λ its group's weight decay):
 *
 * ```
 * Adam  (L2):        g ← g + λ·w
 * AdamW (decoupled): w ← w·(1 − ε·λ)          (1 − ε·λ rounded once to f32)
 * m ← lerp(m, g, 1 − β1)                      (torch.lerp: m + (1−β1)(g − m))
 * v ← β2·v + (1 − β2)·g·g
 * v̂max ← max(v̂max, v)                         (amsgrad; the denominator then uses v̂max)
 * w ← w − (ε / (1 − β1ᵗ)) · (m / (√v / √(1 − β2ᵗ) + eps))
 * ```
 *
 * Every constant (β2, 1 − β1, 1 − β2, 1 − ε·λ, ln β) is computed in float64 on the host and
 * rounded once to f32, as PyTorch passes its scalars. The bias corrections 1 − βᵗ are computed
 * on the device (the step counts are there), as −expm1(t·ln β) in f32: within a few f32 ulps
 * of PyTorch's float64 host values.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoised } from "./_memo.ts";
import {
  advanceStepCounts,
  checkDistinct,
  FINITE_WGSL,
  planSegments,
  searchSteps,
  type Segment,
} from "./_multi_tensor.ts";
import { FLAT_WORKGROUP } from "./_program.ts";

/** The constants of one parameter group's Adam update. */
export interface AdamHyperparameters {
  /** Learning rate ε. */
  lr: number;
  /** Decay of the first moment β1, in [0, 1). */
  beta1: number;
  /** Decay of the second moment β2, in [0, 1). */
  beta2: number;
  /** Added to the denominator, > 0 in practice (≥ 0 accepted). */
  eps: number;
  /** Weight decay λ: L2 added to the gradient (Adam) or decoupled (AdamW). */
  weightDecay: number;
  /** Whether the weight decay is decoupled (AdamW) rather than added to the gradient (Adam). */
  decoupled: boolean;
  /** Whether to keep the maximum of the second moments (AMSGrad). */
  amsgrad: boolean;
}

/** One parameter of an Adam update: its buffers, its step count's slot and its constants. */
export interface AdamParameter {
  /** The weights, updated in place. */
  weight: GpuBuffer;
  /** First moment (PyTorch's `exp_avg`), updated in place; zeros before the first step. */
  expAvg: GpuBuffer;
  /** Second moment (`exp_avg_sq`), updated in place; zeros before the first step. */
  expAvgSq: GpuBuffer;
  /** The maximum of the second moments (`max_exp_avg_sq`), with `amsgrad` only. */
  maxExpAvgSq?: GpuBuffer;
  /** The gradient, read only. */
  grad: GpuBuffer;
  /** Number of elements. */
  n: number;
  /** Index of the parameter's step count in the dispatch's step-count buffer. */
  stepSlot: number;
  /** Its group's constants. */
  hyperparameters: AdamHyperparameters;
}

/** Options of {@link adamUpdateAll} and {@link adamCheckAll}. */
export interface AdamUpdateOptions {
  /** A guard flag (first u32 of the buffer): nothing is written when it is 0. */
  guard?: GpuBuffer;
  /** Largest bytes one binding may cover; default the device's limit (tests lower it). */
  maxBindingBytes?: number;
  /** Segments one dispatch covers; default as many as the device binds (2 on lavapipe). */
  segmentsPerDispatch?: number;
}

const WORKGROUP = 256;
/** u32 words of one segment's row in the table: four vec4u. */
const ROW_WORDS = 16;
/** ln β for β = 0: βᵗ is then 0 (exp underflows), with no infinity in the shader. */
const LN_ZERO = -1e30;

type AdamMode = "apply" | "check";

const adamWgsl = memoised(adamShader);

function adamShader(segments: number, mode: AdamMode, guarded: boolean, amsgrad: boolean): string {
  const access = mode === "apply" ? "read_write" : "read";
  const perSegment = amsgrad ? 5 : 4;
  const decls: string[] = [];
  const loads: string[] = [];
  const stores: string[] = [];
  for (let k = 0; k < segments; k++) {
    const b = perSegment * k;
    decls.push(
      `@group(0) @binding(${b}) var<storage, ${access}> w${k}: array<vec4f>;`,
      `@group(0) @binding(${b + 1}) var<storage, ${access}> m${k}: array<vec4f>;`,
      `@group(0) @binding(${b + 2}) var<storage, ${access}> v${k}: array<vec4f>;`,
      `@group(0) @binding(${b + perSegment - 1}) var<storage, read> g${k}: array<vec4f>;`,
    );
    if (amsgrad) {
      decls.push(`@group(0) @binding(${b + 3}) var<storage, ${access}> x${k}: array<vec4f>;`);
    }
    loads.push(
      `    case ${k}u: { wi = w${k}[i]; mi = m${k}[i]; vi = v${k}[i]; gi = g${k}[i];${
        amsgrad ? ` xi = x${k}[i];` : ""
      } }`,
    );
    stores.push(
      `    case ${k}u: { w${k}[i] = r.w; m${k}[i] = r.m; v${k}[i] = r.v;${
        amsgrad ? ` x${k}[i] = r.x;` : ""
      } }`,
    );
  }
  const stepsBinding = perSegment * segments;
  const hasFlag = mode === "check" || guarded;
  const flag = mode === "apply"
    ? `@group(0) @binding(${stepsBinding + 1}) var<storage, read> guard: array<u32>;`
    : `@group(0) @binding(${stepsBinding + 1}) var<storage, read_write> guard: array<atomic<u32>>;`;
  const tableBinding = stepsBinding + (hasFlag ? 2 : 1);
  const skip = mode === "apply" && guarded ? "\n  if (guard[0] == 0u) { return; }" : "";
  return `${decls.join("\n")}
@group(0) @binding(${stepsBinding}) var<storage, read> steps: array<f32>;
${hasFlag ? flag : ""}
// Per segment: a = (first workgroup, elements in the window, step-count slot, 1 if decoupled),
// b = (ε, ln β1, ln β2, eps), c = (λ, 1 − ε·λ, 1 − β1, 1 − β2), d = (β2, 0, 0, 0) as f32 bits
// (each computed in float64 on the host, rounded once, as PyTorch's scalars are).
struct Segment { a: vec4u, b: vec4u, c: vec4u, d: vec4u }
struct Table { s: array<Segment, ${segments}> }
@group(0) @binding(${tableBinding}) var<uniform> table: Table;
${FLAT_WORKGROUP}
struct Step { w: vec4f, m: vec4f, v: vec4f, x: vec4f }
// 1 − βᵗ = −expm1(t·ln β): exp's cancellation near t·ln β ≈ 0 would cost β2 = 0.999's first
// steps some 1e-4 of their size, so small arguments take the series (error below 2e-7).
fn correction(lnBeta: f32, t: f32) -> f32 {
  let x = t * lnBeta;
  if (x > -0.5) {
    return -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
      + x * (1.0 / 720.0 + x * (1.0 / 5040.0)))))));
  }
  return 1.0 - exp(x);
}
fn adam(a: vec4u, b: vec4f, c: vec4f, d: vec4f, t: f32, wi: vec4f, mi: vec4f, vi: vec4f,
        xi: vec4f, gi: vec4f) -> Step {
  var g = gi;
  var w = wi;
  if (a.w == 1u) { w = w * c.y; } else { g = g + c.x * w; }
  // torch.lerp(m, g, 1 − β1), in its two forms by the weight.
  let m = select(g - (g - mi) * (1.0 - c.z), mi + c.z * (g - mi), c.z < 0.5);
  let v = d.x * vi + c.w * (g * g);
  let x = max(xi, v);
  let second = ${amsgrad ? "x" : "v"};
  let denom = sqrt(second) / sqrt(correction(b.z, t)) + b.w;
  let stepSize = b.x / correction(b.y, t);
  return Step(w - stepSize * (m / denom), m, v, x);
}
${FINITE_WGSL}
fn nonFinite(gi: vec4f, r: Step, i: u32, valid: u32) -> bool {
  return any((!finite(gi) | !finite(r.w) | !finite(r.m) | !finite(r.v)) & validLanes(i, valid));
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wg = flatWorkgroup(wid, nwg);${skip}
  var s = 0u;
${searchSteps(segments)}
  let a = table.s[s].a;
  let b = bitcast<vec4f>(table.s[s].b);
  let c = bitcast<vec4f>(table.s[s].c);
  let d = bitcast<vec4f>(table.s[s].d);
  let i = (wg - a.x) * ${WORKGROUP}u + lid;
  if (i * 4u >= a.y) { return; }
  let t = steps[a.z] + 1.0;
  var wi: vec4f;
  var mi: vec4f;
  var vi: vec4f;
  var xi: vec4f;
  var gi: vec4f;
  switch s {
${loads.join("\n")}
    default: {}
  }
  let r = adam(a, b, c, d, t, wi, mi, vi, xi, gi);
${
    mode === "apply"
      ? `  switch s {\n${stores.join("\n")}\n    default: {}\n  }`
      : "  if (nonFinite(gi, r, i, a.y)) { atomicStore(&guard[0], 0u); }"
  }
}`;
}

/**
 * Applies one Adam step to every parameter in place, each with its own group's constants (the
 * formula is in the module's notes), then advances their step counts in `steps` (f32, one
 * slot a parameter): one dispatch for the updates on a GPU whose binding limits allow it (per
 * amsgrad setting), and one for the counts. With `options.guard`, nothing is written when the
 * flag is 0. No readback: the work is only recorded.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { adamUpdateAll } from "./adam.ts";
 * const device = await Device.acquire();
 * const [weight, expAvg, expAvgSq, grad, steps] = [0, 1, 2, 3, 4].map(() => device.alloc(16));
 * device.write(weight, new Float32Array([1, 2, 3, 4]));
 * for (const b of [expAvg, expAvgSq, steps]) device.write(b, new Float32Array(4));
 * device.write(grad, new Float32Array([1, -1, 2, 0]));
 * const hyperparameters = {
 *   lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: false,
 * };
 * adamUpdateAll(device, [{ weight, expAvg, expAvgSq, grad, n: 4, stepSlot: 0, hyperparameters }], steps);
 * console.log(new Float32Array(await device.read(weight, 0, 16))); // about [0.9, 2.1, 2.9, 4]
 * ```
 */
export function adamUpdateAll(
  device: Device,
  parameters: readonly AdamParameter[],
  steps: GpuBuffer,
  options: AdamUpdateOptions = {},
): void {
  dispatchAdam(device, parameters, steps, "apply", options);
  advanceStepCounts("adam", device, steps, parameters.map((p) => p.stepSlot), options.guard);
}

/**
 * The dry run of {@link adamUpdateAll}: computes every update without writing it, and sets the
 * first u32 of `flag` to 0 when a gradient, or a new weight or moment, would be NaN or ±∞.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { adamCheckAll } from "./adam.ts";
 * const device = await Device.acquire();
 * const [weight, expAvg, expAvgSq, grad, steps, flag] = [0, 1, 2, 3, 4, 5].map(() => device.alloc(16));
 * device.write(weight, new Float32Array([1, 2, 3, 4]));
 * for (const b of [expAvg, expAvgSq, steps]) device.write(b, new Float32Array(4));
 * device.write(grad, new Float32Array([1, NaN, 2, 0]));
 * device.write(flag, new Uint32Array([1, 0, 0, 0]));
 * const hyperparameters = {
 *   lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true, amsgrad: false,
 * };
 * adamCheckAll(device, [{ weight, expAvg, expAvgSq, grad, n: 4, stepSlot: 0, hyperparameters }], steps, flag);
 * console.log(new Uint32Array(await device.read(flag, 0, 4))[0]); // 0
 * ```
 */
export function adamCheckAll(
  device: Device,
  parameters: readonly AdamParameter[],
  steps: GpuBuffer,
  flag: GpuBuffer,
  options: Omit<AdamUpdateOptions, "guard"> = {},
): void {
  dispatchAdam(device, parameters, steps, "check", { ...options, guard: flag });
}

function dispatchAdam(
  device: Device,
  parameters: readonly AdamParameter[],
  steps: GpuBuffer,
  mode: AdamMode,
  options: AdamUpdateOptions,
): void {
  const guard = options.guard;
  if (guard && guard.device !== device && !guard.device.sharesGpuWith(device)) {
    throw new Error(`adam: the guard flag lives on ${guard.device.label}, not ${device.label}`);
  }
  if (steps.device !== device) {
    throw new Error(`adam: the step counts live on ${steps.device.label}, not ${device.label}`);
  }
  for (const p of parameters) checkParameter(device, p, steps);
  checkDistinct("adam", parameters.map(buffersOf));
  for (const amsgrad of [false, true]) {
    const group = parameters.filter((p) => p.hyperparameters.amsgrad === amsgrad);
    const layout = { buffersPerSegment: amsgrad ? 5 : 4, sharedBuffers: 2, ...options };
    const dispatches = planSegments("adam", device, group, layout);
    dispatches.forEach((segments, d) => {
      const bindings: Binding[] = [];
      for (const { parameter: p, start, count } of segments) {
        const range = { offset: start * 16, size: count * 16 };
        const buffers = amsgrad
          ? [p.weight, p.expAvg, p.expAvgSq, p.maxExpAvgSq!, p.grad]
          : [p.weight, p.expAvg, p.expAvgSq, p.grad];
        for (const buffer of buffers) bindings.push({ buffer, ...range });
      }
      bindings.push({ buffer: steps, offset: 0, size: steps.capacity });
      if (guard) bindings.push({ buffer: guard, offset: 0, size: 16 });
      const { table, workgroups } = segmentTable(segments);
      const vec4s = segments.reduce((sum, s) => sum + s.count, 0);
      const part = dispatches.length > 1 ? ` part ${d + 1}/${dispatches.length}` : "";
      const perElement = amsgrad ? 5 : 4;
      device.dispatch(
        {
          name: `adam ${mode} ${segments.length} segments (${vec4s * 4})${part}`,
          wgsl: adamWgsl(segments.length, mode, guard !== undefined, amsgrad),
          uniforms: table,
          workgroups,
          // Check: reads every buffer; apply: also writes all but the gradient.
          cost: { bytes: vec4s * 16 * (mode === "check" ? perElement : 2 * perElement - 1) },
        },
        bindings,
      );
    });
  }
}

function buffersOf(p: AdamParameter) {
  const written: [string, GpuBuffer][] = [
    ["weight", p.weight],
    ["first moment", p.expAvg],
    ["second moment", p.expAvgSq],
  ];
  if (p.maxExpAvgSq) written.push(["maximum second moment", p.maxExpAvgSq]);
  return { written, read: [["gradient", p.grad]] as [string, GpuBuffer][] };
}

function checkParameter(device: Device, p: AdamParameter, steps: GpuBuffer): void {
  checkAdamHyperparameters(p.hyperparameters);
  const { n } = p;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`adam: element count must be a non-negative integer, got ${n}`);
  }
  if (p.hyperparameters.amsgrad && !p.maxExpAvgSq) {
    throw new Error("adam: amsgrad needs the maximum-second-moment buffer");
  }
  if (!Number.isInteger(p.stepSlot) || p.stepSlot < 0 || (p.stepSlot + 1) * 4 > steps.capacity) {
    throw new RangeError(`adam: step slot ${p.stepSlot} is outside the step-count buffer`);
  }
  const { written, read } = buffersOf(p);
  for (const [name, b] of [...written, ...read]) {
    if (b.device !== device) {
      throw new Error(`adam: the ${name} buffer lives on ${b.device.label}, not ${device.label}`);
    }
    if (b.capacity < Math.ceil(n / 4) * 16) {
      throw new RangeError(
        `adam: the ${name} buffer holds ${b.capacity} bytes, fewer than ${n} elements need`,
      );
    }
  }
}

/** The uniform segment table of one dispatch (see the WGSL's `Segment`) and its workgroups. */
function segmentTable(segments: readonly Segment<AdamParameter>[]): {
  table: Uint32Array;
  workgroups: number;
} {
  const table = new Uint32Array(segments.length * ROW_WORDS);
  const floats = new Float32Array(table.buffer);
  let workgroups = 0;
  segments.forEach(({ parameter, start, count }, k) => {
    const { lr, beta1, beta2, eps, weightDecay, decoupled } = parameter.hyperparameters;
    const row = k * ROW_WORDS;
    table[row] = workgroups;
    table[row + 1] = Math.min(parameter.n - start * 4, count * 4);
    table[row + 2] = parameter.stepSlot;
    table[row + 3] = decoupled ? 1 : 0;
    const ln = (beta: number) => beta === 0 ? LN_ZERO : Math.log(beta);
    floats.set([lr, ln(beta1), ln(beta2), eps], row + 4);
    floats.set([weightDecay, 1 - lr * weightDecay, 1 - beta1, 1 - beta2, beta2], row + 8);
    workgroups += Math.ceil(count / WORKGROUP);
  });
  return { table, workgroups };
}

/**
 * Throws a one-line error for constants PyTorch rejects (`0 ≤ β < 1`, the others finite and
 * ≥ 0).
 *
 * @example
 * ```ts
 * import { checkAdamHyperparameters } from "./adam.ts";
 * const h = { lr: 1e-3, beta1: 0.9, beta2: 1, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: false };
 * try { checkAdamHyperparameters(h); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkAdamHyperparameters(h: AdamHyperparameters, where = "adam"): void {
  for (const key of ["lr", "eps", "weightDecay"] as const) {
    if (!Number.isFinite(h[key]) || h[key] < 0) {
      throw new RangeError(`${where}: ${key} must be a finite number ≥ 0, got ${h[key]}`);
    }
  }
  for (const key of ["beta1", "beta2"] as const) {
    if (!(h[key] >= 0 && h[key] < 1)) {
      throw new RangeError(`${where}: ${key} must be in [0, 1), got ${h[key]}`);
    }
  }
}
