/**
 * The activation functions beyond ReLU, tanh and the sigmoid (which are `elementwise.ts` maps),
 * and the special functions behind them (`erf`, `erfinv`), each a {@link ScalarFunction}: one
 * pass forward, one pass backward, parameters as uniforms. Every formula is PyTorch's, and so
 * is every gradient, including at the kinks (LeakyReLU's slope at 0 is the negative slope,
 * Hardtanh's and ReLU6's gradient is 0 at both bounds, Hardswish's is −½ at −3 and 1.5 at 3,
 * ELU's is α at 0), except where PyTorch's float32 formula loses precision that costs nothing
 * to keep: the lower tails of GELU (`½·erfc(−x/√2)` rather than `½·(1 + erf(x/√2))`), of
 * tanh-GELU (`x·σ(2u)` rather than `½x·(1 + tanh u)`) and ELU (`expm1`), and Softplus beyond
 * an overflowing threshold.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { expm1, log1p, tanh } from "./elementwise.ts";
import { ERF, ERFC, ERFINV } from "./_erf.ts";
import { f32Literal, IS_NAN } from "./_program.ts";
import { mapScalarFunction, mapScalarFunctionGrad, type ScalarFunction } from "./_scalar_map.ts";

export type { ScalarFunction } from "./_scalar_map.ts";

/** The activation functions (and special functions) of {@link activation}. */
export type ActivationFn =
  | "leakyRelu"
  | "elu"
  | "logSigmoid"
  | "softsign"
  | "tanhshrink"
  | "hardshrink"
  | "softshrink"
  | "threshold"
  | "gelu"
  | "geluTanh"
  | "silu"
  | "mish"
  | "softplus"
  | "hardtanh"
  | "hardsigmoid"
  | "hardswish"
  | "erf"
  | "erfinv";

/** WGSL of `log1pOf`, `sigmoidOf`, `softplusOf` (`log(1 + eˣ)`, stable), `tanhOf`, `expm1Of`. */
export const SMOOTH: readonly string[] = [`
fn log1pOf(v: f32) -> f32 {
  return ${log1p("v", "", "f32")};
}
fn sigmoidOf(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}
fn softplusOf(v: f32) -> f32 {
  return max(v, 0.0) + log1pOf(exp(-abs(v)));
}
fn tanhOf(v: f32) -> f32 {
  return ${tanh("v", "", "f32")};
}
fn expm1Of(v: f32) -> f32 {
  return ${expm1("v", "", "f32")};
}`];

/** 1/√2, √(2/π), 1/√(2π), 2/√π, √π/2. */
const [SQRT1_2, SQRT_2_PI, INV_SQRT_2PI, TWO_OVER_SQRT_PI, SQRT_PI_2] = [
  Math.SQRT1_2,
  Math.sqrt(2 / Math.PI),
  1 / Math.sqrt(2 * Math.PI),
  2 / Math.sqrt(Math.PI),
  Math.sqrt(Math.PI) / 2,
].map(f32Literal);

/** GELU's tanh form: `u = √(2/π)·(x + 0.044715·x³)`, and `½(1 + tanh u) = σ(2u)`. */
const GELU_TANH_GATE = `
  let u = ${SQRT_2_PI} * (x + 0.044715 * x * x * x);
  let s = sigmoidOf(2.0 * u);`;

/** An activation of `x` with parameters `params`, its value and gradient bodies. */
function fn(
  name: ActivationFn,
  params: readonly string[],
  helpers: readonly string[],
  value: string,
  grad: string,
): ScalarFunction {
  return { name, inputs: ["x"], params, helpers, value, grads: [grad] };
}

/** Every activation, by name. */
export const ACTIVATION_FUNCTIONS: { readonly [K in ActivationFn]: ScalarFunction } = {
  // PyTorch: x > 0 ? x : x·slope, and the gradient likewise (the slope at 0).
  leakyRelu: fn(
    "leakyRelu",
    ["slope"],
    [],
    "return select(x * slope, x, x > 0.0);",
    "return select(g * slope, g, x > 0.0);",
  ),
  // PyTorch's ELU kernel, which SELU and CELU share: x > 0 ? scale·x : α·scale·(e^{x·s} − 1)
  // (s the input scale); the gradient α·scale·s·e^{x·s} for x ≤ 0 (so α·scale·s at 0).
  elu: fn(
    "elu",
    ["alpha", "scale", "inputScale"],
    SMOOTH,
    "return select(alpha * scale * expm1Of(x * inputScale), scale * x, x > 0.0);",
    "return select(g * alpha * scale * inputScale * exp(x * inputScale), g * scale, x > 0.0);",
  ),
  // log σ(x) = −log(1 + e⁻ˣ), stable; the gradient σ(−x).
  logSigmoid: fn(
    "logSigmoid",
    [],
    SMOOTH,
    "return -softplusOf(-x);",
    "return g * sigmoidOf(-x);",
  ),
  softsign: fn(
    "softsign",
    [],
    [],
    "return x / (1.0 + abs(x));",
    `let d = 1.0 + abs(x);
  return g / (d * d);`,
  ),
  tanhshrink: fn(
    "tanhshrink",
    [],
    SMOOTH,
    "return x - tanhOf(x);",
    `let t = tanhOf(x);
  return g * t * t;`,
  ),
  // PyTorch: 0 on [−λ, λ] (the bounds included), x elsewhere; the gradient likewise.
  hardshrink: fn(
    "hardshrink",
    ["lambd"],
    [],
    "return select(x, 0.0, x >= -lambd && x <= lambd);",
    "return select(g, 0.0, x >= -lambd && x <= lambd);",
  ),
  // PyTorch: x ∓ λ beyond ±λ, 0 on [−λ, λ] (NaN stays NaN); the gradient 0 there, 1 beyond.
  softshrink: fn(
    "softshrink",
    ["lambd"],
    [],
    "return select(select(x + lambd, x - lambd, x > lambd), 0.0, x >= -lambd && x <= lambd);",
    "return select(g, 0.0, x >= -lambd && x <= lambd);",
  ),
  // PyTorch: x ≤ threshold ? value : x (so NaN stays NaN); the gradient 0 where replaced.
  threshold: fn(
    "threshold",
    ["threshold", "value"],
    [],
    "return select(x, value, x <= threshold);",
    "return select(g, 0.0, x <= threshold);",
  ),
  gelu: fn(
    "gelu",
    [],
    ERFC,
    `return x * 0.5 * erfcOf(-x * ${SQRT1_2});`,
    `let cdf = 0.5 * erfcOf(-x * ${SQRT1_2});
  return g * (cdf + x * ${INV_SQRT_2PI} * exp(-0.5 * x * x));`,
  ),
  geluTanh: fn(
    "geluTanh",
    [],
    SMOOTH,
    `${GELU_TANH_GATE}
  return x * s;`,
    // PyTorch's ½(1 + tanh u) + ½x·(1 − tanh² u)·u′, with 1 − tanh² u = 4s(1 − s).
    `${GELU_TANH_GATE}
  let slope = ${SQRT_2_PI} * (1.0 + 3.0 * 0.044715 * x * x);
  return g * (s + 2.0 * x * s * (1.0 - s) * slope);`,
  ),
  silu: fn(
    "silu",
    [],
    SMOOTH,
    "return x * sigmoidOf(x);",
    `let s = sigmoidOf(x);
  return g * s * (1.0 + x * (1.0 - s));`,
  ),
  mish: fn(
    "mish",
    [],
    SMOOTH,
    "return x * tanhOf(softplusOf(x));",
    `let s = sigmoidOf(x);
  let t = tanhOf(softplusOf(x));
  return g * (t + x * s * (1.0 - t * t));`,
  ),
  // PyTorch: x·β > threshold ? x : log(1 + e^{xβ})/β; the gradient σ(xβ) below the threshold.
  softplus: fn(
    "softplus",
    ["beta", "threshold"],
    SMOOTH,
    `let z = x * beta;
  return select(softplusOf(z) / beta, x, z > threshold);`,
    `let z = x * beta;
  return select(g * sigmoidOf(z), g, z > threshold);`,
  ),
  // PyTorch: clamp(x, low, high) (NaN kept); the gradient 0 at and beyond both bounds.
  hardtanh: fn(
    "hardtanh",
    ["low", "high"],
    [IS_NAN],
    "return select(min(max(x, low), high), x, isNan(x));",
    "return select(g, 0.0, x <= low || x >= high);",
  ),
  // PyTorch: clamp(x + 3, 0, 6)/6; the gradient 1/6 strictly inside (−3, 3), else 0.
  hardsigmoid: fn(
    "hardsigmoid",
    [],
    [IS_NAN],
    "return select(min(max(x + 3.0, 0.0), 6.0) / 6.0, x, isNan(x));",
    "return select(0.0, g / 6.0, x > -3.0 && x < 3.0);",
  ),
  // PyTorch: x·clamp(x + 3, 0, 6)/6; the gradient 0 below −3, x/3 + ½ on [−3, 3], 1 above.
  hardswish: fn(
    "hardswish",
    [],
    [],
    "return x * min(max(x + 3.0, 0.0), 6.0) / 6.0;",
    `if (x < -3.0) { return 0.0; }
  if (x <= 3.0) { return g * (x / 3.0 + 0.5); }
  return g;`,
  ),
  erf: fn(
    "erf",
    [],
    ERF,
    "return erfOf(x);",
    `return g * ${TWO_OVER_SQRT_PI} * exp(-x * x);`,
  ),
  erfinv: fn(
    "erfinv",
    [],
    ERFINV,
    "return erfinvOf(x);",
    `let y = erfinvOf(x);
  return g * ${SQRT_PI_2} * exp(y * y);`,
  ),
};

/**
 * `out = fn(x)` over `n` contiguous f32 elements, `params` in the order of the function's
 * `params` (`leakyRelu`: slope; `elu`: α, scale, input scale; `softplus`: β, threshold;
 * `hardtanh`: low, high; `hardshrink`, `softshrink`: λ; `threshold`: threshold, value).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { activation } from "./activation.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(16), out = device.alloc(16);
 * device.write(x, new Float32Array([-2, 0, 1, 3]));
 * activation(device, "leakyRelu", x, out, 4, [0.1]);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [-0.2, 0, 1, 3]
 * ```
 */
export function activation(
  device: Device,
  fn: ActivationFn,
  x: GpuBuffer,
  out: GpuBuffer,
  n: number,
  params: readonly number[] = [],
): void {
  mapScalarFunction(device, ACTIVATION_FUNCTIONS[fn], [x], out, n, params);
}

/**
 * The gradient of {@link activation}: `out = grad · fn′(x)`, PyTorch's at the kinks.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { activationGrad } from "./activation.ts";
 * const device = await Device.acquire();
 * const g = device.alloc(16), x = device.alloc(16), out = device.alloc(16);
 * device.write(g, new Float32Array([1, 1, 1, 1]));
 * device.write(x, new Float32Array([-1, 0, 0.5, 1]));
 * activationGrad(device, "hardtanh", g, x, out, 4, [0, 1]);
 * console.log(new Float32Array(await device.read(out, 0, 16))); // [0, 0, 1, 0]
 * ```
 */
export function activationGrad(
  device: Device,
  fn: ActivationFn,
  grad: GpuBuffer,
  x: GpuBuffer,
  out: GpuBuffer,
  n: number,
  params: readonly number[] = [],
): void {
  mapScalarFunctionGrad(device, ACTIVATION_FUNCTIONS[fn], 0, grad, [x], out, n, params);
}
