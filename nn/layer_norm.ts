/**
 * Layer normalisation, as PyTorch's `nn.LayerNorm`.
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { ones, zeros } from "../tensor/creation.ts";
import type { Device } from "../tensor/default_device.ts";
import { currentDevice } from "../tensor/default_device.ts";
import { layerNorm } from "../tensor/ops_norm.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module, type Parameter } from "./module.ts";

/** Options of {@link LayerNorm}, PyTorch's arguments. */
export interface LayerNormConfig {
  /** The trailing axes normalised together (a number is one axis). */
  normalizedShape: number | readonly number[];
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn an elementwise scale (`weight`, ones) and shift (`bias`); default true. */
  elementwiseAffine?: boolean;
  /** With `elementwiseAffine`, whether to learn the shift too (default true). */
  bias?: boolean;
  /** Where the parameters live (default: the default device). */
  device?: Device;
}

const LAYER_NORM_OPTIONS = optionNames<LayerNormConfig>({
  normalizedShape: true,
  eps: true,
  elementwiseAffine: true,
  bias: true,
  device: true,
});

/**
 * Normalises each row of the trailing `normalizedShape` axes by its mean and biased variance,
 * then scales and shifts it elementwise, as PyTorch's `nn.LayerNorm`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { LayerNorm } from "./layer_norm.ts";
 * await defaultDevice();
 * const ln = new LayerNorm({ normalizedShape: 2 });
 * console.log(await ln.forward(tensor([[1, 3], [10, 30]])).toArray()); // ≈ [[-1, 1], [-1, 1]]
 * console.log(ln.namedParameters().map(([name]) => name)); // ["weight", "bias"]
 * ```
 */
export class LayerNorm extends Module {
  /** The trailing axes normalised together. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance. */
  readonly eps: number;
  /** Whether the layer has a weight (and, unless `bias: false`, a bias). */
  readonly elementwiseAffine: boolean;
  #hasBias: boolean;

  /** Creates the parameters on `config.device`. */
  constructor(config: LayerNormConfig) {
    super();
    checkOptions("LayerNorm", config, LAYER_NORM_OPTIONS, true);
    const shape = typeof config.normalizedShape === "number"
      ? [config.normalizedShape]
      : [...config.normalizedShape];
    if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(`LayerNorm: normalizedShape must be positive integers, got [${shape}]`);
    }
    this.normalizedShape = shape;
    this.eps = config.eps ?? 1e-5;
    this.elementwiseAffine = config.elementwiseAffine ?? true;
    this.#hasBias = this.elementwiseAffine && (config.bias ?? true);
    const device = config.device ?? currentDevice();
    if (this.elementwiseAffine) this.registerParameter("weight", ones(shape, { device }));
    if (this.#hasBias) this.registerParameter("bias", zeros(shape, { device }));
  }

  /** The scale, or null without `elementwiseAffine`. */
  get weight(): Parameter | null {
    return this.elementwiseAffine ? this.getParameter("weight") : null;
  }

  /** The shift, or null when the layer has none. */
  get bias(): Parameter | null {
    return this.#hasBias ? this.getParameter("bias") : null;
  }

  /** Normalises `x [*, ...normalizedShape]`. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return layerNorm(x, this.normalizedShape, {
      weight: this.weight,
      bias: this.bias,
      eps: this.eps,
    }) as Tensor<S, "f32">;
  }

  /** The output shape: the input's (whose trailing axes must be `normalizedShape`). */
  outputShape(input: readonly number[]): number[] {
    const k = this.normalizedShape.length;
    const trailing = input.slice(input.length - k);
    if (input.length < k || trailing.some((d, i) => d !== this.normalizedShape[i])) {
      throw new RangeError(
        `LayerNorm: expected [*, ${this.normalizedShape.join(", ")}], got [${input}]`,
      );
    }
    return [...input];
  }
}
