/**
 * Elementwise activation layers.
 *
 * @module
 */

import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * The nonlinearity after a convolution or fully connected layer: the rectifier (the paper's
 * choice, fused into the layer's kernel) or the saturating tanh it is compared against
 * (section 3.1, Figure 1).
 */
export type Activation = "relu" | "tanh";

/** Every {@link Activation}, for validating user input. */
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh"];

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
export class ReLU extends Module {
  /** Applies the rectifier elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.relu();
  }

  /** The output shape: the input's. */
  outputShape(input: readonly number[]): number[] {
    return [...input];
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
export class Tanh extends Module {
  /** Applies tanh elementwise. */
  forward<S extends Shape>(x: Tensor<S, "f32">): Tensor<S, "f32"> {
    return x.tanh();
  }

  /** The output shape: the input's. */
  outputShape(input: readonly number[]): number[] {
    return [...input];
  }
}
