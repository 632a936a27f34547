/**
 * Activation functions as tensor ops, PyTorch's `torch.nn.functional` ones with its defaults,
 * values and gradients (at the kinks too), and the error function and its inverse. Each is
 * one kernel pass forward and one backward (`kernels/activation.ts`), its parameters uniforms.
 *
 * @module
 */

import { sameDevice } from "./_core.ts";
import type { ActivationFn } from "./_primitives_maps.ts";
import { tidy } from "./memory.ts";
import { describeValue, normalizeAxes, type Shape, ShapeError } from "./shape.ts";
import { apply, selected, Tensor, tensorArgument } from "./tensor.ts";

/** `fn(x)` with `params`, recorded for autograd. */
function activate<S extends Shape>(
  x: Tensor<S, "f32">,
  fn: ActivationFn,
  params: readonly number[] = [],
): Tensor<S, "f32"> {
  return apply("activation", [x], { fn, params }) as Tensor<Shape, "f32"> as Tensor<S, "f32">;
}

/** Throws a one-line RangeError unless `value` is a finite number. */
function requireFinite(op: string, name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    // A positional parameter given as PyTorch's keyword ({ negativeSlope: 0.1 }) is named too.
    if (typeof value !== "number") {
      throw new TypeError(
        `${op}: ${name} must be a finite number, given positionally, got ${describeValue(value)}`,
      );
    }
    throw new RangeError(`${op}: ${name} must be a finite number, got ${value}`);
  }
}

/**
 * `max(x, 0)` (`torch.relu`); the gradient is 0 at 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, relu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await relu(tensor([-1, 0, 2])).toArray()); // [0, 0, 2]
 * ```
 */
export function relu<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("relu", x).relu();
}

/**
 * The logistic sigmoid `1 / (1 + e⁻ˣ)` (`torch.sigmoid`).
 *
 * @example
 * ```ts
 * import { defaultDevice, sigmoid, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await sigmoid(tensor([0])).toArray()); // [0.5]
 * ```
 */
export function sigmoid<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("sigmoid", x).sigmoid();
}

/**
 * The hyperbolic tangent (`torch.tanh`).
 *
 * @example
 * ```ts
 * import { defaultDevice, tanh, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await tanh(tensor([0])).toArray()); // [0]
 * ```
 */
export function tanh<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("tanh", x).tanh();
}

/**
 * `x` where `x > 0`, else `negativeSlope·x` (`F.leaky_relu`, default slope 0.01). The gradient
 * at 0 is `negativeSlope`, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, leakyRelu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await leakyRelu(tensor([-10, 0, 3]), 0.1).toArray()); // [-1, 0, 3]
 * ```
 */
export function leakyRelu<S extends Shape>(
  x: Tensor<S, "f32">,
  negativeSlope = 0.01,
): Tensor<S, "f32"> {
  tensorArgument("leakyRelu", x);
  requireFinite("leakyRelu", "negativeSlope", negativeSlope);
  return activate(x, "leakyRelu", [negativeSlope]);
}

/**
 * `x` where `x > 0`, else `α·(eˣ − 1)` (`F.elu`, default α = 1), computed with `expm1` so that
 * small negative inputs keep their precision. The gradient at 0 is α, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, elu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await elu(tensor([-1, 2])).toArray()); // [-0.6321…, 2]
 * ```
 */
export function elu<S extends Shape>(x: Tensor<S, "f32">, alpha = 1): Tensor<S, "f32"> {
  tensorArgument("elu", x);
  requireFinite("elu", "alpha", alpha);
  return activate(x, "elu", [alpha, 1, 1]);
}

/** SELU's α and scale (Klambauer et al. 2017), as PyTorch's constants. */
const [SELU_ALPHA, SELU_SCALE] = [1.6732632423543772, 1.0507009873554805];

/**
 * The scaled exponential linear unit (`F.selu`): `scale·x` for `x > 0`, else
 * `scale·α·(eˣ − 1)`, with PyTorch's α ≈ 1.6733 and scale ≈ 1.0507.
 *
 * @example
 * ```ts
 * import { defaultDevice, selu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await selu(tensor([-1, 1])).toArray()); // [-1.1113…, 1.0507…]
 * ```
 */
export function selu<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("selu", x);
  return activate(x, "elu", [SELU_ALPHA, SELU_SCALE, 1]);
}

/**
 * The continuously differentiable ELU (`F.celu`): `x` for `x > 0`, else `α·(e^{x/α} − 1)`
 * (default α = 1); the gradient at 0 is 1.
 *
 * @example
 * ```ts
 * import { celu, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await celu(tensor([-1, 1]), 2).toArray()); // [-0.7869…, 1]
 * ```
 */
export function celu<S extends Shape>(x: Tensor<S, "f32">, alpha = 1): Tensor<S, "f32"> {
  tensorArgument("celu", x);
  requireFinite("celu", "alpha", alpha);
  if (alpha === 0) throw new RangeError("celu: alpha must not be 0");
  return activate(x, "elu", [alpha, 1, 1 / alpha]);
}

/**
 * `log σ(x) = −log(1 + e⁻ˣ)` (`F.logsigmoid`), stable for any `x`.
 *
 * @example
 * ```ts
 * import { defaultDevice, logSigmoid, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await logSigmoid(tensor([0, -100])).toArray()); // [-0.6931…, -100]
 * ```
 */
export function logSigmoid<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("logSigmoid", x);
  return activate(x, "logSigmoid");
}

/**
 * `x / (1 + |x|)` (`F.softsign`).
 *
 * @example
 * ```ts
 * import { defaultDevice, softsign, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await softsign(tensor([-3, 1])).toArray()); // [-0.75, 0.5]
 * ```
 */
export function softsign<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("softsign", x);
  return activate(x, "softsign");
}

/**
 * `x − tanh(x)` (`F.tanhshrink`).
 *
 * @example
 * ```ts
 * import { defaultDevice, tanhshrink, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await tanhshrink(tensor([0, 1])).toArray()); // [0, 0.2384…]
 * ```
 */
export function tanhshrink<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("tanhshrink", x);
  return activate(x, "tanhshrink");
}

/** Throws unless `lambd` is a finite number ≥ 0 (PyTorch's requirement of the shrinks). */
function requireLambd(op: string, lambd: number): void {
  requireFinite(op, "lambd", lambd);
  if (lambd < 0) throw new RangeError(`${op}: lambd must be ≥ 0, got ${lambd}`);
}

/**
 * 0 on `[−λ, λ]`, `x` elsewhere (`F.hardshrink`, default λ = 0.5).
 *
 * @example
 * ```ts
 * import { defaultDevice, hardshrink, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await hardshrink(tensor([-1, 0.3, 0.7])).toArray()); // [-1, 0, 0.7…]
 * ```
 */
export function hardshrink<S extends Shape>(x: Tensor<S, "f32">, lambd = 0.5): Tensor<S, "f32"> {
  tensorArgument("hardshrink", x);
  requireLambd("hardshrink", lambd);
  return activate(x, "hardshrink", [lambd]);
}

/**
 * `x − λ` above λ, `x + λ` below −λ, 0 between (`F.softshrink`, default λ = 0.5).
 *
 * @example
 * ```ts
 * import { defaultDevice, softshrink, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await softshrink(tensor([-1, 0.3, 2])).toArray()); // [-0.5, 0, 1.5]
 * ```
 */
export function softshrink<S extends Shape>(x: Tensor<S, "f32">, lambd = 0.5): Tensor<S, "f32"> {
  tensorArgument("softshrink", x);
  requireLambd("softshrink", lambd);
  return activate(x, "softshrink", [lambd]);
}

/**
 * `x` where `x > threshold`, else `value` (`F.threshold`); the gradient is 0 where replaced.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, threshold } from "../mod.ts";
 * await defaultDevice();
 * console.log(await threshold(tensor([-1, 0.5, 2]), 1, -9).toArray()); // [-9, -9, 2]
 * ```
 */
export function threshold<S extends Shape>(
  x: Tensor<S, "f32">,
  threshold: number,
  value: number,
): Tensor<S, "f32"> {
  tensorArgument("threshold", x);
  requireFinite("threshold", "threshold", threshold);
  if (typeof value !== "number") throw new TypeError("threshold: value must be a number");
  return activate(x, "threshold", [threshold, value]);
}

/** The forms of {@link gelu}: the exact `x·Φ(x)`, or its tanh approximation. */
export type GeluApproximate = "none" | "tanh";

/**
 * The Gaussian error linear unit (`F.gelu`): `x·Φ(x)` with the standard normal CDF `Φ`
 * (`approximate` `"none"`, the default), or `½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`
 * (`"tanh"`). The lower tail is computed without cancelling (`Φ(x) = ½·erfc(−x/√2)`), so
 * `gelu(−10)` is −7.6e-23 where `1 + erf` would give 0.
 *
 * @example
 * ```ts
 * import { defaultDevice, gelu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await gelu(tensor([-1, 0, 1])).toArray()); // [-0.1586…, 0, 0.8413…]
 * console.log(await gelu(tensor([1]), "tanh").toArray()); // [0.8411…]
 * ```
 */
export function gelu<S extends Shape>(
  x: Tensor<S, "f32">,
  approximate: GeluApproximate = "none",
): Tensor<S, "f32"> {
  tensorArgument("gelu", x);
  if (approximate !== "none" && approximate !== "tanh") {
    throw new TypeError(
      `gelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}`,
    );
  }
  return activate(x, approximate === "none" ? "gelu" : "geluTanh");
}

/**
 * The sigmoid-weighted linear unit `x·σ(x)`, also called swish (`F.silu`).
 *
 * @example
 * ```ts
 * import { defaultDevice, silu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await silu(tensor([0, 1])).toArray()); // [0, 0.7310…]
 * ```
 */
export function silu<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("silu", x);
  return activate(x, "silu");
}

/**
 * `x·tanh(softplus(x))` (`F.mish`).
 *
 * @example
 * ```ts
 * import { defaultDevice, mish, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await mish(tensor([0, 1])).toArray()); // [0, 0.8650…]
 * ```
 */
export function mish<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("mish", x);
  return activate(x, "mish");
}

/**
 * `log(1 + e^{βx})/β`, and `x` itself where `βx > threshold` (`F.softplus`, defaults β = 1,
 * threshold 20). Stable for any threshold: `βx` never overflows an exponential.
 *
 * @example
 * ```ts
 * import { defaultDevice, softplus, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await softplus(tensor([0, 30])).toArray()); // [0.6931…, 30]
 * ```
 */
export function softplus<S extends Shape>(
  x: Tensor<S, "f32">,
  beta = 1,
  threshold = 20,
): Tensor<S, "f32"> {
  tensorArgument("softplus", x);
  requireFinite("softplus", "beta", beta);
  if (beta === 0) throw new RangeError("softplus: beta must not be 0");
  if (typeof threshold !== "number" || Number.isNaN(threshold)) {
    throw new RangeError(`softplus: threshold must be a number, got ${threshold}`);
  }
  return activate(x, "softplus", [beta, threshold]);
}

/**
 * `x` clamped to `[minVal, maxVal]` (`F.hardtanh`, defaults −1 and 1); NaN stays NaN. Unlike
 * `clamp`'s, the gradient is 0 at the bounds too, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, hardtanh, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await hardtanh(tensor([-3, 0.5, 3])).toArray()); // [-1, 0.5, 1]
 * ```
 */
export function hardtanh<S extends Shape>(
  x: Tensor<S, "f32">,
  minVal = -1,
  maxVal = 1,
): Tensor<S, "f32"> {
  tensorArgument("hardtanh", x);
  requireFinite("hardtanh", "minVal", minVal);
  requireFinite("hardtanh", "maxVal", maxVal);
  if (minVal > maxVal) {
    throw new RangeError(`hardtanh: minVal (${minVal}) must not exceed maxVal (${maxVal})`);
  }
  return activate(x, "hardtanh", [minVal, maxVal]);
}

/**
 * `min(max(x, 0), 6)` (`F.relu6`, which is `hardtanh(x, 0, 6)`): the gradient is 0 at 0 and 6.
 *
 * @example
 * ```ts
 * import { defaultDevice, relu6, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await relu6(tensor([-1, 3, 9])).toArray()); // [0, 3, 6]
 * ```
 */
export function relu6<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("relu6", x);
  return activate(x, "hardtanh", [0, 6]);
}

/**
 * `clamp(x + 3, 0, 6) / 6` (`F.hardsigmoid`); the gradient is 1/6 strictly inside (−3, 3).
 *
 * @example
 * ```ts
 * import { defaultDevice, hardsigmoid, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await hardsigmoid(tensor([-4, 0, 1.5])).toArray()); // [0, 0.5, 0.75]
 * ```
 */
export function hardsigmoid<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("hardsigmoid", x);
  return activate(x, "hardsigmoid");
}

/**
 * `x·clamp(x + 3, 0, 6) / 6` (`F.hardswish`); the gradient is PyTorch's: 0 below −3, `x/3 + ½`
 * on [−3, 3] (so −½ at −3), 1 above.
 *
 * @example
 * ```ts
 * import { defaultDevice, hardswish, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await hardswish(tensor([-4, 1, 4])).toArray()); // [-0, 0.6666…, 4]
 * ```
 */
export function hardswish<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  tensorArgument("hardswish", x);
  return activate(x, "hardswish");
}

/**
 * The error function (`torch.erf`), within about an ulp of f32 over its whole range (see
 * `kernels/_erf.ts`); the gradient is `2/√π·e^{−x²}`.
 *
 * @example
 * ```ts
 * import { defaultDevice, erf, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await erf(tensor([0, 0.5, 10])).toArray()); // [0, 0.5204…, 1]
 * ```
 */
export function erf<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("erf", x).erf();
}

/**
 * The inverse error function (`torch.erfinv`) on (−1, 1): ±∞ at ±1, NaN outside [−1, 1]; the
 * gradient is `√π/2·e^{erfinv(x)²}`.
 *
 * @example
 * ```ts
 * import { defaultDevice, erfinv, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await erfinv(tensor([0, 0.5, 1])).toArray()); // [0, 0.4769…, Infinity]
 * ```
 */
export function erfinv<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
  return tensorArgument("erfinv", x).erfinv();
}

/**
 * The parametric ReLU (`F.prelu`): `x` where `x > 0`, else `weight·x`, the learnable `weight`
 * one slope for every channel (`[1]`) or one per channel (`[C]`, along axis 1 of an input of
 * rank ≥ 2). Both `x` and `weight` get gradients (`weight`'s summed over where it applied).
 *
 * @example
 * ```ts
 * import { defaultDevice, prelu, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[-1, 2], [-3, -4]]);
 * console.log(await prelu(x, tensor([0.1, 0.5])).toArray()); // [[-0.1, 2], [-0.3, -2]]
 * ```
 */
export function prelu<S extends Shape>(
  x: Tensor<S, "f32">,
  weight: Tensor<Shape, "f32">,
): Tensor<S, "f32"> {
  tensorArgument("prelu", x);
  if (!(weight instanceof Tensor) || weight.dtype !== "f32" || weight.rank !== 1) {
    throw new TypeError("prelu: weight must be a 1-D f32 tensor ([1] or one per channel)");
  }
  sameDevice("prelu", x, weight);
  const channels = x.rank >= 2 ? x.shape[1] : 1;
  if (weight.size !== 1 && weight.size !== channels) {
    throw new ShapeError(
      `prelu: weight [${weight.shape}] must have 1 element or one per channel (${channels}) of ` +
        `input [${x.shape}]`,
    );
  }
  return tidy(() => {
    // Per channel: [C] as [C, 1, …] broadcasts along axis 1; one slope: a scalar.
    const slope = weight.size === 1
      ? weight.reshape([])
      : weight.reshape([channels, ...new Array<number>(x.rank - 2).fill(1)]);
    return selected(x.gt(0), x, x.mul(slope as Tensor<Shape, "f32">));
  }) as Tensor<S, "f32">;
}

/**
 * The gated linear unit (`F.glu`): `x` split in two halves `a`, `b` along `dim` (default the
 * last), `a·σ(b)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, glu, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await glu(tensor([[1, 2, 0, 100]])).toArray()); // [[0.5, 2]]
 * ```
 */
export function glu(x: Tensor<Shape, "f32">, dim = -1): Tensor<Shape, "f32"> {
  tensorArgument("glu", x);
  const [axis] = normalizeAxes(dim, x.rank, "glu");
  const size = x.shape[axis];
  if (size % 2 !== 0) {
    throw new ShapeError(
      `glu: the halved dimension must be even, but dimension ${axis} of [${x.shape}] is ${size}`,
    );
  }
  return tidy(() => {
    const a = x.slice(axis, 0, size / 2), b = x.slice(axis, size / 2, size);
    return a.mul(b.sigmoid()) as Tensor<Shape, "f32">;
  });
}

/**
 * Softmin along `dim` (`F.softmin`, default the last axis): the softmax of `−x`, so the
 * smallest entries weigh most.
 *
 * @example
 * ```ts
 * import { defaultDevice, softmin, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await softmin(tensor([0, Math.log(3)])).toArray()); // [0.75, 0.25]
 * ```
 */
export function softmin<S extends Shape>(x: Tensor<S, "f32">, dim = -1): Tensor<S, "f32"> {
  tensorArgument("softmin", x);
  return tidy(() => x.neg().softmax(dim)) as Tensor<S, "f32">;
}
