/**
 * The check of what a model returns to the trainer and `evaluate`: logits `[batch, classes]`,
 * which the loss and the top-k error counts take.
 *
 * @module
 */

import { ShapeError } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Throws a ShapeError naming the model's output unless it is `[batch, classes]`: a net of
 * convolutions and pooling without a `Flatten` returned `[N, C, 1, 1]`, which failed in the loss
 * as 'labels [4] do not match logits [4,3,1,1] (need [4,1,1] class indices …)'. Trailing axes
 * of size 1 pass with a loss of the user's (`ownLoss`), which may take them: the top-k counts
 * read such logits as `[batch, classes]`. Fewer outputs than the data's `classes` is an error
 * too: it failed at the first label past them, as a device fault naming neither the model nor
 * the data ('crossEntropy: label 4 of sample 0 is outside the 3 classes').
 */
export function requireLogits(
  logits: Tensor,
  batch: number,
  ownLoss: boolean,
  classes: number,
): void {
  const shape = logits.shape as readonly number[];
  const squeezable = shape.length >= 2 && shape[0] === batch &&
    shape.slice(2).every((d) => d === 1);
  if (squeezable && (shape.length === 2 || ownLoss)) {
    if (shape[1] >= classes) return;
    throw new ShapeError(
      `the model returned [${shape}] for data of ${classes} classes: its last layer needs ` +
        `${classes} outputs, one per class (it has ${shape[1]})`,
    );
  }
  const hint = squeezable
    ? ` (a Flatten after the last pooling makes [${batch}, ${shape[1]}])`
    : "";
  throw new ShapeError(
    `the model returned [${shape}] for a batch of ${batch}; training and evaluation take ` +
      `logits [batch, classes]${hint}`,
  );
}
