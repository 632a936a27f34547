/**
 * The pooling family beyond `ops_cnn.ts`: adaptive max pooling (its own kernel, its rule in
 * `_rules/conv_family.ts`), max pooling with its winners and their unpooling (SegNet's
 * decoder), and the 1-D poolings as the 2-D ones over a height of one.
 *
 * @module
 */

import { windowCount, windowSpan } from "../kernels/_window.ts";
import { requireFloat, sameDevice } from "./_core.ts";
import { checkOptions, optionNames } from "./options.ts";
import { maxPool2d as poolWinners } from "./_primitives_cnn.ts";
import { zeros } from "./creation.ts";
import {
  adaptiveAvgPool2d,
  avgPool2d,
  checkPoolPadding,
  checkSizes,
  maxPool2d,
  maxPool2dGeometry,
  type MaxPool2dOptions,
  type Pair,
  pair,
  type Tensor2D,
  type Tensor3D,
  type Tensor4D,
  throughUnitAxis,
} from "./ops_cnn.ts";
import { as1d } from "./ops_conv_family.ts";
import { type Dim, type Shape, ShapeError } from "./shape.ts";
import { apply, fromRaw, rawOf, type Tensor, tensorArgument } from "./tensor.ts";

/** An adaptive pooling's output size: one for both axes, or `[OH, OW]`, null keeping an axis. */
export type AdaptiveSize2d = number | readonly [number | null, number | null];

/**
 * Adaptive max pooling of `x [N, C, H, W]` to `outputSize`, as PyTorch's
 * `F.adaptive_max_pool2d`: output `i` is the maximum over rows `floor(i·H/OH)` to
 * `ceil((i+1)·H/OH)` (exclusive), likewise columns. Ties go to the first maximum (row-major);
 * the gradient goes to the winner.
 *
 * @example A global maximum, and 2 windows over 3 rows (overlapping)
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { adaptiveMaxPool2d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const x = tensor([[[[1, 9, 2], [3, 4, 5], [8, 6, 7]]]]);
 * console.log(await adaptiveMaxPool2d(x, 1).toArray()); // [[[[9]]]]
 * console.log(await adaptiveMaxPool2d(x, [2, null]).toArray()); // [[[[3, 9, 5], [8, 6, 7]]]]
 * ```
 */
export function adaptiveMaxPool2d(x: Tensor3D, outputSize: AdaptiveSize2d): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize2d): Tensor4D;
export function adaptiveMaxPool2d(x: Tensor, outputSize: AdaptiveSize2d): Tensor3D | Tensor4D {
  tensorArgument("adaptiveMaxPool2d", x);
  const op = "adaptiveMaxPool2d";
  requireFloat(op, x);
  if (x.rank === 3) {
    return throughUnitAxis([x], 0, ([x4]) => adaptiveMaxPool2d(x4, outputSize)) as Tensor3D;
  }
  if (x.rank !== 4) {
    throw new ShapeError(`${op}: expected [C, H, W] or [N, C, H, W], got [${x.shape}]`);
  }
  const [batch, channels, height, width] = x.shape as readonly number[];
  const sizes = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
  const [outH, outW] = sizes.map((s, i) => s ?? [height, width][i]);
  if (sizes.length !== 2 || ![outH, outW].every((s) => Number.isInteger(s) && s >= 1)) {
    throw new RangeError(
      `${op}: outputSize must be positive integers (or null), got ${outputSize}`,
    );
  }
  if (height === 0 || width === 0) {
    throw new ShapeError(`${op}: input [${x.shape}] has an empty plane`);
  }
  const geometry = { batch, channels, height, width, outH, outW };
  return apply("adaptiveMaxPool2d", [x], { geometry }) as Tensor4D;
}

/**
 * Adaptive max pooling of `x [N, C, L]` to `outputSize` samples, as PyTorch's
 * `F.adaptive_max_pool1d`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { adaptiveMaxPool1d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * console.log(await adaptiveMaxPool1d(tensor([[[1, 5, 2, 4, 3]]]), 2).toArray()); // [[[5, 4]]]
 * ```
 */
export function adaptiveMaxPool1d(x: Tensor2D, outputSize: number): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function adaptiveMaxPool1d(x: Tensor, outputSize: number): Tensor3D;
export function adaptiveMaxPool1d(x: Tensor, outputSize: number): Tensor2D | Tensor3D {
  tensorArgument("adaptiveMaxPool1d", x);
  return over1d("adaptiveMaxPool1d", x, (x2) => adaptiveMaxPool2d(x2, [1, outputSize]));
}

/**
 * Adaptive average pooling of `x [N, C, L]` to `outputSize` samples, as PyTorch's
 * `F.adaptive_avg_pool1d`: output `i` averages samples `floor(i·L/OL)` to `ceil((i+1)·L/OL)`.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { adaptiveAvgPool1d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * console.log(await adaptiveAvgPool1d(tensor([[[1, 2, 3, 4, 5]]]), 2).toArray()); // [[[2, 4]]]
 * ```
 */
export function adaptiveAvgPool1d(x: Tensor2D, outputSize: number): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function adaptiveAvgPool1d(x: Tensor, outputSize: number): Tensor3D;
export function adaptiveAvgPool1d(x: Tensor, outputSize: number): Tensor2D | Tensor3D {
  tensorArgument("adaptiveAvgPool1d", x);
  return over1d("adaptiveAvgPool1d", x, (x2) => adaptiveAvgPool2d(x2, [1, outputSize]));
}

/**
 * Runs a 2-D pooling on `x [N, C, L]` as `[N, C, 1, L]`, or on one unbatched `[C, L]` as a batch
 * of one, and returns its result in `x`'s layout.
 */
function over1d(op: string, x: Tensor, pool2d: (x: Tensor4D) => Tensor4D): Tensor2D | Tensor3D {
  requireFloat(op, x);
  if (x.rank === 2) return throughUnitAxis([x], 0, ([x3]) => over1d(op, x3, pool2d)) as Tensor2D;
  if (x.rank !== 3) throw new ShapeError(`${op}: expected [C, L] or [N, C, L], got [${x.shape}]`);
  return as1d(op, [x], ([x2]) => pool2d(x2));
}

/** Options of {@link maxPool1d}, PyTorch's `F.max_pool1d` arguments. */
export interface MaxPool1dOptions {
  /** Window length. */
  kernel: number;
  /** Step between windows (default: the kernel). */
  stride?: number;
  /** −∞ padding at each end, at most half the (dilated) window (default 0). */
  padding?: number;
  /** Spacing between window taps (default 1). */
  dilation?: number;
  /** Keep a last window that runs past the padded input (PyTorch's `ceil_mode`, default false). */
  ceilMode?: boolean;
}

const MAX_POOL1D_OPTIONS = optionNames<MaxPool1dOptions>({
  kernel: true,
  stride: true,
  padding: true,
  dilation: true,
  ceilMode: true,
});

/**
 * Max pooling over `x [N, C, L]`, as PyTorch's `F.max_pool1d`: `maxPool2d`'s kernel over a
 * height of one.
 *
 * @example 2-sample windows; overlapping 3-sample windows at stride 2
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { maxPool1d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const x = tensor([[[1, 5, 2, 4, 3, 0]]]);
 * console.log(await maxPool1d(x, { kernel: 2 }).toArray()); // [[[5, 4, 3]]]
 * console.log(await maxPool1d(x, { kernel: 3, stride: 2 }).toArray()); // [[[5, 4]]]
 * ```
 */
export function maxPool1d(x: Tensor2D, options: MaxPool1dOptions): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function maxPool1d(x: Tensor, options: MaxPool1dOptions): Tensor3D;
export function maxPool1d(x: Tensor, options: MaxPool1dOptions): Tensor2D | Tensor3D {
  tensorArgument("maxPool1d", x);
  const op = "maxPool1d";
  checkOptions(op, options, MAX_POOL1D_OPTIONS, true);
  checkWindow1d(op, x, options);
  return over1d(op, x, (x2) => maxPool2d(x2, maxPool1dAs2d(options)));
}

/** The options of a 2-D max pooling over a height of one that is `options`' 1-D one. */
function maxPool1dAs2d(options: MaxPool1dOptions): MaxPool2dOptions {
  const { kernel, stride = kernel, padding = 0, dilation = 1, ceilMode = false } = options;
  return {
    kernel: [1, kernel],
    stride: [1, stride],
    padding: [0, padding],
    dilation: [1, dilation],
    ceilMode,
  };
}

/** Options of {@link avgPool1d}, PyTorch's `F.avg_pool1d` arguments. */
export interface AvgPool1dOptions {
  /** Window length. */
  kernel: number;
  /** Step between windows (default: the kernel). */
  stride?: number;
  /** Zero padding at each end, at most half the kernel (default 0). */
  padding?: number;
  /** Keep a last window that runs past the padded input (default false). */
  ceilMode?: boolean;
  /** Divide by the window's length including the padding it covers (default true). */
  countIncludePad?: boolean;
}

const AVG_POOL1D_OPTIONS = optionNames<AvgPool1dOptions>({
  kernel: true,
  stride: true,
  padding: true,
  ceilMode: true,
  countIncludePad: true,
});

/**
 * Average pooling over `x [N, C, L]`, as PyTorch's `F.avg_pool1d`: `avgPool2d`'s kernel over a
 * height of one.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { avgPool1d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const x = tensor([[[1, 2, 3, 4]]]);
 * console.log(await avgPool1d(x, { kernel: 2 }).toArray()); // [[[1.5, 3.5]]]
 * console.log(await avgPool1d(x, { kernel: 2, padding: 1, countIncludePad: false }).toArray());
 * // [[[1, 2.5, 4]]]
 * ```
 */
export function avgPool1d(x: Tensor2D, options: AvgPool1dOptions): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function avgPool1d(x: Tensor, options: AvgPool1dOptions): Tensor3D;
export function avgPool1d(x: Tensor, options: AvgPool1dOptions): Tensor2D | Tensor3D {
  tensorArgument("avgPool1d", x);
  const op = "avgPool1d";
  checkOptions(op, options, AVG_POOL1D_OPTIONS, true);
  const { kernel, stride = kernel, padding = 0, ceilMode = false } = options;
  checkWindow1d(op, x, options);
  return over1d(op, x, (x2) =>
    avgPool2d(x2, {
      kernel: [1, kernel],
      stride: [1, stride],
      padding: [0, padding],
      ceilMode,
      countIncludePad: options.countIncludePad,
    }));
}

/**
 * Checks a 1-D pooling's input and window as PyTorch does, so that errors speak of lengths,
 * not of the 2-D pooling that runs it.
 */
function checkWindow1d(
  op: string,
  x: Tensor,
  options: {
    kernel: number;
    stride?: number;
    padding?: number;
    dilation?: number;
    ceilMode?: boolean;
  },
): void {
  const { kernel, stride = kernel, padding = 0, dilation = 1, ceilMode = false } = options;
  const w = { kernel, stride, padding, dilation, ceilMode };
  requireFloat(op, x);
  if (x.rank !== 2 && x.rank !== 3) {
    throw new ShapeError(`${op}: expected [C, L] or [N, C, L], got [${x.shape}]`);
  }
  checkSizes(op, [
    ["kernel", w.kernel, 1],
    ["stride", w.stride, 1],
    ["padding", w.padding, 0],
    ["dilation", w.dilation, 1],
  ]);
  checkPoolPadding(op, w.kernel, w.padding, w.dilation);
  const length = x.shape[x.rank - 1] as number, span = windowSpan(w.kernel, w.dilation);
  if (windowCount(length, span, w.stride, w.padding, w.ceilMode) < 1) {
    throw new ShapeError(
      `${op}: input [${x.shape}]: a window spanning ${span} (padding ${w.padding}) does not ` +
        `fit a length of ${length}`,
    );
  }
}

/** A max pooling's output `values` and its winners' positions `indices` (i32, no gradient). */
export type PoolWinners<V extends Tensor> = {
  /** The pooling's output, with its gradient. */
  values: V;
  /** Each output's winner: its position in its plane (`h·W + w`), or along L in 1-D. */
  indices: Tensor<readonly number[], "i32">;
};

/**
 * Max pooling of `x [N, C, H, W]` with each window's winner, as PyTorch's
 * `F.max_pool2d(..., return_indices=True)`: `indices` (i32, no gradient) is the winner's
 * position `h·W + w` in its plane, ties to the first maximum; `values` is `maxPool2d`'s output,
 * with its gradient.
 *
 * @example The winners of 2×2 windows, and their unpooling
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { maxPool2dWithIndices, maxUnpool2d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const x = tensor([[[[1, 5, 2, 0], [3, 4, 7, 8]]]]);
 * const { values, indices } = maxPool2dWithIndices(x, { kernel: 2 });
 * console.log(await values.toArray(), await indices.toArray()); // [[[[5, 8]]]] [[[[1, 7]]]]
 * console.log(await maxUnpool2d(values, indices, { kernel: 2 }).toArray());
 * // [[[[0, 5, 0, 0], [0, 0, 0, 8]]]]
 * ```
 */
export function maxPool2dWithIndices(
  x: Tensor3D,
  options: MaxPool2dOptions,
): PoolWinners<Tensor3D>;
/** The same over a batch, `x [N, C, H, W]`. */
export function maxPool2dWithIndices(
  x: Tensor,
  options: MaxPool2dOptions,
): PoolWinners<Tensor4D>;
export function maxPool2dWithIndices(
  x: Tensor,
  options: MaxPool2dOptions,
): PoolWinners<Tensor3D | Tensor4D> {
  tensorArgument("maxPool2dWithIndices", x);
  if (x.rank === 3) {
    const { values, indices } = throughUnitAxis(
      [x],
      0,
      ([x4]) => maxPool2dWithIndices(x4, options),
    );
    return { values: values as Tensor3D, indices: indices as Tensor<readonly number[], "i32"> };
  }
  const { geometry, outShape } = maxPool2dGeometry(x, options);
  const { out, argmax } = poolWinners(rawOf(x), geometry, outShape);
  const indices = fromRaw<readonly number[], "i32">(argmax);
  if (!x.requiresGrad) {
    return { values: fromRaw<readonly [Dim, Dim, Dim, Dim], "f32">(out), indices };
  }
  // The recorded op gives the gradient (its backward routes it to the same winners).
  out.dispose();
  return { values: maxPool2d(x, options), indices };
}

/** Options of {@link maxUnpool2d}, PyTorch's `F.max_unpool2d` arguments. */
export interface MaxUnpool2dOptions {
  /** The pooling's window. */
  kernel: Pair;
  /** The pooling's stride (default: the kernel). */
  stride?: Pair;
  /** The pooling's padding (default 0). */
  padding?: Pair;
  /**
   * The output's `[height, width]` (the pooled input's size, where several give the same
   * pooled size); default `(in − 1)·stride − 2·padding + kernel`.
   */
  outputSize?: readonly [number, number];
}

const MAX_UNPOOL2D_OPTIONS = optionNames<MaxUnpool2dOptions>({
  kernel: true,
  stride: true,
  padding: true,
  outputSize: true,
});

/**
 * The partial inverse of max pooling, as PyTorch's `F.max_unpool2d`: a zero `[N, C, OH, OW]`
 * tensor with each element of `x [N, C, H, W]` written at its `indices` position (`h·OW + w`
 * in its plane, as {@link maxPool2dWithIndices} gives them). The gradient of `x` is read back
 * from those positions. See {@link maxPool2dWithIndices} for an example.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { maxUnpool2d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const indices = tensor([[[[3]]]], { dtype: "i32" });
 * console.log(await maxUnpool2d(tensor([[[[9]]]]), indices, { kernel: 2 }).toArray());
 * // [[[[0, 0], [0, 9]]]]
 * ```
 */
export function maxUnpool2d(
  x: Tensor3D,
  indices: Tensor,
  options: MaxUnpool2dOptions,
): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function maxUnpool2d(x: Tensor, indices: Tensor, options: MaxUnpool2dOptions): Tensor4D;
export function maxUnpool2d(
  x: Tensor,
  indices: Tensor,
  options: MaxUnpool2dOptions,
): Tensor3D | Tensor4D {
  tensorArgument("maxUnpool2d", x);
  const op = "maxUnpool2d";
  checkOptions(op, options, MAX_UNPOOL2D_OPTIONS, true);
  requireFloat(op, x);
  sameDevice(op, x, indices);
  if (x.rank === 3 && indices.rank === 3) {
    return throughUnitAxis([x, indices], 0, ([x4, i4]) => maxUnpool2d(x4, i4, options)) as Tensor3D;
  }
  if (x.rank !== 4) {
    throw new ShapeError(`${op}: expected x [C, H, W] or [N, C, H, W], got [${x.shape}]`);
  }
  if (indices.dtype !== "i32" || indices.shape.join() !== x.shape.join()) {
    throw new ShapeError(
      `${op}: indices must be i32 shaped as x [${x.shape}], got ${indices.dtype} [${indices.shape}]`,
    );
  }
  const kernel = pair(options.kernel), stride = pair(options.stride ?? options.kernel);
  const padding = pair(options.padding ?? 0);
  checkSizes(op, [["kernel", kernel, 1], ["stride", stride, 1], ["padding", padding, 0]]);
  const [n, c, h, w] = x.shape as readonly number[];
  const natural = [h, w].map((size, i) => (size - 1) * stride[i] - 2 * padding[i] + kernel[i]);
  const out = options.outputSize ? [...options.outputSize] : natural;
  // PyTorch's range: within a stride of the natural size.
  if (
    out.length !== 2 ||
    out.some((o, i) => !(o > natural[i] - stride[i] && o < natural[i] + stride[i]))
  ) {
    throw new ShapeError(
      `${op}: outputSize [${out}] must be between [${natural.map((s, i) => s - stride[i] + 1)}] ` +
        `and [${natural.map((s, i) => s + stride[i] - 1)}] for an input of ${h}×${w}`,
    );
  }
  const plane = zeros([n, c, out[0] * out[1]], { device: x.device });
  const flatX = x.reshape([n, c, h * w]) as Tensor<Shape, "f32">;
  const flatIndices = indices.reshape([n, c, h * w]) as Tensor<Shape, "i32">;
  const scattered = plane.scatter(2, flatIndices, flatX);
  const y = scattered.reshape([n, c, out[0], out[1]]);
  for (const t of [plane, flatX, flatIndices, scattered]) t.dispose();
  return y as Tensor4D;
}

/**
 * Max pooling of `x [N, C, L]` (or one unbatched `[C, L]`) with each window's winner, as
 * PyTorch's `F.max_pool1d(..., return_indices=True)`: `indices` (i32) is the winner's position
 * along L, ties to the first maximum; `values` is {@link maxPool1d}'s output, with its gradient.
 *
 * @example The winners of 2-sample windows, and their unpooling
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { maxPool1dWithIndices, maxUnpool1d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const { values, indices } = maxPool1dWithIndices(tensor([[[1, 5, 7, 2]]]), { kernel: 2 });
 * console.log(await values.toArray(), await indices.toArray()); // [[[5, 7]]] [[[1, 2]]]
 * console.log(await maxUnpool1d(values, indices, { kernel: 2 }).toArray()); // [[[0, 5, 7, 0]]]
 * ```
 */
export function maxPool1dWithIndices(
  x: Tensor2D,
  options: MaxPool1dOptions,
): PoolWinners<Tensor2D>;
/** The same over a batch, `x [N, C, L]`. */
export function maxPool1dWithIndices(
  x: Tensor,
  options: MaxPool1dOptions,
): PoolWinners<Tensor3D>;
export function maxPool1dWithIndices(
  x: Tensor,
  options: MaxPool1dOptions,
): PoolWinners<Tensor2D | Tensor3D> {
  tensorArgument("maxPool1dWithIndices", x);
  checkWindow1d("maxPool1dWithIndices", x, options);
  // Unbatched: a batch of one; then a height of one, whose plane numbers the winners along L.
  const { values, indices } = x.rank === 2
    ? throughUnitAxis([x], 0, ([x3]) => maxPool1dWithIndices(x3, options))
    : throughUnitAxis([x], 2, ([x4]) => maxPool2dWithIndices(x4, maxPool1dAs2d(options)));
  return { values: values as Tensor3D, indices: indices as Tensor<readonly number[], "i32"> };
}

/** Options of {@link maxUnpool1d}, PyTorch's `F.max_unpool1d` arguments. */
export interface MaxUnpool1dOptions {
  /** The pooling's window. */
  kernel: number;
  /** The pooling's stride (default: the kernel). */
  stride?: number;
  /** The pooling's padding (default 0). */
  padding?: number;
  /** The output's length (default `(in − 1)·stride − 2·padding + kernel`). */
  outputSize?: number;
}

/**
 * The partial inverse of 1-D max pooling, as PyTorch's `F.max_unpool1d`: a zero `[N, C, OL]`
 * (or unbatched `[C, OL]`) tensor with each element of `x` written at its `indices` position,
 * as {@link maxPool1dWithIndices} gives them; {@link maxUnpool2d} over a height of one.
 *
 * @example
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { maxUnpool1d } from "./ops_pool_family.ts";
 * await defaultDevice();
 * const indices = tensor([[0, 3]], { dtype: "i32" });
 * console.log(await maxUnpool1d(tensor([[4, 9]]), indices, { kernel: 2 }).toArray()); // [[4, 0, 0, 9]]
 * ```
 */
export function maxUnpool1d(x: Tensor2D, indices: Tensor, options: MaxUnpool1dOptions): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function maxUnpool1d(x: Tensor, indices: Tensor, options: MaxUnpool1dOptions): Tensor3D;
export function maxUnpool1d(
  x: Tensor,
  indices: Tensor,
  options: MaxUnpool1dOptions,
): Tensor2D | Tensor3D {
  tensorArgument("maxUnpool1d", x);
  const op = "maxUnpool1d";
  requireFloat(op, x);
  if (x.rank !== indices.rank || (x.rank !== 2 && x.rank !== 3)) {
    throw new ShapeError(
      `${op}: expected x and indices [C, L] or [N, C, L], got [${x.shape}] and [${indices.shape}]`,
    );
  }
  const { kernel, stride = kernel, padding = 0, outputSize } = options;
  const as2d: MaxUnpool2dOptions = {
    kernel: [1, kernel],
    stride: [1, stride],
    padding: [0, padding],
    outputSize: outputSize === undefined ? undefined : [1, outputSize],
  };
  if (x.rank === 2) {
    return throughUnitAxis([x, indices], 0, ([x3, i3]) => maxUnpool1d(x3, i3, options)) as Tensor2D;
  }
  return throughUnitAxis([x, indices], 2, ([x4, i4]) => maxUnpool2d(x4, i4, as2d)) as Tensor3D;
}
