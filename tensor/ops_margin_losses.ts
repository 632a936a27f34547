/**
 * The margin and ranking losses of `torch.nn.functional`, with PyTorch's options, defaults and
 * reductions: the soft margin, hinge embedding, margin ranking and cosine embedding losses, the
 * triplet margin losses (with the pairwise distance or one of your own), and the multi-class and
 * multi-label margin losses. They compose tensor ops, whose gradients come with them.
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { tidy } from "./memory.ts";
import { pairwiseDistance } from "./ops_distance.ts";
import { oneHot } from "./ops_loss.ts";
import { sameShape, type Shape, ShapeError } from "./shape.ts";
import { selected, Tensor, tensorArgument } from "./tensor.ts";
import {
  checkPair,
  type F32,
  lossTerm,
  optionsOf,
  reduced,
  type ReductionOptions,
  requireNumber,
} from "./_loss_reduction.ts";

/**
 * The two-class logistic loss (`F.soft_margin_loss`): `log(1 + e^{−t·x})` for targets `t` of
 * ±1, computed stably. Input and target broadcast together.
 *
 * @example
 * ```ts
 * import { defaultDevice, softMarginLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await softMarginLoss(tensor([0, 2]), tensor([1, -1]), { reduction: "none" }).toArray()); // [0.6931…, 2.1269…]
 * ```
 */
export function softMarginLoss(
  input: Tensor,
  target: Tensor,
  options: ReductionOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("softMarginLoss", input);
  const reduction = optionsOf("softMarginLoss", options, []);
  checkPair("softMarginLoss", input, target, false);
  return reduced(lossTerm(input, target, "softMargin"), reduction);
}

/** The options of {@link hingeEmbeddingLoss} and {@link marginRankingLoss}. */
export interface MarginOptions extends ReductionOptions {
  /** The margin (default 1 for the hinge embedding loss, 0 for the margin ranking loss). */
  margin?: number;
}

/**
 * The hinge embedding loss (`F.hinge_embedding_loss`): `x` where the target is 1,
 * `max(0, margin − x)` where it is −1 (default margin 1); the input is usually a distance.
 *
 * @example
 * ```ts
 * import { defaultDevice, hingeEmbeddingLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = hingeEmbeddingLoss(tensor([0.3, 0.3]), tensor([1, -1]), { reduction: "none" });
 * console.log(await loss.toArray()); // [0.3…, 0.7]
 * ```
 */
export function hingeEmbeddingLoss(
  input: Tensor,
  target: Tensor,
  options: MarginOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("hingeEmbeddingLoss", input);
  const reduction = optionsOf("hingeEmbeddingLoss", options, ["margin"]);
  const { margin = 1 } = options;
  requireNumber("hingeEmbeddingLoss", "margin", margin, -Infinity);
  checkPair("hingeEmbeddingLoss", input, target, false);
  return reduced(lossTerm(input, target, "hingeEmbedding", [margin]), reduction);
}

/**
 * The margin ranking loss (`F.margin_ranking_loss`): `max(0, −t·(x1 − x2) + margin)`, which
 * asks `x1` to rank above `x2` by `margin` where `t = 1` and below it where `t = −1`.
 *
 * @example
 * ```ts
 * import { defaultDevice, marginRankingLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = marginRankingLoss(tensor([1, 1]), tensor([2, 0]), tensor([1, 1]), { margin: 0.5 });
 * console.log(await loss.item()); // 0.75
 * ```
 */
export function marginRankingLoss(
  input1: Tensor,
  input2: Tensor,
  target: Tensor,
  options: MarginOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("marginRankingLoss", input1);
  const reduction = optionsOf("marginRankingLoss", options, ["margin"]);
  const { margin = 0 } = options;
  requireNumber("marginRankingLoss", "margin", margin, -Infinity);
  checkPair("marginRankingLoss", input1, input2, false);
  return tidy(() => {
    const difference = (input1 as Tensor<Shape, "f32">).sub(input2 as Tensor<Shape, "f32">);
    checkPair("marginRankingLoss", difference, target, false);
    return reduced(lossTerm(difference, target, "marginRanking", [margin]), reduction);
  });
}

/**
 * The cosine embedding loss (`F.cosine_embedding_loss`) of pairs of vectors along the last
 * axis: `1 − cos` where the target is 1, `max(0, cos − margin)` where it is −1, the cosine
 * with PyTorch's 1e-12 added to each squared norm.
 *
 * @example
 * ```ts
 * import { cosineEmbeddingLoss, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const a = tensor([[1, 0], [1, 0]]), b = tensor([[0, 1], [1, 1]]);
 * const loss = cosineEmbeddingLoss(a, b, tensor([1, -1]), { reduction: "none" });
 * console.log(await loss.toArray()); // [1, 0.7071…]
 * ```
 */
export function cosineEmbeddingLoss(
  input1: Tensor,
  input2: Tensor,
  target: Tensor,
  options: MarginOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("cosineEmbeddingLoss", input1);
  const op = "cosineEmbeddingLoss";
  const reduction = optionsOf(op, options, ["margin"]);
  const { margin = 0 } = options;
  requireNumber(op, "margin", margin, -Infinity);
  checkPair(op, input1, input2, true);
  if (input1.rank < 1 || input1.rank > 2 || !sameShape(target.shape, input1.shape.slice(0, -1))) {
    throw new ShapeError(
      `${op}: inputs [${input1.shape}] (need [N, D] or [D]) and target [${target.shape}] ` +
        `(need [${input1.shape.slice(0, -1)}]) do not fit`,
    );
  }
  return tidy(() => {
    const [a, b] = [input1, input2] as Tensor<Shape, "f32">[];
    const squared = (x: Tensor<Shape, "f32">) => x.mul(x).sum(-1).add(1e-12);
    const cos = a.mul(b).sum(-1).div(squared(a).mul(squared(b)).sqrt());
    const t = target as Tensor<Shape, "f32">;
    const positive = selected(t.eq(1), cos.neg().add(1), 0) as Tensor<Shape, "f32">;
    const negative = selected(t.eq(-1), cos.sub(margin).relu(), 0) as Tensor<Shape, "f32">;
    return reduced(positive.add(negative), reduction);
  });
}

/** The options of {@link tripletMarginLoss}. */
export interface TripletMarginOptions extends ReductionOptions {
  /** How much nearer the positive must be than the negative (default 1). */
  margin?: number;
  /** The norm of the distances (default 2). */
  p?: number;
  /** Added to the differences before the norm, as PyTorch's `pairwise_distance` (default 1e-6). */
  eps?: number;
  /** Whether the negative's distance is the smaller of its distances to anchor and positive. */
  swap?: boolean;
}

/**
 * The triplet margin loss (`F.triplet_margin_loss`): `max(0, d(a, p) − d(a, n) + margin)` with
 * `d` the p-norm distance along the last axis (of `a − b + eps`, as `pairwise_distance`).
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor, tripletMarginLoss } from "../mod.ts";
 * await defaultDevice();
 * const loss = tripletMarginLoss(tensor([[0, 0]]), tensor([[3, 4]]), tensor([[6, 8]]), { eps: 0 });
 * console.log(await loss.item()); // 0 (5 nearer than 10 by more than 1)
 * ```
 */
export function tripletMarginLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  options: TripletMarginOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("tripletMarginLoss", anchor);
  const op = "tripletMarginLoss";
  const reduction = optionsOf(op, options, ["margin", "p", "eps", "swap"]);
  const { margin = 1, p = 2, eps = 1e-6, swap = false } = options;
  requireNumber(op, "margin", margin, 0, true);
  requireNumber(op, "p", p, 0, true);
  requireNumber(op, "eps", eps, 0);
  checkPair(op, anchor, positive, true);
  checkPair(op, anchor, negative, true);
  const distance = (x: Tensor, y: Tensor) => pairwiseDistance(x, y, { p, eps });
  return tripletHinge(anchor, positive, negative, distance, margin, swap, reduction);
}

/** `max(0, margin + d(a, p) − d(a, n))` reduced, d(a, n) the smaller of it and d(p, n) with `swap`. */
function tripletHinge(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  distance: (x: Tensor, y: Tensor) => Tensor,
  margin: number,
  swap: boolean,
  reduction: string,
): F32 {
  return tidy(() => {
    const toPositive = distance(anchor, positive) as F32;
    let toNegative = distance(anchor, negative) as F32;
    if (swap) toNegative = toNegative.minimum(distance(positive, negative) as F32);
    return reduced(toPositive.sub(toNegative).add(margin).relu(), reduction);
  });
}

/** The options of {@link tripletMarginWithDistanceLoss}. */
export interface TripletMarginWithDistanceOptions extends ReductionOptions {
  /**
   * The distance of two batches of vectors, a tensor op (its gradient comes with it); default
   * `pairwiseDistance` (the 2-norm of `x − y + 1e-6` along the last axis).
   */
  distanceFunction?: (x: Tensor, y: Tensor) => Tensor;
  /** How much nearer the positive must be than the negative (default 1, > 0). */
  margin?: number;
  /** Whether the negative's distance is the smaller of its distances to anchor and positive. */
  swap?: boolean;
}

/**
 * The triplet margin loss with a distance of one's own (`F.triplet_margin_with_distance_loss`):
 * `max(0, margin + d(a, p) − d(a, n))`, reduced. The three inputs must have one rank.
 *
 * @example A cosine distance
 * ```ts
 * import { cosineSimilarity, defaultDevice, tensor, tripletMarginWithDistanceLoss } from "../mod.ts";
 * import type { Tensor } from "../mod.ts";
 * await defaultDevice();
 * const distanceFunction = (x: Tensor, y: Tensor) => cosineSimilarity(x, y).neg().add(1);
 * const [a, p, n] = [tensor([[1, 0]]), tensor([[1, 1]]), tensor([[0, 1]])];
 * const loss = tripletMarginWithDistanceLoss(a, p, n, { distanceFunction, margin: 1.5 });
 * console.log(await loss.item()); // 0.7928… (1.5 + (1 − cos 45°) − (1 − cos 90°))
 * ```
 */
export function tripletMarginWithDistanceLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  options: TripletMarginWithDistanceOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("tripletMarginWithDistanceLoss", anchor);
  const op = "tripletMarginWithDistanceLoss";
  const reduction = optionsOf(op, options, ["distanceFunction", "margin", "swap"]);
  const { distanceFunction = pairwiseDistance, margin = 1, swap = false } = options;
  requireNumber(op, "margin", margin, 0, true);
  if (typeof distanceFunction !== "function") {
    throw new TypeError(`${op}: distanceFunction must be a function of two tensors`);
  }
  for (const t of [anchor, positive, negative]) {
    if (!(t instanceof Tensor)) {
      throw new TypeError(`${op}: anchor, positive and negative must be tensors`);
    }
  }
  if (anchor.rank !== positive.rank || positive.rank !== negative.rank) {
    throw new ShapeError(
      `${op}: anchor, positive and negative must have one rank, got anchor ${anchor.rank}-D, ` +
        `positive ${positive.rank}-D and negative ${negative.rank}-D`,
    );
  }
  const distance = (x: Tensor, y: Tensor) => distanceFunction(x, y);
  return tripletHinge(anchor, positive, negative, distance, margin, swap, reduction);
}

/** The options of {@link multiMarginLoss}. */
export interface MultiMarginOptions extends ReductionOptions {
  /** The power of the hinge: 1 (default) or 2. */
  p?: number;
  /** The margin by which the target's score must beat every other (default 1). */
  margin?: number;
  /** A `[C]` f32 tensor of class weights: a sample's terms are scaled by its target's weight. */
  weight?: Tensor;
}

/**
 * The multi-class hinge loss (`F.multi_margin_loss`) of `[N, C]` scores (or one `[C]` sample)
 * against i32 class indices `[N]` (or 0-d): each sample's loss is
 * `Σ_{i ≠ y} w[y]·max(0, margin − x[y] + x[i])^p / C`, then reduced over the samples (the mean
 * divides by N, whatever the weights, as PyTorch). A target outside `[0, C)` is an error found on
 * the device (the next read throws, naming it).
 *
 * @example
 * ```ts
 * import { defaultDevice, multiMarginLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const scores = tensor([[0.1, 0.2, 0.4, 0.8]]);
 * console.log(await multiMarginLoss(scores, tensor([3], { dtype: "i32" })).item()); // 0.325 ((0.3 + 0.4 + 0.6) / 4)
 * ```
 */
export function multiMarginLoss(
  input: Tensor,
  target: Tensor,
  options: MultiMarginOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("multiMarginLoss", input);
  const op = "multiMarginLoss";
  const reduction = optionsOf(op, options, ["p", "margin", "weight"]);
  const { p = 1, margin = 1, weight } = options;
  if (p !== 1 && p !== 2) throw new RangeError(`${op}: p must be 1 or 2, got ${p}`);
  requireNumber(op, "margin", margin, -Infinity);
  if (!(input instanceof Tensor) || !(target instanceof Tensor)) {
    throw new TypeError(`${op}: input and target must be tensors`);
  }
  requireFloat(op, input);
  sameDevice(op, input, target);
  if (input.rank === 1) {
    // One unbatched sample: a batch of one, its loss unbatched back.
    if (target.rank > 1 || target.size !== 1) {
      throw new ShapeError(`${op}: target [${target.shape}] does not fit input [${input.shape}]`);
    }
    return tidy(() => {
      const loss = multiMarginLoss(input.unsqueeze(0), target.reshape([1]), options);
      return loss.rank === 0 ? loss : loss.reshape([]);
    });
  }
  const [rows, classes] = input.shape;
  if (input.rank !== 2 || !sameShape(target.shape, [rows])) {
    throw new ShapeError(
      `${op}: input must be [N, C] scores and target [N] class indices, got input ` +
        `[${input.shape}] and target [${target.shape}]`,
    );
  }
  if (target.dtype !== "i32") {
    throw new TypeError(`${op}: target must be i32 class indices, got ${target.dtype}`);
  }
  if (weight !== undefined) {
    if (
      !(weight instanceof Tensor) || weight.dtype !== "f32" || !sameShape(weight.shape, [classes])
    ) {
      throw new TypeError(`${op}: weight must be a [${classes}] f32 tensor (one per class)`);
    }
    sameDevice(op, input, weight);
  }
  return tidy(() => {
    const x = input as F32;
    const labels = target as Tensor<Shape, "i32">;
    const chosen = x.gather(1, labels.unsqueeze(1)); // x[y], [N, 1]
    let hinge = x.sub(chosen).add(margin).relu();
    if (p === 2) hinge = hinge.mul(hinge);
    // The target's own class is no term: i ≠ y.
    const others = hinge.where(oneHot(labels, classes).eq(0), 0) as F32;
    let perSample = others.sum(1).div(classes);
    if (weight) perSample = perSample.mul((weight as F32).gather(0, labels));
    return reduced(perSample, reduction);
  });
}

/**
 * The multi-label hinge loss (`F.multilabel_margin_loss`) of `[N, C]` scores (or one `[C]`
 * sample) against i32 targets of the same shape, each row a list of class indices ended by the
 * first −1 (the rest ignored): each sample's loss is
 * `Σ_{j in targets} Σ_{i not a target} max(0, 1 − (x[j] − x[i])) / C`, then reduced over the
 * samples. It builds `[N, C, C]` terms, so it is meant for the usual tens to hundreds of classes.
 *
 * @example
 * ```ts
 * import { defaultDevice, multilabelMarginLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const scores = tensor([[0.1, 0.2, 0.4, 0.8]]);
 * const targets = tensor([[3, 0, -1, 1]], { dtype: "i32" }); // classes 3 and 0
 * console.log(await multilabelMarginLoss(scores, targets).item()); // 0.85 ((0.6 + 0.4 + 1.1 + 1.3) / 4)
 * ```
 */
export function multilabelMarginLoss(
  input: Tensor,
  target: Tensor,
  options: ReductionOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("multilabelMarginLoss", input);
  const op = "multilabelMarginLoss";
  const reduction = optionsOf(op, options, []);
  if (!(input instanceof Tensor) || !(target instanceof Tensor)) {
    throw new TypeError(`${op}: input and target must be tensors`);
  }
  requireFloat(op, input);
  sameDevice(op, input, target);
  if (input.rank === 1 && sameShape(target.shape, input.shape)) {
    return tidy(() => {
      const loss = multilabelMarginLoss(input.unsqueeze(0), target.unsqueeze(0), options);
      return loss.rank === 0 ? loss : loss.reshape([]);
    });
  }
  if (input.rank !== 2 || !sameShape(target.shape, input.shape)) {
    throw new ShapeError(
      `${op}: input must be [N, C] scores and target the same shape, got input ` +
        `[${input.shape}] and target [${target.shape}]`,
    );
  }
  if (target.dtype !== "i32") {
    throw new TypeError(`${op}: target must be i32 class indices, got ${target.dtype}`);
  }
  const [rows, classes] = input.shape;
  return tidy(() => {
    const x = input as F32;
    const labels = target as Tensor<Shape, "i32">;
    // The targets of a row are its entries before the first negative one.
    const listed = labels.ge(0).cumprod(1) as F32; // [N, K]
    const safe = labels.where(listed, 0) as Tensor<Shape, "i32">;
    const hot = oneHot(safe.flatten(), classes).reshape([rows, classes, classes]); // [N, K, C]
    const isTarget = hot.mul(listed.unsqueeze(2)).sum(1).gt(0) as F32; // [N, C]
    const chosen = x.gather(1, safe); // x[y_k], [N, K]
    const hinge = x.unsqueeze(1).sub(chosen.unsqueeze(2)).add(1).relu(); // [N, K, C]
    const counted = listed.unsqueeze(2).mul(isTarget.neg().add(1).unsqueeze(1));
    return reduced(hinge.mul(counted).sum([1, 2]).div(classes) as F32, reduction);
  });
}
