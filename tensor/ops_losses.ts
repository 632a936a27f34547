/**
 * The losses of `torch.nn.functional` beyond cross-entropy, with PyTorch's options, defaults and
 * reductions: the regression losses (`mseLoss`, `l1Loss`, `smoothL1Loss`, `huberLoss`), the
 * negative log-likelihood (`nllLoss`, the contract of `crossEntropy`), binary cross-entropy on
 * probabilities and on logits, the Kullback-Leibler divergence and the Poisson and Gaussian
 * negative log-likelihoods. Each elementwise term is one kernel pass each way
 * (`kernels/loss_terms.ts`), the negative log-likelihood a gather forward and a scatter backward
 * (`kernels/nll_loss.ts`); the rest composes tensor ops, whose gradients come with them. The
 * margin and ranking losses are in `ops_margin_losses.ts`.
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { tidy } from "./memory.ts";
import { softplus } from "./ops_activation.ts";
import { sameShape, type Shape, ShapeError } from "./shape.ts";
import { apply, selected, Tensor, tensorArgument } from "./tensor.ts";
import {
  checkPair,
  checkWeight,
  type F32,
  lossTerm,
  optionsOf,
  reduced,
  type Reduction,
  type ReductionOptions,
  requireNumber,
} from "./_loss_reduction.ts";

export type { Reduction, ReductionOptions };

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
