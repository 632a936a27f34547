/**
 * Sliding-window arithmetic shared by the convolution and pooling layers.
 *
 * @module
 */

import type { Pair } from "../tensor/ops_cnn.ts";

/** `[height, width]` from a size given once or per axis. */
export function pair(p: Pair): [number, number] {
  return typeof p === "number" ? [p, p] : [p[0], p[1]];
}

/** Output size of a sliding window over `[H, W]` (floor mode, as PyTorch); throws below 1. */
export function windowOutput(
  size: readonly [number, number],
  kernel: readonly [number, number],
  stride: readonly [number, number],
  padding: readonly [number, number],
): [number, number] {
  const out = size.map((s, i) => Math.floor((s + 2 * padding[i] - kernel[i]) / stride[i]) + 1);
  if (out[0] < 1 || out[1] < 1) {
    throw new RangeError(
      `a ${kernel[0]}×${kernel[1]} window (stride ${stride}, padding ${padding}) does not fit ` +
        `a ${size[0]}×${size[1]} input`,
    );
  }
  return [out[0], out[1]];
}
