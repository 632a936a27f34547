/**
 * Classification metrics on the host: top-k error counts, ten-crop probability
 * averaging and a running accumulator for an epoch.
 *
 * @module
 */

/** Error counts of {@linkcode topKErrors}. */
export interface TopKResult {
  /** Images whose label is not the highest-scoring class. */
  top1: number;
  /** Images whose label is not among the 5 highest-scoring classes. */
  top5: number;
  /** Images counted. */
  count: number;
  /** Error counts for each requested k, in the order of `ks`. */
  errors: number[];
}

/**
 * Counts top-k errors for a batch of scores laid out row-major as
 * `[count, numClasses]` (logits or probabilities: any monotone score works).
 *
 * Ties: the label counts as within the top k when fewer than k classes score
 * strictly higher than it, so a tie never causes an error (the optimistic
 * choice; a sort-based top-k would break ties arbitrarily). A k at or above
 * `numClasses` therefore never errs. A NaN score for the label is always an error
 * for every k, and NaN scores of other classes never count as higher, so a
 * diverged network cannot look accurate.
 *
 * @param logits Scores, `labels.length * numClasses` values.
 * @param numClasses Classes per row.
 * @param labels True class per row, in `[0, numClasses)`.
 * @param ks Which k to report in `errors`; top-1 and top-5 are always reported.
 *
 * @example
 * ```ts
 * import { topKErrors } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * // Two images, three classes: the first is right, the second is second-best.
 * const logits = new Float32Array([3, 1, 0, 2, 1, 0]);
 * const r = topKErrors(logits, 3, new Int32Array([0, 1]), [1, 2]);
 * assert.deepEqual(r, { top1: 1, top5: 0, count: 2, errors: [1, 0] });
 * ```
 */
export function topKErrors(
  logits: Float32Array,
  numClasses: number,
  labels: Int32Array,
  ks: readonly number[] = [1, 5],
): TopKResult {
  const count = labels.length;
  if (!Number.isInteger(numClasses) || numClasses <= 0) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  if (logits.length !== count * numClasses) {
    throw new RangeError(
      `logits has ${logits.length} values, expected ${count} x ${numClasses} = ${
        count * numClasses
      }`,
    );
  }
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be an integer >= 1, got ${k}`);
  }
  const errors = ks.map(() => 0);
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < count; i++) {
    const label = labels[i];
    if (label < 0 || label >= numClasses) {
      throw new RangeError(`label ${label} of row ${i} is outside [0, ${numClasses})`);
    }
    const rank = rankOfLabel(logits, i * numClasses, numClasses, label);
    if (rank >= 1) top1++;
    if (rank >= 5) top5++;
    for (let j = 0; j < ks.length; j++) if (rank >= ks[j]) errors[j]++;
  }
  return { top1, top5, count, errors };
}

/** Number of classes scoring strictly above the label; Infinity (an error for any k) if NaN. */
function rankOfLabel(
  scores: Float32Array,
  offset: number,
  numClasses: number,
  label: number,
): number {
  const target = scores[offset + label];
  if (Number.isNaN(target)) return Infinity;
  let above = 0;
  for (let c = 0; c < numClasses; c++) if (scores[offset + c] > target) above++;
  return above;
}

/**
 * Softmax of every row of every array, averaged element-wise: the ten-crop test
 * prediction of AlexNet (section 4.1), where each array holds the logits of one
 * crop for the same images in the same order.
 *
 * Softmax subtracts the row maximum first, so large logits do not overflow;
 * sums are kept in float64.
 *
 * @param logitsList One `[count, numClasses]` array per crop, all the same length.
 * @param numClasses Classes per row.
 * @returns Averaged probabilities, `[count, numClasses]`; rows sum to 1.
 *
 * @example
 * ```ts
 * import { averageProbabilities } from "./metrics.ts";
 *
 * const crops = [new Float32Array([0, 0]), new Float32Array([Math.log(3), 0])];
 * console.log(averageProbabilities(crops, 2)); // Float32Array [0.625, 0.375]
 * ```
 */
export function averageProbabilities(
  logitsList: readonly Float32Array[],
  numClasses: number,
): Float32Array {
  if (logitsList.length === 0) {
    throw new RangeError("averageProbabilities needs at least one array");
  }
  const length = logitsList[0].length;
  if (length % numClasses !== 0) {
    throw new RangeError(`length ${length} is not a multiple of numClasses ${numClasses}`);
  }
  const sum = new Float64Array(length);
  for (const logits of logitsList) {
    if (logits.length !== length) {
      throw new RangeError(`all arrays must have length ${length}, got ${logits.length}`);
    }
    for (let row = 0; row < length; row += numClasses) {
      let max = -Infinity;
      for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[row + c]);
      let total = 0;
      for (let c = 0; c < numClasses; c++) total += Math.exp(logits[row + c] - max);
      for (let c = 0; c < numClasses; c++) sum[row + c] += Math.exp(logits[row + c] - max) / total;
    }
  }
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = sum[i] / logitsList.length;
  return out;
}

/**
 * Mean negative log-likelihood of the labels under probabilities (e.g. from
 * {@linkcode averageProbabilities}): the cross-entropy of a ten-crop prediction.
 * Probabilities are clamped to 1e-12 so one confident miss cannot give Infinity.
 *
 * @param probs Probabilities, `[labels.length, numClasses]`.
 * @param numClasses Classes per row.
 * @param labels True class per row.
 *
 * @example
 * ```ts
 * import { meanNegativeLogLikelihood } from "./metrics.ts";
 * const nll = meanNegativeLogLikelihood(new Float32Array([0.5, 0.5]), 2, new Int32Array([0]));
 * console.log(nll); // 0.693...
 * ```
 */
export function meanNegativeLogLikelihood(
  probs: Float32Array,
  numClasses: number,
  labels: Int32Array,
): number {
  if (probs.length !== labels.length * numClasses) {
    throw new RangeError(
      `probs has ${probs.length} values, expected ${labels.length * numClasses}`,
    );
  }
  if (labels.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    total -= Math.log(Math.max(probs[i * numClasses + labels[i]], 1e-12));
  }
  return total / labels.length;
}

/** One batch for {@linkcode MetricAccumulator.add}. */
export interface BatchMetrics {
  /** Mean loss over the batch. */
  loss: number;
  /** Images in the batch. */
  count: number;
  /** Top-1 errors in the batch (counts, not rates). Omit when not measured. */
  top1?: number;
  /** Top-5 errors in the batch. Omit when not measured. */
  top5?: number;
}

/** Epoch totals from {@linkcode MetricAccumulator.summary}. Rates are fractions in [0, 1]. */
export interface MetricSummary {
  /** Image-weighted mean loss; NaN before any batch. */
  loss: number;
  /** Top-1 error rate over batches that reported it; NaN if none did. */
  top1: number;
  /** Top-5 error rate over batches that reported it; NaN if none did. */
  top5: number;
  /** Images in accepted batches. */
  count: number;
  /** Accepted batches. */
  steps: number;
  /** Batches dropped for a non-finite loss. */
  skippedSteps: number;
  /** Seconds since the start (construction or `reset`). */
  seconds: number;
  /** Images of accepted and skipped batches per second since the start. */
  imagesPerSec: number;
}

/** Options of {@linkcode MetricAccumulator}. */
export interface MetricAccumulatorOptions {
  /** Clock in milliseconds; injectable for tests. Default `performance.now`. */
  now?: () => number;
}

/**
 * Running epoch statistics: image-weighted mean loss, error rates and
 * throughput.
 *
 * A batch with a non-finite loss is counted in `skippedSteps` and its numbers are
 * left out, so one overflow does not turn the epoch's mean into NaN; its images
 * still count towards throughput because the GPU processed them.
 *
 * @example
 * ```ts
 * import { MetricAccumulator } from "./metrics.ts";
 * import assert from "node:assert/strict";
 *
 * let t = 0;
 * const acc = new MetricAccumulator({ now: () => t });
 * acc.add({ loss: 2, count: 100, top1: 50, top5: 10 });
 * t = 1000;
 * acc.add({ loss: 1, count: 100, top1: 30, top5: 10 });
 * const s = acc.summary();
 * assert.deepEqual([s.loss, s.top1, s.top5, s.imagesPerSec], [1.5, 0.4, 0.1, 200]);
 * ```
 */
export class MetricAccumulator {
  #now: () => number;
  #start = 0;
  #lossSum = 0;
  #count = 0;
  #steps = 0;
  #skipped = 0;
  #skippedImages = 0;
  #top1 = 0;
  #top5 = 0;
  #top1Count = 0;
  #top5Count = 0;

  /**
   * @param options Optional clock.
   *
   * @example
   * ```ts
   * import { MetricAccumulator } from "./metrics.ts";
   * const acc = new MetricAccumulator();
   * console.log(acc.summary().count); // 0
   * ```
   */
  constructor(options: MetricAccumulatorOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.reset();
  }

  /**
   * Clears all totals and restarts the clock.
   *
   * @param startMs Start time in the clock's milliseconds; default now.
   *
   * @example
   * ```ts
   * import { MetricAccumulator } from "./metrics.ts";
   * const acc = new MetricAccumulator();
   * acc.add({ loss: 1, count: 8 });
   * acc.reset();
   * console.log(acc.summary().steps); // 0
   * ```
   */
  reset(startMs: number = this.#now()): void {
    this.#start = startMs;
    this.#lossSum = 0;
    this.#count = 0;
    this.#steps = 0;
    this.#skipped = 0;
    this.#skippedImages = 0;
    this.#top1 =
      this.#top5 =
      this.#top1Count =
      this.#top5Count =
        0;
  }

  /**
   * Adds one batch.
   *
   * @param batch The batch's mean loss, size and optional error counts.
   * @returns `false` when the batch was skipped for a non-finite loss.
   *
   * @example
   * ```ts
   * import { MetricAccumulator } from "./metrics.ts";
   * const acc = new MetricAccumulator();
   * console.log(acc.add({ loss: NaN, count: 128 })); // false
   * console.log(acc.summary().skippedSteps); // 1
   * ```
   */
  add(batch: BatchMetrics): boolean {
    if (!Number.isFinite(batch.loss)) {
      this.#skipped++;
      this.#skippedImages += batch.count;
      return false;
    }
    this.#steps++;
    this.#count += batch.count;
    this.#lossSum += batch.loss * batch.count;
    if (batch.top1 !== undefined) {
      this.#top1 += batch.top1;
      this.#top1Count += batch.count;
    }
    if (batch.top5 !== undefined) {
      this.#top5 += batch.top5;
      this.#top5Count += batch.count;
    }
    return true;
  }

  /**
   * Adds one batch, computing its error counts from the scores with
   * {@linkcode topKErrors}.
   *
   * @param loss Mean loss over the batch.
   * @param logits Scores, `[labels.length, numClasses]`.
   * @param numClasses Classes per row.
   * @param labels True class per row.
   * @returns `false` when the batch was skipped for a non-finite loss.
   *
   * @example
   * ```ts
   * import { MetricAccumulator } from "./metrics.ts";
   * const acc = new MetricAccumulator();
   * acc.addLogits(0.7, new Float32Array([1, 0, 0, 1]), 2, new Int32Array([0, 0]));
   * console.log(acc.summary().top1); // 0.5
   * ```
   */
  addLogits(loss: number, logits: Float32Array, numClasses: number, labels: Int32Array): boolean {
    const { top1, top5, count } = topKErrors(logits, numClasses, labels);
    return this.add({ loss, count, top1, top5 });
  }

  /**
   * Totals so far.
   *
   * @param nowMs Time in the clock's milliseconds; default now.
   *
   * @example
   * ```ts
   * import { MetricAccumulator } from "./metrics.ts";
   * console.log(new MetricAccumulator().summary()); // loss NaN, count 0, ...
   * ```
   */
  summary(nowMs: number = this.#now()): MetricSummary {
    const seconds = Math.max(0, (nowMs - this.#start) / 1000);
    const images = this.#count + this.#skippedImages;
    return {
      loss: this.#count > 0 ? this.#lossSum / this.#count : NaN,
      top1: this.#top1Count > 0 ? this.#top1 / this.#top1Count : NaN,
      top5: this.#top5Count > 0 ? this.#top5 / this.#top5Count : NaN,
      count: this.#count,
      steps: this.#steps,
      skippedSteps: this.#skipped,
      seconds,
      imagesPerSec: seconds > 0 ? images / seconds : NaN,
    };
  }
}
