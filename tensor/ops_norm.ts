/**
 * Normalisation, functional, with PyTorch's semantics: {@link batchNorm} (`F.batch_norm`, with
 * the running statistics updated in place), {@link layerNorm} (`F.layer_norm`),
 * {@link groupNorm} (`F.group_norm`) and {@link instanceNorm} (`F.instance_norm`).
 *
 * All four share one op (`_rules/norm.ts`): statistics per group of values, in one reduction
 * pass that is sound for a large mean (Welford and Chan, not E[x²] − E[x]²), then one pass that
 * normalises and applies the weight and bias. Batch norm's groups are the channels over the
 * batch and space; layer and group norm's are per sample: the rows of `x` viewed as
 * `[rows, 1, D]`, the `(sample, group)` blocks of `[N, G, C/G·S]`, their elementwise weight and
 * bias applied in the same pass (and their gradients summed by one more reduction). Instance
 * norm is group norm with a group per channel.
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { checkOptions, optionNames } from "./options.ts";
import type { BatchNormRunning } from "./_primitives_norm.ts";
import type { OpParams } from "./_rules/mod.ts";
import { type Shape, ShapeError } from "./shape.ts";
import { noGrad } from "./_autograd.ts";
import { tidy } from "./memory.ts";
import { apply, rawOf, type Tensor, tensorArgument } from "./tensor.ts";

/** Options of {@link batchNorm}, PyTorch's `F.batch_norm` arguments. */
export interface BatchNormOptions {
  /** `[C]` running mean: read in evaluation, updated in place in training. */
  runningMean?: Tensor | null;
  /** `[C]` running variance (unbiased), as `runningMean`. */
  runningVar?: Tensor | null;
  /** `[C]` scale (default none: 1). */
  weight?: Tensor | null;
  /** `[C]` shift (default none: 0). */
  bias?: Tensor | null;
  /**
   * Normalise by the batch's statistics and update the running ones (default false: by the
   * running ones). Without running statistics the batch's are used either way.
   */
  training?: boolean;
  /**
   * The batch's weight in the running statistics (default 0.1), or null for their cumulative
   * average over the batches seen, which needs `numBatchesTracked`.
   */
  momentum?: number | null;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /**
   * One i32 (shape `[]`), the count of batches (`num_batches_tracked`), incremented on the
   * device by every update of the running statistics; a cumulative average divides by it.
   */
  numBatchesTracked?: Tensor | null;
}

const BATCH_NORM_OPTIONS = optionNames<BatchNormOptions>({
  runningMean: true,
  runningVar: true,
  weight: true,
  bias: true,
  training: true,
  momentum: true,
  eps: true,
  numBatchesTracked: true,
});

/**
 * Batch normalisation of `x [N, C, *]` per channel C, as PyTorch's `F.batch_norm`: in training
 * (or without running statistics), by the batch's mean and biased variance over N and `*`,
 * and the running statistics, when given, are updated in place with the batch's mean and
 * unbiased variance (a channel whose batch statistics are not finite keeps its running ones);
 * in evaluation, by the running statistics. The update happens on the device, with no wait.
 *
 * @example
 * ```ts
 * import { batchNorm, defaultDevice, ones, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[1, 10], [3, 30]]);
 * const runningMean = zeros([2]), runningVar = ones([2]);
 * const y = batchNorm(x, { runningMean, runningVar, training: true, momentum: 0.5, eps: 0 });
 * console.log(await y.toArray()); // [[-1, -1], [1, 1]]
 * console.log(await runningMean.toArray()); // [1, 10]: half of the batch mean [2, 20]
 * ```
 */
export function batchNorm(x: Tensor, options: BatchNormOptions = {}): Tensor<Shape, "f32"> {
  tensorArgument("batchNorm", x);
  const op = "batchNorm";
  checkOptions(op, options, BATCH_NORM_OPTIONS);
  requireFloat(op, x);
  if (x.rank < 2) throw new ShapeError(`${op}: expected [N, C, *], got [${x.shape}]`);
  const channels = x.shape[1] as number;
  const { weight = null, bias = null, runningMean = null, runningVar = null } = options;
  const momentum = options.momentum === undefined ? 0.1 : options.momentum;
  const eps = checkedEps(op, options.eps);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new Error(`${op}: give both runningMean and runningVar, or neither`);
  }
  checkPerChannel(op, x, [channels], { weight, bias, runningMean, runningVar });
  const batchStats = (options.training ?? false) || runningMean === null;
  if (batchStats && x.size === channels && x.size > 0) {
    throw new RangeError(
      `Expected more than 1 value per channel when training, got input size [${x.shape}]`,
    );
  }
  if (momentum !== null && !Number.isFinite(momentum)) {
    throw new RangeError(`${op}: momentum must be a finite number or null, got ${momentum}`);
  }
  const running = runningMean && runningVar
    ? runningStatistics(x, runningMean, runningVar, options.numBatchesTracked ?? null, {
      updated: batchStats && x.size > 0,
      cumulative: momentum === null,
    })
    : null;
  return normalize(x, weight, bias, {
    op: "batchNorm",
    running,
    batchStats,
    eps,
    momentum,
    perSample: false,
  });
}

/**
 * The running statistics as the op takes them, checked: updated in place, they must be
 * contiguous; a cumulative average needs the count, one contiguous i32.
 */
function runningStatistics(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  tracked: Tensor | null,
  use: { updated: boolean; cumulative: boolean },
): BatchNormRunning {
  const op = "batchNorm";
  for (const [name, t] of [["runningMean", mean], ["runningVar", variance]] as const) {
    if (use.updated && !t.isContiguous) {
      throw new Error(`${op}: ${name} is updated in place and must be contiguous`);
    }
  }
  if (use.updated && use.cumulative && tracked === null) {
    throw new Error(`${op}: momentum null (a cumulative average) needs numBatchesTracked`);
  }
  if (tracked !== null) {
    sameDevice(op, x, tracked);
    if (tracked.dtype !== "i32" || tracked.size !== 1 || !tracked.isContiguous) {
      throw new TypeError(
        `${op}: numBatchesTracked must be one contiguous i32, got ${tracked.dtype} ` +
          `[${tracked.shape}]`,
      );
    }
  }
  return { mean: rawOf(mean), variance: rawOf(variance), tracked: tracked && rawOf(tracked) };
}

/** The op over `x [N, C, *]` with its affine inputs where given. */
function normalize(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  p: Omit<OpParams["batchNorm"], "weight" | "bias">,
): Tensor<Shape, "f32"> {
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return apply("batchNorm", inputs, { ...p, weight: weight !== null, bias: bias !== null });
}

/** Options of {@link layerNorm}. */
export interface LayerNormOptions {
  /** Elementwise scale of `normalizedShape` (default none: 1). */
  weight?: Tensor | null;
  /** Elementwise shift of `normalizedShape` (default none: 0). */
  bias?: Tensor | null;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * Layer normalisation, as PyTorch's `F.layer_norm`: each row of the trailing
 * `normalizedShape` axes is normalised by its own mean and biased variance, then scaled by
 * `weight` and shifted by `bias` elementwise.
 *
 * @example
 * ```ts
 * import { defaultDevice, layerNorm, tensor } from "../mod.ts";
 * await defaultDevice();
 * const y = layerNorm(tensor([[1, 3], [10, 30]]), [2], { eps: 0 });
 * console.log(await y.toArray()); // [[-1, 1], [-1, 1]]
 * ```
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  options: LayerNormOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("layerNorm", x);
  const op = "layerNorm";
  checkOptions(op, options, AFFINE_NORM_OPTIONS);
  requireFloat(op, x);
  const k = normalizedShape.length;
  const trailing = (x.shape as readonly number[]).slice(x.rank - k);
  if (k === 0 || k > x.rank || trailing.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError(
      `${op}: normalizedShape [${normalizedShape}] must be the trailing axes of the input ` +
        `[${x.shape}]`,
    );
  }
  const { weight = null, bias = null } = options;
  checkPerChannel(op, x, normalizedShape, { weight, bias });
  const d = normalizedShape.reduce((a, b) => a * b, 1);
  const rows = x.size / Math.max(d, 1);
  const eps = checkedEps(op, options.eps);
  // Each of a row's values has its own weight and bias.
  return groupStatistics(x, [rows, 1, d], {
    op: "layerNorm",
    weight,
    bias,
    affineSpan: 1,
    eps,
  });
}

/** Options of {@link groupNorm}. */
export interface GroupNormOptions {
  /** `[C]` scale (default none: 1). */
  weight?: Tensor | null;
  /** `[C]` shift (default none: 0). */
  bias?: Tensor | null;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/** The options of `layerNorm` and `groupNorm`: the affine parameters and ε. */
const AFFINE_NORM_OPTIONS = optionNames<LayerNormOptions & GroupNormOptions>({
  weight: true,
  bias: true,
  eps: true,
});

/**
 * Group normalisation, as PyTorch's `F.group_norm`: the C channels of `x [N, C, *]` form
 * `numGroups` groups of consecutive channels, each normalised per sample by its own mean and
 * biased variance, then scaled and shifted per channel.
 *
 * @example
 * ```ts
 * import { defaultDevice, groupNorm, tensor } from "../mod.ts";
 * await defaultDevice();
 * const y = groupNorm(tensor([[1, 3, 5, 9]]), 2, { eps: 0 });
 * console.log(await y.toArray()); // [[-1, 1, -1, 1]]
 * ```
 */
export function groupNorm(
  x: Tensor,
  numGroups: number,
  options: GroupNormOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("groupNorm", x);
  const op = "groupNorm";
  checkOptions(op, options, AFFINE_NORM_OPTIONS);
  requireFloat(op, x);
  if (x.rank < 2) throw new ShapeError(`${op}: expected [N, C, *], got [${x.shape}]`);
  const [batch, channels] = x.shape as readonly number[];
  if (!Number.isInteger(numGroups) || numGroups < 1 || channels % numGroups !== 0) {
    throw new RangeError(
      `${op}: Expected number of channels in input to be divisible by num_groups, but got ` +
        `input of shape [${x.shape}] and num_groups=${numGroups}`,
    );
  }
  const { weight = null, bias = null } = options;
  checkPerChannel(op, x, [channels], { weight, bias });
  const eps = checkedEps(op, options.eps);
  const perGroup = x.size / Math.max(batch * numGroups, 1);
  // The per-channel weight and bias are shared by a channel's values (the axes after C).
  const affineSpan = (x.shape as readonly number[]).slice(2).reduce((a, b) => a * b, 1);
  return groupStatistics(x, [batch, numGroups, perGroup], {
    op,
    weight,
    bias,
    affineSpan,
    eps,
  });
}

/** Options of {@link instanceNorm}, PyTorch's `F.instance_norm` arguments. */
export interface InstanceNormOptions {
  /** `[C]` running mean: updated in training with the batch's mean of the instances' means. */
  runningMean?: Tensor | null;
  /** `[C]` running variance: as `runningMean`, with the instances' unbiased variances. */
  runningVar?: Tensor | null;
  /** `[C]` scale (default none: 1). */
  weight?: Tensor | null;
  /** `[C]` shift (default none: 0). */
  bias?: Tensor | null;
  /**
   * Normalise each instance by its own statistics (default true); false normalises by the
   * running statistics, which must then be given.
   */
  useInputStats?: boolean;
  /** The batch's weight in the running statistics (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

const INSTANCE_NORM_OPTIONS = optionNames<InstanceNormOptions>({
  runningMean: true,
  runningVar: true,
  weight: true,
  bias: true,
  useInputStats: true,
  momentum: true,
  eps: true,
});

/**
 * Instance normalisation of `x [N, C, *]`, as PyTorch's `F.instance_norm`: each channel of each
 * sample normalised by its own mean and biased variance over `*`, then scaled and shifted per
 * channel; the running statistics, when given, take the batch's mean of the instances' means
 * and unbiased variances (in place). With `useInputStats: false`, the running statistics
 * normalise instead, as batch norm's evaluation does.
 *
 * @example
 * ```ts
 * import { defaultDevice, instanceNorm, tensor } from "../mod.ts";
 * await defaultDevice();
 * const y = instanceNorm(tensor([[[1, 3], [10, 30]]]), { eps: 0 });
 * console.log(await y.toArray()); // [[[-1, 1], [-1, 1]]]
 * ```
 */
export function instanceNorm(x: Tensor, options: InstanceNormOptions = {}): Tensor<Shape, "f32"> {
  tensorArgument("instanceNorm", x);
  const op = "instanceNorm";
  checkOptions(op, options, INSTANCE_NORM_OPTIONS);
  requireFloat(op, x);
  if (x.rank < 3) throw new ShapeError(`${op}: expected [N, C, *], got [${x.shape}]`);
  const { weight = null, bias = null, runningMean = null, runningVar = null } = options;
  const { useInputStats = true, momentum = 0.1 } = options;
  const eps = checkedEps(op, options.eps);
  if (!useInputStats) {
    if (!runningMean || !runningVar) {
      throw new Error(`${op}: without the input's statistics the running ones are needed`);
    }
    return batchNorm(x, { weight, bias, runningMean, runningVar, eps });
  }
  const [batch, channels] = x.shape as readonly number[];
  checkPerChannel(op, x, [channels], { weight, bias, runningMean, runningVar });
  if (x.size === batch * channels && x.size > 0) {
    throw new RangeError(
      `Expected more than 1 spatial element when training, got input size [${x.shape}]`,
    );
  }
  if (runningMean && runningVar && x.size > 0) {
    // The batch's mean of each channel's instance statistics, into the running ones.
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
    noGrad(() =>
      tidy(() => {
        const detached = x.detach() as Tensor<Shape, "f32">;
        for (
          const [running, stat] of [[runningMean, detached.mean(axes)], [
            runningVar,
            detached.var(axes),
          ]] as const
        ) {
          running.assign(running.mul(1 - momentum).add(stat.mean(0).mul(momentum)));
        }
      })
    );
  }
  return groupNorm(x, channels, { weight, bias, eps });
}

/** The elementwise affine map of a per-sample normalisation, and its eps. */
interface GroupAffine {
  /** The public op, named in errors. */
  op: string;
  weight: Tensor | null;
  bias: Tensor | null;
  /** Consecutive values of a sample that share one weight and bias. */
  affineSpan: number;
  eps: number;
}

/**
 * `x` normalised by the statistics of each sample and channel of `x` viewed as `groups`
 * (`[N, C, S]`: N·C groups of S consecutive values), then scaled and shifted elementwise (each
 * weight and bias shared by `affineSpan` consecutive values of a sample), in `x`'s shape. A
 * large tensor is read in runs of whole samples, as batch norm's is.
 */
function groupStatistics(
  x: Tensor,
  groups: readonly number[],
  { op, weight, bias, affineSpan, eps }: GroupAffine,
): Tensor<Shape, "f32"> {
  const grouped = x.reshape(groups);
  const normed = normalize(grouped, weight, bias, {
    op,
    running: null,
    batchStats: true,
    eps,
    momentum: null,
    perSample: true,
    affineSpan,
  });
  grouped.dispose();
  const out = normed.reshape(x.shape as readonly number[]);
  normed.dispose();
  return out as Tensor<Shape, "f32">;
}

function checkedEps(op: string, eps = 1e-5): number {
  if (!Number.isFinite(eps) || eps < 0) {
    throw new RangeError(`${op}: eps must be finite and non-negative, got ${eps}`);
  }
  return eps;
}

/** Checks that each given tensor is f32 of `shape` on `x`'s device; errors name it. */
function checkPerChannel(
  op: string,
  x: Tensor,
  shape: readonly number[],
  tensors: Record<string, Tensor | null>,
): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t === null) continue;
    requireFloat(`${op} ${name}`, t);
    sameDevice(op, x, t);
    if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`${op}: ${name} must have shape [${shape}], got [${t.shape}]`);
    }
  }
}
