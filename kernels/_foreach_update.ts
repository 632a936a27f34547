/**
 * A multi-tensor optimiser kernel made from an element-wise rule, as `adam.ts` is written by
 * hand: each parameter binds its weight, its state buffers and its gradient; a dispatch covers
 * several parameters (segments, `_multi_tensor.ts`), and a segment table gives each its first
 * workgroup, its element count, its step-count slot and twelve f32 constants of its group. One
 * mode applies the rule in place, the other checks it (a guard flag is lowered when a gradient,
 * the new weight or a new state would hold a NaN or ±∞), and the step counts (f32 on the
 * device, one a parameter) advance after the updates, skipped with the step. Adam, RMSprop and
 * Adagrad are rules of this kind (`adam.ts`, `rmsprop.ts`, `adagrad.ts`).
 *
 * A rule's WGSL is the body of `fn rule(c0: vec4f, c1: vec4f, c2: vec4f, t: f32, w: vec4f,
 * g: vec4f, s: array<vec4f, N>) -> Update` (`struct Update { w: vec4f, s: array<vec4f, N> }`),
 * with t the parameter's step count after this step and c0, c1, c2 the group's constants;
 * `helpers` may declare functions it calls. Its variants (a number) are forms with other state
 * buffers or arithmetic, e.g. RMSprop with a momentum buffer or Adam with AMSGrad's maximum:
 * the parameters of one variant share dispatches.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { memoisedBy } from "./_memo.ts";
import {
  advanceStepCounts,
  checkDistinct,
  FINITE_WGSL,
  planSegments,
  searchSteps,
  type Segment,
} from "./_multi_tensor.ts";
import { FLAT_WORKGROUP } from "./_program.ts";

/** An element-wise optimiser rule (see the module notes). */
export interface ForeachRule {
  /** The optimiser's name, in errors and dispatch names. */
  readonly name: string;
  /** The names of a variant's state buffers, in binding order (one at least). */
  stateNames(variant: number): readonly string[];
  /** The WGSL body of the variant's `rule` function. */
  wgsl(variant: number): string;
  /** WGSL functions the rule calls, if any. */
  readonly helpers?: string;
}

/** One parameter of a multi-tensor update. */
export interface ForeachParameter {
  /** The weights, updated in place. */
  weight: GpuBuffer;
  /** The state buffers of its variant, updated in place. */
  states: readonly GpuBuffer[];
  /** The gradient, read only. */
  grad: GpuBuffer;
  /** Number of elements. */
  n: number;
  /** Index of its step count in the step-count buffer. */
  stepSlot: number;
  /** Which form of the rule (its state buffers). */
  variant: number;
  /** Its group's constants, at most 12 (each rounded once to f32). */
  constants: readonly number[];
  /**
   * Whether to maximise (PyTorch's `maximize`): the rule sees −g, the gradient's sign flipped
   * before anything else; default false.
   */
  maximize?: boolean;
}

/** Options of {@link foreachUpdateAll} and {@link foreachCheckAll}. */
export interface ForeachOptions {
  /** A guard flag (first u32): nothing is written when it is 0. */
  guard?: GpuBuffer;
  /** Largest bytes one binding may cover; default the device's limit (tests lower it). */
  maxBindingBytes?: number;
  /** Segments one dispatch covers; default as many as the device binds (2 on lavapipe). */
  segmentsPerDispatch?: number;
}

const WORKGROUP = 256;
/** u32 words of a segment's row: a, c0, c1, c2. */
const ROW_WORDS = 16;
/** Constants a segment's row holds. */
const CONSTANTS = 12;

type Mode = "apply" | "check";

/** The WGSL of a dispatch, once per rule (by name), variant and form. */
const foreachWgsl = memoisedBy(
  (rule: ForeachRule, variant: number, segments: number, mode: Mode, guarded: boolean) =>
    `${rule.name} ${variant} ${segments} ${mode} ${guarded}`,
  (rule: ForeachRule, variant: number, segments: number, mode: Mode, guarded: boolean) => {
    const states = rule.stateNames(variant).length;
    const perSegment = states + 2;
    const access = mode === "apply" ? "read_write" : "read";
    const decls: string[] = [];
    const loads: string[] = [];
    const stores: string[] = [];
    for (let k = 0; k < segments; k++) {
      const b = perSegment * k;
      decls.push(`@group(0) @binding(${b}) var<storage, ${access}> w${k}: array<vec4f>;`);
      const load = [`wi = w${k}[i];`, `gi = g${k}[i];`];
      const store = [`w${k}[i] = r.w;`];
      for (let j = 0; j < states; j++) {
        decls.push(
          `@group(0) @binding(${b + 1 + j}) var<storage, ${access}> s${k}_${j}: array<vec4f>;`,
        );
        load.push(`si[${j}] = s${k}_${j}[i];`);
        store.push(`s${k}_${j}[i] = r.s[${j}];`);
      }
      decls.push(`@group(0) @binding(${b + states + 1}) var<storage, read> g${k}: array<vec4f>;`);
      loads.push(`    case ${k}u: { ${load.join(" ")} }`);
      stores.push(`    case ${k}u: { ${store.join(" ")} }`);
    }
    const stepsBinding = perSegment * segments;
    const hasFlag = mode === "check" || guarded;
    const flag = mode === "apply"
      ? `@group(0) @binding(${stepsBinding + 1}) var<storage, read> guard: array<u32>;`
      : `@group(0) @binding(${
        stepsBinding + 1
      }) var<storage, read_write> guard: array<atomic<u32>>;`;
    const skip = mode === "apply" && guarded ? "\n  if (guard[0] == 0u) { return; }" : "";
    const nonFinite = ["!finite(gi)", "!finite(r.w)"];
    for (let j = 0; j < states; j++) nonFinite.push(`!finite(r.s[${j}])`);
    return `${decls.join("\n")}
@group(0) @binding(${stepsBinding}) var<storage, read> steps: array<f32>;
${hasFlag ? flag : ""}
// Per segment: a = (first workgroup, elements in the window, step-count slot, 1 to maximise);
// c0, c1, c2 the group's constants as f32 bits.
struct Segment { a: vec4u, c0: vec4u, c1: vec4u, c2: vec4u }
struct Table { s: array<Segment, ${segments}> }
@group(0) @binding(${stepsBinding + (hasFlag ? 2 : 1)}) var<uniform> table: Table;
${FLAT_WORKGROUP}
${FINITE_WGSL}
struct Update { w: vec4f, s: array<vec4f, ${states}> }
${rule.helpers ?? ""}
fn rule(c0: vec4f, c1: vec4f, c2: vec4f, t: f32, w: vec4f, g: vec4f, s: array<vec4f, ${states}>)
    -> Update {
${rule.wgsl(variant)}
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let wg = flatWorkgroup(wid, nwg);${skip}
  var s = 0u;
${searchSteps(segments)}
  let a = table.s[s].a;
  let c0 = bitcast<vec4f>(table.s[s].c0);
  let c1 = bitcast<vec4f>(table.s[s].c1);
  let c2 = bitcast<vec4f>(table.s[s].c2);
  let i = (wg - a.x) * ${WORKGROUP}u + lid;
  if (i * 4u >= a.y) { return; }
  let t = steps[a.z] + 1.0;
  var wi: vec4f;
  var gi: vec4f;
  var si: array<vec4f, ${states}>;
  switch s {
${loads.join("\n")}
    default: {}
  }
  if (a.w != 0u) { gi = -gi; }
  let r = rule(c0, c1, c2, t, wi, gi, si);
${
      mode === "apply"
        ? `  switch s {\n${stores.join("\n")}\n    default: {}\n  }`
        : `  if (any((${
          nonFinite.join(" | ")
        }) & validLanes(i, a.y))) { atomicStore(&guard[0], 0u); }`
    }
}`;
  },
);

/**
 * Applies `rule` to every parameter in place, each with its own constants, then advances
 * their step counts in `steps`: one dispatch per variant for the updates on a GPU whose binding
 * limits allow it, and one for the counts. With `options.guard`, nothing is written when the
 * flag is 0. No readback.
 */
export function foreachUpdateAll(
  device: Device,
  rule: ForeachRule,
  parameters: readonly ForeachParameter[],
  steps: GpuBuffer,
  options: ForeachOptions = {},
): void {
  dispatchRule(device, rule, parameters, steps, "apply", options);
  advanceStepCounts(rule.name, device, steps, parameters.map((p) => p.stepSlot), options.guard);
}

/**
 * The dry run of {@link foreachUpdateAll}: lowers the first u32 of `flag` to 0 when a
 * gradient, a new weight or a new state would hold a NaN or ±∞.
 */
export function foreachCheckAll(
  device: Device,
  rule: ForeachRule,
  parameters: readonly ForeachParameter[],
  steps: GpuBuffer,
  flag: GpuBuffer,
  options: Omit<ForeachOptions, "guard"> = {},
): void {
  dispatchRule(device, rule, parameters, steps, "check", { ...options, guard: flag });
}

function dispatchRule(
  device: Device,
  rule: ForeachRule,
  parameters: readonly ForeachParameter[],
  steps: GpuBuffer,
  mode: Mode,
  options: ForeachOptions,
): void {
  const op = rule.name;
  const guard = options.guard;
  if (guard && guard.device !== device && !guard.device.sharesGpuWith(device)) {
    throw new Error(`${op}: the guard flag lives on ${guard.device.label}, not ${device.label}`);
  }
  if (steps.device !== device) {
    throw new Error(`${op}: the step counts live on ${steps.device.label}, not ${device.label}`);
  }
  for (const p of parameters) checkParameter(device, rule, p, steps);
  checkDistinct(op, parameters.map((p) => buffersOf(rule, p)));
  const variants = [...new Set(parameters.map((p) => p.variant))].sort((a, b) => a - b);
  for (const variant of variants) {
    const group = parameters.filter((p) => p.variant === variant);
    const perSegment = rule.stateNames(variant).length + 2;
    const layout = { buffersPerSegment: perSegment, sharedBuffers: 2, ...options };
    const dispatches = planSegments(op, device, group, layout);
    dispatches.forEach((segments, d) => {
      const bindings: Binding[] = [];
      for (const { parameter: p, start, count } of segments) {
        const range = { offset: start * 16, size: count * 16 };
        for (const buffer of [p.weight, ...p.states, p.grad]) bindings.push({ buffer, ...range });
      }
      bindings.push({ buffer: steps, offset: 0, size: steps.capacity });
      if (guard) bindings.push({ buffer: guard, offset: 0, size: 16 });
      const { table, workgroups } = segmentTable(segments);
      const vec4s = segments.reduce((sum, s) => sum + s.count, 0);
      const part = dispatches.length > 1 ? ` part ${d + 1}/${dispatches.length}` : "";
      device.dispatch(
        {
          name: `${op} ${mode} ${segments.length} segments (${vec4s * 4})${part}`,
          wgsl: foreachWgsl(rule, variant, segments.length, mode, guard !== undefined),
          uniforms: table,
          workgroups,
          // Check: reads every buffer; apply: also writes all but the gradient.
          cost: { bytes: vec4s * 16 * (mode === "check" ? perSegment : 2 * perSegment - 1) },
        },
        bindings,
      );
    });
  }
}

function buffersOf(rule: ForeachRule, p: ForeachParameter) {
  const names = rule.stateNames(p.variant);
  const written: [string, GpuBuffer][] = [
    ["weight", p.weight],
    ...p.states.map((b, j) => [names[j], b] as [string, GpuBuffer]),
  ];
  return { written, read: [["gradient", p.grad]] as [string, GpuBuffer][] };
}

function checkParameter(
  device: Device,
  rule: ForeachRule,
  p: ForeachParameter,
  steps: GpuBuffer,
): void {
  const op = rule.name;
  if (!Number.isInteger(p.n) || p.n < 0) {
    throw new RangeError(`${op}: element count must be a non-negative integer, got ${p.n}`);
  }
  const names = rule.stateNames(p.variant);
  if (p.states.length !== names.length) {
    throw new Error(
      `${op}: expected ${names.length} state buffers (${names}), got ${p.states.length}`,
    );
  }
  if (p.constants.length > CONSTANTS) {
    throw new RangeError(`${op}: at most ${CONSTANTS} constants a parameter`);
  }
  if (!Number.isInteger(p.stepSlot) || p.stepSlot < 0 || (p.stepSlot + 1) * 4 > steps.capacity) {
    throw new RangeError(`${op}: step slot ${p.stepSlot} is outside the step-count buffer`);
  }
  const { written, read } = buffersOf(rule, p);
  for (const [name, b] of [...written, ...read]) {
    if (b.device !== device) {
      throw new Error(`${op}: the ${name} buffer lives on ${b.device.label}, not ${device.label}`);
    }
    if (b.capacity < Math.ceil(p.n / 4) * 16) {
      throw new RangeError(
        `${op}: the ${name} buffer holds ${b.capacity} bytes, fewer than ${p.n} elements need`,
      );
    }
  }
}

/** The uniform segment table of one dispatch and its workgroups. */
function segmentTable(segments: readonly Segment<ForeachParameter>[]): {
  table: Uint32Array;
  workgroups: number;
} {
  const table = new Uint32Array(segments.length * ROW_WORDS);
  const floats = new Float32Array(table.buffer);
  let workgroups = 0;
  segments.forEach(({ parameter, start, count }, k) => {
    const row = k * ROW_WORDS;
    table[row] = workgroups;
    table[row + 1] = Math.min(parameter.n - start * 4, count * 4);
    table[row + 2] = parameter.stepSlot;
    table[row + 3] = parameter.maximize ? 1 : 0;
    floats.set(parameter.constants, row + 4);
    workgroups += Math.ceil(count / WORKGROUP);
  });
  return { table, workgroups };
}
