/**
 * Softmax and log-softmax, composed from the elementwise and reduction ops (their gradients come
 * from those ops' rules), the one-hot matrix of labels, and cross-entropy: one op with kernels of
 * its own, as PyTorch fuses log-softmax and the negative log-likelihood (`_rules/loss.ts`).
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { checkOptions, optionNames } from "./options.ts";
import { oneHot as oneHotPrimitive } from "./_primitives.ts";
import { type Shape, ShapeError } from "./shape.ts";
import { apply, fromRaw, rawOf, Tensor, tensorArgument } from "./tensor.ts";

/**
 * Softmax along `axis` (default last), computed stably.
 *
 * @example
 * ```ts
 * import { defaultDevice, softmax, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await softmax(tensor([0, 0])).toArray()); // [0.5, 0.5]
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor<Shape, "f32"> {
  return tensorArgument("softmax", x).softmax(axis);
}

/**
 * Log-softmax along `axis` (default last): `z − log Σ exp z` with `z = x − max x`, stable for
 * large logits.
 *
 * @example
 * ```ts
 * import { defaultDevice, logSoftmax, tensor } from "../mod.ts";
 * await defaultDevice();
 * const y = await logSoftmax(tensor([1000, 1000])).toArray();
 * console.log(y); // [-0.6931…, -0.6931…]
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor<Shape, "f32"> {
  return tensorArgument("logSoftmax", x).logSoftmax(axis);
}

/**
 * The `[N, classes]` one-hot matrix of i32 labels (no gradient). A label outside
 * `[0, classes)` is checked on the GPU: its row is NaN, and the next read from the device
 * throws a `DeviceAssertionError` naming the label and its sample.
 *
 * @example
 * ```ts
 * import { defaultDevice, oneHot, tensor } from "../mod.ts";
 * await defaultDevice();
 * const labels = tensor([2, 0], { dtype: "i32" });
 * console.log(await oneHot(labels, 3).toArray()); // [[0, 0, 1], [1, 0, 0]]
 * ```
 */
export function oneHot(labels: Tensor, classes: number): Tensor<Shape, "f32"> {
  tensorArgument("oneHot", labels);
  if (labels.dtype !== "i32" || labels.rank !== 1) {
    throw new TypeError(`oneHot: expected 1-D i32 labels, got ${labels.dtype} [${labels.shape}]`);
  }
  if (!(Number.isInteger(classes) && classes >= 0 && classes < 2 ** 31)) {
    throw new RangeError(`oneHot: the number of classes must be an integer ≥ 0, got ${classes}`);
  }
  return fromRaw(oneHotPrimitive(rawOf(labels), classes, "oneHot"));
}

/**
 * The options of {@link crossEntropy}: PyTorch's `F.cross_entropy` options, with its defaults
 * and semantics.
 *
 * @example Every option at once
 * ```ts
 * import { crossEntropy, type CrossEntropyOptions, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const options: CrossEntropyOptions = {
 *   reduction: "sum",
 *   ignoreIndex: -1,
 *   labelSmoothing: 0.1,
 *   weight: tensor([1, 2]),
 * };
 * const logits = tensor([[0, 0], [5, 1]]);
 * const loss = crossEntropy(logits, tensor([1, -1], { dtype: "i32" }), options);
 * console.log(await loss.item()); // 1.3516… (log 2 · (0.9 · 2 + 0.1 / 2 · 3))
 * ```
 */
export interface CrossEntropyOptions {
  /**
   * How the per-sample losses (per position for `[N, C, d1, …]` logits) are reduced: `"mean"`
   * (default) divides their sum by the number of samples not ignored, or with `weight` by the
   * sum of those samples' class weights (NaN when every sample is ignored, as PyTorch); with
   * class probabilities, by the number of samples whatever the weights; `"sum"`; `"none"`
   * returns the `[N]` (or `[N, d1, …]`) losses.
   *
   * @example
   * ```ts
   * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * const losses = crossEntropy(tensor([[0, 0], [0, 0]]), tensor([0, 1], { dtype: "i32" }), {
   *   reduction: "none",
   * });
   * console.log(await losses.toArray()); // [0.6931…, 0.6931…]
   * ```
   */
  reduction?: "mean" | "sum" | "none";
  /**
   * A label (an integer, default -100) whose samples contribute 0 loss and 0 gradient and are
   * not counted by the mean; it may lie outside `[0, C)` without being an error.
   *
   * @example
   * ```ts
   * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * const labels = tensor([1, -100], { dtype: "i32" });
   * const loss = crossEntropy(tensor([[0, 0], [9, 0]]), labels);
   * console.log(await loss.item()); // 0.6931… (the second sample is ignored)
   * ```
   */
  ignoreIndex?: number;
  /**
   * `ε` in [0, 1] (default 0): each sample's loss is `(1 − ε)·nll + (ε/C)·Σ_c w_c·(−log p_c)`,
   * the target mixed with the uniform distribution (with `weight`, as PyTorch weighs it); class
   * probabilities `t` become `t·(1 − ε) + ε/C`.
   *
   * @example
   * ```ts
   * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * const labels = tensor([0], { dtype: "i32" });
   * const loss = crossEntropy(tensor([[1, 0]]), labels, { labelSmoothing: 0.2 });
   * console.log(await loss.item()); // 0.4132… (0.8 · 0.3133 + 0.2 / 2 · (0.3133 + 1.3133))
   * ```
   */
  labelSmoothing?: number;
  /**
   * A `[C]` f32 tensor of class weights on the logits' device (no gradient): each sample's loss
   * is scaled by the weight of its label, and the mean divides by the sum of those weights
   * (with class probabilities, `w_c` scales each class's term, and the mean is unweighted).
   *
   * @example
   * ```ts
   * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
   * await defaultDevice();
   * const labels = tensor([0, 1], { dtype: "i32" });
   * const weight = tensor([3, 1]);
   * const loss = crossEntropy(tensor([[0, 0], [1, 0]]), labels, { weight });
   * console.log(await loss.item()); // 0.8481… ((3 · 0.6931 + 1 · 1.3133) / (3 + 1))
   * ```
   */
  weight?: Tensor;
}

const OPTION_NAMES = optionNames<CrossEntropyOptions>({
  reduction: true,
  ignoreIndex: true,
  labelSmoothing: true,
  weight: true,
});

/**
 * Cross-entropy of `logits` against `labels`, as PyTorch's `F.cross_entropy`, its options
 * included (see {@link CrossEntropyOptions}): by default the mean over the samples.
 *
 * The forms PyTorch accepts:
 * - `logits [N, C]` and i32 class indices `labels [N]`;
 * - `logits [N, C, d1, …, dk]` and `labels [N, d1, …, dk]` (e.g. segmentation): every position
 *   is a sample of its own, `"none"` returns `[N, d1, …, dk]`, `"mean"` averages over the
 *   positions not ignored (weighted as for `[N, C]`);
 * - `logits [C]` and a 0-d label (one unbatched sample);
 * - f32 class probabilities shaped as the logits (soft labels): a position's loss is
 *   `−Σ_c w_c·t_c·log p_c`, label smoothing mixes `t` with the uniform distribution
 *   (`t·(1 − ε) + ε/C`), `"mean"` divides by the number of positions (not by the weights), an
 *   `ignoreIndex` of 0 or more is an error, and the probabilities get a gradient when they
 *   require one (`−w_c·(1 − ε)·log p_c` times the loss's gradient).
 *
 * A label outside `[0, C)` (other than `ignoreIndex`) is an error, checked on the GPU without a
 * readback: the loss is NaN (so a guarded optimiser step changes nothing), and the next read
 * from the device — the loss, or the trainer's statistics — throws a `DeviceAssertionError`
 * naming the label and its sample, as CUDA's device-side asserts do in PyTorch.
 *
 * @example
 * ```ts
 * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = crossEntropy(tensor([[0, 0]]), tensor([1], { dtype: "i32" }));
 * console.log(await loss.item()); // 0.6931… (log 2)
 * ```
 *
 * @example Per-pixel losses of `[N, C, H, W]` logits against `[N, H, W]` labels
 * ```ts
 * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * // One sample, 2 classes, a 1×2 image: pixel 0 is sure of class 0, pixel 1 undecided.
 * const logits = tensor([[[[9, 0]], [[0, 0]]]]);
 * const labels = tensor([[[0, 1]]], { dtype: "i32" });
 * const losses = crossEntropy(logits, labels, { reduction: "none" });
 * console.log(losses.shape, await losses.toArray()); // [1, 1, 2] [[[0.0001…, 0.6931…]]]
 * ```
 *
 * @example Class probabilities (soft labels)
 * ```ts
 * import { crossEntropy, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * const targets = tensor([[0.25, 0.75]]);
 * const loss = crossEntropy(tensor([[2, 0]]), targets);
 * console.log(await loss.item()); // 1.6269… (0.25 · 0.1269 + 0.75 · 2.1269, the −log p)
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor<Shape, "f32"> {
  tensorArgument("crossEntropy", logits);
  sameDevice("crossEntropy", logits, labels);
  if (logits.rank === 1) {
    // One unbatched sample, as PyTorch takes it: a batch of one, its loss unbatched back.
    const loss = crossEntropy(
      logits.reshape([1, ...logits.shape]),
      batchOfOne(logits, labels),
      options,
    );
    return loss.rank === 0 ? loss : loss.reshape([]);
  }
  const probabilities = checkShapes(logits, labels);
  // Checked before any work, so that a bad call leaves no intermediate behind.
  requireFloat("crossEntropy", logits);
  if (logits.shape[1] === 0) {
    throw new ShapeError(`crossEntropy: logits [${logits.shape}] have no classes`);
  }
  const { reduction = "mean", ignoreIndex = -100, labelSmoothing = 0, weight } = options;
  checkCrossEntropyOptions(options, logits);
  if (probabilities && ignoreIndex >= 0) {
    throw new RangeError(
      `crossEntropy: ignoreIndex (${ignoreIndex}) is not supported for class probabilities`,
    );
  }
  const inputs = weight ? [logits, labels, weight] : [logits, labels];
  return apply("crossEntropy", inputs, { reduction, ignoreIndex, labelSmoothing });
}

/** The labels of one unbatched sample (`logits [C]`) as a batch of one. */
function batchOfOne(logits: Tensor, labels: Tensor): Tensor {
  if (labels.rank === 0 || (labels.rank === 1 && labels.shape[0] === logits.shape[0])) {
    return labels.reshape([1, ...labels.shape]);
  }
  throw new ShapeError(
    `crossEntropy: labels [${labels.shape}] do not match logits [${logits.shape}] (need [] class ` +
      `indices or [${logits.shape}] probabilities)`,
  );
}

/**
 * Throws a one-line error unless `labels` fit `logits [N, C, d1, …, dk]`: i32 class indices
 * `[N, d1, …, dk]`, or f32 probabilities of the logits' shape (then returns true).
 */
function checkShapes(logits: Tensor, labels: Tensor): boolean {
  const [rows, , ...positions] = logits.shape;
  if (logits.rank < 2) {
    throw new ShapeError(`crossEntropy: logits must be [N, C, d1, …], got [${logits.shape}]`);
  }
  const indexShape = [rows, ...positions];
  const same = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((d, i) => d === b[i]);
  if (same(labels.shape, logits.shape)) {
    if (labels.dtype !== "f32") {
      throw new TypeError(
        `crossEntropy: labels shaped as the logits [${logits.shape}] are class probabilities ` +
          `and must be f32, got ${labels.dtype}`,
      );
    }
    return true;
  }
  if (!same(labels.shape, indexShape)) {
    throw new ShapeError(
      `crossEntropy: labels [${labels.shape}] do not match logits [${logits.shape}] (need ` +
        `[${indexShape}] class indices or [${logits.shape}] probabilities)`,
    );
  }
  if (labels.dtype !== "i32") {
    throw new TypeError(
      `crossEntropy: labels must be i32 class indices, got ${labels.dtype} (probabilities ` +
        `are shaped as the logits, [${logits.shape}])`,
    );
  }
  return false;
}

/** Throws a one-line error naming the first option of {@link crossEntropy} that is invalid. */
function checkCrossEntropyOptions(options: CrossEntropyOptions, logits: Tensor): void {
  checkOptions("crossEntropy", options, OPTION_NAMES);
  const { reduction, ignoreIndex, labelSmoothing, weight } = options;
  if (reduction !== undefined && !["mean", "sum", "none"].includes(reduction)) {
    throw new TypeError(
      `crossEntropy: reduction must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`,
    );
  }
  if (
    ignoreIndex !== undefined &&
    !(Number.isInteger(ignoreIndex) && Math.abs(ignoreIndex + 0.5) < 2 ** 31)
  ) {
    throw new RangeError(`crossEntropy: ignoreIndex must be a 32-bit integer, got ${ignoreIndex}`);
  }
  if (
    labelSmoothing !== undefined &&
    !(typeof labelSmoothing === "number" && labelSmoothing >= 0 && labelSmoothing <= 1)
  ) {
    throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  }
  if (weight === undefined) return;
  const classes = logits.shape[1];
  if (!(weight instanceof Tensor)) {
    throw new TypeError(`crossEntropy: weight must be a [${classes}] f32 tensor`);
  }
  if (weight.dtype !== "f32" || weight.rank !== 1 || weight.shape[0] !== classes) {
    throw new (weight.dtype === "f32" ? ShapeError : TypeError)(
      `crossEntropy: weight must be a [${classes}] f32 tensor (one per class), got ` +
        `${weight.dtype} [${weight.shape}]`,
    );
  }
  if (weight.device !== logits.device) {
    throw new Error(
      `crossEntropy: weight is on ${weight.device.describe()}, the logits on ` +
        `${logits.device.describe()}; move it with \`await weight.to(device)\``,
    );
  }
}
