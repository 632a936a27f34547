/**
 * The fully connected layer.
 *
 * @module
 */

import { checkOptions, optionNames, requireCount } from "../tensor/options.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { linear } from "../tensor/ops_matmul.ts";
import type { Generator } from "../tensor/random.ts";
import type { Dim } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { defaultInit, type ParameterInit } from "./_init.ts";
import { finishActivation, layerActivation } from "./_activation.ts";
import type { Activation } from "./activation.ts";
import { Module, type Parameter } from "./module.ts";

/** Options of {@link Linear}. */
export interface LinearConfig {
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  outFeatures: number;
  /** Whether to add a learned bias (default true). */
  bias?: boolean;
  /** Apply ReLU in the product's epilogue: one kernel instead of two (default false). */
  relu?: boolean;
  /**
   * The nonlinearity on the output (default none): `"relu"` is fused into the kernel (the same
   * as `relu: true`), `"tanh"` runs after it.
   */
  activation?: Activation | null;
  /** Where the parameters live (default: the default device). */
  device?: Device;
  /** Random stream of the default initialisation (default: the global generator). */
  generator?: Generator;
  /** Initial values; default PyTorch's, uniform in ±1/√inFeatures for weight and bias. */
  init?: ParameterInit;
}

const LINEAR_OPTIONS = optionNames<LinearConfig>({
  inFeatures: true,
  outFeatures: true,
  bias: true,
  relu: true,
  activation: true,
  device: true,
  generator: true,
  init: true,
});

/**
 * `y = x·Wᵀ + b` with weight `[out, in]` and bias `[out]`, as PyTorch's `nn.Linear`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * await defaultDevice();
 * const fc = new Linear({ inFeatures: 4, outFeatures: 2 });
 * console.log(fc.forward(randn([3, 4])).shape); // [3, 2]
 * console.log(fc.forward(randn([5, 3, 4])).shape); // [5, 3, 2]: every leading axis is kept
 * ```
 */
export class Linear extends Module {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** The nonlinearity on the output, or null for none. */
  readonly activation: Activation | null;
  #hasBias: boolean;

  /** Creates the layer and initialises its parameters on `config.device`. */
  constructor(config: LinearConfig) {
    super();
    checkOptions("Linear", config, LINEAR_OPTIONS, true);
    requireCount("Linear", "inFeatures", config.inFeatures, 0);
    requireCount("Linear", "outFeatures", config.outFeatures, 0);
    this.inFeatures = config.inFeatures;
    this.outFeatures = config.outFeatures;
    this.activation = layerActivation("Linear", config);
    this.#hasBias = config.bias ?? true;
    const device = config.device ?? currentDevice();
    const init = config.init ?? defaultInit(this.inFeatures, config.generator);
    this.registerParameter("weight", init("weight", [this.outFeatures, this.inFeatures], device));
    if (this.#hasBias) this.registerParameter("bias", init("bias", [this.outFeatures], device));
  }

  /** The weight, `[out, in]`. */
  get weight(): Parameter {
    return this.getParameter("weight");
  }

  /** Whether ReLU is fused into the output (`activation === "relu"`). */
  get relu(): boolean {
    return this.activation === "relu";
  }

  /** The bias `[out]`, or null when the layer has none. */
  get bias(): Parameter | null {
    return this.#hasBias ? this.getParameter("bias") : null;
  }

  /**
   * Applies the layer to `x [*, in]`, as PyTorch does: every leading axis is kept and the last
   * becomes `out` (a 1-D `x [in]` gives `[out]`).
   */
  forward<const Lead extends readonly Dim[]>(
    x: Tensor<readonly [...Lead, Dim], "f32">,
  ): Tensor<[...Lead, number], "f32"> {
    this.outputShape(x.shape);
    const y = linear(x, this.weight, this.bias, { relu: this.relu });
    return finishActivation(y, this.activation) as unknown as Tensor<[...Lead, number], "f32">;
  }

  /** The output shape for an input shape `[*, in]`: the leading axes, then `out`. */
  outputShape(input: readonly number[]): number[] {
    if (input.length === 0 || input[input.length - 1] !== this.inFeatures) {
      throw new RangeError(`Linear: expected [*, ${this.inFeatures}], got [${input}]`);
    }
    return [...input.slice(0, -1), this.outFeatures];
  }
}
