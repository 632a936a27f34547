/**
 * Batch normalisation's primitives over raw tensors `[N, C, *]` (see `kernels/batch_norm.ts`
 * for the passes): the forward, which may update running statistics in place, and the
 * backward. Like `_primitives.ts`, each returns new raw tensors that its caller owns.
 *
 * @module
 */

import {
  affineGradShape,
  batchNormAffineGradFinalize,
  batchNormAffineGradPartials,
  batchNormApply,
  batchNormChunks,
  batchNormFinalize,
  batchNormGradFinalize,
  batchNormGradPartials,
  batchNormPartials,
  type BatchNormShape,
  statisticGroups,
} from "../kernels/batch_norm.ts";
import { empty, type RawTensor } from "./_core.ts";
import { contiguous, fill } from "./_primitives.ts";

/**
 * The running statistics a batch norm reads (evaluation) or updates in place (training):
 * contiguous `[C]` f32 tensors, and the i32 count of batches (`num_batches_tracked`).
 */
export interface BatchNormRunning {
  /** `[C]` running mean. */
  readonly mean: RawTensor;
  /** `[C]` running (unbiased) variance. */
  readonly variance: RawTensor;
  /** One i32, incremented by each update; null when not counted. */
  readonly tracked: RawTensor | null;
}

/** The constants of a batch norm. */
export interface BatchNormConstants {
  /** The public op (batchNorm, layerNorm, groupNorm, instanceNorm), named in errors. */
  readonly op: string;
  /** Normalise by the batch's statistics (and update `running`), else by `running`'s. */
  readonly batchStats: boolean;
  /**
   * Statistics per sample and channel instead of per channel over the batch (layer and group
   * norm); no running statistics then, and the weight and bias are elementwise (see
   * `affineSpan`).
   */
  readonly perSample: boolean;
  /**
   * Per sample: how many consecutive values of a sample share one weight and bias (layer norm
   * 1, group norm H·W); default 1.
   */
  readonly affineSpan?: number;
  /** Added to the variance. */
  readonly eps: number;
  /** The update's weight of the batch, or null for the cumulative average. */
  readonly momentum: number | null;
}

/** `[N, C, *]` as the kernels see it. */
export function batchNormShape(
  shape: readonly number[],
  k: Pick<BatchNormConstants, "op" | "perSample" | "affineSpan">,
): BatchNormShape {
  return {
    op: k.op,
    batch: shape[0],
    channels: shape[1],
    spatial: shape.slice(2).reduce((a, b) => a * b, 1),
    perSample: k.perSample,
    affineSpan: k.affineSpan,
  };
}

/**
 * Normalises `x` per channel (or per sample) and applies `weight` and `bias` (null: 1 and 0;
 * per sample elementwise, in the normalising pass). Returns the output and the `[groups, 4]`
 * coefficients the backward reads.
 */
export function batchNorm(
  x: RawTensor,
  weight: RawTensor | null,
  bias: RawTensor | null,
  running: BatchNormRunning | null,
  k: BatchNormConstants,
): { out: RawTensor; coef: RawTensor } {
  const device = x.device, shape = batchNormShape(x.shape, k);
  const out = empty(device, x.shape);
  const coef = empty(device, [statisticGroups(shape), 4], "f32", "batch norm coefficients");
  if (x.size === 0) return { out, coef };
  const xs = contiguous(x), ws = weight && contiguous(weight), bs = bias && contiguous(bias);
  // Read, the running statistics may be any view; updated in place, they are contiguous.
  const read = !k.batchStats && running;
  const rm = read ? contiguous(running.mean) : null,
    rv = read ? contiguous(running.variance) : null;
  let partials: RawTensor | null = null;
  try {
    if (k.batchStats) {
      const { chunks } = batchNormChunks(device, shape, [["x", xs.buffer]]);
      partials = empty(device, [statisticGroups(shape), chunks, 4], "f32", "batch norm partials");
      batchNormPartials(device, shape, { x: xs.buffer, partials: partials.buffer });
    }
    // Per channel the affine map goes into the coefficients; per sample into the pass.
    const perChannel = k.perSample ? {} : { weight: ws?.buffer, bias: bs?.buffer };
    const perSample = k.perSample ? { weight: ws?.buffer, bias: bs?.buffer } : {};
    batchNormFinalize(device, shape, partials?.shape[1] ?? 0, k, {
      partials: partials?.buffer ?? null,
      ...perChannel,
      coef: coef.buffer,
      runningMean: (rm ?? running?.mean)?.buffer,
      runningVar: (rv ?? running?.variance)?.buffer,
      tracked: running?.tracked?.buffer,
    });
    batchNormApply(device, shape, {
      x: xs.buffer,
      coef: coef.buffer,
      out: out.buffer,
      ...perSample,
      // The count moves with the running statistics.
      tracked: k.batchStats ? running?.tracked?.buffer : undefined,
    });
  } finally {
    [xs, ws, bs, rm, rv, partials].forEach((t) => t?.dispose());
  }
  return { out, coef };
}

/**
 * A per-sample batch norm's elementwise affine map, for its backward: the weight (dy's scale),
 * and the shape of the weight and bias, whose gradients are wanted when `sums`.
 */
export interface PerSampleAffine {
  /** The weight, or null for none. */
  readonly weight: RawTensor | null;
  /** The weight's (and bias's) shape. */
  readonly shape: readonly number[];
  /** Compute the weight's and bias's gradients (one more reduction over dy and x). */
  readonly sums: boolean;
}

/**
 * The gradients of {@link batchNorm}: of x, and of the weight and bias (one per statistic:
 * `[C]`; per sample, of `affine`'s shape when it asks for them, else `[N·C]`, unused).
 */
export function batchNormGrad(
  gradOut: RawTensor,
  x: RawTensor,
  coef: RawTensor,
  k: Pick<BatchNormConstants, "op" | "batchStats" | "perSample" | "affineSpan">,
  affine: PerSampleAffine | null = null,
): { gradX: RawTensor; gradWeight: RawTensor; gradBias: RawTensor } {
  const device = x.device, shape = batchNormShape(x.shape, k);
  const gradShape = affine?.sums ? affine.shape : [statisticGroups(shape)];
  const gradX = empty(device, x.shape);
  // No values: no terms in the sums, zero gradients for the weight and bias.
  if (x.size === 0) {
    return { gradX, gradWeight: fill(device, gradShape, 0), gradBias: fill(device, gradShape, 0) };
  }
  const gradWeight = empty(device, gradShape);
  const gradBias = empty(device, gradShape);
  const groups = statisticGroups(shape);
  const gs = contiguous(gradOut), xs = contiguous(x);
  const ws = affine?.weight ? contiguous(affine.weight) : null;
  const gradCoef = empty(device, [groups, 4], "f32", "batch norm gradient coefficients");
  const { chunks } = batchNormChunks(device, shape, [["gradOut", gs.buffer], ["x", xs.buffer]]);
  const partials = empty(device, [groups, chunks, 4], "f32", "batch norm partials");
  // Per sample, the statistics' gradients leave the weight and bias alone: the finalize's
  // sums per group are unused, and the affine map's come from their own reduction.
  const perGroup = affine?.sums ? [groups] : null;
  const unused = perGroup && [empty(device, perGroup), empty(device, perGroup)];
  try {
    batchNormGradPartials(device, shape, {
      gradOut: gs.buffer,
      x: xs.buffer,
      coef: coef.buffer,
      weight: ws?.buffer,
      partials: partials.buffer,
    });
    batchNormGradFinalize(device, shape, chunks, k.batchStats, {
      partials: partials.buffer,
      coef: coef.buffer,
      gradWeight: (unused?.[0] ?? gradWeight).buffer,
      gradBias: (unused?.[1] ?? gradBias).buffer,
      gradCoef: gradCoef.buffer,
    });
    batchNormApply(device, shape, {
      gradOut: gs.buffer,
      x: xs.buffer,
      coef: gradCoef.buffer,
      out: gradX.buffer,
      weight: ws?.buffer,
    });
    if (affine?.sums) affineGrads(shape, gs, xs, coef, { gradWeight, gradBias });
  } finally {
    [gs, xs, ws, gradCoef, partials, ...(unused ?? [])].forEach((t) => t?.dispose());
  }
  return { gradX, gradWeight, gradBias };
}

/** The per-sample affine map's ∂weight = Σ dy·x̂ and ∂bias = Σ dy, over the samples. */
function affineGrads(
  shape: BatchNormShape,
  gradOut: RawTensor,
  x: RawTensor,
  coef: RawTensor,
  out: { gradWeight: RawTensor; gradBias: RawTensor },
): void {
  const device = x.device;
  const { chunks } = batchNormChunks(device, affineGradShape(shape), [
    ["gradOut", gradOut.buffer],
    ["x", x.buffer],
  ]);
  const partials = empty(device, [out.gradWeight.size, chunks, 4], "f32", "affine partials");
  try {
    batchNormAffineGradPartials(device, shape, {
      gradOut: gradOut.buffer,
      x: x.buffer,
      coef: coef.buffer,
      partials: partials.buffer,
    });
    batchNormAffineGradFinalize(device, shape, chunks, {
      partials: partials.buffer,
      gradWeight: out.gradWeight.buffer,
      gradBias: out.gradBias.buffer,
    });
  } finally {
    partials.dispose();
  }
}
