/**
 * The optimiser's update kernel, multi-tensor (PyTorch's `_foreach`, apex's
 * `multi_tensor_apply`): one dispatch updates every parameter of a step in place (reads w, v,
 * g; writes w, v; nothing comes back to the host), and one dispatch checks them all without
 * writing, lowering a guard flag when a gradient, a new velocity or a new weight would hold a
 * NaN or ±∞. A training loop checks every parameter first, then applies every update guarded
 * by the flag, so a bad step changes nothing (see `step_stats.ts` for the flag and the loss
 * totals).
 *
 * WebGPU has no arrays of buffer bindings, so each parameter keeps its own buffers and the
 * shader declares three bindings per parameter (w, v, g); a `switch` on the segment index picks
 * them. A segment table in a uniform buffer gives each segment its first workgroup, its length,
 * and its group's rule and hyperparameters; a workgroup finds its segment by binary search.
 * The WGSL depends only on the mode and the number of segments, so a model compiles a pipeline
 * or two per mode, and a learning-rate change compiles nothing (the table is a new uniform
 * buffer). The arithmetic is the per-parameter kernel's, bit for bit.
 *
 * One dispatch covers as many segments as {@link segmentsPerDispatch} allows: on a GPU, as many
 * as the shader can bind (three storage buffers per segment plus the guard flag within
 * `maxStorageBuffersPerShaderStage`, at most {@link MAX_SEGMENTS_PER_DISPATCH}), so a step is one
 * dispatch; on a software adapter (lavapipe), {@link SOFTWARE_SEGMENTS_PER_DISPATCH}. A parameter
 * larger than `maxStorageBufferBindingSize` (fc6's 151 MB weight against lavapipe's 128 MiB) is
 * split into binding windows, each a segment of its own.
 *
 * Why bindings per parameter and not an arena (one buffer holding every weight, one every
 * velocity, one every gradient, bound once): in an arena each parameter would become a view at
 * an offset, which the other kernels bind from offset 0 (the tensor layer would copy it before
 * each use), and the gradients, which backward makes as fresh buffers, would need a copy into
 * the gradient arena: a pass over memory more than the dispatches it saves. Binding each
 * parameter's own buffers leaves storage, `Tensor.assign`, state dicts, checkpoints and the
 * two-device placement as they were; a parameter that is frozen (no gradient) or added later
 * only changes the segment table (and, if the count of segments is new, compiles one pipeline).
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoised } from "./_memo.ts";
import {
  advanceStepCounts,
  checkDistinct,
  defaultSegmentsPerDispatch,
  FINITE_WGSL,
  planSegments,
  searchSteps,
  type Segment,
} from "./_multi_tensor.ts";
import { FLAT_WORKGROUP } from "./_program.ts";

export { MAX_SEGMENTS_PER_DISPATCH, SOFTWARE_SEGMENTS_PER_DISPATCH } from "./_multi_tensor.ts";

/**
 * Which SGD rule: the paper's (learning rate inside the velocity) or PyTorch's (outside).
 *
 * - `paper`: v ← μ·v − c·(λ·ε·w + ε·g); w ← w + v, or with Nesterov w ← w + μ·v − (λ·ε·w + ε·g)
 * - `pytorch`: d = g + λ·w; v ← μ·v + c·d; w ← w − ε·v, or with Nesterov w ← w − ε·(d + μ·v)
 *
 * c is 1 − τ (τ the dampening; 1 without it), except where the parameter's momentum buffer does
 * not exist yet (PyTorch's `momentum_buffer is None`): there the old velocity is read as zero
 * and c is 1, PyTorch's `momentum_buffer = clone(d)`. Whether it exists is decided on the device
 * (see {@link SgdUpdateOptions.steps}), so a step the guard skips does not create it. With
 * momentum 0 it never exists: the step is −ε·d, undampened, as PyTorch's. The paper's velocity
 * is −ε times PyTorch's momentum buffer while ε is constant, so the two rules (Nesterov and
 * dampening included) agree until ε changes, and differ after.
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
  /** Dampening τ of the momentum (PyTorch's `dampening`); default 0. */
  dampening?: number;
  /** Nesterov momentum (needs μ > 0 and τ = 0, as in PyTorch); default false. */
  nesterov?: boolean;
  /**
   * Maximise (PyTorch's `maximize`): the gradient's sign is flipped before anything else, weight
   * decay included; default false.
   */
  maximize?: boolean;
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

/** One parameter of a multi-tensor update: its buffers and its group's hyperparameters. */
export interface SgdParameter extends SgdBuffers {
  /** The rule and constants of the parameter's group. */
  hyperparameters: SgdHyperparameters;
  /** Index of its count of momentum steps in {@link SgdUpdateOptions.steps}; default 0. */
  stepSlot?: number;
}

/** Options of {@link sgdUpdateAll}, {@link sgdCheckAll} and their one-parameter forms. */
export interface SgdUpdateOptions {
  /**
   * A guard flag (the first u32 of the buffer; see `step_stats.ts`): the update is skipped
   * entirely when it is 0. Without it the update always runs.
   */
  guard?: GpuBuffer;
  /**
   * Each parameter's count of momentum steps (f32, one a slot, shared by the dispatch's
   * parameters; PyTorch's momentum buffer exists once its count is > 0). A parameter whose
   * count is 0 starts its velocity from the undampened update, whatever the velocity held;
   * the update then adds 1 to the counts of the parameters with momentum > 0, in a dispatch of
   * its own (guarded alike). Without it every velocity counts as begun.
   */
  steps?: GpuBuffer;
  /**
   * Largest bytes one binding may cover; default the device's `maxStorageBufferBindingSize`.
   * Tests lower it to exercise the windowed path on small buffers.
   */
  maxBindingBytes?: number;
  /**
   * Segments one dispatch covers; default {@link segmentsPerDispatch} of the device, and never
   * more than the device can bind. Tests set it to exercise one dispatch or several.
   */
  segmentsPerDispatch?: number;
}

/**
 * How many segments one SGD dispatch covers on `device`: as many as a shader can bind there
 * (three storage buffers a segment, and the guard flag), at most
 * {@link MAX_SEGMENTS_PER_DISPATCH}, and {@link SOFTWARE_SEGMENTS_PER_DISPATCH} on software
 * adapters.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { segmentsPerDispatch } from "./sgd.ts";
 * const device = await Device.acquire();
 * console.log(segmentsPerDispatch(device) >= 1); // true
 * ```
 */
export function segmentsPerDispatch(device: Device): number {
  return defaultSegmentsPerDispatch(device, SGD_LAYOUT);
}

/** Three storage buffers a segment (w, v, g), and the guard flag and the momentum counts. */
const SGD_LAYOUT = { buffersPerSegment: 3, sharedBuffers: 2 } as const;

const WORKGROUP = 256;
/** u32 words of one segment's row in the table: three vec4u. */
const ROW_WORDS = 12;
/**
 * Rule bits of a segment: PyTorch's rule, Nesterov, a dampened velocity, no momentum buffer,
 * maximise.
 */
const PYTORCH = 1, NESTEROV = 2, DAMPENED = 4, NO_BUFFER = 8, MAXIMIZE = 16;

/** Whether a kernel writes the update (`apply`) or only checks that it is finite (`check`). */
type SgdMode = "apply" | "check";

/**
 * The WGSL of a dispatch over `segments` segments. The hyperparameters and sizes are in the
 * segment table, not in the text. Generated once per form (every step repeats them).
 */
const sgdWgsl = memoised(sgdShader);

function sgdShader(segments: number, mode: SgdMode, guarded: boolean, counted: boolean): string {
  const access = mode === "apply" ? "read_write" : "read";
  const decls: string[] = [];
  const loads: string[] = [];
  const stores: string[] = [];
  for (let k = 0; k < segments; k++) {
    decls.push(
      `@group(0) @binding(${3 * k}) var<storage, ${access}> w${k}: array<vec4f>;`,
      `@group(0) @binding(${3 * k + 1}) var<storage, ${access}> v${k}: array<vec4f>;`,
      `@group(0) @binding(${3 * k + 2}) var<storage, read> g${k}: array<vec4f>;`,
    );
    loads.push(`    case ${k}u: { wi = w${k}[i]; vi = v${k}[i]; gi = g${k}[i]; }`);
    stores.push(`    case ${k}u: { v${k}[i] = r.v; w${k}[i] = r.w; }`);
  }
  const hasFlag = mode === "check" || guarded;
  const flag = mode === "apply"
    ? `@group(0) @binding(${3 * segments}) var<storage, read> guard: array<u32>;`
    : `@group(0) @binding(${3 * segments}) var<storage, read_write> guard: array<atomic<u32>>;`;
  const stepsDecl = counted
    ? `@group(0) @binding(${
      3 * segments + (hasFlag ? 1 : 0)
    }) var<storage, read> steps: array<f32>;`
    : "";
  const tableBinding = 3 * segments + (hasFlag ? 1 : 0) + (counted ? 1 : 0);
  const skip = mode === "apply" && guarded ? "\n  if (guard[0] == 0u) { return; }" : "";
  // A parameter without a momentum buffer: its velocity begins as the undampened update.
  const begun = counted
    ? `(a.z & ${NO_BUFFER}u) == 0u && steps[a.w] > 0.0`
    : `(a.z & ${NO_BUFFER}u) == 0u`;
  return `${decls.join("\n")}
${hasFlag ? flag : ""}
${stepsDecl}
// Per segment: a = (first workgroup, elements in the window, rule bits, momentum-count slot)
// with bit 0 set for PyTorch's rule, bit 1 for Nesterov, bit 2 for a dampened velocity, bit 3
// for no momentum buffer (μ = 0) and bit 4 to maximise (g ← −g); b = (μ, c1, c2, c) as f32
// bits: the paper's c1 = λ·ε, c2 = ε (times c when dampened); PyTorch's c1 = λ, c2 = ε, and
// c = 1 − τ the dampening factor; f = (c1, c2) undampened, for a velocity begun at this step.
struct Segment { a: vec4u, b: vec4u, f: vec4u }
struct Table { s: array<Segment, ${segments}> }
@group(0) @binding(${tableBinding}) var<uniform> table: Table;
${FLAT_WORKGROUP}
struct Step { v: vec4f, w: vec4f }
// The segment's constants: mu = μ, c1, c2 and c as the table says, and which rule.
struct Rule { mu: vec4f, c1: vec4f, c2: vec4f, c: vec4f, bits: u32 }
// Undampened and without Nesterov, each rule is the expression it always was (no factor of 1
// that a compiler might fuse differently): the default training keeps its numbers.
fn step(r: Rule, wi: vec4f, vi: vec4f, gi: vec4f) -> Step {
  let nesterov = (r.bits & 2u) != 0u;
  if ((r.bits & 1u) != 0u) {
    let d = gi + r.c1 * wi;
    var v = r.mu * vi + d;
    if ((r.bits & 4u) != 0u) { v = r.mu * vi + r.c * d; }
    if (nesterov) { return Step(v, wi - r.c2 * (d + r.mu * v)); }
    return Step(v, wi - r.c2 * v);
  }
  let v = r.mu * vi - r.c1 * wi - r.c2 * gi;
  if (nesterov) { return Step(v, wi + r.mu * v - r.c1 * wi - r.c2 * gi); }
  return Step(v, wi + v);
}
${FINITE_WGSL}
fn nonFinite(gi: vec4f, r: Step, i: u32, valid: u32) -> bool {
  return any((!finite(gi) | !finite(r.v) | !finite(r.w)) & validLanes(i, valid));
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wg = flatWorkgroup(wid, nwg);${skip}
  // The last segment whose first workgroup is at or before this one: a binary search,
  // unrolled (lavapipe runs loops, even of one turn, at a cost comparable to the update).
  var s = 0u;
${searchSteps(segments)}
  // The lane mask below reuses the element count: lavapipe ran the check some ten times
  // slower when a field of the table was first read after the early return.
  let a = table.s[s].a;
  var b = bitcast<vec4f>(table.s[s].b);
  let f = bitcast<vec4f>(table.s[s].f);
  var bits = a.z;
  // Read before the early return, as the table (see above).
  let begun = ${begun};
  let i = (wg - a.x) * ${WORKGROUP}u + lid;
  if (i * 4u >= a.y) { return; }
  if (!begun) {
    b = vec4f(b.x, f.x, f.y, 1.0);
    bits = bits & ~${DAMPENED}u;
  }
  let rule = Rule(vec4f(b.x), vec4f(b.y), vec4f(b.z), vec4f(b.w), bits);
  // Only the loads and stores are chosen by segment, the rule is written once: on lavapipe
  // every case costs, though the segment is uniform across the workgroup.
  var wi: vec4f;
  var vi: vec4f;
  var gi: vec4f;
  switch s {
${loads.join("\n")}
    default: {}
  }
  // PyTorch's momentum_buffer = clone(d): the old velocity plays no part.
  if (!begun) { vi = vec4f(0.0); }
  if ((bits & ${MAXIMIZE}u) != 0u) { gi = -gi; }
  let r = step(rule, wi, vi, gi);
${
    mode === "apply"
      ? `  switch s {\n${stores.join("\n")}\n    default: {}\n  }`
      : "  if (nonFinite(gi, r, i, a.y)) { atomicStore(&guard[0], 0u); }"
  }
}`;
}

/**
 * Applies one SGD-with-momentum step to every parameter of `parameters`, in place, each with
 * its own group's rule and constants: one dispatch for them all on a GPU whose binding limits
 * allow it (see the module's notes). No readback: the work is only recorded.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { sgdUpdateAll } from "./sgd.ts";
 * const device = await Device.acquire();
 * const parameter = (values: number[], lr: number) => {
 *   const [weight, velocity, grad] = [0, 1, 2].map(() => device.alloc(values.length * 4));
 *   device.write(weight, new Float32Array(values));
 *   device.write(velocity, new Float32Array(values.length));
 *   device.write(grad, new Float32Array(values.length).fill(1));
 *   const hyperparameters = { formulation: "paper", lr, momentum: 0.9, weightDecay: 0 } as const;
 *   return { weight, velocity, grad, n: values.length, hyperparameters };
 * };
 * const a = parameter([1, 2, 3], 0.1), b = parameter([5], 0.5);
 * sgdUpdateAll(device, [a, b]);
 * console.log(new Float32Array(await device.read(b.weight, 0, 4))); // [4.5]
 * ```
 */
export function sgdUpdateAll(
  device: Device,
  parameters: readonly SgdParameter[],
  options: SgdUpdateOptions = {},
): void {
  dispatchSgd(device, parameters, "apply", options);
  if (options.steps) {
    const begun = parameters.filter((p) => p.n > 0 && p.hyperparameters.momentum !== 0);
    advanceStepCounts("sgd", device, options.steps, begun.map(slotOf), options.guard);
  }
}

/**
 * The dry run of {@link sgdUpdateAll}: computes every update without writing it, and sets the
 * first u32 of `flag` to 0 when the gradient, the new velocity or the new weight of any element
 * would be NaN or ±∞. Run it over every parameter before the guarded updates.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { sgdCheckAll } from "./sgd.ts";
 * const device = await Device.acquire();
 * const [weight, velocity, grad, flag] = [0, 1, 2, 3].map(() => device.alloc(16));
 * device.write(weight, new Float32Array([1, 2, 3, 4]));
 * device.write(velocity, new Float32Array(4));
 * device.write(grad, new Float32Array([1, 1, Infinity, 1]));
 * device.write(flag, new Uint32Array([1, 0, 0, 0]));
 * const hyperparameters = { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 } as const;
 * sgdCheckAll(device, [{ weight, velocity, grad, n: 4, hyperparameters }], flag);
 * console.log(new Uint32Array(await device.read(flag, 0, 4))[0]); // 0
 * ```
 */
export function sgdCheckAll(
  device: Device,
  parameters: readonly SgdParameter[],
  flag: GpuBuffer,
  options: Omit<SgdUpdateOptions, "guard"> = {},
): void {
  dispatchSgd(device, parameters, "check", { ...options, guard: flag });
}

/**
 * {@link sgdUpdateAll} for one parameter.
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
  sgdUpdateAll(device, [{ ...buffers, hyperparameters: h }], options);
}

/**
 * {@link sgdCheckAll} for one parameter.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { sgdCheck } from "./sgd.ts";
 * const device = await Device.acquire();
 * const weight = device.alloc(16), velocity = device.alloc(16), grad = device.alloc(16);
 * const flag = device.alloc(16);
 * device.write(weight, new Float32Array([1, 2, 3, 4]));
 * device.write(velocity, new Float32Array(4));
 * device.write(grad, new Float32Array([1, 1, Infinity, 1]));
 * device.write(flag, new Uint32Array([1, 0, 0, 0]));
 * const h = { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 } as const;
 * sgdCheck(device, { weight, velocity, grad, n: 4 }, h, flag);
 * console.log(new Uint32Array(await device.read(flag, 0, 4))[0]); // 0
 * ```
 */
export function sgdCheck(
  device: Device,
  buffers: SgdBuffers,
  h: SgdHyperparameters,
  flag: GpuBuffer,
  options: Omit<SgdUpdateOptions, "guard"> = {},
): void {
  sgdCheckAll(device, [{ ...buffers, hyperparameters: h }], flag, options);
}

function dispatchSgd(
  device: Device,
  parameters: readonly SgdParameter[],
  mode: SgdMode,
  options: SgdUpdateOptions,
): void {
  const { guard, steps } = options;
  if (steps && steps.device !== device) {
    throw new Error(`sgd: the momentum counts live on ${steps.device.label}, not ${device.label}`);
  }
  // Devices that share one GPUDevice share one flag (it is in their common submission order).
  if (guard && guard.device !== device && !guard.device.sharesGpuWith(device)) {
    throw new Error(`sgd: the guard flag lives on ${guard.device.label}, not ${device.label}`);
  }
  for (const p of parameters) checkParameter(device, p, steps);
  checkDistinct(
    "sgd",
    parameters.map((p) => ({
      written: [["weight", p.weight], ["velocity", p.velocity]],
      read: [["gradient", p.grad]],
    })),
  );
  const dispatches = planSegments("sgd", device, parameters, { ...SGD_LAYOUT, ...options });
  dispatches.forEach((segments, d) => {
    const bindings: Binding[] = [];
    for (const { parameter: { weight, velocity, grad }, start, count } of segments) {
      const range = { offset: start * 16, size: count * 16 };
      bindings.push({ buffer: weight, ...range }, { buffer: velocity, ...range }, {
        buffer: grad,
        ...range,
      });
    }
    if (guard) bindings.push({ buffer: guard, offset: 0, size: 16 });
    if (steps) bindings.push({ buffer: steps, offset: 0, size: steps.capacity });
    const { table, workgroups } = segmentTable(segments);
    const vec4s = segments.reduce((sum, s) => sum + s.count, 0);
    const part = dispatches.length > 1 ? ` part ${d + 1}/${dispatches.length}` : "";
    device.dispatch(
      {
        name: `sgd ${mode} ${segments.length} segments (${vec4s * 4})${part}`,
        wgsl: sgdWgsl(segments.length, mode, guard !== undefined, steps !== undefined),
        uniforms: table,
        workgroups,
        // Check: reads w, v, g; apply: also writes w, v.
        cost: { bytes: vec4s * 16 * (mode === "check" ? 3 : 5) },
      },
      bindings,
    );
  });
}

/** A parameter's slot in the momentum counts. */
function slotOf(p: SgdParameter): number {
  return p.stepSlot ?? 0;
}

function checkParameter(device: Device, p: SgdParameter, steps?: GpuBuffer): void {
  checkSgdHyperparameters(p.hyperparameters);
  const { weight, velocity, grad, n } = p;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`sgd: element count must be a non-negative integer, got ${n}`);
  }
  const slot = slotOf(p);
  if (!Number.isInteger(slot) || slot < 0 || (steps && (slot + 1) * 4 > steps.capacity)) {
    throw new RangeError(
      `sgd: momentum-count slot ${slot} is outside the counts` +
        (steps ? ` (${steps.capacity / 4} slots)` : ""),
    );
  }
  for (const [name, b] of [["weight", weight], ["velocity", velocity], ["grad", grad]] as const) {
    if (b.device !== device) {
      throw new Error(`sgd: the ${name} buffer lives on ${b.device.label}, not ${device.label}`);
    }
    if (b.capacity < Math.ceil(n / 4) * 16) {
      throw new RangeError(
        `sgd: the ${name} buffer holds ${b.capacity} bytes, fewer than ${n} elements need`,
      );
    }
  }
}

/** The uniform segment table of one dispatch (see the WGSL's `Segment`) and its workgroups. */
function segmentTable(
  segments: readonly Segment<SgdParameter>[],
): { table: Uint32Array; workgroups: number } {
  const table = new Uint32Array(segments.length * ROW_WORDS);
  const floats = new Float32Array(table.buffer);
  let workgroups = 0;
  segments.forEach(({ parameter, start, count }, k) => {
    const { formulation, lr, momentum, weightDecay } = parameter.hyperparameters;
    const nesterov = parameter.hyperparameters.nesterov ?? false;
    const dampening = parameter.hyperparameters.dampening ?? 0;
    // The velocity's factor 1 − τ, once the momentum buffer exists (the kernel uses 1 before:
    // PyTorch's clone); with momentum 0 there is no buffer, and PyTorch ignores the dampening.
    const factor = dampening !== 0 ? 1 - dampening : 1;
    const row = k * ROW_WORDS;
    table[row] = workgroups;
    table[row + 1] = Math.min(parameter.n - start * 4, count * 4);
    table[row + 2] = (formulation === "pytorch" ? PYTORCH : 0) | (nesterov ? NESTEROV : 0) |
      (factor !== 1 ? DAMPENED : 0) | (momentum === 0 ? NO_BUFFER : 0) |
      (parameter.hyperparameters.maximize ? MAXIMIZE : 0);
    table[row + 3] = slotOf(parameter);
    floats[row + 4] = momentum;
    if (formulation === "pytorch") {
      floats.set([weightDecay, lr, factor, weightDecay, lr], row + 5);
    } else {
      // λ·ε·c and ε·c each rounded once to f32, as a WGSL literal of the product would be.
      floats.set([weightDecay * lr * factor, lr * factor, factor, weightDecay * lr, lr], row + 5);
    }
    workgroups += Math.ceil(count / WORKGROUP);
  });
  return { table, workgroups };
}

/**
 * Throws a one-line error for constants PyTorch rejects: lr, momentum and weight decay finite
 * and ≥ 0, the dampening finite, and Nesterov only with momentum > 0 and no dampening.
 *
 * @example
 * ```ts
 * import { checkSgdHyperparameters } from "./sgd.ts";
 * const h = { formulation: "pytorch", lr: 0.1, momentum: 0, weightDecay: 0, nesterov: true } as const;
 * try { checkSgdHyperparameters(h); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkSgdHyperparameters(h: SgdHyperparameters, where = "sgd"): void {
  if (h.formulation !== "paper" && h.formulation !== "pytorch") {
    throw new RangeError(
      `${where}: formulation must be "paper" or "pytorch", got ${h.formulation}`,
    );
  }
  for (const key of ["lr", "momentum", "weightDecay"] as const) {
    if (!Number.isFinite(h[key]) || h[key] < 0) {
      throw new RangeError(`${where}: ${key} must be a finite number ≥ 0, got ${h[key]}`);
    }
  }
  const dampening = h.dampening ?? 0;
  if (!Number.isFinite(dampening)) {
    throw new RangeError(`${where}: dampening must be a finite number, got ${dampening}`);
  }
  for (const key of ["nesterov", "maximize"] as const) {
    if (h[key] !== undefined && typeof h[key] !== "boolean") {
      throw new TypeError(`${where}: ${key} must be true or false`);
    }
  }
  if (h.nesterov && (h.momentum <= 0 || dampening !== 0)) {
    throw new RangeError(
      `${where}: Nesterov momentum requires a momentum > 0 and zero dampening ` +
        `(got momentum ${h.momentum}, dampening ${dampening})`,
    );
  }
}
