/**
 * The elementwise terms of the losses, each a {@link ScalarFunction} of the input `x` and the
 * target `t`: one pass forward, one pass per gradient wanted, parameters as uniforms. The
 * formulas and gradients are PyTorch's (`mse_loss`, `l1_loss`, `smooth_l1_loss`, `huber_loss`,
 * `binary_cross_entropy` with its logarithms clamped at −100 and its gradient's denominator at
 * 1e-12, `binary_cross_entropy_with_logits` in its stable form, `kl_div`); the reduction is
 * the caller's.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { SMOOTH } from "./activation.ts";
import { IS_NAN } from "./_program.ts";
import { mapScalarFunction, mapScalarFunctionGrad, type ScalarFunction } from "./_scalar_map.ts";

/** The loss terms of {@link lossTerm}. */
export type LossTerm =
  | "squaredError"
  | "absoluteError"
  | "smoothL1"
  | "huber"
  | "binaryCrossEntropy"
  | "binaryCrossEntropyWithLogits"
  | "klDiv"
  | "klDivLogTarget"
  | "softMargin"
  | "poissonLogInput"
  | "poisson"
  | "hingeEmbedding"
  | "marginRanking"
  | "gaussianNll";

/**
 * A term of `x` and `t` that is a function of `d = x − t` (so its gradient with respect to
 * `t` is minus that with respect to `x`), from WGSL expressions in `d`: its value and its
 * gradient with respect to `x`.
 */
function ofDifference(
  name: LossTerm,
  params: readonly string[],
  value: string,
  dx: string,
): ScalarFunction {
  const d = "let d = x - t;\n  return";
  return {
    name,
    inputs: ["x", "t"],
    params,
    value: `${d} ${value};`,
    grads: [`${d} ${dx};`, `${d} -(${dx});`],
  };
}

/** The WGSL of the clamped logarithms of binary cross-entropy: log x and log(1 − x), ≥ −100. */
const CLAMPED_LOGS = `let logX = max(log(x), -100.0);
  let logOneMinusX = max(log1pOf(-x), -100.0);`;

/** Every loss term, by name. */
export const LOSS_TERMS: { readonly [K in LossTerm]: ScalarFunction } = {
  squaredError: ofDifference("squaredError", [], "d * d", "g * 2.0 * d"),
  // The gradient sign(d): 0 where x = t, as PyTorch.
  absoluteError: ofDifference("absoluteError", [], "abs(d)", "g * sign(d)"),
  smoothL1: ofDifference(
    "smoothL1",
    ["beta"],
    "select(abs(d) - 0.5 * beta, 0.5 * d * d / beta, abs(d) < beta)",
    "select(select(g * d / beta, g, d > beta), -g, d < -beta)",
  ),
  huber: ofDifference(
    "huber",
    ["delta"],
    "select(delta * (abs(d) - 0.5 * delta), 0.5 * d * d, abs(d) < delta)",
    "select(select(g * d, g * delta, d > delta), -g * delta, d < -delta)",
  ),
  // An input outside [0, 1] gives NaN and PyTorch's error, as a device-side fault. A NaN
  // input gives a NaN loss without one (PyTorch raises there too): a step guard skips it.
  binaryCrossEntropy: {
    name: "binaryCrossEntropy",
    inputs: ["x", "t"],
    params: [],
    helpers: [...SMOOTH, IS_NAN],
    domain: {
      test: "(x >= 0.0 && x <= 1.0) || isNan(x)",
      input: 0,
      message: (at, x) =>
        `binaryCrossEntropy: input ${x} at position ${at} is outside [0, 1] (all elements of ` +
        "input should be between 0 and 1: pass probabilities, or logits to " +
        "binaryCrossEntropyWithLogits)",
    },
    value: `${CLAMPED_LOGS}
  let loss = (t - 1.0) * logOneMinusX - t * logX;
  return select(bitcast<f32>(0x7fc00000u), loss, x >= 0.0 && x <= 1.0);`,
    grads: [
      "return g * (x - t) / max((1.0 - x) * x, 1e-12);",
      `${CLAMPED_LOGS}
  return g * (logOneMinusX - logX);`,
    ],
  },
  // The Gaussian negative log-likelihood's term of x = input − target and the variance t:
  // ½·(log v + x²/v) with v = max(t, ε), the gradients as though unclamped (PyTorch clamps a
  // clone in place under no_grad). A negative variance is PyTorch's error, a device fault here.
  gaussianNll: {
    name: "gaussianNll",
    inputs: ["x", "t"],
    params: ["eps"],
    helpers: [IS_NAN],
    domain: {
      test: "t >= 0.0 || isNan(t)",
      input: 1,
      message: (at, t) =>
        `gaussianNllLoss: variance ${t} at position ${at} (of the broadcast terms) is negative ` +
        "(var has negative entry/entries)",
    },
    value: `let v = select(max(t, eps), t, isNan(t));
  return 0.5 * (log(v) + x * x / v);`,
    grads: [
      `let v = select(max(t, eps), t, isNan(t));
  return g * x / v;`,
      `let v = select(max(t, eps), t, isNan(t));
  return g * 0.5 * (1.0 / v - x * x / (v * v));`,
    ],
  },
  // (1 − t)·x + log(1 + e⁻ˣ), never overflowing; the gradient σ(x) − t.
  binaryCrossEntropyWithLogits: {
    name: "binaryCrossEntropyWithLogits",
    inputs: ["x", "t"],
    params: [],
    helpers: SMOOTH,
    value: "return (1.0 - t) * x + softplusOf(-x);",
    grads: ["return g * (sigmoidOf(x) - t);", "return -g * x;"],
  },
  // t·(log t − x), 0 where t = 0 (PyTorch's xlogy), x a log-probability.
  klDiv: {
    name: "klDiv",
    inputs: ["x", "t"],
    params: [],
    value: "return select(t * (log(t) - x), -t * x, t == 0.0);",
    grads: [
      "return -g * t;",
      "return select(g * (log(t) + 1.0 - x), 0.0, t == 0.0);",
    ],
  },
  // eᵗ·(t − x): the target given as a log-probability too.
  klDivLogTarget: {
    name: "klDivLogTarget",
    inputs: ["x", "t"],
    params: [],
    value: "return exp(t) * (t - x);",
    grads: ["return -g * exp(t);", "return g * exp(t) * (t + 1.0 - x);"],
  },
  // log(1 + e^{−t·x}), stable; the gradients −t·σ(−t·x) and −x·σ(−t·x).
  softMargin: {
    name: "softMargin",
    inputs: ["x", "t"],
    params: [],
    helpers: SMOOTH,
    value: "return softplusOf(-t * x);",
    grads: ["return -g * t * sigmoidOf(-t * x);", "return -g * x * sigmoidOf(-t * x);"],
  },
  // The Poisson negative log-likelihood of a log-rate x: eˣ − t·x.
  poissonLogInput: {
    name: "poissonLogInput",
    inputs: ["x", "t"],
    params: [],
    value: "return exp(x) - t * x;",
    grads: ["return g * (exp(x) - t);", "return -g * x;"],
  },
  // Of a rate x: x − t·log(x + ε).
  poisson: {
    name: "poisson",
    inputs: ["x", "t"],
    params: ["eps"],
    value: "return x - t * log(x + eps);",
    grads: ["return g * (1.0 - t / (x + eps));", "return -g * log(x + eps);"],
  },
  // PyTorch's: max(0, margin − x) where t ≠ 1, plus x where t ≠ −1 (the target gets none).
  hingeEmbedding: {
    name: "hingeEmbedding",
    inputs: ["x", "t"],
    params: ["margin"],
    helpers: [IS_NAN],
    value: `let m = margin - x;
  let clamped = select(max(m, 0.0), m, isNan(m));
  return select(0.0, clamped, t != 1.0) + select(0.0, x, t != -1.0);`,
    grads: [
      "return g * (select(0.0, select(0.0, -1.0, margin - x >= 0.0), t != 1.0) + select(0.0, 1.0, t != -1.0));",
      "return 0.0 * g;",
    ],
  },
  // max(0, −t·x + margin), x the difference of the two inputs ranked.
  marginRanking: {
    name: "marginRanking",
    inputs: ["x", "t"],
    params: ["margin"],
    helpers: [IS_NAN],
    value: `let v = -t * x + margin;
  return select(max(v, 0.0), v, isNan(v));`,
    grads: [
      "return select(0.0, -t * g, -t * x + margin >= 0.0);",
      "return select(0.0, -x * g, -t * x + margin >= 0.0);",
    ],
  },
};

/**
 * `out = term(x, t)` over `n` contiguous f32 elements of each; `params` is `[β]` for
 * `smoothL1`, `[δ]` for `huber`, `[ε]` for `poisson` and `gaussianNll`, `[margin]` for
 * `hingeEmbedding` and `marginRanking`, empty for the rest.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { lossTerm } from "./loss_terms.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(16), t = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([0, 1, 2, 5]));
 * device.write(t, new Float32Array([0, 0, 0, 0]));
 * lossTerm(device, "huber", x, t, out, 4, [1]);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [0, 0.5, 1.5, 4.5]
 * ```
 */
export function lossTerm(
  device: Device,
  term: LossTerm,
  x: GpuBuffer,
  t: GpuBuffer,
  out: GpuBuffer,
  n: number,
  params: readonly number[] = [],
): void {
  mapScalarFunction(device, LOSS_TERMS[term], [x, t], out, n, params);
}

/**
 * The gradient of {@link lossTerm} with respect to `x` (`wrt` 0) or `t` (1), from the term's
 * gradient `grad`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { lossTermGrad } from "./loss_terms.ts";
 * const device = await Device.acquire();
 * const [g, x, t, out] = [0, 1, 2, 3].map(() => device.alloc(16));
 * device.write(g, new Float32Array([1, 1, 1, 1]));
 * device.write(x, new Float32Array([0, 1, 2, 5]));
 * device.write(t, new Float32Array([0, 0, 0, 0]));
 * lossTermGrad(device, "squaredError", 0, g, x, t, out, 4);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [0, 2, 4, 10]
 * ```
 */
export function lossTermGrad(
  device: Device,
  term: LossTerm,
  wrt: 0 | 1,
  grad: GpuBuffer,
  x: GpuBuffer,
  t: GpuBuffer,
  out: GpuBuffer,
  n: number,
  params: readonly number[] = [],
): void {
  mapScalarFunctionGrad(device, LOSS_TERMS[term], wrt, grad, [x, t], out, n, params);
}
