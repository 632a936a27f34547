/**
 * The upsampling layers: `Upsample`, and PyTorch's fixed-mode `UpsamplingNearest2d` and
 * `UpsamplingBilinear2d` (aligned corners).
 *
 * @module
 */

import { checkOptions } from "../tensor/options.ts";
import {
  interpolate,
  INTERPOLATE_OPTIONS,
  type InterpolateOptions,
} from "../tensor/ops_resample.ts";
import type { Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { Module } from "./module.ts";

/** Options of {@link Upsample}: those of `interpolate`. */
export type UpsampleConfig = InterpolateOptions;

/**
 * Resamples `[N, C, L]` or `[N, C, H, W]` inputs to a size or by a factor, as PyTorch's
 * `nn.Upsample` (`F.interpolate`'s modes and index maths); no parameters.
 *
 * @example A U-Net decoder's upsampling, nearest and bilinear
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { Upsample } from "./upsample.ts";
 * await defaultDevice();
 * const up = new Upsample({ scaleFactor: 2 });
 * console.log(up.forward(randn([1, 3, 5, 7])).shape); // [1, 3, 10, 14]
 * const smooth = new Upsample({ size: [9, 9], mode: "bilinear", alignCorners: true });
 * console.log(smooth.outputShape([1, 3, 5, 7])); // [1, 3, 9, 9]
 * ```
 */
export class Upsample extends Module {
  /** The options, as `interpolate` takes them. */
  readonly options: Readonly<InterpolateOptions>;

  /** Creates the layer. */
  constructor(config: UpsampleConfig) {
    super();
    checkOptions("Upsample", config, INTERPOLATE_OPTIONS, true);
    if ((config.size === undefined) === (config.scaleFactor === undefined)) {
      throw new RangeError("Upsample: give exactly one of size and scaleFactor");
    }
    if (config.antialias) {
      throw new RangeError("Upsample: antialias is not an option of PyTorch's nn.Upsample");
    }
    this.options = { ...config };
  }

  /** Resamples `x`. */
  forward(x: Tensor<Shape, "f32">): Tensor<Shape, "f32"> {
    return interpolate(x, this.options) as Tensor<Shape, "f32">;
  }

  /** The output shape for an input shape `[N, C, ...spatial]`. */
  outputShape(input: readonly number[]): number[] {
    if (input.length !== 3 && input.length !== 4) {
      throw new RangeError(`Upsample: expected [N, C, L] or [N, C, H, W], got [${input}]`);
    }
    const spatial = input.slice(2);
    const each = (v: number | readonly number[]) =>
      typeof v === "number" ? spatial.map(() => v) : [...v];
    const { size, scaleFactor } = this.options;
    const out = size !== undefined
      ? each(size)
      : each(scaleFactor!).map((s, i) => Math.floor(spatial[i] * s));
    return [input[0], input[1], ...out];
  }
}

/** Options of {@link UpsamplingNearest2d} and {@link UpsamplingBilinear2d}. */
export type Upsampling2dConfig = Pick<InterpolateOptions, "size" | "scaleFactor">;

/**
 * Nearest upsampling of `[N, C, H, W]`, as PyTorch's `nn.UpsamplingNearest2d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { UpsamplingNearest2d } from "./upsample.ts";
 * await defaultDevice();
 * console.log(new UpsamplingNearest2d({ scaleFactor: 3 }).forward(randn([1, 2, 2, 3])).shape);
 * // [1, 2, 6, 9]
 * ```
 */
export class UpsamplingNearest2d extends Upsample {
  /** Creates the layer. */
  constructor(config: Upsampling2dConfig) {
    super({ ...config, mode: "nearest" });
  }
}

/**
 * Bilinear upsampling of `[N, C, H, W]` with aligned corners, as PyTorch's
 * `nn.UpsamplingBilinear2d` (`align_corners=True`).
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { UpsamplingBilinear2d } from "./upsample.ts";
 * await defaultDevice();
 * const up = new UpsamplingBilinear2d({ size: [1, 3] });
 * console.log(await up.forward(tensor([[[[0, 4]]]])).toArray()); // [[[[0, 2, 4]]]]
 * ```
 */
export class UpsamplingBilinear2d extends Upsample {
  /** Creates the layer. */
  constructor(config: Upsampling2dConfig) {
    super({ ...config, mode: "bilinear", alignCorners: true });
  }
}
