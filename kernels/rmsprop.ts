/**
 * RMSprop's element-wise rule (Hinton's lecture 6e; `torch.optim.RMSprop`), for the
 * multi-tensor kernel of `_foreach_update.ts`. Per element, in f32, λ the weight decay:
 *
 * ```
 * g ← g + λ·w                               (λ ≠ 0)
 * v ← α·v + (1 − α)·g·g                     (square_avg)
 * ḡ ← lerp(ḡ, g, 1 − α); d = √(v − ḡ²) + eps (centered; grad_avg)
 * d = √v + eps                              (otherwise)
 * b ← μ·b + g/d; w ← w − ε·b                (μ > 0; momentum_buffer)
 * w ← w − ε·g/d                             (otherwise)
 * ```
 *
 * @module
 */

import type { ForeachRule } from "./_foreach_update.ts";

/** The constants of one parameter group's RMSprop update. */
export interface RmspropHyperparameters {
  /** Learning rate ε. */
  lr: number;
  /** Smoothing constant α of the squares' average. */
  alpha: number;
  /** Added to the denominator. */
  eps: number;
  /** Weight decay λ (L2, added to the gradient). */
  weightDecay: number;
  /** Momentum μ; 0 keeps no momentum buffer. */
  momentum: number;
  /** Whether the denominator uses the variance (the average gradient subtracted). */
  centered: boolean;
}

/** Variant bits: a momentum buffer; a gradient average (centered). */
const MOMENTUM = 1, CENTERED = 2;

/**
 * The state buffers of a group with these constants, in the kernel's order, by PyTorch's names.
 *
 * @example
 * ```ts
 * import { rmspropStateNames } from "./rmsprop.ts";
 * const h = { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0.9, centered: true };
 * console.log(rmspropStateNames(h)); // ["square_avg", "grad_avg", "momentum_buffer"]
 * ```
 */
export function rmspropStateNames(h: RmspropHyperparameters): readonly string[] {
  return RMSPROP_RULE.stateNames(rmspropVariant(h));
}

/** The kernel's variant for a group's constants. */
export function rmspropVariant(h: RmspropHyperparameters): number {
  return (h.momentum > 0 ? MOMENTUM : 0) | (h.centered ? CENTERED : 0);
}

/** The kernel's constants: c0 = (ε, α, 1 − α, eps), c1 = (λ, μ, 0, 0). */
export function rmspropConstants(h: RmspropHyperparameters): number[] {
  return [h.lr, h.alpha, 1 - h.alpha, h.eps, h.weightDecay, h.momentum, 0, 0];
}

/** RMSprop as a rule of the multi-tensor kernel. */
export const RMSPROP_RULE: ForeachRule = {
  name: "rmsprop",
  stateNames(variant: number): readonly string[] {
    return [
      "square_avg",
      ...(variant & CENTERED ? ["grad_avg"] : []),
      ...(variant & MOMENTUM ? ["momentum_buffer"] : []),
    ];
  },
  wgsl(variant: number): string {
    const centered = (variant & CENTERED) !== 0;
    const momentum = (variant & MOMENTUM) !== 0;
    const last = centered ? 2 : 1;
    const out = ["v", ...(centered ? ["m"] : []), ...(momentum ? ["b"] : [])];
    return `  // torch adds the decay only when λ ≠ 0 (0·∞ would be NaN).
  let gd = select(g, g + c1.x * w, c1.x != 0.0);
  let v = c0.y * s[0] + c0.z * gd * gd;
${
      centered
        ? `  // torch.lerp(ḡ, g, 1 − α), in its two forms by the weight.
  let m = select(gd - (gd - s[1]) * (1.0 - c0.z), s[1] + c0.z * (gd - s[1]), c0.z < 0.5);
  let d = sqrt(v - m * m) + c0.w;`
        : "  let d = sqrt(v) + c0.w;"
    }
${
      momentum
        ? `  let b = c1.y * s[${last}] + gd / d;
  return Update(w - c0.x * b, array<vec4f, ${out.length}>(${out.join(", ")}));`
        : `  return Update(w - c0.x * (gd / d), array<vec4f, ${out.length}>(${out.join(", ")}));`
    }`;
  },
};

/**
 * Throws a one-line error for constants PyTorch rejects (each finite and ≥ 0).
 *
 * @example
 * ```ts
 * import { checkRmspropHyperparameters } from "./rmsprop.ts";
 * const h = { lr: 0.01, alpha: -1, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false };
 * try { checkRmspropHyperparameters(h); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkRmspropHyperparameters(h: RmspropHyperparameters, where = "rmsprop"): void {
  for (const key of ["lr", "alpha", "eps", "weightDecay", "momentum"] as const) {
    if (!Number.isFinite(h[key]) || h[key] < 0) {
      throw new RangeError(`${where}: ${key} must be a finite number ≥ 0, got ${h[key]}`);
    }
  }
  if (typeof h.centered !== "boolean") {
    throw new TypeError(`${where}: centered must be true or false`);
  }
}
