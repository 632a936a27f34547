/**
 * What the convolution family's layers share: a weight and an optional bias, registered under
 * PyTorch's names (`weight`, then `bias`), with their getters.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { Module, type Parameter } from "./module.ts";

/**
 * A layer with a `weight` and an optional `bias`, in that state-dict order: the base of the
 * convolution family's layers.
 *
 * @example A layer that scales each feature
 * ```ts
 * import { defaultDevice, ones, type Tensor, zeros } from "../mod.ts";
 * import { WeightedLayer } from "./weighted_layer.ts";
 * await defaultDevice();
 * class Scale extends WeightedLayer {
 *   constructor(features: number) {
 *     super();
 *     this.registerWeights({ weight: ones([features]), bias: zeros([features]) });
 *   }
 *   forward(x: Tensor): Tensor {
 *     return x.mul(this.weight).add(this.bias!);
 *   }
 * }
 * console.log(Object.keys(await new Scale(3).stateDict())); // ["weight", "bias"]
 * ```
 */
export abstract class WeightedLayer extends Module {
  #hasBias = false;

  /** Registers the layer's weight, then its bias when there is one. */
  protected registerWeights({ weight, bias }: { weight: Tensor; bias: Tensor | null }): void {
    this.registerParameter("weight", weight);
    if (bias) this.registerParameter("bias", bias);
    this.#hasBias = bias !== null;
  }

  /** The weight. */
  get weight(): Parameter {
    return this.getParameter("weight");
  }

  /** The bias, or null when the layer has none. */
  get bias(): Parameter | null {
    return this.#hasBias ? this.getParameter("bias") : null;
  }
}
