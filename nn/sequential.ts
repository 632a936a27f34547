/**
 * The sequential container.
 *
 * @module
 */

import type { Tensor } from "../tensor/tensor.ts";
import { Module, swapInList } from "./module.ts";

/** A module with a synchronous one-tensor forward, as {@link Sequential} chains them. */
export interface Layer extends Module {
  /** Maps the input to the output. */
  forward(x: Tensor): Tensor;
  /** The output shape for an input shape, when the layer can tell without running. */
  outputShape?(input: readonly number[]): number[];
}

/**
 * Layers applied in order. Children are named `"0"`, `"1"`, … (as PyTorch's `nn.Sequential`)
 * or by the keys of an object. Intermediate outputs are freed as soon as the next layer has
 * consumed them (the autograd graph keeps its own references).
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Linear } from "./linear.ts";
 * import { ReLU } from "./activation.ts";
 * import { Sequential } from "./sequential.ts";
 * await defaultDevice();
 * const mlp = new Sequential(new Linear({ inFeatures: 4, outFeatures: 8 }), new ReLU());
 * console.log(mlp.forward(randn([2, 4])).shape, mlp.namedParameters()[0][0]); // [2, 8] "0.weight"
 * ```
 */
export class Sequential extends Module {
  readonly #layers: Layer[];

  /** Chains `layers`, or the values of one object whose keys name them. */
  constructor(...layers: Layer[] | [Record<string, Layer>]) {
    super();
    // The named form is one plain object; anything else is a layer (checked as it registers).
    const first = layers[0] as unknown;
    const isRecord = layers.length === 1 && typeof first === "object" && first !== null &&
      Object.getPrototypeOf(first) === Object.prototype;
    const named: [string, Layer][] = isRecord
      ? Object.entries(layers[0] as Record<string, Layer>)
      : (layers as Layer[]).map((layer, i) => [String(i), layer]);
    this.#layers = named.map(([name, layer]) => this.registerModule(name, layer));
  }

  /** The layers, in order. */
  get layers(): readonly Layer[] {
    return this.#layers;
  }

  /** Applies every layer in turn. */
  forward(x: Tensor): Tensor {
    return chainLayers(x, this.#layers);
  }

  /** Puts `replacement` in `old`'s place in the chain (for `replaceModule`). */
  protected override swapChild(old: Module, replacement: Module): void {
    swapInList(this.#layers, old, replacement);
  }

  /** The output shape for an input shape, chained through every layer. */
  outputShape(input: readonly number[]): number[] {
    return this.#layers.reduce((shape, layer) => layerOutputShape(layer, shape), [...input]);
  }
}

/**
 * `x` through `layers` in turn, each intermediate output freed as soon as the next layer has
 * consumed it (the autograd graph keeps its own references); `x` itself is never freed, and the
 * result is a new tensor even when every layer hands its input on.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { ReLU, Tanh } from "./activation.ts";
 * import { chainLayers } from "./sequential.ts";
 * await defaultDevice();
 * console.log(await chainLayers(tensor([-1, 2]), [new ReLU(), new Tanh()]).toArray()); // [0, 0.964…]
 * ```
 */
export function chainLayers(x: Tensor, layers: readonly Layer[]): Tensor {
  let y = x;
  for (const layer of layers) {
    const next = layer.forward(y);
    // A layer may hand its input on as it is (an identity, a layer that only logs it).
    if (y !== x && y !== next) y.dispose();
    y = next;
  }
  return y === x ? x.reshape(x.shape as readonly number[]) : y;
}

function layerOutputShape(layer: Layer, input: readonly number[]): number[] {
  if (!layer.outputShape) {
    throw new Error(`${layer.constructor.name} cannot tell its output shape without running`);
  }
  return layer.outputShape(input);
}
