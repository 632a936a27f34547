/**
 * Resampling, as PyTorch's `F.interpolate`: nearest, nearest-exact, (bi)linear, bicubic and
 * area over `[N, C, L]` and `[N, C, H, W]` tensors, with PyTorch's index maths (`kernels/interpolate.ts`)
 * and gradients (the rule is in `_rules/conv_family.ts`).
 *
 * @module
 */

import type { AxisMode, ResampleAxis } from "../kernels/interpolate.ts";
import { requireFloat } from "./_core.ts";
import { checkOptions, optionNames } from "./options.ts";
import { adaptiveAvgPool2d } from "./ops_cnn.ts";
import { adaptiveAvgPool1d } from "./ops_pool_family.ts";
import { ShapeError } from "./shape.ts";
import { apply, type Tensor, tensorArgument } from "./tensor.ts";

/**
 * The interpolation modes of {@link interpolate}: `linear` on 3-D input, `bilinear` and
 * `bicubic` on 4-D; `area` is adaptive average pooling to the output size.
 */
export type InterpolateMode =
  | "nearest"
  | "nearest-exact"
  | "linear"
  | "bilinear"
  | "bicubic"
  | "area";

/** Options of {@link interpolate}, PyTorch's `F.interpolate` arguments. */
export interface InterpolateOptions {
  /** The output's spatial size: one number for every axis, or one per axis. */
  size?: number | readonly number[];
  /**
   * The factor to multiply each spatial size by (the output is `floor(size · factor)`): one
   * for every axis, or one per axis. The index maths then use `1 / factor`, as PyTorch's
   * `recompute_scale_factor=None`.
   */
  scaleFactor?: number | readonly number[];
  /** How outputs read inputs (default `"nearest"`). */
  mode?: InterpolateMode;
  /**
   * Linear modes only: line up the centres of the corner pixels of input and output (PyTorch's
   * `align_corners`, default false).
   */
  alignCorners?: boolean;
  /**
   * With `scaleFactor`: compute the index maths from the output size instead of the factor
   * (PyTorch's `recompute_scale_factor=True`; default false). Meaningless with `size`, an
   * error there as in PyTorch.
   */
  recomputeScaleFactor?: boolean;
  /**
   * PyTorch's anti-aliased downsampling (`antialias=True`, bilinear and bicubic) is not
   * implemented: `true` is an error rather than a silently aliased result (default false).
   */
  antialias?: boolean;
}

/** The names of {@link InterpolateOptions} (for `nn.Upsample`, which takes the same). */
export const INTERPOLATE_OPTIONS = optionNames<InterpolateOptions>({
  size: true,
  scaleFactor: true,
  mode: true,
  alignCorners: true,
  recomputeScaleFactor: true,
  antialias: true,
});

/**
 * Resamples the spatial axes of `x` (`[N, C, L]` or `[N, C, H, W]`) to `size`, or by
 * `scaleFactor`, as PyTorch's `F.interpolate` (its index maths in float32): `nearest` (output
 * `o` reads `floor(o · in/out)`), `nearest-exact` (`floor((o + ½) · in/out)`, the centres'
 * nearest), `linear`/`bilinear` (from `(o + ½) · in/out − ½`, or with `alignCorners` from
 * `o · (in − 1)/(out − 1)`), `bicubic` (Keys' cubic, `A = −0.75`, over the 4×4 pixels around the
 * same source point, read clamped to the input; to the input's own size, a copy, as PyTorch's
 * GPU kernel and both its backward kernels, even where a `scaleFactor` rounds down to that
 * size), `area` (the average over `floor(o · in/out)` to `ceil((o + 1) · in/out)`, adaptive
 * average pooling). Differentiable with respect to `x`. The input has a batch axis, as
 * PyTorch's (a 3-D input is `[N, C, L]`, never one unbatched image).
 *
 * @example Nearest and bilinear upsampling by 2
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { interpolate } from "./ops_resample.ts";
 * await defaultDevice();
 * const x = tensor([[[[1, 2], [3, 4]]]]);
 * console.log(await interpolate(x, { scaleFactor: 2 }).toArray());
 * // [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]
 * const y = interpolate(tensor([[[1, 2]]]), { size: 4, mode: "linear" });
 * console.log(await y.toArray()); // [[[1, 1.25, 1.75, 2]]]
 * ```
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  tensorArgument("interpolate", x);
  const op = "interpolate";
  checkOptions(op, options, INTERPOLATE_OPTIONS, true);
  requireFloat(op, x);
  const { mode = "nearest", size, scaleFactor, recomputeScaleFactor = false } = options;
  if (x.rank !== 3 && x.rank !== 4) {
    throw new ShapeError(`${op}: expected [N, C, L] or [N, C, H, W], got [${x.shape}]`);
  }
  const axes = x.rank - 2;
  const linear = mode === "linear" || mode === "bilinear" || mode === "bicubic";
  if (!["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area"].includes(mode)) {
    throw new RangeError(
      `${op}: mode must be "nearest", "nearest-exact", "linear", "bilinear", "bicubic" or ` +
        `"area", got "${mode}"`,
    );
  }
  if (linear && (mode === "linear") !== (axes === 1)) {
    throw new ShapeError(
      `${op}: got ${x.rank}-D input, but ${mode} mode needs ${mode === "linear" ? 3 : 4}-D input`,
    );
  }
  if (options.alignCorners !== undefined && !linear) {
    throw new RangeError(
      `${op}: alignCorners can only be set with the interpolating modes linear, bilinear and ` +
        `bicubic`,
    );
  }
  if ((size === undefined) === (scaleFactor === undefined)) {
    throw new RangeError(`${op}: give exactly one of size and scaleFactor`);
  }
  if (recomputeScaleFactor && size !== undefined) {
    throw new RangeError(`${op}: recomputeScaleFactor is not meaningful with an explicit size`);
  }
  if (options.antialias) {
    throw new RangeError(
      `${op}: antialias is not implemented (PyTorch's anti-aliased bilinear and bicubic ` +
        `downsampling); leave it out, or low-pass the input first (e.g. with avgPool2d)`,
    );
  }
  const spatial = (x.shape as readonly number[]).slice(2);
  const perAxis = (v: number | readonly number[], name: string): number[] => {
    const list = typeof v === "number" ? spatial.map(() => v) : [...v];
    if (list.length !== axes) {
      throw new ShapeError(
        `${op}: input [${x.shape}] has ${axes} spatial axes but ${name} has ${list.length} ([${v}])`,
      );
    }
    return list;
  };
  const scales = scaleFactor === undefined ? null : perAxis(scaleFactor, "scaleFactor");
  if (scales && !scales.every((s) => Number.isFinite(s) && s > 0)) {
    throw new RangeError(`${op}: scaleFactor must be positive, got ${scaleFactor}`);
  }
  const out = scales ? spatial.map((n, i) => Math.floor(n * scales[i])) : perAxis(size!, "size");
  if (!out.every((n) => Number.isInteger(n) && n >= 1) || spatial.some((n) => n < 1)) {
    throw new RangeError(
      `${op}: input and output sizes must be positive, got input [${spatial}] and output [${out}]`,
    );
  }
  if (mode === "area") {
    return axes === 1 ? adaptiveAvgPool1d(x, out[0]) : adaptiveAvgPool2d(x, [out[0], out[1]]);
  }
  const axisMode: AxisMode = mode === "bicubic" ? "cubic" : linear ? "linear" : mode as AxisMode;
  // PyTorch copies a bicubic resampling to the input's own size (its CUDA forward, and both
  // backwards), whatever factor gave that size: from the sizes alone, the taps read one to one.
  const copies = mode === "bicubic" && out.every((o, i) => o === spatial[i]);
  const axis = (i: number): ResampleAxis => ({
    size: spatial[i],
    out: out[i],
    mode: axisMode,
    alignCorners: options.alignCorners ?? false,
    scale: scales && !recomputeScaleFactor && !copies ? scales[i] : null,
  });
  // A 1-D input is a height of one, which nearest maps to itself exactly.
  const flat = { size: 1, out: 1, mode: "nearest", alignCorners: false, scale: null } as const;
  const [n, c] = x.shape as readonly number[];
  const geometry = {
    batch: n,
    channels: c,
    rows: axes === 1 ? flat : axis(0),
    cols: axis(axes - 1),
  };
  if (axes === 2) return apply("resample", [x], { geometry });
  const lifted = x.reshape([n, c, 1, spatial[0]]);
  const y = apply("resample", [lifted], { geometry });
  lifted.dispose();
  const result = y.reshape([n, c, out[0]]);
  y.dispose();
  return result;
}
