/**
 * How Conv2d and Linear resolve and apply their `activation` option.
 *
 * @module
 */

import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type Activation, ACTIVATIONS, APPLY_ACTIVATION } from "./activation.ts";

/** Resolves a layer's `activation` / `relu` options into one nonlinearity (or none). */
export function layerActivation(
  layer: string,
  config: { activation?: Activation | null; relu?: boolean },
): Activation | null {
  const activation = config.activation ?? null;
  if (activation !== null && !ACTIVATIONS.includes(activation)) {
    throw new RangeError(
      `${layer}: activation must be one of ${ACTIVATIONS.join(", ")}, got '${activation}'`,
    );
  }
  if (config.relu && activation !== null && activation !== "relu") {
    throw new RangeError(`${layer}: relu: true contradicts activation '${activation}'`);
  }
  return config.relu ? "relu" : activation;
}

/**
 * A layer's output `y` with the part of `activation` its kernel did not fuse: any but the ReLU
 * runs here and frees `y` (nothing else holds it); `"relu"` was fused, so `y` is the output,
 * as it is without an activation.
 */
export function finishActivation<T extends Tensor>(y: T, activation: Activation | null): T {
  if (activation === null || activation === "relu") return y;
  const out = APPLY_ACTIVATION[activation](y as unknown as Tensor<Shape, "f32">);
  y.dispose();
  return out as unknown as T;
}
