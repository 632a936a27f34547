/**
 * Activation layers: PyTorch's `nn` activations (elementwise, and Softmax/LogSoftmax along an
 * axis) and `Identity`, each a module without parameters that fits `Sequential` and `summary`.
 *
 * @module
 */

import { full } from "../tensor/creation.ts";
import { currentDevice, type Device } from "../tensor/default_device.ts";
import {
  celu,
  elu,
  gelu,
  type GeluApproximate,
  glu,
  hardshrink,
  hardsigmoid,
  hardswish,
  hardtanh,
  leakyRelu,
  logSigmoid,
  mish,
  prelu,
  relu6,
  selu,
  silu,
  softmin,
  softplus,
  softshrink,
  softsign,
  tanhshrink,
  threshold,
} from "../tensor/ops_activation.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module, type Parameter } from "./module.ts";

/**
 * The nonlinearity after a convolution or fully connected layer (their `activation` option,
 * AlexNet's and the command line's switch): the rectifier (the paper's choice, fused into the
 * layer's kernel), the saturating tanh it is compared against (section 3.1, Figure 1) and the
 * sigmoid, or a later unit with its default parameters (GELU exact, SiLU, ELU with α = 1,
 * LeakyReLU with slope 0.01).
 */
export type Activation = "relu" | "tanh" | "sigmoid" | "gelu" | "silu" | "elu" | "leakyRelu";

/** Every {@link Activation}, for validating user input. */
export const ACTIVATIONS: readonly Activation[] = [
  "relu",
  "tanh",
  "sigmoid",
  "gelu",
  "silu",
  "elu",
  "leakyRelu",
];

/**
 * Each {@link Activation} but the ReLU (which the layers fuse into their kernels) as a
 * function, for the layers that apply it after their own kernel.
 */
export const APPLY_ACTIVATION: {
  readonly [K in Exclude<Activation, "relu">]: (x: Tensor<Shape, "f32">) => Tensor<Shape, "f32">;
} = {
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
  gelu: (x) => gelu(x),
  silu: (x) => silu(x),
  elu: (x) => elu(x),
  leakyRelu: (x) => leakyRelu(x),
};

/**
 * A layer without parameters whose output has its input's shape: the base of the activation
 * layers, which gives them `outputShape` (for `Sequential.outputShape` and `summary`).
 *
 * @example
 * ```ts
 * import { ShapePreserving, Sigmoid } from "./activation.ts";
 * const layer: ShapePreserving = new Sigmoid();
 * console.log(layer.outputShape([2, 3])); // [2, 3]
 * ```
 */
export abstract class ShapePreserving extends Module {
  /** Maps the input to an output of the same shape. */
  abstract override forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32">;

  /** The output shape: the input's. */
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
}

/**
 * `max(x, 0)`. (Conv2d and Linear can fuse it into their own kernel with `relu: true`.)
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ReLU } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new ReLU().forward(tensor([-1, 2])).toArray()); // [0, 2]
 * ```
 */
export class ReLU extends ShapePreserving {
  /** Applies the rectifier elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.relu();
  }
}

/**
 * The hyperbolic tangent (the saturating unit the paper compares ReLU against).
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Tanh } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Tanh().forward(tensor([0])).toArray()); // [0]
 * ```
 */
export class Tanh extends ShapePreserving {
  /** Applies tanh elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.tanh();
  }
}

/**
 * The logistic sigmoid `1 / (1 + e⁻ˣ)` (`nn.Sigmoid`).
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Sigmoid } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Sigmoid().forward(tensor([0])).toArray()); // [0.5]
 * ```
 */
export class Sigmoid extends ShapePreserving {
  /** Applies the sigmoid elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.sigmoid();
  }
}

/** The options of {@link LeakyReLU}. */
export interface LeakyReLUConfig {
  /** The slope for negative inputs (default 0.01). */
  negativeSlope?: number;
}

/**
 * `x` where `x > 0`, else `negativeSlope·x` (`nn.LeakyReLU`); see `leakyRelu`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { LeakyReLU } from "./activation.ts";
 * await defaultDevice();
 * const layer = new LeakyReLU({ negativeSlope: 0.2 });
 * console.log(await layer.forward(tensor([-1, 2])).toArray()); // [-0.2, 2]
 * ```
 */
export class LeakyReLU extends ShapePreserving {
  /** The slope for negative inputs. */
  readonly negativeSlope: number;

  /** Creates the layer. */
  constructor(config: LeakyReLUConfig = {}) {
    super();
    this.negativeSlope = config.negativeSlope ?? 0.01;
  }

  /** Applies the leaky rectifier elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return leakyRelu(x, this.negativeSlope);
  }
}

/** The options of {@link ELU}. */
export interface ELUConfig {
  /** The scale of the negative part, `α·(eˣ − 1)` (default 1). */
  alpha?: number;
}

/**
 * The exponential linear unit (`nn.ELU`); see `elu`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ELU } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new ELU({ alpha: 2 }).forward(tensor([-1, 1])).toArray()); // [-1.2642…, 1]
 * ```
 */
export class ELU extends ShapePreserving {
  /** The scale of the negative part. */
  readonly alpha: number;

  /** Creates the layer. */
  constructor(config: ELUConfig = {}) {
    super();
    this.alpha = config.alpha ?? 1;
  }

  /** Applies the ELU elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return elu(x, this.alpha);
  }
}

/** The options of {@link GELU}. */
export interface GELUConfig {
  /** `"none"` (default) for the exact `x·Φ(x)`, `"tanh"` for the tanh approximation. */
  approximate?: GeluApproximate;
}

/**
 * The Gaussian error linear unit (`nn.GELU`); see `gelu`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { GELU } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new GELU().forward(tensor([1])).toArray()); // [0.8413…]
 * console.log(await new GELU({ approximate: "tanh" }).forward(tensor([1])).toArray()); // [0.8411…]
 * ```
 */
export class GELU extends ShapePreserving {
  /** The form: exact or tanh. */
  readonly approximate: GeluApproximate;

  /** Creates the layer. */
  constructor(config: GELUConfig = {}) {
    super();
    this.approximate = config.approximate ?? "none";
  }

  /** Applies GELU elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return gelu(x, this.approximate);
  }
}

/**
 * `x·σ(x)` (`nn.SiLU`, swish); see `silu`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SiLU } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new SiLU().forward(tensor([1])).toArray()); // [0.7310…]
 * ```
 */
export class SiLU extends ShapePreserving {
  /** Applies SiLU elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return silu(x);
  }
}

/**
 * `x·tanh(softplus(x))` (`nn.Mish`); see `mish`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Mish } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Mish().forward(tensor([1])).toArray()); // [0.8650…]
 * ```
 */
export class Mish extends ShapePreserving {
  /** Applies Mish elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return mish(x);
  }
}

/** The options of {@link Softplus}. */
export interface SoftplusConfig {
  /** `β` in `log(1 + e^{βx})/β` (default 1). */
  beta?: number;
  /** Above `βx > threshold` the layer is the identity (default 20). */
  threshold?: number;
}

/**
 * `log(1 + e^{βx})/β` (`nn.Softplus`); see `softplus`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Softplus } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Softplus().forward(tensor([0])).toArray()); // [0.6931…]
 * ```
 */
export class Softplus extends ShapePreserving {
  /** `β`. */
  readonly beta: number;
  /** The threshold of `βx` above which the layer is the identity. */
  readonly threshold: number;

  /** Creates the layer. */
  constructor(config: SoftplusConfig = {}) {
    super();
    this.beta = config.beta ?? 1;
    this.threshold = config.threshold ?? 20;
  }

  /** Applies softplus elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return softplus(x, this.beta, this.threshold);
  }
}

/** The options of {@link Hardtanh}. */
export interface HardtanhConfig {
  /** The lower bound (default −1). */
  minVal?: number;
  /** The upper bound (default 1). */
  maxVal?: number;
}

/**
 * `x` clamped to `[minVal, maxVal]`, with a gradient of 0 at the bounds (`nn.Hardtanh`); see
 * `hardtanh`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Hardtanh } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Hardtanh().forward(tensor([-2, 0.5, 2])).toArray()); // [-1, 0.5, 1]
 * ```
 */
export class Hardtanh extends ShapePreserving {
  /** The lower bound. */
  readonly minVal: number;
  /** The upper bound. */
  readonly maxVal: number;

  /**
   * Creates the layer; throws unless `minVal < maxVal`, as PyTorch's `nn.Hardtanh` asserts (an
   * empty range would clamp everything to one value with a zero gradient; the functional
   * `hardtanh` still takes `minVal == maxVal`, as `F.hardtanh` does).
   */
  constructor(config: HardtanhConfig = {}) {
    super();
    this.minVal = config.minVal ?? -1;
    this.maxVal = config.maxVal ?? 1;
    if (!(this.minVal < this.maxVal)) {
      throw new RangeError(
        `Hardtanh: maxVal (${this.maxVal}) must be greater than minVal (${this.minVal})`,
      );
    }
  }

  /** Applies hardtanh elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return hardtanh(x, this.minVal, this.maxVal);
  }
}

/**
 * `min(max(x, 0), 6)` (`nn.ReLU6`); see `relu6`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ReLU6 } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new ReLU6().forward(tensor([-1, 7])).toArray()); // [0, 6]
 * ```
 */
export class ReLU6 extends ShapePreserving {
  /** Applies ReLU6 elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return relu6(x);
  }
}

/**
 * `clamp(x + 3, 0, 6) / 6` (`nn.Hardsigmoid`); see `hardsigmoid`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Hardsigmoid } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Hardsigmoid().forward(tensor([0])).toArray()); // [0.5]
 * ```
 */
export class Hardsigmoid extends ShapePreserving {
  /** Applies hardsigmoid elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return hardsigmoid(x);
  }
}

/**
 * `x·clamp(x + 3, 0, 6) / 6` (`nn.Hardswish`); see `hardswish`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Hardswish } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Hardswish().forward(tensor([1])).toArray()); // [0.6666…]
 * ```
 */
export class Hardswish extends ShapePreserving {
  /** Applies hardswish elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return hardswish(x);
  }
}

/**
 * Its input, unchanged (`nn.Identity`): a placeholder where a layer is optional. The output is
 * a new view of the input (not the input object itself), so `Sequential`, which frees what
 * one layer hands the next, never frees the caller's tensor.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Identity } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Identity().forward(tensor([1, 2])).toArray()); // [1, 2]
 * ```
 */
export class Identity extends ShapePreserving {
  /** Returns `x`'s data as a new tensor (a view; the gradient passes through). */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.reshape(x.shape as readonly number[]) as unknown as Tensor<S, "f32">;
  }
}

/** The options of {@link Softmax} and {@link LogSoftmax}. */
export interface SoftmaxConfig {
  /** The axis that sums to 1 (default −1, the last). */
  dim?: number;
}

/** The axis of a {@link SoftmaxConfig} or a number, checked to be an integer. */
function softmaxDim(layer: string, config: SoftmaxConfig | number): number {
  const dim = typeof config === "number" ? config : config.dim ?? -1;
  if (!Number.isInteger(dim)) throw new RangeError(`${layer}: dim must be an integer, got ${dim}`);
  return dim;
}

/**
 * Softmax along `dim` (`nn.Softmax`), computed stably.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Softmax } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Softmax({ dim: 0 }).forward(tensor([[0], [0]])).toArray()); // [[0.5], [0.5]]
 * ```
 */
export class Softmax extends ShapePreserving {
  /** The axis that sums to 1. */
  readonly dim: number;

  /** Creates the layer: `new Softmax(1)` is `new Softmax({ dim: 1 })`, as `nn.Softmax(dim=1)`. */
  constructor(config: SoftmaxConfig | number = {}) {
    super();
    this.dim = softmaxDim("Softmax", config);
  }

  /** Applies the softmax along {@link Softmax.dim}. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.softmax(this.dim);
  }
}

/**
 * Log-softmax along `dim` (`nn.LogSoftmax`), computed stably: with `NLLLoss`, the
 * cross-entropy.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { LogSoftmax } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new LogSoftmax().forward(tensor([0, 0])).toArray()); // [-0.6931…, -0.6931…]
 * ```
 */
export class LogSoftmax extends ShapePreserving {
  /** The axis along which the exponentials sum to 1. */
  readonly dim: number;

  /** Creates the layer: `new LogSoftmax(1)` is `new LogSoftmax({ dim: 1 })`, as `nn.LogSoftmax(dim=1)`. */
  constructor(config: SoftmaxConfig | number = {}) {
    super();
    this.dim = softmaxDim("LogSoftmax", config);
  }

  /** Applies the log-softmax along {@link LogSoftmax.dim}. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.logSoftmax(this.dim);
  }
}

/**
 * The scaled ELU (`nn.SELU`); see `selu`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SELU } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new SELU().forward(tensor([1])).toArray()); // [1.0507…]
 * ```
 */
export class SELU extends ShapePreserving {
  /** Applies SELU elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return selu(x);
  }
}

/**
 * The continuously differentiable ELU (`nn.CELU`); see `celu`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { CELU } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new CELU({ alpha: 2 }).forward(tensor([-1])).toArray()); // [-0.7869…]
 * ```
 */
export class CELU extends ShapePreserving {
  /** The scale α of `α·(e^{x/α} − 1)`. */
  readonly alpha: number;

  /** Creates the layer (default α = 1). */
  constructor(config: ELUConfig = {}) {
    super();
    this.alpha = config.alpha ?? 1;
  }

  /** Applies CELU elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return celu(x, this.alpha);
  }
}

/**
 * `log σ(x)` (`nn.LogSigmoid`); see `logSigmoid`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { LogSigmoid } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new LogSigmoid().forward(tensor([0])).toArray()); // [-0.6931…]
 * ```
 */
export class LogSigmoid extends ShapePreserving {
  /** Applies log σ elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return logSigmoid(x);
  }
}

/**
 * `x / (1 + |x|)` (`nn.Softsign`); see `softsign`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Softsign } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Softsign().forward(tensor([1])).toArray()); // [0.5]
 * ```
 */
export class Softsign extends ShapePreserving {
  /** Applies softsign elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return softsign(x);
  }
}

/**
 * `x − tanh(x)` (`nn.Tanhshrink`); see `tanhshrink`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Tanhshrink } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Tanhshrink().forward(tensor([0])).toArray()); // [0]
 * ```
 */
export class Tanhshrink extends ShapePreserving {
  /** Applies tanhshrink elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return tanhshrink(x);
  }
}

/** The options of {@link Hardshrink} and {@link Softshrink}. */
export interface ShrinkConfig {
  /** The half-width λ of the interval sent to 0 (default 0.5). */
  lambd?: number;
}

/**
 * 0 on `[−λ, λ]`, `x` elsewhere (`nn.Hardshrink`); see `hardshrink`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Hardshrink } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Hardshrink().forward(tensor([0.2, 1])).toArray()); // [0, 1]
 * ```
 */
export class Hardshrink extends ShapePreserving {
  /** λ. */
  readonly lambd: number;

  /** Creates the layer. */
  constructor(config: ShrinkConfig = {}) {
    super();
    this.lambd = config.lambd ?? 0.5;
  }

  /** Applies hardshrink elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return hardshrink(x, this.lambd);
  }
}

/**
 * `x ∓ λ` beyond `±λ`, 0 between (`nn.Softshrink`); see `softshrink`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Softshrink } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Softshrink().forward(tensor([0.2, 1])).toArray()); // [0, 0.5]
 * ```
 */
export class Softshrink extends ShapePreserving {
  /** λ. */
  readonly lambd: number;

  /** Creates the layer. */
  constructor(config: ShrinkConfig = {}) {
    super();
    this.lambd = config.lambd ?? 0.5;
  }

  /** Applies softshrink elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return softshrink(x, this.lambd);
  }
}

/** The options of {@link Threshold}. */
export interface ThresholdConfig {
  /** Inputs at or below it are replaced. */
  threshold: number;
  /** What replaces them. */
  value: number;
}

/**
 * `x` where `x > threshold`, else `value` (`nn.Threshold`); see `threshold`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Threshold } from "./activation.ts";
 * await defaultDevice();
 * const layer = new Threshold({ threshold: 0.1, value: 20 });
 * console.log(await layer.forward(tensor([0, 1])).toArray()); // [20, 1]
 * ```
 */
export class Threshold extends ShapePreserving {
  /** Inputs at or below it are replaced. */
  readonly threshold: number;
  /** What replaces them. */
  readonly value: number;

  /** Creates the layer. */
  constructor(config: ThresholdConfig) {
    super();
    this.threshold = config.threshold;
    this.value = config.value;
  }

  /** Applies the threshold elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return threshold(x, this.threshold, this.value);
  }
}

/** The options of {@link PReLU}. */
export interface PReLUConfig {
  /** Slopes to learn: 1 (default, shared by every channel) or the input's channels (axis 1). */
  numParameters?: number;
  /** Their initial value (default 0.25, as PyTorch's). */
  init?: number;
  /** Where the parameter lives (default: the default device). */
  device?: Device;
}

/**
 * The parametric ReLU (`nn.PReLU`): a leaky ReLU whose negative slopes are learned (He et al.,
 * 2015); see `prelu`. Its parameter is `weight`, as PyTorch names it.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { PReLU } from "./activation.ts";
 * await defaultDevice();
 * const layer = new PReLU({ numParameters: 2 });
 * console.log(await layer.forward(tensor([[-4, -8]])).toArray()); // [[-1, -2]]
 * console.log(layer.namedParameters().map(([name]) => name)); // ["weight"]
 * ```
 */
export class PReLU extends ShapePreserving {
  /** How many slopes it learns. */
  readonly numParameters: number;

  /** Creates the layer. */
  constructor(config: PReLUConfig = {}) {
    super();
    this.numParameters = config.numParameters ?? 1;
    if (!Number.isInteger(this.numParameters) || this.numParameters < 1) {
      throw new RangeError(
        `PReLU: numParameters must be a positive integer, got ${this.numParameters}`,
      );
    }
    const device = config.device ?? currentDevice();
    this.registerParameter("weight", full([this.numParameters], config.init ?? 0.25, { device }));
  }

  /** The learned slopes, `[numParameters]`. */
  get weight(): Parameter {
    return this.getParameter("weight");
  }

  /** Applies the parametric ReLU. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return prelu(x, this.weight as Tensor<Shape, "f32">);
  }
}

/**
 * The gated linear unit (`nn.GLU`): the first half of `dim` times the sigmoid of the second
 * (default the last axis); see `glu`. Its output has half the size along `dim`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { GLU } from "./activation.ts";
 * await defaultDevice();
 * const layer = new GLU();
 * console.log(await layer.forward(tensor([[1, 2, 0, 100]])).toArray(), layer.outputShape([1, 4])); // [[0.5, 2]] [1, 2]
 * ```
 */
export class GLU extends Module {
  /** The axis halved. */
  readonly dim: number;

  /** Creates the layer. */
  constructor(config: SoftmaxConfig | number = {}) {
    super();
    this.dim = softmaxDim("GLU", config);
  }

  /** Gates the first half of {@link GLU.dim} by the second. */
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return glu(x, this.dim);
  }

  /** The input's shape with {@link GLU.dim} halved. */
  outputShape(input: readonly number[]): number[] {
    const axis = this.dim < 0 ? this.dim + input.length : this.dim;
    return input.map((d, i) => (i === axis ? d / 2 : d));
  }
}

/**
 * Softmin along `dim` (`nn.Softmin`): the softmax of `−x`; see `softmin`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { Softmin } from "./activation.ts";
 * await defaultDevice();
 * console.log(await new Softmin(0).forward(tensor([0, 0])).toArray()); // [0.5, 0.5]
 * ```
 */
export class Softmin extends ShapePreserving {
  /** The axis that sums to 1. */
  readonly dim: number;

  /** Creates the layer: `new Softmin(1)` is `new Softmin({ dim: 1 })`. */
  constructor(config: SoftmaxConfig | number = {}) {
    super();
    this.dim = softmaxDim("Softmin", config);
  }

  /** Applies the softmin along {@link Softmin.dim}. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return softmin(x, this.dim);
  }
}

/**
 * Softmax over the channels of each pixel (`nn.Softmax2d`): along axis −3 of `[N, C, H, W]` or
 * `[C, H, W]` input.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { Softmax2d } from "./activation.ts";
 * await defaultDevice();
 * const y = new Softmax2d().forward(zeros([1, 4, 2, 2]));
 * console.log(await y.sum(1).toArray()); // [[[1, 1], [1, 1]]]
 * ```
 */
export class Softmax2d extends ShapePreserving {
  /** Applies the softmax along the channel axis (−3). */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    if (x.rank !== 3 && x.rank !== 4) {
      throw new RangeError(`Softmax2d: expected [C, H, W] or [N, C, H, W] input, got [${x.shape}]`);
    }
    return x.softmax(-3);
  }
}
