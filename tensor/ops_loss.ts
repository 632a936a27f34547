/**
 * Softmax, log-softmax and cross-entropy, composed from the elementwise and reduction ops, so
 * their gradients come from those ops' rules.
 *
 * @module
 */

import { oneHot as oneHotKernel } from "../kernels/one_hot.ts";
import { noGrad } from "./_autograd.ts";
import { type Shape, ShapeError } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { binaryOp, empty, requireFloat, sameDevice, unaryOp } from "./ops_elementwise.ts";
import { max, mean, sum } from "./ops_reduce.ts";

/** `x − max(x)` along `axis`; the shift is a constant for the gradient (softmax ignores it). */
function shifted(x: Tensor, axis: number): Tensor<Shape, "f32"> {
  requireFloat("softmax", x);
  const peak = noGrad(() => max(x, axis, true));
  const out = binaryOp(x, peak, "sub");
  peak.dispose();
  return out;
}

/** Softmax along `axis`. */
export function softmax(x: Tensor, axis = -1): Tensor<Shape, "f32"> {
  const z = shifted(x, axis);
  const e = unaryOp(z, "exp");
  const total = sum(e, axis, true);
  const out = binaryOp(e, total, "div");
  [z, e, total].forEach((t) => t.dispose());
  return out;
}

/** Log-softmax along `axis`: `z − log Σ exp z` with `z = x − max x`, stable for large logits. */
export function logSoftmax(x: Tensor, axis = -1): Tensor<Shape, "f32"> {
  const z = shifted(x, axis);
  const e = unaryOp(z, "exp");
  const total = sum(e, axis, true);
  const logTotal = unaryOp(total, "log");
  const out = binaryOp(z, logTotal, "sub");
  [z, e, total, logTotal].forEach((t) => t.dispose());
  return out;
}

/**
 * The `[N, classes]` one-hot matrix of i32 labels (no gradient). A label outside
 * `[0, classes)` is checked on the GPU: its row is NaN, and the next read from the device
 * throws a `DeviceAssertionError` naming the label and its sample.
 */
export function oneHot(labels: Tensor, classes: number): Tensor<Shape, "f32"> {
  return oneHotOf("oneHot", labels, classes);
}

function oneHotOf(op: string, labels: Tensor, classes: number): Tensor<Shape, "f32"> {
  if (labels.dtype !== "i32" || labels.rank !== 1) {
    throw new TypeError(`${op}: expected 1-D i32 labels, got ${labels.dtype} [${labels.shape}]`);
  }
  const out = empty(labels.device, [labels.shape[0], classes], "f32");
  const n = labels.shape[0];
  oneHotKernel(labels.device, labels.storage.buffer, out.storage.buffer, n, classes, 1, op);
  return out;
}

/**
 * Mean cross-entropy of `logits [N, C]` against integer `labels [N]` (i32), as PyTorch's
 * `F.cross_entropy`. A label outside `[0, C)` is an error, checked on the GPU without a
 * readback: the loss is NaN (so a guarded optimiser step changes nothing), and the next read
 * from the device — the loss, or the trainer's statistics — throws a `DeviceAssertionError`
 * naming the label and its sample, as CUDA's device-side asserts do in PyTorch.
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
  const logProbabilities = logSoftmax(logits, 1);
  const targets = oneHotOf("crossEntropy", labels, logits.shape[1]);
  const picked = binaryOp(logProbabilities, targets, "mul");
  const perSample = sum(picked, 1);
  const average = mean(perSample);
  const out = unaryOp(average, "neg");
  [logProbabilities, targets, picked, perSample, average].forEach((t) => t.dispose());
  return out;
}
