/**
 * Loss layers, as PyTorch's `nn` losses: modules with the options at construction, then
 * `forward(input, target)`. `forward` is bound to its loss, so `new CrossEntropyLoss().forward`
 * (or `NLLLoss`'s, after a `LogSoftmax`) can be handed to the trainer as its `loss`. Class
 * weights are the loss's buffers, as in PyTorch (`weight`, and `pos_weight` of
 * `BCEWithLogitsLoss`): in its state dict, moved by `to()`, never trained.
 *
 * @module
 */

import {
  binaryCrossEntropy,
  type BinaryCrossEntropyOptions,
  binaryCrossEntropyWithLogits,
  type BinaryCrossEntropyWithLogitsOptions,
  gaussianNllLoss,
  type GaussianNllOptions,
  huberLoss,
  type HuberOptions,
  klDiv,
  type KlDivOptions,
  l1Loss,
  mseLoss,
  multilabelSoftMarginLoss,
  nllLoss,
  type NllLossOptions,
  poissonNllLoss,
  type PoissonNllOptions,
  type ReductionOptions,
  smoothL1Loss,
  type SmoothL1Options,
} from "../tensor/ops_losses.ts";
import {
  cosineEmbeddingLoss,
  hingeEmbeddingLoss,
  type MarginOptions,
  marginRankingLoss,
  multilabelMarginLoss,
  multiMarginLoss,
  type MultiMarginOptions,
  softMarginLoss,
  tripletMarginLoss,
  type TripletMarginOptions,
  tripletMarginWithDistanceLoss,
  type TripletMarginWithDistanceOptions,
} from "../tensor/ops_margin_losses.ts";
import { crossEntropy, type CrossEntropyOptions } from "../tensor/ops_loss.ts";
import { ctcLoss, type CtcLossOptions } from "../tensor/ops_ctc.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** The tensors a loss's options may hold: its buffers, by option name. */
export interface LossWeights {
  /** Class or element weights (the buffer `weight`). */
  weight?: Tensor;
  /** `BCEWithLogitsLoss`'s weights of the positive terms (the buffer `pos_weight`). */
  posWeight?: Tensor;
}

/** PyTorch's buffer name for each tensor option. */
const BUFFER_NAMES: { readonly [K in keyof LossWeights]-?: string } = {
  weight: "weight",
  posWeight: "pos_weight",
};

/** The class-weight options, in the order their buffers are registered. */
const WEIGHT_KEYS = Object.keys(BUFFER_NAMES) as (keyof LossWeights)[];

/**
 * A loss: a function of an input (a prediction) and a target, with its options fixed at
 * construction. `forward` is bound to the instance.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { type Loss, MSELoss } from "./loss.ts";
 * await defaultDevice();
 * const criterion: Loss = new MSELoss();
 * const { forward } = criterion;
 * console.log(await forward(tensor([1, 3]), tensor([1, 1])).item()); // 2
 * ```
 */
export abstract class Loss extends Module {
  /**
   * Binds `forward` to this loss, and registers the class weights of `options` as buffers
   * under PyTorch's names. A detached handle is kept: the caller's tensor outlives the loss.
   */
  constructor(options: LossWeights = {}) {
    super();
    this.forward = this.forward.bind(this);
    for (const key of WEIGHT_KEYS) {
      const tensor = options[key];
      if (tensor !== undefined) this.registerBuffer(BUFFER_NAMES[key], tensor.detach());
    }
  }

  /** The loss of `input` against `target`. */
  abstract override forward(input: Tensor, target: Tensor): Tensor<Shape, "f32">;

  /** `options` with each class weight read from this loss's buffer (which `to()` may move). */
  protected weighted<O extends LossWeights>(options: O): O {
    const out = { ...options };
    for (const key of WEIGHT_KEYS) {
      if (options[key] !== undefined) out[key] = this.getBuffer(BUFFER_NAMES[key]);
    }
    return out;
  }
}

/**
 * The mean squared error (`nn.MSELoss`); see `mseLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { MSELoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new MSELoss({ reduction: "sum" }).forward(tensor([1, 3]), tensor([0, 0])).item()); // 10
 * ```
 */
export class MSELoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: ReductionOptions = {}) {
    super();
  }

  /** The squared errors, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return mseLoss(input, target, this.options);
  }
}

/**
 * The mean absolute error (`nn.L1Loss`); see `l1Loss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { L1Loss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new L1Loss().forward(tensor([1, -3]), tensor([0, 0])).item()); // 2
 * ```
 */
export class L1Loss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: ReductionOptions = {}) {
    super();
  }

  /** The absolute errors, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return l1Loss(input, target, this.options);
  }
}

/**
 * The smooth L1 loss (`nn.SmoothL1Loss`); see `smoothL1Loss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SmoothL1Loss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new SmoothL1Loss({ beta: 0.5 }).forward(tensor([2]), tensor([0])).item()); // 1.75
 * ```
 */
export class SmoothL1Loss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: SmoothL1Options = {}) {
    super();
  }

  /** The smooth L1 terms, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return smoothL1Loss(input, target, this.options);
  }
}

/**
 * The Huber loss (`nn.HuberLoss`); see `huberLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { HuberLoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new HuberLoss({ delta: 0.5 }).forward(tensor([2]), tensor([0])).item()); // 0.875
 * ```
 */
export class HuberLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: HuberOptions = {}) {
    super();
  }

  /** The Huber terms, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return huberLoss(input, target, this.options);
  }
}

/**
 * The negative log-likelihood of log-probabilities (`nn.NLLLoss`); see `nllLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { NLLLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new NLLLoss().forward(tensor([[-0.5, -1]]), tensor([1], { dtype: "i32" }));
 * console.log(await loss.item()); // 1
 * ```
 */
export class NLLLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: NllLossOptions = {}) {
    super(options);
  }

  /** The negative log-likelihoods, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return nllLoss(input, target, this.weighted(this.options));
  }
}

/**
 * The cross-entropy of logits (`nn.CrossEntropyLoss`); see `crossEntropy`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { CrossEntropyLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new CrossEntropyLoss().forward(tensor([[0, 0]]), tensor([1], { dtype: "i32" }));
 * console.log(await loss.item()); // 0.6931…
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: CrossEntropyOptions = {}) {
    super(options);
  }

  /** The cross-entropies, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return crossEntropy(input, target, this.weighted(this.options));
  }
}

/**
 * Binary cross-entropy of probabilities (`nn.BCELoss`); see `binaryCrossEntropy`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { BCELoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new BCELoss().forward(tensor([0.5]), tensor([1])).item()); // 0.6931…
 * ```
 */
export class BCELoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: BinaryCrossEntropyOptions = {}) {
    super(options);
  }

  /** The binary cross-entropies, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return binaryCrossEntropy(input, target, this.weighted(this.options));
  }
}

/**
 * Binary cross-entropy of logits (`nn.BCEWithLogitsLoss`); see
 * `binaryCrossEntropyWithLogits`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { BCEWithLogitsLoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new BCEWithLogitsLoss().forward(tensor([0]), tensor([1])).item()); // 0.6931…
 * ```
 */
export class BCEWithLogitsLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: BinaryCrossEntropyWithLogitsOptions = {}) {
    super(options);
  }

  /** The binary cross-entropies of the logits, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return binaryCrossEntropyWithLogits(input, target, this.weighted(this.options));
  }
}

/**
 * The Kullback-Leibler divergence (`nn.KLDivLoss`); see `klDiv`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { KLDivLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new KLDivLoss({ reduction: "batchmean" });
 * console.log(await loss.forward(tensor([[Math.log(0.5), Math.log(0.5)]]), tensor([[1, 0]])).item()); // 0.6931…
 * ```
 */
export class KLDivLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: KlDivOptions = {}) {
    super();
  }

  /** The divergence, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return klDiv(input, target, this.options);
  }
}

/**
 * The two-class logistic loss (`nn.SoftMarginLoss`); see `softMarginLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { SoftMarginLoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new SoftMarginLoss().forward(tensor([0]), tensor([1])).item()); // 0.6931…
 * ```
 */
export class SoftMarginLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: ReductionOptions = {}) {
    super();
  }

  /** The logistic terms, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return softMarginLoss(input, target, this.options);
  }
}

/**
 * The multi-label one-versus-all loss (`nn.MultiLabelSoftMarginLoss`); see
 * `multilabelSoftMarginLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { MultiLabelSoftMarginLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new MultiLabelSoftMarginLoss().forward(tensor([[0, 0]]), tensor([[1, 1]]));
 * console.log(await loss.item()); // 0.6931…
 * ```
 */
export class MultiLabelSoftMarginLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: BinaryCrossEntropyOptions = {}) {
    super(options);
  }

  /** The per-sample means over the classes, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return multilabelSoftMarginLoss(input, target, this.weighted(this.options));
  }
}

/**
 * The Poisson negative log-likelihood (`nn.PoissonNLLLoss`); see `poissonNllLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { PoissonNLLLoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new PoissonNLLLoss().forward(tensor([0]), tensor([1])).item()); // 1
 * ```
 */
export class PoissonNLLLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: PoissonNllOptions = {}) {
    super();
  }

  /** The Poisson terms, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return poissonNllLoss(input, target, this.options);
  }
}

/**
 * The hinge embedding loss (`nn.HingeEmbeddingLoss`); see `hingeEmbeddingLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { HingeEmbeddingLoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new HingeEmbeddingLoss().forward(tensor([0.25]), tensor([-1])).item()); // 0.75
 * ```
 */
export class HingeEmbeddingLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: MarginOptions = {}) {
    super();
  }

  /** The hinge terms, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return hingeEmbeddingLoss(input, target, this.options);
  }
}

/**
 * A loss of three tensors (two inputs and a target, or an anchor, a positive and a negative),
 * with its options fixed at construction; `forward` is bound to the instance.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { MarginRankingLoss, type ThreeInputLoss } from "./loss.ts";
 * await defaultDevice();
 * const criterion: ThreeInputLoss = new MarginRankingLoss();
 * console.log(await criterion.forward(tensor([1]), tensor([2]), tensor([1])).item()); // 1
 * ```
 */
export abstract class ThreeInputLoss extends Module {
  /** Binds `forward` to this loss. */
  constructor() {
    super();
    this.forward = this.forward.bind(this);
  }

  /** The loss of the three tensors. */
  abstract override forward(a: Tensor, b: Tensor, c: Tensor): Tensor<Shape, "f32">;
}

/**
 * The margin ranking loss (`nn.MarginRankingLoss`) of two inputs and a target of ±1; see
 * `marginRankingLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { MarginRankingLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new MarginRankingLoss({ margin: 1 });
 * console.log(await loss.forward(tensor([2]), tensor([1.5]), tensor([1])).item()); // 0.5
 * ```
 */
export class MarginRankingLoss extends ThreeInputLoss {
  /** Creates the loss. */
  constructor(readonly options: MarginOptions = {}) {
    super();
  }

  /** The ranking terms of `input1` against `input2`, reduced. */
  forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return marginRankingLoss(input1, input2, target, this.options);
  }
}

/**
 * The Gaussian negative log-likelihood (`nn.GaussianNLLLoss`) of a mean, a target and a
 * variance; see `gaussianNllLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { GaussianNLLLoss } from "./loss.ts";
 * await defaultDevice();
 * console.log(await new GaussianNLLLoss().forward(tensor([0]), tensor([2]), tensor([1])).item()); // 2
 * ```
 */
export class GaussianNLLLoss extends ThreeInputLoss {
  /** Creates the loss. */
  constructor(readonly options: GaussianNllOptions = {}) {
    super();
  }

  /** The Gaussian terms of `input` (means) against `target` with `variance`, reduced. */
  forward(input: Tensor, target: Tensor, variance: Tensor): Tensor<Shape, "f32"> {
    return gaussianNllLoss(input, target, variance, this.options);
  }
}

/**
 * The cosine embedding loss (`nn.CosineEmbeddingLoss`) of two inputs and a target of ±1; see
 * `cosineEmbeddingLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { CosineEmbeddingLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new CosineEmbeddingLoss().forward(tensor([[1, 0]]), tensor([[1, 0]]), tensor([1]));
 * console.log(await loss.item()); // 0
 * ```
 */
export class CosineEmbeddingLoss extends ThreeInputLoss {
  /** Creates the loss. */
  constructor(readonly options: MarginOptions = {}) {
    super();
  }

  /** The cosine terms of the pairs, reduced. */
  forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return cosineEmbeddingLoss(input1, input2, target, this.options);
  }
}

/**
 * The multi-label hinge loss (`nn.MultiLabelMarginLoss`) of `[N, C]` scores against rows of
 * class indices ended by −1; see `multilabelMarginLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { MultiLabelMarginLoss } from "./loss.ts";
 * await defaultDevice();
 * const targets = tensor([[1, -1]], { dtype: "i32" });
 * console.log(await new MultiLabelMarginLoss().forward(tensor([[0, 0.5]]), targets).item()); // 0.25 (max(0, 1 − 0.5) / 2)
 * ```
 */
export class MultiLabelMarginLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: ReductionOptions = {}) {
    super();
  }

  /** The hinge terms of each sample, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return multilabelMarginLoss(input, target, this.options);
  }
}

/**
 * The multi-class hinge loss (`nn.MultiMarginLoss`) of `[N, C]` scores against class indices;
 * see `multiMarginLoss`. Its `weight` is a buffer, as PyTorch's.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { MultiMarginLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new MultiMarginLoss({ p: 2, margin: 0.5 });
 * console.log(await loss.forward(tensor([[0, 1]]), tensor([0], { dtype: "i32" })).item()); // 1.125 (1.5² / 2)
 * ```
 */
export class MultiMarginLoss extends Loss {
  /** Creates the loss. */
  constructor(readonly options: MultiMarginOptions = {}) {
    super(options);
  }

  /** The hinge terms of each sample, reduced. */
  forward(input: Tensor, target: Tensor): Tensor<Shape, "f32"> {
    return multiMarginLoss(input, target, this.weighted(this.options));
  }
}

/**
 * The triplet margin loss (`nn.TripletMarginLoss`) of anchors, positives and negatives; see
 * `tripletMarginLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { TripletMarginLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new TripletMarginLoss({ margin: 2, eps: 0 });
 * console.log(await loss.forward(tensor([[0, 0]]), tensor([[3, 4]]), tensor([[6, 0]])).item()); // 1
 * ```
 */
export class TripletMarginLoss extends ThreeInputLoss {
  /** Creates the loss. */
  constructor(readonly options: TripletMarginOptions = {}) {
    super();
  }

  /** The triplet terms, reduced. */
  forward(anchor: Tensor, positive: Tensor, negative: Tensor): Tensor<Shape, "f32"> {
    return tripletMarginLoss(anchor, positive, negative, this.options);
  }
}

/**
 * The triplet margin loss with a distance of one's own (`nn.TripletMarginWithDistanceLoss`);
 * see `tripletMarginWithDistanceLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { TripletMarginWithDistanceLoss } from "./loss.ts";
 * await defaultDevice();
 * const loss = new TripletMarginWithDistanceLoss({
 *   distanceFunction: (x, y) => x.sub(y).abs().sum(-1), // the L1 distance
 *   margin: 2,
 * });
 * console.log(await loss.forward(tensor([[0, 0]]), tensor([[1, 1]]), tensor([[1, 2]])).item()); // 1
 * ```
 */
export class TripletMarginWithDistanceLoss extends ThreeInputLoss {
  /** Creates the loss. */
  constructor(readonly options: TripletMarginWithDistanceOptions = {}) {
    super();
  }

  /** The triplet terms, reduced. */
  forward(anchor: Tensor, positive: Tensor, negative: Tensor): Tensor<Shape, "f32"> {
    return tripletMarginWithDistanceLoss(anchor, positive, negative, this.options);
  }
}

/**
 * The connectionist temporal classification loss (`nn.CTCLoss`) of `[T, N, C]`
 * log-probabilities against label sequences; see `ctcLoss`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { CTCLoss } from "./loss.ts";
 * await defaultDevice();
 * const frame = [[Math.log(0.5), Math.log(0.5)]];
 * const loss = new CTCLoss({ reduction: "sum" });
 * console.log(await loss.forward(tensor([frame, frame]), tensor([[1]], { dtype: "i32" }), [2], [1]).item()); // 0.2876… (−log 3/4)
 * ```
 */
export class CTCLoss extends Module {
  /** Creates the loss (`blank` default 0, `reduction` "mean", `zeroInfinity` false). */
  constructor(readonly options: CtcLossOptions = {}) {
    super();
    this.forward = this.forward.bind(this);
  }

  /** The loss of `logProbs` against `targets`, given each sample's frames and labels. */
  forward(
    logProbs: Tensor,
    targets: Tensor,
    inputLengths: readonly number[],
    targetLengths: readonly number[],
  ): Tensor<Shape, "f32"> {
    return ctcLoss(logProbs, targets, inputLengths, targetLengths, this.options);
  }
}
