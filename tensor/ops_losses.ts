/**
 * The losses of `torch.nn.functional` beyond cross-entropy, with PyTorch's options, defaults and
 * reductions: the regression losses (`mseLoss`, `l1Loss`, `smoothL1Loss`, `huberLoss`), the
 * negative log-likelihood (`nllLoss`, the contract of `crossEntropy`), binary cross-entropy on
 * probabilities and on logits, and the Kullback-Leibler divergence. Each elementwise term is
 * one kernel pass each way (`kernels/loss_terms.ts`), the negative log-likelihood a gather
 * forward and a scatter backward (`kernels/nll_loss.ts`); the rest composes tensor ops, whose
 * gradients come with them.
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { checkOptions } from "./options.ts";
import type { LossTerm } from "./_primitives_maps.ts";
import { tidy } from "./memory.ts";
import { softplus } from "./ops_activation.ts";
import { pairwiseDistance } from "./ops_distance.ts";
import { oneHot } from "./ops_loss.ts";
import { broadcastShapes, sameShape, type Shape, ShapeError } from "./shape.ts";
import { apply, selected, Tensor, tensorArgument } from "./tensor.ts";

/** How a loss reduces its elementwise (or per-sample) terms: PyTorch's `reduction`. */
export type Reduction = "mean" | "sum" | "none";

/** The options every loss takes. */
export interface ReductionOptions {
  /**
   * `"mean"` (default) of the terms, `"sum"` of them, or `"none"`: the terms themselves, in the
   * broadcast shape of input and target (per sample for `nllLoss`).
   */
  reduction?: Reduction;
}

type F32 = Tensor<Shape, "f32">;

/**
 * The reduction of `options`, after checking them: an option not in `names` (a typo would
 * otherwise be ignored) or a bad reduction is a one-line error.
 */
function optionsOf(
  op: string,
  options: object,
  names: readonly string[],
  extraReductions: readonly string[] = [],
): string {
  checkOptions(op, options, ["reduction", ...names]);
  const { reduction = "mean" } = options as { reduction?: string };
  const allowed = ["mean", "sum", "none", ...extraReductions];
  if (!allowed.includes(reduction)) {
    throw new TypeError(
      `${op}: reduction must be ${allowed.map((r) => `"${r}"`).join(", ")}, got ` +
        JSON.stringify(reduction),
    );
  }
  return reduction;
}

/**
 * `terms` reduced as `reduction` says (`"batchmean"`: the sum over the first axis' size), which
 * frees `terms` (the graph keeps what it needs) unless they are the result.
 */
function reduced(terms: F32, reduction: string): F32 {
  if (reduction === "none") return terms;
  const out = tidy(() => {
    if (reduction === "sum") return terms.sum();
    if (reduction === "mean") return terms.mean();
    return terms.sum().div(terms.rank === 0 ? 1 : terms.shape[0]);
  });
  terms.dispose();
  return out;
}

/** Throws unless `input` and `target` are f32 on one device (and, with `same`, of one shape). */
function checkPair(op: string, input: Tensor, target: Tensor, same: boolean): void {
  if (!(input instanceof Tensor) || !(target instanceof Tensor)) {
    throw new TypeError(`${op}: input and target must be tensors`);
  }
  requireFloat(op, input, target);
  sameDevice(op, input, target);
  if (same && !sameShape(input.shape, target.shape)) {
    throw new ShapeError(
      `${op}: target [${target.shape}] and input [${input.shape}] must have the same shape`,
    );
  }
  broadcastShapes(input.shape, target.shape, op);
}

/** The elementwise term `term(input, target)`, broadcast together, recorded for autograd. */
function lossTerm(input: Tensor, target: Tensor, term: LossTerm, params: number[] = []): F32 {
  return apply("lossTerm", [input, target], { term, params });
}

/** Throws unless `value` is a finite number, at least `min` (strictly above with `above`). */
function requireNumber(op: string, name: string, value: number, min: number, above = false) {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min || (above && value === min)
  ) {
    throw new RangeError(
      `${op}: ${name} must be a finite number ${above ? ">" : "≥"} ${min}, got ${value}`,
    );
  }
}

/**
 * The mean squared error `(input − target)²` (`F.mse_loss`), input and target broadcast
 * together as PyTorch does (mind a `[N, 1]` input against an `[N]` target: that is `[N, N]`).
 *
 * @example
 * ```ts
 * import { defaultDevice, mseLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])).item()); // 4.3333…
 * console.log(await mseLoss(tensor([1, 2]), tensor([0, 0]), { reduction: "none" }).toArray()); // [1, 4]
 * ```
 */
export function mseLoss(
  input: Tensor,
  target: Tensor,
  options: ReductionOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("mseLoss", input);
  const reduction = optionsOf("mseLoss", options, []);
  checkPair("mseLoss", input, target, false);
  return reduced(lossTerm(input, target, "squaredError"), reduction);
}

/**
 * The mean absolute error `|input − target|` (`F.l1_loss`); the gradient is 0 where they are
 * equal, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, l1Loss, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await l1Loss(tensor([1, 2, 3]), tensor([1, 0, 0]), { reduction: "sum" }).item()); // 5
 * ```
 */
export function l1Loss(
  input: Tensor,
  target: Tensor,
  options: ReductionOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("l1Loss", input);
  const reduction = optionsOf("l1Loss", options, []);
  checkPair("l1Loss", input, target, false);
  return reduced(lossTerm(input, target, "absoluteError"), reduction);
}

/** The options of {@link smoothL1Loss}. */
export interface SmoothL1Options extends ReductionOptions {
  /** Where the quadratic part ends (default 1; 0 makes it {@link l1Loss}, as PyTorch). */
  beta?: number;
}

/**
 * The smooth L1 loss (`F.smooth_l1_loss`): `½d²/β` where `|d| < β`, else `|d| − ½β`, with
 * `d = input − target`; `β = 0` is the L1 loss.
 *
 * @example
 * ```ts
 * import { defaultDevice, smoothL1Loss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = smoothL1Loss(tensor([0.5, 3]), tensor([0, 0]), { reduction: "none" });
 * console.log(await loss.toArray()); // [0.125, 2.5]
 * ```
 */
export function smoothL1Loss(
  input: Tensor,
  target: Tensor,
  options: SmoothL1Options = {},
): Tensor<Shape, "f32"> {
  tensorArgument("smoothL1Loss", input);
  const reduction = optionsOf("smoothL1Loss", options, ["beta"]);
  const { beta = 1 } = options;
  requireNumber("smoothL1Loss", "beta", beta, 0);
  checkPair("smoothL1Loss", input, target, false);
  if (beta === 0) return reduced(lossTerm(input, target, "absoluteError"), reduction);
  return reduced(lossTerm(input, target, "smoothL1", [beta]), reduction);
}

/** The options of {@link huberLoss}. */
export interface HuberOptions extends ReductionOptions {
  /** Where the quadratic part ends (default 1, > 0). */
  delta?: number;
}

/**
 * The Huber loss (`F.huber_loss`): `½d²` where `|d| < δ`, else `δ·(|d| − ½δ)`, with
 * `d = input − target` (δ times the smooth L1 loss with `β = δ`).
 *
 * @example
 * ```ts
 * import { defaultDevice, huberLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = huberLoss(tensor([0.5, 3]), tensor([0, 0]), { delta: 2, reduction: "none" });
 * console.log(await loss.toArray()); // [0.125, 4]
 * ```
 */
export function huberLoss(
  input: Tensor,
  target: Tensor,
  options: HuberOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("huberLoss", input);
  const reduction = optionsOf("huberLoss", options, ["delta"]);
  const { delta = 1 } = options;
  requireNumber("huberLoss", "delta", delta, 0, true);
  checkPair("huberLoss", input, target, false);
  return reduced(lossTerm(input, target, "huber", [delta]), reduction);
}

/** The options of {@link binaryCrossEntropy} (and, with `posWeight`, of its logits form). */
export interface BinaryCrossEntropyOptions extends ReductionOptions {
  /** Weights of the terms, broadcast to the input's shape (no gradient is needed). */
  weight?: Tensor;
}

/** Throws unless the optional `weight` (named `name`) broadcasts to `input`'s shape. */
function checkWeight(op: string, name: string, weight: Tensor | undefined, input: Tensor): void {
  if (weight === undefined) return;
  if (!(weight instanceof Tensor) || weight.dtype !== "f32") {
    throw new TypeError(`${op}: ${name} must be an f32 tensor`);
  }
  sameDevice(op, input, weight);
  const shape = broadcastShapes(input.shape, weight.shape, op);
  if (!sameShape(shape, input.shape)) {
    throw new ShapeError(
      `${op}: ${name} [${weight.shape}] does not broadcast to the input's shape [${input.shape}]`,
    );
  }
}

/**
 * Binary cross-entropy of probabilities (`F.binary_cross_entropy`):
 * `−w·(t·log x + (1 − t)·log(1 − x))`, each logarithm clamped at −100 as PyTorch's (so a
 * probability of exactly 0 or 1 costs 100, not ∞), the gradient's denominator `x(1 − x)` at
 * 1e-12. Input and target must have one shape. An input outside [0, 1] is PyTorch's error,
 * found on the device without a readback: its loss is NaN and the next read from the device
 * throws a `DeviceAssertionError` naming it. For logits, {@link binaryCrossEntropyWithLogits}
 * is stabler.
 *
 * @example
 * ```ts
 * import { binaryCrossEntropy, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await binaryCrossEntropy(tensor([0.5, 0.9]), tensor([1, 1])).item()); // 0.3992…
 * console.log(await binaryCrossEntropy(tensor([0]), tensor([1])).item()); // 100
 * ```
 */
export function binaryCrossEntropy(
  input: Tensor,
  target: Tensor,
  options: BinaryCrossEntropyOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("binaryCrossEntropy", input);
  const reduction = optionsOf("binaryCrossEntropy", options, ["weight"]);
  checkPair("binaryCrossEntropy", input, target, true);
  checkWeight("binaryCrossEntropy", "weight", options.weight, input);
  return tidy(() => {
    const terms = lossTerm(input, target, "binaryCrossEntropy");
    return reduced(options.weight ? terms.mul(options.weight as F32) : terms, reduction);
  });
}

/** The options of {@link binaryCrossEntropyWithLogits}. */
export interface BinaryCrossEntropyWithLogitsOptions extends BinaryCrossEntropyOptions {
  /**
   * The weight of the positive examples, broadcast along the last axis (one per class of a
   * multi-label output): `pos_weight` of `BCEWithLogitsLoss`.
   */
  posWeight?: Tensor;
}

/**
 * Binary cross-entropy of logits (`F.binary_cross_entropy_with_logits`):
 * `−w·(p·t·log σ(x) + (1 − t)·log(1 − σ(x)))` with `p` the positive weight, computed stably as
 * `(1 − t)·x + (1 + (p − 1)·t)·log(1 + e⁻ˣ)` (no overflow at any logit); the gradient is
 * `σ(x) − t` without a positive weight. Input and target must have one shape.
 *
 * @example
 * ```ts
 * import { binaryCrossEntropyWithLogits, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await binaryCrossEntropyWithLogits(tensor([0, 100]), tensor([1, 0])).item()); // 50.3465…
 * const posWeight = tensor([3]);
 * console.log(await binaryCrossEntropyWithLogits(tensor([0]), tensor([1]), { posWeight }).item()); // 2.0794…
 * ```
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: BinaryCrossEntropyWithLogitsOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("binaryCrossEntropyWithLogits", input);
  const op = "binaryCrossEntropyWithLogits";
  const reduction = optionsOf(op, options, ["weight", "posWeight"]);
  checkPair(op, input, target, true);
  checkWeight(op, "weight", options.weight, input);
  checkWeight(op, "posWeight", options.posWeight, input);
  const { weight, posWeight } = options;
  return tidy(() => {
    let terms = lossTerm(input, target, "binaryCrossEntropyWithLogits");
    if (posWeight) {
      // The positive examples' extra (p − 1)·t·log(1 + e⁻ˣ), log(1 + e⁻ˣ) as softplus(−x).
      const softplusOfMinus = softplus((input as F32).neg(), 1, Infinity);
      terms = terms.add(softplusOfMinus.mul((target as F32).mul((posWeight as F32).sub(1))));
    }
    return reduced(weight ? terms.mul(weight as F32) : terms, reduction);
  });
}

/**
 * The multi-label one-versus-all loss (`F.multilabel_soft_margin_loss`) of `[N, C]` logits
 * against `[N, C]` targets of 0 or 1: each sample's mean over the classes of the binary
 * cross-entropy of its logits (times `weight`, broadcast over the classes), then reduced over
 * the samples.
 *
 * @example
 * ```ts
 * import { defaultDevice, multilabelSoftMarginLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = multilabelSoftMarginLoss(tensor([[0, 0]]), tensor([[1, 0]]));
 * console.log(await loss.item()); // 0.6931…
 * ```
 */
export function multilabelSoftMarginLoss(
  input: Tensor,
  target: Tensor,
  options: BinaryCrossEntropyOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("multilabelSoftMarginLoss", input);
  const op = "multilabelSoftMarginLoss";
  const reduction = optionsOf(op, options, ["weight"]);
  checkPair(op, input, target, true);
  if (input.rank !== 2) {
    throw new ShapeError(`${op}: input must be [N, C] logits, got [${input.shape}]`);
  }
  checkWeight(op, "weight", options.weight, input);
  return tidy(() => {
    const terms = lossTerm(input, target, "binaryCrossEntropyWithLogits");
    const weighted = options.weight ? terms.mul(options.weight as F32) : terms;
    return reduced(weighted.mean(1), reduction);
  });
}

/** The options of {@link klDiv}. */
export interface KlDivOptions {
  /**
   * `"mean"` (default, as PyTorch: the mean over every element, which is not the divergence),
   * `"batchmean"` (the sum over the batch's first axis' size: the divergence per sample, what
   * one usually wants), `"sum"` or `"none"`.
   */
  reduction?: Reduction | "batchmean";
  /** Whether the target is given as log-probabilities too (default false). */
  logTarget?: boolean;
}

/**
 * The Kullback-Leibler divergence of `target` from the distribution whose log-probabilities
 * are `input` (`F.kl_div`): `t·(log t − x)` elementwise (0 where `t = 0`), or `eᵗ·(t − x)` with
 * `logTarget`. Input and target broadcast together.
 *
 * @example
 * ```ts
 * import { defaultDevice, klDiv, tensor } from "../mod.ts";
 * await defaultDevice();
 * const logP = tensor([[Math.log(0.5), Math.log(0.5)]]);
 * console.log(await klDiv(logP, tensor([[1, 0]]), { reduction: "batchmean" }).item()); // 0.6931…
 * ```
 */
export function klDiv(
  input: Tensor,
  target: Tensor,
  options: KlDivOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("klDiv", input);
  const reduction = optionsOf("klDiv", options, ["logTarget"], ["batchmean"]);
  checkPair("klDiv", input, target, false);
  return reduced(
    lossTerm(input, target, options.logTarget ? "klDivLogTarget" : "klDiv"),
    reduction,
  );
}

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

/** The options of {@link poissonNllLoss}. */
export interface PoissonNllOptions extends ReductionOptions {
  /** Whether the input is the log of the rate (default true): `eˣ − t·x`; else `x − t·log(x + ε)`. */
  logInput?: boolean;
  /** Adds Stirling's approximation of `log(t!)`, `t·log t − t + ½·log(2πt)` where `t > 1`. */
  full?: boolean;
  /** ε of `log(x + ε)` without `logInput` (default 1e-8). */
  eps?: number;
}

/**
 * The negative log-likelihood of counts `target` under a Poisson distribution of rate `input`
 * (`F.poisson_nll_loss`), with its options.
 *
 * @example
 * ```ts
 * import { defaultDevice, poissonNllLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await poissonNllLoss(tensor([0, 1]), tensor([1, 2]), { reduction: "none" }).toArray()); // [1, 0.7182…]
 * ```
 */
export function poissonNllLoss(
  input: Tensor,
  target: Tensor,
  options: PoissonNllOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("poissonNllLoss", input);
  const reduction = optionsOf("poissonNllLoss", options, ["logInput", "full", "eps"]);
  const { logInput = true, full = false, eps = 1e-8 } = options;
  requireNumber("poissonNllLoss", "eps", eps, 0);
  checkPair("poissonNllLoss", input, target, false);
  return tidy(() => {
    let terms = logInput
      ? lossTerm(input, target, "poissonLogInput")
      : lossTerm(input, target, "poisson", [eps]);
    if (full) {
      const t = target as Tensor<Shape, "f32">;
      const stirling = t.mul(t.log()).sub(t).add(t.mul(2 * Math.PI).log().mul(0.5));
      terms = terms.add(selected(t.gt(1), stirling, 0) as Tensor<Shape, "f32">);
    }
    return reduced(terms, reduction);
  });
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

/** The options of {@link gaussianNllLoss}. */
export interface GaussianNllOptions extends ReductionOptions {
  /** Adds the constant `½·log(2π)` (default false). */
  full?: boolean;
  /** Variances below it are taken as it (default 1e-6), as PyTorch clamps them. */
  eps?: number;
}

/**
 * The negative log-likelihood of `target` under normals of mean `input` and variance `variance`
 * (`F.gaussian_nll_loss`): `½·(log v + (input − target)²/v)` with `v` the variance clamped at
 * `eps` (the gradient passing as though unclamped, as PyTorch's). The variance has the input's
 * shape, or it without its last axis, or with a last axis of 1 (one variance per sample). A
 * negative variance is PyTorch's error, found on the device without a readback: the next read
 * from the device throws a `DeviceAssertionError` naming it. One pass each way.
 *
 * @example
 * ```ts
 * import { defaultDevice, gaussianNllLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = gaussianNllLoss(tensor([[0, 1]]), tensor([[1, 1]]), tensor([[1, 1]]));
 * console.log(await loss.item()); // 0.25
 * ```
 */
export function gaussianNllLoss(
  input: Tensor,
  target: Tensor,
  variance: Tensor,
  options: GaussianNllOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("gaussianNllLoss", input);
  const op = "gaussianNllLoss";
  const reduction = optionsOf(op, options, ["full", "eps"]);
  const { full = false, eps = 1e-6 } = options;
  requireNumber(op, "eps", eps, 0);
  checkPair(op, input, target, false);
  requireFloat(op, variance);
  sameDevice(op, input, variance);
  const lead = input.shape.slice(0, -1);
  const perSample = sameShape(variance.shape, lead);
  const fits = sameShape(variance.shape, input.shape) || perSample ||
    (sameShape(variance.shape.slice(0, -1), lead) && variance.shape.at(-1) === 1);
  if (!fits) {
    throw new ShapeError(
      `${op}: variance [${variance.shape}] fits neither the input [${input.shape}] nor one ` +
        `variance per sample ([${lead}] or [${[...lead, 1]}])`,
    );
  }
  return tidy(() => {
    const v = (perSample ? variance.unsqueeze(-1) : variance) as Tensor<Shape, "f32">;
    const d = (input as Tensor<Shape, "f32">).sub(target as Tensor<Shape, "f32">);
    let terms = lossTerm(d, v, "gaussianNll", [eps]);
    if (full) terms = terms.add(0.5 * Math.log(2 * Math.PI));
    return reduced(terms, reduction);
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

/** The options of {@link nllLoss}: `crossEntropy`'s, without label smoothing. */
export interface NllLossOptions extends ReductionOptions {
  /**
   * A `[C]` f32 tensor of class weights: each sample's loss is scaled by its label's weight,
   * and the mean divides by the sum of those weights (NaN when every sample is ignored).
   */
  weight?: Tensor;
  /** A label (default −100) whose samples contribute 0 and are not counted by the mean. */
  ignoreIndex?: number;
}

/**
 * The negative log-likelihood of log-probabilities `input` (`F.nll_loss`): each sample's loss
 * is `−w[y]·input[n, y]`, `y` its i32 label. The forms are `crossEntropy`'s: `[N, C]` against
 * `[N]`, `[N, C, d1, …]` against `[N, d1, …]` (a sample per position), `[C]` against a 0-d
 * label. A label outside `[0, C)` other than `ignoreIndex` makes the loss NaN and raises a
 * device-side error at the next read, naming `nllLoss` and the label. With `logSoftmax` before
 * it, it is the cross-entropy; entries of −∞ (impossible classes) cost nothing unless chosen.
 * One pass gathers the chosen entries, one scatters the gradient back.
 *
 * @example
 * ```ts
 * import { defaultDevice, nllLoss, tensor } from "../mod.ts";
 * await defaultDevice();
 * const logProbabilities = tensor([[-0.1, -2.4], [-1.2, -0.4]]);
 * const labels = tensor([0, 1], { dtype: "i32" });
 * console.log(await nllLoss(logProbabilities, labels).item()); // 0.25
 * const ignored = tensor([0, -100], { dtype: "i32" });
 * console.log(await nllLoss(logProbabilities, ignored).item()); // 0.1
 * ```
 */
export function nllLoss(
  input: Tensor,
  target: Tensor,
  options: NllLossOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("nllLoss", input);
  const reduction = optionsOf("nllLoss", options, ["weight", "ignoreIndex"]);
  const { weight, ignoreIndex = -100 } = options;
  if (!(input instanceof Tensor) || !(target instanceof Tensor)) {
    throw new TypeError("nllLoss: input and target must be tensors");
  }
  requireFloat("nllLoss", input);
  sameDevice("nllLoss", input, target);
  if (input.rank === 1) {
    // One unbatched sample: a batch of one, its loss unbatched back.
    if (target.rank !== 0) {
      throw new ShapeError(
        `nllLoss: target [${target.shape}] does not match input [${input.shape}] (need a 0-d label)`,
      );
    }
    return tidy(() => {
      const loss = nllLoss(input.reshape([1, input.shape[0]]), target.reshape([1]), options);
      return loss.rank === 0 ? loss : loss.reshape([]);
    });
  }
  const [rows, classes, ...positions] = input.shape;
  if (input.rank < 2 || !sameShape(target.shape, [rows, ...positions])) {
    throw new ShapeError(
      `nllLoss: target [${target.shape}] does not match input [${input.shape}] (need ` +
        `[${[rows, ...positions]}] class indices)`,
    );
  }
  if (target.dtype !== "i32") {
    throw new TypeError(`nllLoss: target must be i32 class indices, got ${target.dtype}`);
  }
  if (classes === 0) throw new ShapeError(`nllLoss: input [${input.shape}] has no classes`);
  if (!(Number.isInteger(ignoreIndex) && Math.abs(ignoreIndex + 0.5) < 2 ** 31)) {
    throw new RangeError(`nllLoss: ignoreIndex must be a 32-bit integer, got ${ignoreIndex}`);
  }
  if (weight !== undefined) {
    if (
      !(weight instanceof Tensor) || weight.dtype !== "f32" || !sameShape(weight.shape, [classes])
    ) {
      throw new TypeError(
        `nllLoss: weight must be a [${classes}] f32 tensor (one per class), got ` +
          (weight instanceof Tensor ? `${weight.dtype} [${weight.shape}]` : typeof weight),
      );
    }
    sameDevice("nllLoss", input, weight);
  }
  const inputs = weight ? [input, target, weight] : [input, target];
  return apply("nllLoss", inputs, { ignoreIndex, reduction: reduction as Reduction });
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
