/**
 * Pixel shuffle and its inverse, as PyTorch's `F.pixel_shuffle` / `F.pixel_unshuffle`: a
 * reshape, a permutation and a reshape, so one strided copy forward and one backward, and the
 * gradient comes from those ops' rules.
 *
 * @module
 */

import { ShapeError } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { tensorArgument } from "./tensor.ts";

/** The checked sizes of a shuffle: leading axes, channels, height, width. */
function sizes(op: string, x: Tensor, factor: number, name: string) {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(`${op}: ${name} must be a positive integer, got ${factor}`);
  }
  if (x.rank < 3) {
    throw new ShapeError(`${op}: expected [..., C, H, W] (3 or more axes), got [${x.shape}]`);
  }
  const shape = x.shape as readonly number[];
  const [c, h, w] = shape.slice(-3);
  return { lead: shape.slice(0, -3), c, h, w };
}

/** `x` reshaped, permuted and reshaped again, the intermediates freed. */
function rearranged(
  x: Tensor,
  split: readonly number[],
  order: readonly number[],
  shape: readonly number[],
): Tensor {
  const a = x.reshape(split), b = a.permute(order);
  const out = b.reshape(shape);
  a.dispose();
  b.dispose();
  return out;
}

/**
 * Rearranges `x [..., C·r², H, W]` into `[..., C, H·r, W·r]` (`r` = `upscaleFactor`): the
 * `r²` channels of each output channel become an `r × r` block of pixels, as PyTorch's
 * `F.pixel_shuffle` (sub-pixel convolution's upsampling).
 *
 * @example Four channels of one pixel become one channel of 2×2
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { pixelShuffle } from "./ops_pixel_shuffle.ts";
 * await defaultDevice();
 * console.log(await pixelShuffle(tensor([[[[1]], [[2]], [[3]], [[4]]]]), 2).toArray());
 * // [[[[1, 2], [3, 4]]]]
 * ```
 */
export function pixelShuffle(x: Tensor, upscaleFactor: number): Tensor {
  tensorArgument("pixelShuffle", x);
  const op = "pixelShuffle", r = upscaleFactor;
  const { lead, c, h, w } = sizes(op, x, r, "upscaleFactor");
  if (c % (r * r) !== 0) {
    throw new ShapeError(
      `${op}: the channel axis (${c} of [${x.shape}]) must be divisible by upscaleFactor² = ${
        r * r
      }`,
    );
  }
  const k = lead.length, out = c / (r * r);
  const order = [...lead.keys(), k, k + 3, k + 1, k + 4, k + 2];
  return rearranged(x, [...lead, out, r, r, h, w], order, [...lead, out, h * r, w * r]);
}

/**
 * Rearranges `x [..., C, H·r, W·r]` into `[..., C·r², H, W]` (`r` = `downscaleFactor`): each
 * `r × r` block of pixels becomes `r²` channels, as PyTorch's `F.pixel_unshuffle`, the
 * inverse of {@link pixelShuffle}.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { pixelUnshuffle } from "./ops_pixel_shuffle.ts";
 * await defaultDevice();
 * console.log(await pixelUnshuffle(tensor([[[[1, 2], [3, 4]]]]), 2).toArray());
 * // [[[[1]], [[2]], [[3]], [[4]]]]
 * ```
 */
export function pixelUnshuffle(x: Tensor, downscaleFactor: number): Tensor {
  tensorArgument("pixelUnshuffle", x);
  const op = "pixelUnshuffle", r = downscaleFactor;
  const { lead, c, h, w } = sizes(op, x, r, "downscaleFactor");
  for (const [axis, size] of [["height", h], ["width", w]] as const) {
    if (size % r !== 0) {
      throw new ShapeError(
        `${op}: the ${axis} (${size} of [${x.shape}]) must be divisible by downscaleFactor ${r}`,
      );
    }
  }
  const k = lead.length;
  const order = [...lead.keys(), k, k + 2, k + 4, k + 1, k + 3];
  return rearranged(x, [...lead, c, h / r, r, w / r, r], order, [...lead, c * r * r, h / r, w / r]);
}
