/**
 * Batch normalisation's primitives over raw tensors `[N, C, *]` (see `kernels/batch_norm.ts`
 * for the passes): the forward, which may update running statistics in place, and the
 * backward. Like `_primitives.ts`, each returns new raw tensors that its caller owns.
 *
 * @module
 */

import {
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
  /** Normalise by the batch's statistics (and update `running`), else by `running`'s. */
  readonly batchStats: boolean;
  /**
   * Statistics per sample and channel instead of per channel over the batch (layer and group
   * norm); no running statistics nor affine then.
   */
  readonly perSample: boolean;
  /** Added to the variance. */
  readonly eps: number;
  /** The update's weight of the batch, or null for the cumulative average. */
  readonly momentum: number | null;
}

/** `[N, C, *]` as the kernels see it. */
export function batchNormShape(shape: readonly number[], perSample: boolean): BatchNormShape {
  return {
    batch: shape[0],
    channels: shape[1],
    spatial: shape.slice(2).reduce((a, b) => a * b, 1),
    perSample,
  };
}

/**
 * Normalises `x` per channel and applies `weight` and `bias` (null: 1 and 0). Returns the
 * output and the `[C, 4]` coefficients the backward reads.
 */
export function batchNorm(
  x: RawTensor,
  weight: RawTensor | null,
  bias: RawTensor | null,
  running: BatchNormRunning | null,
  k: BatchNormConstants,
): { out: RawTensor; coef: RawTensor } {
  const device = x.device, shape = batchNormShape(x.shape, k.perSample);
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
    batchNormFinalize(device, shape, partials?.shape[1] ?? 0, k, {
      partials: partials?.buffer ?? null,
      weight: ws?.buffer,
      bias: bs?.buffer,
      coef: coef.buffer,
      runningMean: (rm ?? running?.mean)?.buffer,
      runningVar: (rv ?? running?.variance)?.buffer,
      tracked: running?.tracked?.buffer,
    });
    batchNormApply(device, shape, {
      x: xs.buffer,
      coef: coef.buffer,
      out: out.buffer,
      // The count moves with the running statistics.
      tracked: k.batchStats ? running?.tracked?.buffer : undefined,
    });
  } finally {
    [xs, ws, bs, rm, rv, partials].forEach((t) => t?.dispose());
  }
  return { out, coef };
}

/**
 * The gradients of {@link batchNorm}: of x, and of the weight and bias (one per statistic:
 * `[C]`, per sample `[N·C]`, unused there).
 */
export function batchNormGrad(
  gradOut: RawTensor,
  x: RawTensor,
  coef: RawTensor,
  k: Pick<BatchNormConstants, "batchStats" | "perSample">,
): { gradX: RawTensor; gradWeight: RawTensor; gradBias: RawTensor } {
  const device = x.device, shape = batchNormShape(x.shape, k.perSample);
  const groups = statisticGroups(shape);
  const gradX = empty(device, x.shape);
  // No values: no terms in the sums, zero gradients for the weight and bias.
  if (x.size === 0) {
    return { gradX, gradWeight: fill(device, [groups], 0), gradBias: fill(device, [groups], 0) };
  }
  const gradWeight = empty(device, [groups]);
  const gradBias = empty(device, [groups]);
  const gs = contiguous(gradOut), xs = contiguous(x);
  const gradCoef = empty(device, [groups, 4], "f32", "batch norm gradient coefficients");
  const { chunks } = batchNormChunks(device, shape, [["gradOut", gs.buffer], ["x", xs.buffer]]);
  const partials = empty(device, [groups, chunks, 4], "f32", "batch norm partials");
  try {
    batchNormGradPartials(device, shape, {
      gradOut: gs.buffer,
      x: xs.buffer,
      coef: coef.buffer,
      partials: partials.buffer,
    });
    batchNormGradFinalize(device, shape, chunks, k.batchStats, {
      partials: partials.buffer,
      coef: coef.buffer,
      gradWeight: gradWeight.buffer,
      gradBias: gradBias.buffer,
      gradCoef: gradCoef.buffer,
    });
    batchNormApply(device, shape, {
      gradOut: gs.buffer,
      x: xs.buffer,
      coef: gradCoef.buffer,
      out: gradX.buffer,
    });
  } finally {
    [gs, xs, gradCoef, partials].forEach((t) => t.dispose());
  }
  return { gradX, gradWeight, gradBias };
}
