/**
 * Adagrad's element-wise rule (Duchi, Hazan and Singer, 2011; `torch.optim.Adagrad`), for the
 * multi-tensor kernel of `_foreach_update.ts`. Per element, in f32, with t the parameter's step
 * count after this step:
 *
 * ```
 * g ← g + λ·w                        (λ ≠ 0)
 * Σ ← Σ + g·g                        (sum, starting at initialAccumulatorValue)
 * w ← w − ε/(1 + (t − 1)·δ) · g/(√Σ + eps)
 * ```
 *
 * The decayed rate is computed on the device from the step count (f32; PyTorch computes it in
 * float64 on the host): within an ulp or two of PyTorch's.
 *
 * @module
 */

import type { ForeachRule } from "./_foreach_update.ts";

/** The constants of one parameter group's Adagrad update. */
export interface AdagradHyperparameters {
  /** Learning rate ε. */
  lr: number;
  /** Decay δ of the learning rate with the step count. */
  lrDecay: number;
  /** Weight decay λ (L2, added to the gradient). */
  weightDecay: number;
  /** Added to the denominator. */
  eps: number;
}

/** The kernel's constants: c0 = (ε, δ, λ, eps). */
export function adagradConstants(h: AdagradHyperparameters): number[] {
  return [h.lr, h.lrDecay, h.weightDecay, h.eps];
}

/** Adagrad as a rule of the multi-tensor kernel: one state, PyTorch's `sum`. */
export const ADAGRAD_RULE: ForeachRule = {
  name: "adagrad",
  stateNames: () => ["sum"],
  wgsl: () =>
    `  let gd = select(g, g + c0.z * w, c0.z != 0.0);
  let sum = s[0] + gd * gd;
  let clr = c0.x / (1.0 + (t - 1.0) * c0.y);
  return Update(w - clr * (gd / (sqrt(sum) + c0.w)), array<vec4f, 1>(sum));`,
};

/**
 * Throws a one-line error for constants PyTorch rejects (each finite and ≥ 0).
 *
 * @example
 * ```ts
 * import { checkAdagradHyperparameters } from "./adagrad.ts";
 * try { checkAdagradHyperparameters({ lr: 0.01, lrDecay: -1, weightDecay: 0, eps: 1e-10 }); }
 * catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkAdagradHyperparameters(h: AdagradHyperparameters, where = "adagrad"): void {
  for (const key of ["lr", "lrDecay", "weightDecay", "eps"] as const) {
    if (!Number.isFinite(h[key]) || h[key] < 0) {
      throw new RangeError(`${where}: ${key} must be a finite number ≥ 0, got ${h[key]}`);
    }
  }
}
