/**
 * Adam's update (Kingma and Ba, 2015) as a rule of the multi-tensor kernel of
 * `_foreach_update.ts`: one dispatch updates every parameter of a step in place (reads w, m,
 * v[, v̂max], g and the step count; writes w, m, v[, v̂max]), one checks them all without
 * writing, lowering a guard flag when a gradient or a new weight or moment would hold a NaN or
 * ±∞, and one small dispatch advances the step counts.
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

import type { Device, GpuBuffer } from "./device.ts";
import {
  foreachCheckAll,
  type ForeachParameter,
  type ForeachRule,
  foreachUpdateAll,
} from "./_foreach_update.ts";

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

/** ln β for β = 0: βᵗ is then 0 (exp underflows), with no infinity in the shader. */
const LN_ZERO = -1e30;

/** Variant bits: AMSGrad's maximum; decoupled weight decay (AdamW). */
const AMSGRAD = 1, DECOUPLED = 2;

/** Adam as a rule of the multi-tensor kernel: PyTorch's state names, AMSGrad as a variant. */
export const ADAM_RULE: ForeachRule = {
  name: "adam",
  stateNames: (variant) => [
    "exp_avg",
    "exp_avg_sq",
    ...(variant & AMSGRAD ? ["max_exp_avg_sq"] : []),
  ],
  // 1 − βᵗ = −expm1(t·ln β): exp's cancellation near t·ln β ≈ 0 would cost β2 = 0.999's first
  // steps some 1e-4 of their size, so small arguments take the series (error below 2e-7).
  helpers: `fn correction(lnBeta: f32, t: f32) -> f32 {
  let x = t * lnBeta;
  if (x > -0.5) {
    return -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
      + x * (1.0 / 720.0 + x * (1.0 / 5040.0)))))));
  }
  return 1.0 - exp(x);
}`,
  // c0 = (ε, ln β1, ln β2, eps), c1 = (λ, 1 − ε·λ, 1 − β1, 1 − β2), c2 = (β2, 0, 0, 0), each
  // computed in float64 on the host and rounded once, as PyTorch's scalars are.
  wgsl: (variant) => {
    const amsgrad = (variant & AMSGRAD) !== 0;
    return `  ${
      variant & DECOUPLED
        ? "let wd = w * c1.y;\n  let gd = g;"
        : "let wd = w;\n  // torch adds the decay only when λ ≠ 0 (0·∞ would be NaN).\n  let gd = select(g, g + c1.x * w, c1.x != 0.0);"
    }
  // torch.lerp(m, g, 1 − β1), in its two forms by the weight.
  let m = select(gd - (gd - s[0]) * (1.0 - c1.z), s[0] + c1.z * (gd - s[0]), c1.z < 0.5);
  let v = c2.x * s[1] + c1.w * (gd * gd);
${amsgrad ? "  let x = max(s[2], v);\n" : ""}  let denom = sqrt(${
      amsgrad ? "x" : "v"
    }) / sqrt(correction(c0.z, t)) + c0.w;
  let stepSize = c0.x / correction(c0.y, t);
  return Update(wd - stepSize * (m / denom), array<vec4f, ${amsgrad ? 3 : 2}>(m, v${
      amsgrad ? ", x" : ""
    }));`;
  },
};

/** The rule's variant for a group's constants. */
export function adamVariant(h: AdamHyperparameters): number {
  return (h.amsgrad ? AMSGRAD : 0) | (h.decoupled ? DECOUPLED : 0);
}

/** The rule's constants for a group (see {@link ADAM_RULE}). */
export function adamConstants(h: AdamHyperparameters): number[] {
  const ln = (beta: number) => beta === 0 ? LN_ZERO : Math.log(beta);
  const { lr, beta1, beta2, eps, weightDecay } = h;
  return [
    lr,
    ln(beta1),
    ln(beta2),
    eps,
    weightDecay,
    1 - lr * weightDecay,
    1 - beta1,
    1 - beta2,
    beta2,
  ];
}

/** An Adam parameter as the multi-tensor kernel takes it. */
function foreachParameter(p: AdamParameter): ForeachParameter {
  checkAdamHyperparameters(p.hyperparameters);
  if (p.hyperparameters.amsgrad && !p.maxExpAvgSq) {
    throw new Error("adam: amsgrad needs the maximum-second-moment buffer");
  }
  const states = [p.expAvg, p.expAvgSq];
  if (p.hyperparameters.amsgrad) states.push(p.maxExpAvgSq!);
  return {
    weight: p.weight,
    states,
    grad: p.grad,
    n: p.n,
    stepSlot: p.stepSlot,
    variant: adamVariant(p.hyperparameters),
    constants: adamConstants(p.hyperparameters),
  };
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
  foreachUpdateAll(device, ADAM_RULE, parameters.map(foreachParameter), steps, options);
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
  foreachCheckAll(device, ADAM_RULE, parameters.map(foreachParameter), steps, flag, options);
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
