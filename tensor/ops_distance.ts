/**
 * Distances and similarities of vectors along an axis, as `torch.nn.functional`'s
 * `pairwise_distance` and `cosine_similarity` (the triplet losses' default distance, and the
 * usual similarity of embeddings).
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { noGrad } from "./_autograd.ts";
import { tidy } from "./memory.ts";
import { broadcastShapes, type Shape } from "./shape.ts";
import { Tensor, tensorArgument } from "./tensor.ts";

type F32 = Tensor<Shape, "f32">;

/** Throws unless `x1` and `x2` are f32 tensors on one device whose shapes broadcast. */
function checkPair(op: string, x1: Tensor, x2: Tensor): readonly number[] {
  if (!(x1 instanceof Tensor) || !(x2 instanceof Tensor)) {
    throw new TypeError(`${op}: x1 and x2 must be tensors`);
  }
  requireFloat(op, x1, x2);
  sameDevice(op, x1, x2);
  return broadcastShapes(x1.shape, x2.shape, op);
}

/** The options of {@link pairwiseDistance}. */
export interface PairwiseDistanceOptions {
  /** The norm's order (default 2): any number, `Infinity` included, as `vectorNorm` takes. */
  p?: number;
  /** Added to every difference before the norm, so equal vectors have a gradient (default 1e-6). */
  eps?: number;
  /** Whether the last axis stays, of size 1 (default false). */
  keepdim?: boolean;
}

/**
 * The p-norm distance of `x1` and `x2` along the last axis (`F.pairwise_distance`):
 * `‖x1 − x2 + eps‖_p`, the two broadcast together.
 *
 * @example
 * ```ts
 * import { defaultDevice, pairwiseDistance, tensor } from "../mod.ts";
 * await defaultDevice();
 * const d = pairwiseDistance(tensor([[0, 0], [1, 1]]), tensor([[3, 4], [1, 1]]), { eps: 0 });
 * console.log(await d.toArray()); // [5, 0]
 * ```
 */
export function pairwiseDistance(
  x1: Tensor,
  x2: Tensor,
  options: PairwiseDistanceOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("pairwiseDistance", x1);
  const op = "pairwiseDistance";
  const { p = 2, eps = 1e-6, keepdim = false } = options;
  if (typeof p !== "number" || Number.isNaN(p)) throw new RangeError(`${op}: p must be a number`);
  if (typeof eps !== "number" || !Number.isFinite(eps)) {
    throw new RangeError(`${op}: eps must be a finite number, got ${eps}`);
  }
  const shape = checkPair(op, x1, x2);
  // PyTorch's output rank is the larger input's; a 0-d pair has no axis to take the norm over.
  const axis = shape.length === 0 ? undefined : -1;
  return tidy(() => (x1 as F32).sub(x2 as F32).add(eps).norm(p, axis, keepdim));
}

/** The options of {@link cosineSimilarity}. */
export interface CosineSimilarityOptions {
  /** The axis of the vectors (default 1, as PyTorch's). */
  dim?: number;
  /** Each norm's lower bound (default 1e-8). */
  eps?: number;
}

/**
 * The cosine of the angle between `x1` and `x2` along `dim` (`F.cosine_similarity`), the two
 * broadcast together, computed as PyTorch 2 does: `Σ (x1/max(‖x1‖, eps))·(x2/max(‖x2‖, eps))`,
 * each vector divided by its norm first (so the result stays in [−1, 1]); the bound is applied
 * to the norms' values only, the gradient passing as though unclamped (PyTorch clamps in
 * place under `no_grad`).
 *
 * @example
 * ```ts
 * import { cosineSimilarity, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const c = cosineSimilarity(tensor([[1, 0], [1, 1]]), tensor([[0, 2], [2, 2]]));
 * console.log(await c.toArray()); // [0, 1]
 * ```
 */
export function cosineSimilarity(
  x1: Tensor,
  x2: Tensor,
  options: CosineSimilarityOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("cosineSimilarity", x1);
  const op = "cosineSimilarity";
  const { dim = 1, eps = 1e-8 } = options;
  if (typeof eps !== "number" || !(eps >= 0)) {
    throw new RangeError(`${op}: eps must be a number ≥ 0, got ${eps}`);
  }
  const shape = checkPair(op, x1, x2);
  const rank = shape.length;
  if (!Number.isInteger(dim) || dim < -Math.max(rank, 1) || dim >= Math.max(rank, 1)) {
    throw new RangeError(`${op}: dim ${dim} is out of range for ${rank}-D inputs`);
  }
  return tidy(() => {
    const unit = (x: F32) => {
      const norm = x.norm(2, dim, true);
      // max(‖x‖, eps) as a value, the gradient of ‖x‖ itself.
      const raise = noGrad(() => norm.clamp(eps, null).sub(norm));
      return x.div(norm.add(raise));
    };
    // Broadcast first, as PyTorch does, so that `dim` is an axis of both.
    const [a, b] = [x1, x2].map((x) =>
      (x.rank === rank ? x : x.expand(shape as readonly number[])) as F32
    );
    return unit(a).mul(unit(b)).sum(dim);
  });
}
