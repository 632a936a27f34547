/**
 * The pixel shuffle layers.
 *
 * @module
 */

import { pixelShuffle, pixelUnshuffle } from "../tensor/ops_pixel_shuffle.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** A positive integer factor, or a RangeError naming the layer. */
function checkedFactor(layer: string, name: string, factor: number): number {
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(`${layer}: ${name} must be a positive integer, got ${factor}`);
  }
  return factor;
}

/**
 * `[..., C·r², H, W]` to `[..., C, H·r, W·r]`, as PyTorch's `nn.PixelShuffle`: the upsampling
 * of a sub-pixel convolution (ESPCN).
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { PixelShuffle } from "./pixel_shuffle.ts";
 * await defaultDevice();
 * console.log(new PixelShuffle(3).forward(randn([1, 18, 4, 5])).shape); // [1, 2, 12, 15]
 * ```
 */
export class PixelShuffle extends Module {
  /** `r`. */
  readonly upscaleFactor: number;

  /** Creates the layer. */
  constructor(upscaleFactor: number) {
    super();
    this.upscaleFactor = checkedFactor("PixelShuffle", "upscaleFactor", upscaleFactor);
  }

  /** Shuffles `x`. */
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return pixelShuffle(x, this.upscaleFactor) as Tensor<Shape, "f32">;
  }

  /** The output shape for an input shape `[..., C·r², H, W]`. */
  outputShape(input: readonly number[]): number[] {
    const r = this.upscaleFactor, [c, h, w] = input.slice(-3);
    if (input.length < 3 || c % (r * r) !== 0) {
      throw new RangeError(`PixelShuffle: expected [..., C·${r * r}, H, W], got [${input}]`);
    }
    return [...input.slice(0, -3), c / (r * r), h * r, w * r];
  }
}

/**
 * `[..., C, H·r, W·r]` to `[..., C·r², H, W]`, as PyTorch's `nn.PixelUnshuffle`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { PixelUnshuffle } from "./pixel_shuffle.ts";
 * await defaultDevice();
 * console.log(new PixelUnshuffle(2).forward(randn([1, 3, 8, 6])).shape); // [1, 12, 4, 3]
 * ```
 */
export class PixelUnshuffle extends Module {
  /** `r`. */
  readonly downscaleFactor: number;

  /** Creates the layer. */
  constructor(downscaleFactor: number) {
    super();
    this.downscaleFactor = checkedFactor("PixelUnshuffle", "downscaleFactor", downscaleFactor);
  }

  /** Unshuffles `x`. */
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return pixelUnshuffle(x, this.downscaleFactor) as Tensor<Shape, "f32">;
  }

  /** The output shape for an input shape `[..., C, H·r, W·r]`. */
  outputShape(input: readonly number[]): number[] {
    const r = this.downscaleFactor, [c, h, w] = input.slice(-3);
    if (input.length < 3 || h % r !== 0 || w % r !== 0) {
      throw new RangeError(`PixelUnshuffle: expected [..., C, H·${r}, W·${r}], got [${input}]`);
    }
    return [...input.slice(0, -3), c * r * r, h / r, w / r];
  }
}
