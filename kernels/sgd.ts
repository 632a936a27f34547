/**
 * The optimiser's update kernel: one fused SGD-with-momentum update per parameter (reads w, v,
 * g; writes w, v in place; nothing comes back to the host), and its dry run, which computes the
 * same update without writing it and lowers a guard flag when the gradient, the new velocity or
 * the new weight would hold a NaN or ±∞. A training loop checks every parameter first, then
 * applies every update guarded by the flag, so a bad step changes nothing (see
 * `step_stats.ts` for the flag and the loss totals).
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

/** Options of {@link sgdUpdate} and {@link sgdCheck}. */
export interface SgdUpdateOptions {
  /**
   * A guard flag (the first u32 of the buffer; see `step_stats.ts`): the update is skipped
   * entirely when it is 0. Without it the update always runs.
   */
  guard?: GpuBuffer;
  /**
   * Largest bytes one binding may cover; default the device's `maxStorageBufferBindingSize`.
   * Tests lower it to exercise the windowed path on small buffers.
   */
  maxBindingBytes?: number;
}

const WORKGROUP = 256;

/** Whether a kernel writes the update (`apply`) or only checks that it is finite (`check`). */
export type SgdMode = "apply" | "check";

/**
 * The WGSL of one update rule; exported for tests that inspect the generated code. `check`
 * needs `n` and the window's first vec4 `start`, to ignore the padding lanes past the end.
 */
export function sgdWgsl(
  h: SgdHyperparameters,
  guarded: boolean,
  mode: SgdMode = "apply",
  n = 0,
  start = 0,
): string {
  checkHyperparameters(h);
  const mu = `vec4f(${f32Literal(h.momentum)})`;
  const [vNew, wNew] = h.formulation === "paper"
    ? [
      `${mu} * v[i] - vec4f(${f32Literal(h.weightDecay * h.lr)}) * wi - vec4f(${
        f32Literal(h.lr)
      }) * gi`,
      "wi + vi",
    ]
    : [
      `${mu} * v[i] + (gi + vec4f(${f32Literal(h.weightDecay)}) * wi)`,
      `wi - vec4f(${f32Literal(h.lr)}) * vi`,
    ];
  const access = mode === "apply" ? "read_write" : "read";
  const flag = mode === "apply"
    ? (guarded ? "@group(0) @binding(3) var<storage, read> guard: array<u32>;" : "")
    : "@group(0) @binding(3) var<storage, read_write> guard: array<atomic<u32>>;";
  const skip = mode === "apply" && guarded ? "if (guard[0] == 0u) { return; }" : "";
  const body = mode === "apply"
    ? `  v[i] = vi;
  w[i] = wn;`
    : `  // Lanes past the last element are padding (whatever the buffer held): ignored.
  let lanes = vec4u(${start}u + i) * 4u + vec4u(0u, 1u, 2u, 3u) < vec4u(${n}u);
  let bad = !finite(gi) | !finite(vi) | !finite(wn);
  if (any(bad & lanes)) { atomicStore(&guard[0], 0u); }`;
  return `
@group(0) @binding(0) var<storage, ${access}> w: array<vec4f>;
@group(0) @binding(1) var<storage, ${access}> v: array<vec4f>;
@group(0) @binding(2) var<storage, read> g: array<vec4f>;
${flag}
${FLAT_WORKGROUP}
// Exponent bits all ones: ±∞ or NaN. Bit tests survive compilers that assume finite math.
fn finite(x: vec4f) -> vec4<bool> {
  return (bitcast<vec4u>(x) & vec4u(0x7f800000u)) != vec4u(0x7f800000u);
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = flatWorkgroup(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= arrayLength(&w)) { return; }
  ${skip}
  let wi = w[i];
  let gi = g[i];
  let vi = ${vNew};
  let wn = ${wNew};
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
  dispatchSgd(device, buffers, h, "apply", options);
}

/**
 * The dry run of {@link sgdUpdate}: computes the update without writing it, and sets the first
 * u32 of `flag` to 0 when the gradient, the new velocity or the new weight of any element would
 * be NaN or ±∞. Run it for every parameter before the guarded updates.
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
  dispatchSgd(device, buffers, h, "check", { ...options, guard: flag });
}

function dispatchSgd(
  device: Device,
  buffers: SgdBuffers,
  h: SgdHyperparameters,
  mode: SgdMode,
  options: SgdUpdateOptions,
): void {
  const { weight, velocity, grad, n } = buffers;
  if (n === 0) return;
  for (const [name, b] of [["weight", weight], ["velocity", velocity], ["grad", grad]] as const) {
    if (b.device !== device) {
      throw new Error(
        `sgd: the ${name} buffer lives on ${b.device.label}, not ${device.label}`,
      );
    }
    if (b.capacity < Math.ceil(n / 4) * 16) {
      throw new RangeError(
        `sgd: the ${name} buffer holds ${b.capacity} bytes, fewer than ${n} elements need`,
      );
    }
  }
  const guard = options.guard;
  if (guard && guard.device !== device) {
    throw new Error(`sgd: the guard flag lives on ${guard.device.label}, not ${device.label}`);
  }
  const maxBinding = options.maxBindingBytes ?? device.limits.maxStorageBufferBindingSize;
  const alignment = device.limits.minStorageBufferOffsetAlignment;
  if (maxBinding < Math.max(alignment, 16)) {
    throw new RangeError(
      `sgd: maxBindingBytes ${maxBinding} is below the offset alignment ${alignment}`,
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
    // The check bakes its element count (to mask padding lanes); the update shares one
    // pipeline across every parameter of a group.
    const wgsl = mode === "apply"
      ? sgdWgsl(h, guard !== undefined)
      : sgdWgsl(h, true, "check", n, part.start);
    device.dispatch(
      {
        name: `sgd ${mode === "check" ? "check " : ""}${h.formulation} (${n})${suffix}`,
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
