/**
 * Softmax and log-softmax, composed from the elementwise and reduction ops (their gradients come
 * from those ops' rules), the one-hot matrix of labels, and cross-entropy: one op with kernels of
 * its own, as PyTorch fuses log-softmax and the negative log-likelihood (`_rules/loss.ts`).
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import { oneHot as oneHotPrimitive } from "./_primitives.ts";
import { type Shape, ShapeError } from "./shape.ts";
import { apply, fromRaw, rawOf, type Tensor } from "./tensor.ts";

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
  return x.softmax(axis);
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
  return x.logSoftmax(axis);
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
  if (labels.dtype !== "i32" || labels.rank !== 1) {
    throw new TypeError(`oneHot: expected 1-D i32 labels, got ${labels.dtype} [${labels.shape}]`);
  }
  return fromRaw(oneHotPrimitive(rawOf(labels), classes, "oneHot"));
}

/**
 * Mean cross-entropy of `logits [N, C]` against integer `labels [N]` (i32), as PyTorch's
 * `F.cross_entropy`. A label outside `[0, C)` is an error, checked on the GPU without a
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
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor<Shape, "f32"> {
  sameDevice("crossEntropy", logits, labels);
  if (logits.rank !== 2) {
    throw new ShapeError(`crossEntropy: logits must be [N, C], got [${logits.shape}]`);
  }
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new ShapeError(
      `crossEntropy: labels [${labels.shape}] do not match logits [${logits.shape}] (need [N])`,
    );
  }
  // Checked before any work, so that a bad call leaves no intermediate behind.
  requireFloat("crossEntropy", logits);
  if (labels.dtype !== "i32") {
    throw new TypeError(`crossEntropy: labels must be i32 class indices, got ${labels.dtype}`);
  }
  if (logits.shape[1] === 0) {
    throw new ShapeError(`crossEntropy: logits [${logits.shape}] have no classes`);
  }
  return apply("crossEntropy", [logits, labels], {});
}
