/**
 * The distance modules, `nn.PairwiseDistance` and `nn.CosineSimilarity`: their functional
 * forms with the options fixed at construction.
 *
 * @module
 */

import {
  cosineSimilarity,
  type CosineSimilarityOptions,
  pairwiseDistance,
  type PairwiseDistanceOptions,
} from "../tensor/ops_distance.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/**
 * The p-norm distance of two batches of vectors along the last axis (`nn.PairwiseDistance`);
 * see `pairwiseDistance`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { PairwiseDistance } from "./distance.ts";
 * await defaultDevice();
 * const distance = new PairwiseDistance({ p: 1, eps: 0 });
 * console.log(await distance.forward(tensor([[0, 0]]), tensor([[3, -4]])).toArray()); // [7]
 * ```
 */
export class PairwiseDistance extends Module {
  /** Creates the module (`p` default 2, `eps` 1e-6, `keepdim` false). */
  constructor(readonly options: PairwiseDistanceOptions = {}) {
    super();
  }

  /** The distances of `x1` and `x2`, broadcast together. */
  forward(x1: Tensor, x2: Tensor): Tensor<Shape, "f32"> {
    return pairwiseDistance(x1, x2, this.options);
  }
}

/**
 * The cosine similarity of two batches of vectors along `dim` (`nn.CosineSimilarity`); see
 * `cosineSimilarity`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { CosineSimilarity } from "./distance.ts";
 * await defaultDevice();
 * const similarity = new CosineSimilarity({ dim: -1 });
 * console.log(await similarity.forward(tensor([[1, 0]]), tensor([[-2, 0]])).toArray()); // [-1]
 * ```
 */
export class CosineSimilarity extends Module {
  /** Creates the module (`dim` default 1, `eps` 1e-8). */
  constructor(readonly options: CosineSimilarityOptions = {}) {
    super();
  }

  /** The similarities of `x1` and `x2`, broadcast together. */
  forward(x1: Tensor, x2: Tensor): Tensor<Shape, "f32"> {
    return cosineSimilarity(x1, x2, this.options);
  }
}
