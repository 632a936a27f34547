/**
 * Float64 references of batch, layer and group normalisation, forward and backward, over
 * `[N, C, S]` in row-major order (S: the product of the axes after C).
 *
 * @module
 */

import type { F64 } from "./_reference.ts";

/** The statistics a batch norm normalises by: per channel, a mean and a variance. */
export interface ChannelStats {
  mean: Float64Array;
  variance: Float64Array;
}

/** `[N, C, S]` of a shape `[N, C, *]`. */
export function ncs(shape: readonly number[]): [number, number, number] {
  return [shape[0], shape[1], shape.slice(2).reduce((a, b) => a * b, 1)];
}

/** Each channel's mean and variance (biased, or unbiased: divided by M − 1). */
export function channelStats(x: F64, unbiased = false): ChannelStats {
  const [n, c, s] = ncs(x.shape);
  const mean = new Float64Array(c), variance = new Float64Array(c);
  const m = n * s;
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) sum += x.data[(i * c + ch) * s + j];
    mean[ch] = sum / m;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < s; j++) sq += (x.data[(i * c + ch) * s + j] - mean[ch]) ** 2;
    }
    variance[ch] = sq / (unbiased ? m - 1 : m);
  }
  return { mean, variance };
}

/** `(x − mean)/√(var + eps)·w + b` per channel, with `stats` (default: x's own, biased). */
export function batchNormForward(
  x: F64,
  weight: Float64Array | null,
  bias: Float64Array | null,
  eps: number,
  stats: ChannelStats = channelStats(x),
): F64 {
  const [n, c, s] = ncs(x.shape);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const invstd = 1 / Math.sqrt(stats.variance[ch] + eps);
      for (let j = 0; j < s; j++) {
        const at = (i * c + ch) * s + j;
        out[at] = (x.data[at] - stats.mean[ch]) * invstd * (weight?.[ch] ?? 1) + (bias?.[ch] ?? 0);
      }
    }
  }
  return { shape: [...x.shape], data: out };
}

/**
 * The gradients of {@link batchNormForward} for upstream `g`: with the batch's statistics
 * (`running` null) the mean and variance depend on x; with `running` they are constants.
 */
export function batchNormBackward(
  x: F64,
  g: F64,
  weight: Float64Array | null,
  eps: number,
  running: ChannelStats | null,
): { gradX: Float64Array; gradWeight: Float64Array; gradBias: Float64Array } {
  const [n, c, s] = ncs(x.shape);
  const stats = running ?? channelStats(x);
  const gradX = new Float64Array(x.data.length);
  const gradWeight = new Float64Array(c), gradBias = new Float64Array(c);
  const m = n * s;
  for (let ch = 0; ch < c; ch++) {
    const invstd = 1 / Math.sqrt(stats.variance[ch] + eps);
    const w = weight?.[ch] ?? 1;
    let sdy = 0, sdyx = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < s; j++) {
        const at = (i * c + ch) * s + j;
        sdy += g.data[at];
        sdyx += g.data[at] * (x.data[at] - stats.mean[ch]) * invstd;
      }
    }
    gradWeight[ch] = sdyx;
    gradBias[ch] = sdy;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < s; j++) {
        const at = (i * c + ch) * s + j;
        const xhat = (x.data[at] - stats.mean[ch]) * invstd;
        gradX[at] = running
          ? g.data[at] * w * invstd
          : w * invstd * (g.data[at] - sdy / m - xhat * sdyx / m);
      }
    }
  }
  return { gradX, gradWeight, gradBias };
}

/** PyTorch's running statistics after one training batch `x`. */
export function runningUpdate(running: ChannelStats, x: F64, factor: number): ChannelStats {
  const batch = channelStats(x, true);
  return {
    mean: running.mean.map((r, i) => factor * batch.mean[i] + (1 - factor) * r),
    variance: running.variance.map((r, i) => factor * batch.variance[i] + (1 - factor) * r),
  };
}

/**
 * Layer norm over the trailing `d` values of each row, then `weight` and `bias` (of `d`
 * values) elementwise.
 */
export function layerNormForward(
  x: F64,
  d: number,
  weight: Float64Array | null,
  bias: Float64Array | null,
  eps: number,
): F64 {
  const rows = x.data.length / d;
  const normed = batchNormForward({ shape: [1, rows, d], data: x.data }, null, null, eps);
  const out = normed.data.map((v, i) => v * (weight?.[i % d] ?? 1) + (bias?.[i % d] ?? 0));
  return { shape: [...x.shape], data: out };
}

/** Group norm of `[N, C, *]` in `groups` groups, then the per-channel `weight` and `bias`. */
export function groupNormForward(
  x: F64,
  groups: number,
  weight: Float64Array | null,
  bias: Float64Array | null,
  eps: number,
): F64 {
  const [n, c, s] = ncs(x.shape);
  const grouped = { shape: [1, n * groups, (c / groups) * s], data: x.data };
  const normed = batchNormForward(grouped, null, null, eps);
  const out = normed.data.map((v, i) => {
    const ch = Math.floor(i / s) % c;
    return v * (weight?.[ch] ?? 1) + (bias?.[ch] ?? 0);
  });
  return { shape: [...x.shape], data: out };
}
