/**
 * The primitives of the negative log-likelihood (`kernels/nll_loss.ts`): the gather of each
 * position's loss and weight, and the scatter of the gradient into the chosen classes. Each
 * returns new raw tensors that the caller owns.
 *
 * @module
 */

import { nllGather, nllScatter } from "../kernels/nll_loss.ts";
import { empty, type RawTensor } from "./_core.ts";
import { contiguous } from "./_primitives.ts";

/** The sizes of `[N, C, d1, …]` input: N rows, C classes, S = Π d positions. */
function sizesOf(shape: readonly number[]) {
  const [rows, classes, ...positions] = shape;
  return { rows, classes, positions: positions.reduce((a, b) => a * b, 1) };
}

/**
 * Per position of `[N, C, d1, …]` log-probabilities and `[N, d1, …]` i32 labels, the loss
 * `−w[y]·input[n, y, …]` and the weight `w[y]` it counts for (both 0 where ignored).
 */
export function nllPositions(
  input: RawTensor,
  labels: RawTensor,
  weight: RawTensor | undefined,
  ignoreIndex: number,
  op: string,
): { loss: RawTensor; counted: RawTensor } {
  const device = input.device;
  const loss = empty(device, labels.shape), counted = empty(device, labels.shape);
  const [x, y, w] = [input, labels, weight].map((t) => t && contiguous(t));
  nllGather(device, {
    ...sizesOf(input.shape),
    ignoreIndex,
    input: x!.buffer,
    labels: y!.buffer,
    weight: w?.buffer,
    loss: loss.buffer,
    counted: counted.buffer,
    op,
  });
  [x, y, w].forEach((t) => t?.dispose());
  return { loss, counted };
}

/**
 * The input's gradient (`inputShape`) from the gradient of the per-position losses (`grad`,
 * shaped as the labels), or of their reduction (a one-element `grad`, `scalarGrad`).
 */
export function nllGrad(
  grad: RawTensor,
  labels: RawTensor,
  weight: RawTensor | undefined,
  inputShape: readonly number[],
  ignoreIndex: number,
  scalarGrad: boolean,
): RawTensor {
  const device = grad.device;
  const out = empty(device, inputShape);
  const [g, y, w] = [grad, labels, weight].map((t) => t && contiguous(t));
  nllScatter(device, {
    ...sizesOf(inputShape),
    ignoreIndex,
    labels: y!.buffer,
    grad: g!.buffer,
    weight: w?.buffer,
    out: out.buffer,
    scalarGrad,
  });
  [g, y, w].forEach((t) => t?.dispose());
  return out;
}
