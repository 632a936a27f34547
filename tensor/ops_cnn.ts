/**
 * The convolutional network ops: 2-D convolution (bias and ReLU fused into its epilogue), max,
 * average and adaptive average pooling, local response normalisation and dropout, as functions
 * over tensors; their forward
 * and backward rules are in `_rules/cnn.ts`.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import type { LrnParams } from "../kernels/lrn.ts";
import { windowCount, windowSpan } from "../kernels/_window.ts";
import { requireFloat, sameDevice } from "./_core.ts";
import type { Conv2dGeometry, Pool2dGeometry } from "./_primitives_cnn.ts";
import { checkOptions, optionNames, requireNumber } from "./options.ts";
import { type Generator, globalGenerator } from "./random.ts";
import { describeValue, type Dim, plural, type Shape, ShapeError } from "./shape.ts";
import { apply, type Tensor, tensorArgument } from "./tensor.ts";

export type { LrnParams } from "../kernels/lrn.ts";

/** An NCHW tensor type. */
export type Tensor4D = Tensor<readonly [Dim, Dim, Dim, Dim], "f32">;

/** A 3-D f32 tensor: `[N, C, L]`, or one unbatched `[C, H, W]`. */
export type Tensor3D = Tensor<readonly [Dim, Dim, Dim], "f32">;

/** A 2-D f32 tensor: one unbatched `[C, L]`. */
export type Tensor2D = Tensor<readonly [Dim, Dim], "f32">;

/**
 * Runs `body` on `xs`, each given an axis of size one at `axis`, and returns its result (or
 * each tensor of a record of results) without that axis. At axis 0 this is how the batched ops
 * take PyTorch's unbatched inputs (`[C, H, W]` as a batch of one); at axis 2 how a 2-D op runs
 * a 1-D one (`[N, C, L]` as `[N, C, 1, L]`). Views only; the graph keeps what a backward needs.
 *
 * @example An unbatched sample through a batched op
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { throughUnitAxis } from "./ops_cnn.ts";
 * await defaultDevice();
 * const y = throughUnitAxis([ones([2, 3])], 0, ([x]) => {
 *   console.log(x.shape); // [1, 2, 3]
 *   return x.mul(2);
 * });
 * console.log(y.shape); // [2, 3]
 * ```
 */
export function throughUnitAxis<T extends Tensor | { readonly [name: string]: Tensor }>(
  xs: readonly Tensor[],
  axis: number,
  body: (lifted: Tensor[]) => T,
): WithoutUnitAxis<T> {
  const lifted = xs.map((t) => {
    const shape = [...t.shape as readonly number[]];
    shape.splice(axis, 0, 1);
    return t.reshape(shape);
  });
  let result: T;
  try {
    result = body(lifted);
  } catch (e) {
    lifted.forEach((t) => t.dispose());
    throw e;
  }
  const dropped = (t: Tensor): Tensor => {
    const shape = (t.shape as readonly number[]).filter((_, i) => i !== axis);
    const out = t.reshape(shape);
    if (!lifted.includes(t)) t.dispose();
    return out;
  };
  const out = isTensor(result)
    ? dropped(result)
    : Object.fromEntries(Object.entries(result).map(([k, t]) => [k, dropped(t)]));
  lifted.forEach((t) => t.dispose()); // (the graph holds what the backward needs)
  return out as WithoutUnitAxis<T>;
}

/** A result of {@link throughUnitAxis}: each tensor one axis shorter, its rank no longer typed. */
export type WithoutUnitAxis<T> = T extends Tensor<Shape, infer D> ? Tensor<Shape, D>
  : { [K in keyof T]: T[K] extends Tensor<Shape, infer D> ? Tensor<Shape, D> : never };

/** Whether `v` is one tensor (not a record of them). */
function isTensor(v: unknown): v is Tensor {
  return typeof (v as Tensor).reshape === "function";
}

/** A size given once for both axes or as `[height, width]`. */
export type Pair = number | readonly [number, number];

/**
 * `[height, width]` from a size given once or per axis.
 *
 * @example
 * ```ts
 * import { pair } from "./ops_cnn.ts";
 * console.log(pair(3), pair([3, 5])); // [3, 3] [3, 5]
 * ```
 */
export function pair(p: Pair): [number, number] {
  return typeof p === "number" ? [p, p] : [p[0], p[1]];
}

/**
 * Output `[height, width]` of a sliding window over `[H, W]` (floor mode as PyTorch, or its
 * `ceil_mode` that keeps a last partial window), its taps `dilation` apart (PyTorch's output
 * size `floor((H + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1`); a RangeError when
 * the window does not fit.
 *
 * @example AlexNet's conv1 on a 227×227 image; a 3×3 pooling at stride 2 in ceil mode; a 3×3
 * convolution at dilation 2 (spanning 5×5)
 * ```ts
 * import { windowOutput } from "./ops_cnn.ts";
 * console.log(windowOutput([227, 227], [11, 11], [4, 4], [0, 0])); // [55, 55]
 * console.log(windowOutput([6, 7], [3, 3], [2, 2], [0, 0], true)); // [3, 3]
 * console.log(windowOutput([9, 9], [3, 3], [1, 1], [0, 0], false, [2, 2])); // [5, 5]
 * ```
 */
export function windowOutput(
  size: readonly [number, number],
  kernel: readonly [number, number],
  stride: readonly [number, number],
  padding: readonly [number, number],
  ceilMode = false,
  dilation: readonly [number, number] = [1, 1],
): [number, number] {
  const out = size.map((s, i) =>
    windowCount(s, windowSpan(kernel[i], dilation[i]), stride[i], padding[i], ceilMode)
  );
  if (out[0] < 1 || out[1] < 1) {
    const dilated = dilation[0] > 1 || dilation[1] > 1
      ? `, dilation ${dilation} spanning ${windowSpan(kernel[0], dilation[0])}×` +
        `${windowSpan(kernel[1], dilation[1])}`
      : "";
    throw new RangeError(
      `a ${kernel[0]}×${kernel[1]} window (stride ${stride}, padding ${padding}${dilated}) ` +
        `does not fit a ${size[0]}×${size[1]} input`,
    );
  }
  return [out[0], out[1]];
}

/**
 * PyTorch's rule for pooling: padding at most half the kernel on each axis (a window wholly in
 * the padding would have nothing to pool), or half the window's span where it is dilated (as
 * PyTorch's max pooling: "at most half of effective kernel size"); a RangeError naming `op`
 * otherwise.
 *
 * @example
 * ```ts
 * import { checkPoolPadding } from "./ops_cnn.ts";
 * checkPoolPadding("MaxPool2d", 3, 1); // fine
 * checkPoolPadding("MaxPool2d", 3, 2, 2); // fine: at dilation 2 the window spans 5
 * try {
 *   checkPoolPadding("MaxPool2d", [3, 2], [1, 2]);
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // MaxPool2d: padding must be at most half the kernel, got padding 1,2 for kernel 3,2
 * }
 * ```
 */
export function checkPoolPadding(
  op: string,
  kernel: Pair,
  padding: Pair,
  dilation: Pair = 1,
): void {
  const [kernelH, kernelW] = pair(kernel), [padH, padW] = pair(padding);
  const [dilationH, dilationW] = pair(dilation);
  const [spanH, spanW] = [windowSpan(kernelH, dilationH), windowSpan(kernelW, dilationW)];
  if (padH > spanH / 2 || padW > spanW / 2) {
    const dilated = spanH !== kernelH || spanW !== kernelW;
    throw new RangeError(
      dilated
        ? `${op}: padding must be at most half the dilated window, got padding ${padding} for ` +
          `kernel ${kernel} at dilation ${dilation} (spanning ${spanH}×${spanW})`
        : `${op}: padding must be at most half the kernel, got padding ${padding} for kernel ${kernel}`,
    );
  }
}

/**
 * A convolution's zero padding: on each side (once, or per axis), or PyTorch's `"valid"` (none)
 * and `"same"` (the output keeps the input's size; stride 1 only).
 */
export type ConvPadding = Pair | "same" | "valid";

/**
 * A {@link ConvPadding} as numbers: the zero padding on each side, and the output rows and
 * columns to drop from the start. PyTorch's `"same"` pads `dilation·(kernel − 1)` in all on an
 * axis, the odd one after the input; that output is the one of the larger half on both sides
 * with its first row (column) dropped, so one symmetric padding serves every kernel.
 *
 * @example A 4-tap kernel pads 1 before and 2 after: 2 on both sides, the first output dropped
 * ```ts
 * import { convPadding } from "./ops_cnn.ts";
 * console.log(convPadding("same", [3, 4], 1, 1)); // { padding: [1, 2], trim: [0, 1] }
 * ```
 */
export function convPadding(
  padding: ConvPadding,
  kernel: Pair,
  stride: Pair,
  dilation: Pair,
  op = "conv2d",
): { padding: Pair; trim: [number, number] } {
  if (padding === "valid") return { padding: 0, trim: [0, 0] };
  if (typeof padding === "string" && padding !== "same") {
    // A string read as a pair of its letters: 'padding must be … got s,a'.
    throw new RangeError(
      `${op}: padding must be a non-negative integer, a pair of them, "same" or "valid", ` +
        `got "${padding}"`,
    );
  }
  // (Checked where the window is: the error then shows it as given.)
  if (padding !== "same") return { padding, trim: [0, 0] };
  if (pair(stride).some((s) => s !== 1)) {
    throw new RangeError(`${op}: padding "same" needs stride 1, as PyTorch's (got ${stride})`);
  }
  const [dh, dw] = pair(dilation);
  const total = pair(kernel).map((k, i) => (i === 0 ? dh : dw) * (k - 1));
  return {
    padding: [Math.ceil(total[0] / 2), Math.ceil(total[1] / 2)],
    trim: [total[0] % 2, total[1] % 2],
  };
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Zero padding: on each side (default 0), or `"same"` / `"valid"` as PyTorch's. */
  padding?: ConvPadding;
  /** Channel groups: each output group sees only its input group (default 1). */
  groups?: number;
  /**
   * Spacing between kernel taps (PyTorch's `dilation`, default 1): a `k`-tap kernel at dilation
   * `d` spans `d·(k − 1) + 1` input pixels (atrous convolution).
   */
  dilation?: Pair;
  /** Apply ReLU in the kernel's epilogue. */
  relu?: boolean;
}

const CONV2D_OPTIONS = optionNames<Conv2dOptions>({
  stride: true,
  padding: true,
  groups: true,
  dilation: true,
  relu: true,
});

/**
 * 2-D convolution (cross-correlation, as PyTorch) of `x [N, C, H, W]` (or one unbatched
 * `[C, H, W]`, giving `[O, OH, OW]`) with `w [O, C/groups, KH, KW]` and optional `bias [O]`.
 * `padding: "same"` keeps the size as PyTorch's (an even span's odd padding after the input,
 * see {@link convPadding}).
 *
 * @example A 2×2 box filter; the same at dilation 2, its taps two pixels apart
 * ```ts
 * import { arange, defaultDevice, ones } from "../mod.ts";
 * import { conv2d } from "./ops_cnn.ts";
 * await defaultDevice();
 * const y = conv2d(ones([1, 1, 3, 3]), ones([1, 1, 2, 2]), null);
 * console.log(await y.toArray()); // [[[[4, 4], [4, 4]]]]
 * const x = arange(0, 9).reshape([1, 1, 3, 3]);
 * console.log(await conv2d(x, ones([1, 1, 2, 2]), null, { dilation: 2 }).toArray()); // [[[[16]]]]
 * console.log(conv2d(ones([1, 3, 3]), ones([4, 1, 2, 2]), null).shape); // [4, 2, 2] (unbatched)
 * ```
 */
export function conv2d(
  x: Tensor3D,
  w: Tensor,
  bias: Tensor | null,
  options?: Conv2dOptions,
): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function conv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options?: Conv2dOptions,
): Tensor4D;
export function conv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
): Tensor3D | Tensor4D {
  tensorArgument("conv2d", x);
  checkOptions("conv2d", options, CONV2D_OPTIONS);
  const inputs = bias ? [x, w, bias] : [x, w];
  requireFloat("conv2d", ...inputs);
  sameDevice("conv2d", ...inputs);
  if ((x.rank !== 3 && x.rank !== 4) || w.rank !== 4) {
    throw new ShapeError(
      `conv2d: expected x [C, H, W] or [N, C, H, W] and w [O, C/groups, KH, KW], got ` +
        `[${x.shape}] and [${w.shape}]`,
    );
  }
  if (x.rank === 3) {
    return throughUnitAxis([x], 0, ([x4]) => conv2d(x4, w, bias, options)) as Tensor3D;
  }
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) {
    throw new RangeError(`conv2d: groups must be a positive integer, got ${groups}`);
  }
  const [batch, inChannels] = x.shape as readonly number[];
  const [outChannels, , kernelH, kernelW] = w.shape as readonly number[];
  if (inChannels !== w.shape[1] * groups) {
    throw new ShapeError(
      `conv2d: input has ${plural(inChannels, "channel")} but weight [${w.shape}] with ` +
        `${plural(groups, "group")} expects ${w.shape[1] * groups}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outChannels)) {
    throw new ShapeError(
      `conv2d: bias [${bias.shape}] does not match ${outChannels} output channels`,
    );
  }
  const kernel = [kernelH, kernelW] as const;
  const stride = options.stride ?? 1, dilation = options.dilation ?? 1;
  const { padding, trim } = convPadding(options.padding ?? 0, kernel, stride, dilation);
  const window = window2d("conv2d", x, { kernel, stride, padding, dilation });
  const { outH, outW, ...sizes } = window;
  const geometry: Conv2dGeometry = { batch, inChannels, outChannels, groups, ...sizes };
  const relu = options.relu ?? false;
  let y = apply("conv2d", inputs, { geometry, outH, outW, relu }) as Tensor4D;
  for (const axis of [2, 3] as const) {
    if (trim[axis - 2] === 0) continue;
    const kept = y.slice(axis, 1, y.shape[axis]) as Tensor4D;
    y.dispose(); // (the graph holds what the slice's backward needs)
    y = kept;
  }
  return y;
}

/**
 * Checks that each named size (one number, or a pair) holds integers of at least `least` (1 or
 * 0); a RangeError naming `op` and the option otherwise.
 *
 * @example
 * ```ts
 * import { checkSizes } from "./ops_cnn.ts";
 * checkSizes("conv2d", [["stride", [1, 2], 1], ["padding", 0, 0]]); // fine
 * try {
 *   checkSizes("conv2d", [["stride", 0, 1]]);
 * } catch (e) {
 *   console.log((e as Error).message); // conv2d: stride must be a positive integer (or a pair of them), got 0
 * }
 * ```
 */
export function checkSizes(
  op: string,
  sizes: readonly (readonly [name: string, value: Pair, least: 0 | 1])[],
): void {
  for (const [name, v, least] of sizes) {
    if (!pair(v).every((d) => Number.isInteger(d) && d >= least)) {
      const what = least === 1 ? "positive integer" : "non-negative integer";
      // A string ("3") would print as the number it spells.
      const given = typeof v === "number" || Array.isArray(v) ? v : describeValue(v);
      throw new RangeError(`${op}: ${name} must be a ${what} (or a pair of them), got ${given}`);
    }
  }
}

/** A sliding window's options, every one given. */
interface WindowOptions {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  /** Spacing between taps (default 1; average pooling has none, as PyTorch's). */
  dilation?: Pair;
  /** PyTorch's `ceil_mode` (pooling only). */
  ceilMode?: boolean;
  /** Refuse padding over half the kernel, as PyTorch's pooling does. */
  halfKernelPadding?: boolean;
}

/**
 * A window sliding over `x`'s last two axes: the input size, the window's size, stride,
 * padding (and dilation, where above 1) per axis, and the output size, or a ShapeError naming
 * `op` when it does not fit.
 */
function window2d(op: string, x: Tensor, options: WindowOptions) {
  const { kernel, stride, padding, dilation = 1 } = options;
  const [height, width] = (x.shape as readonly number[]).slice(2);
  const [kernelH, kernelW] = pair(kernel), [strideH, strideW] = pair(stride);
  const [padH, padW] = pair(padding), [dilationH, dilationW] = pair(dilation);
  // A size out of range would otherwise read as a window that does not fit.
  checkSizes(op, [
    ["kernel", kernel, 1],
    ["stride", stride, 1],
    ["padding", padding, 0],
    ["dilation", dilation, 1],
  ]);
  if (options.halfKernelPadding) checkPoolPadding(op, kernel, padding, dilation);
  const ceilMode = options.ceilMode ?? false;
  let out: [number, number];
  try {
    const size = [height, width] as const;
    const dilations = [dilationH, dilationW] as const;
    out = windowOutput(
      size,
      [kernelH, kernelW],
      [strideH, strideW],
      [padH, padW],
      ceilMode,
      dilations,
    );
  } catch (error) {
    throw new ShapeError(`${op}: input [${x.shape}]: ${(error as Error).message}`);
  }
  const [outH, outW] = out;
  const geometry = { height, width, kernelH, kernelW, strideH, strideW, padH, padW };
  // Dilation 1 leaves the geometry as it was: the kernels' names and keys stay the same.
  const dilated = dilationH > 1 || dilationW > 1 ? { dilationH, dilationW } : {};
  return { ...geometry, ...dilated, ...(ceilMode ? { ceilMode } : {}), outH, outW };
}

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: Pair;
  /** Step between windows (default: the kernel size). */
  stride?: Pair;
  /** −∞ padding on each side, at most half the kernel (of its span, dilated; default 0). */
  padding?: Pair;
  /** Spacing between window taps (PyTorch's `dilation`, default 1). */
  dilation?: Pair;
  /**
   * Keep a last window that runs past the padded input, clipped to it (PyTorch's `ceil_mode`,
   * default false): `ceil((H + 2·padding − span) / stride) + 1` outputs (span: `dilation·(kernel
   * − 1) + 1`), less one when the last window would start in the right padding.
   */
  ceilMode?: boolean;
}

const MAX_POOL2D_OPTIONS = optionNames<MaxPool2dOptions>({
  kernel: true,
  stride: true,
  padding: true,
  dilation: true,
  ceilMode: true,
});

/**
 * Max pooling over `x [N, C, H, W]` (or one unbatched `[C, H, W]`). Overlapping windows (stride < kernel) are allowed; a tie
 * goes to the first maximum in row-major window order, every run.
 *
 * @example The paper's overlapping 3×3 windows, stride 2; in ceil mode a clipped third window;
 * 2×2 windows at dilation 2 (their taps two pixels apart)
 * ```ts
 * import { arange, defaultDevice } from "../mod.ts";
 * import { maxPool2d } from "./ops_cnn.ts";
 * await defaultDevice();
 * const x = arange(0, 25).reshape([1, 1, 5, 5]);
 * console.log(await maxPool2d(x, { kernel: 3, stride: 2 }).toArray()); // [[[[12, 14], [22, 24]]]]
 * const y = arange(0, 16).reshape([1, 1, 4, 4]);
 * console.log(await maxPool2d(y, { kernel: 3, stride: 2, ceilMode: true }).toArray());
 * // [[[[10, 11], [14, 15]]]]
 * console.log(await maxPool2d(y, { kernel: 2, stride: 1, dilation: 2 }).toArray());
 * // [[[[10, 11], [14, 15]]]]
 * ```
 */
export function maxPool2d(x: Tensor3D, options: MaxPool2dOptions): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor4D;
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor3D | Tensor4D {
  tensorArgument("maxPool2d", x);
  if (x.rank === 3) return throughUnitAxis([x], 0, ([x4]) => maxPool2d(x4, options)) as Tensor3D;
  return apply("maxPool2d", [x], maxPool2dGeometry(x, options)) as Tensor4D;
}

/**
 * The checked geometry of a max pooling of `x` and its output shape, as `maxPool2d` runs it
 * (for the ops that need the pooling's winners too).
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { maxPool2dGeometry } from "./ops_cnn.ts";
 * await defaultDevice();
 * console.log(maxPool2dGeometry(ones([1, 2, 5, 5]), { kernel: 3, stride: 2 }).outShape); // [1, 2, 2, 2]
 * ```
 */
export function maxPool2dGeometry(
  x: Tensor,
  options: MaxPool2dOptions,
): { geometry: Pool2dGeometry; outShape: number[] } {
  tensorArgument("maxPool2dGeometry", x);
  checkOptions("maxPool2d", options, MAX_POOL2D_OPTIONS, true);
  requireFloat("maxPool2d", x);
  if (x.rank !== 4) {
    throw new ShapeError(`maxPool2d: expected [C, H, W] or [N, C, H, W], got [${x.shape}]`);
  }
  const [batch, channels] = x.shape as readonly number[];
  const window = window2d("maxPool2d", x, {
    kernel: options.kernel,
    stride: options.stride ?? options.kernel,
    padding: options.padding ?? 0,
    dilation: options.dilation ?? 1,
    ceilMode: options.ceilMode,
    halfKernelPadding: true,
  });
  const { outH, outW, ...sizes } = window;
  return { geometry: { batch, channels, ...sizes }, outShape: [batch, channels, outH, outW] };
}

/** Options of {@link avgPool2d}, PyTorch's `F.avg_pool2d` arguments. */
export interface AvgPool2dOptions {
  /** Window size. */
  kernel: Pair;
  /** Step between windows (default: the kernel size). */
  stride?: Pair;
  /** Zero padding on each side, at most half the kernel (default 0). */
  padding?: Pair;
  /** Keep a last window that runs past the padded input, clipped to it (default false). */
  ceilMode?: boolean;
  /** Divide by the window's size including the padding it covers (default true). */
  countIncludePad?: boolean;
  /** Divide every window by this positive integer instead (default: none). */
  divisorOverride?: number;
}

const AVG_POOL2D_OPTIONS = optionNames<AvgPool2dOptions>({
  kernel: true,
  stride: true,
  padding: true,
  ceilMode: true,
  countIncludePad: true,
  divisorOverride: true,
});

/**
 * Average pooling over `x [N, C, H, W]` (or one unbatched `[C, H, W]`), as PyTorch's
 * `F.avg_pool2d`.
 *
 * @example 2×2 windows; padding counted in the divisor or not
 * ```ts
 * import { arange, defaultDevice } from "../mod.ts";
 * import { avgPool2d } from "./ops_cnn.ts";
 * await defaultDevice();
 * const x = arange(0, 16).reshape([1, 1, 4, 4]);
 * console.log(await avgPool2d(x, { kernel: 2 }).toArray()); // [[[[2.5, 4.5], [10.5, 12.5]]]]
 * const y = arange(1, 5).reshape([1, 1, 2, 2]);
 * console.log(await avgPool2d(y, { kernel: 2, padding: 1 }).toArray()); // [[[[0.25, 0.5], [0.75, 1]]]]
 * console.log(await avgPool2d(y, { kernel: 2, padding: 1, countIncludePad: false }).toArray());
 * // [[[[1, 2], [3, 4]]]]
 * ```
 */
export function avgPool2d(x: Tensor3D, options: AvgPool2dOptions): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor4D;
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor3D | Tensor4D {
  tensorArgument("avgPool2d", x);
  checkOptions("avgPool2d", options, AVG_POOL2D_OPTIONS, true);
  requireFloat("avgPool2d", x);
  if (x.rank === 3) return throughUnitAxis([x], 0, ([x4]) => avgPool2d(x4, options)) as Tensor3D;
  if (x.rank !== 4) {
    throw new ShapeError(`avgPool2d: expected [C, H, W] or [N, C, H, W], got [${x.shape}]`);
  }
  const divisorOverride = options.divisorOverride ?? null;
  if (divisorOverride !== null && !(Number.isInteger(divisorOverride) && divisorOverride > 0)) {
    throw new RangeError(
      `avgPool2d: divisorOverride must be a positive integer, got ${divisorOverride}`,
    );
  }
  const [batch, channels] = x.shape as readonly number[];
  const { height, width, outH, outW, ceilMode: _, ...window } = window2d("avgPool2d", x, {
    kernel: options.kernel,
    stride: options.stride ?? options.kernel,
    padding: options.padding ?? 0,
    ceilMode: options.ceilMode,
    halfKernelPadding: true,
  });
  const windows = { ...window, countIncludePad: options.countIncludePad ?? true, divisorOverride };
  const geometry = { batch, channels, height, width, outH, outW, windows };
  return apply("avgPool2d", [x], { geometry }) as Tensor4D;
}

/**
 * Adaptive average pooling of `x [N, C, H, W]` (or one unbatched `[C, H, W]`) to `outputSize` (`[OH, OW]`, one size for
 * both, or null in a place to keep that axis), as PyTorch's `F.adaptive_avg_pool2d`: output
 * `i` averages rows `floor(i·H/OH)` to `ceil((i+1)·H/OH)` (exclusive), likewise columns.
 *
 * @example A global average (1×1), and 3 cells over 4 rows (overlapping windows)
 * ```ts
 * import { arange, defaultDevice } from "../mod.ts";
 * import { adaptiveAvgPool2d } from "./ops_cnn.ts";
 * await defaultDevice();
 * const x = arange(0, 8).reshape([1, 2, 2, 2]);
 * console.log(await adaptiveAvgPool2d(x, 1).toArray()); // [[[[1.5]], [[5.5]]]]
 * const y = arange(0, 4).reshape([1, 1, 4, 1]);
 * console.log(await adaptiveAvgPool2d(y, [3, null]).toArray()); // [[[[0.5], [1.5], [2.5]]]]
 * ```
 */
export function adaptiveAvgPool2d(
  x: Tensor3D,
  outputSize: number | readonly [number | null, number | null],
): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function adaptiveAvgPool2d(
  x: Tensor,
  outputSize: number | readonly [number | null, number | null],
): Tensor4D;
export function adaptiveAvgPool2d(
  x: Tensor,
  outputSize: number | readonly [number | null, number | null],
): Tensor3D | Tensor4D {
  tensorArgument("adaptiveAvgPool2d", x);
  requireFloat("adaptiveAvgPool2d", x);
  if (x.rank === 3) {
    return throughUnitAxis([x], 0, ([x4]) => adaptiveAvgPool2d(x4, outputSize)) as Tensor3D;
  }
  if (x.rank !== 4) {
    throw new ShapeError(`adaptiveAvgPool2d: expected [C, H, W] or [N, C, H, W], got [${x.shape}]`);
  }
  const [batch, channels, height, width] = x.shape as readonly number[];
  const sizes = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
  const [outH, outW] = sizes.map((s, i) => s ?? [height, width][i]);
  if (![outH, outW].every((s) => Number.isInteger(s) && s >= 1)) {
    throw new RangeError(
      `adaptiveAvgPool2d: outputSize must be positive integers (or null), got ${outputSize}`,
    );
  }
  if (height === 0 || width === 0) {
    throw new ShapeError(`adaptiveAvgPool2d: input [${x.shape}] has an empty plane`);
  }
  const geometry = { batch, channels, height, width, outH, outW, windows: "adaptive" as const };
  return apply("avgPool2d", [x], { geometry }) as Tensor4D;
}

/** The AlexNet paper's LRN constants (section 3.3): n = 5, k = 2, α = 1e-4, β = 0.75. */
export const PAPER_LRN: Omit<LrnParams, "groupSize"> = { size: 5, k: 2, alpha: 1e-4, beta: 0.75 };

/**
 * Local response normalisation across channels, exactly as the AlexNet paper writes it (α is
 * not divided by the window size). `groupSize` channels form a group; windows stay inside a
 * group, so each tower of the paper's network normalises only its own maps.
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { lrn } from "./ops_cnn.ts";
 * await defaultDevice();
 * const y = lrn(ones([1, 3, 1, 1]), { size: 3, k: 1, alpha: 1, beta: 1 });
 * console.log(await y.toArray()); // [[[[0.333…]], [[0.25]], [[0.333…]]]]
 * ```
 */
export function lrn(x: Tensor, params: Partial<LrnParams> = {}): Tensor4D {
  tensorArgument("lrn", x);
  requireFloat("lrn", x);
  if (x.rank !== 4) throw new ShapeError(`lrn: expected [N, C, H, W], got [${x.shape}]`);
  const full: LrnParams = { ...PAPER_LRN, groupSize: x.shape[1] as number, ...params };
  return apply("lrn", [x], { params: full }) as Tensor4D;
}

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Whether to drop (training) or pass through (evaluation). */
  training: boolean;
  /** Random stream for the mask (default: the global generator). */
  generator?: Generator;
  /**
   * `x` (2-D `[rows, C]`) as columns `first`…`first + C − 1` of a `[rows, width]` tensor: it
   * gets those columns of that tensor's mask, and the generator advances past the whole draw.
   * Two towers that each hold half of a layer's outputs so apply the mask one device would.
   */
  within?: { width: number; first: number };
}

const DROPOUT_OPTIONS = optionNames<DropoutOptions>({
  training: true,
  generator: true,
  within: true,
});

/**
 * The mask of a dropout with probability `p`: each element is 0 with probability `p`, else
 * `1 / (1 − p)` (all zeros for `p = 1`). Drawn from `generator` (default the global one).
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator } from "../mod.ts";
 * import { dropoutMask } from "./ops_cnn.ts";
 * await defaultDevice();
 * const mask = dropoutMask([4], 0.5, new Generator(1));
 * console.log(await mask.toArray()); // each 0 or 2
 * ```
 */
export function dropoutMask(
  shape: readonly number[],
  p: number,
  generator: Generator = globalGenerator(),
  device?: Device,
): Tensor<Shape, "f32"> {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability ${p} is not in [0, 1]`);
  return p === 1
    ? generator.bernoulli(shape, 0, 0, device)
    : generator.bernoulli(shape, 1 - p, 1 / (1 - p), device);
}

/**
 * Dropout with probability `p`: in training each element is zeroed with probability `p` and the
 * survivors are scaled by `1 / (1 − p)`, so evaluation is the identity (the paper's "multiply
 * by 0.5 at test time", moved to training time). The mask is {@link dropoutMask}'s, bit for bit,
 * from the same generator state, and the generator advances as far; but no mask tensor exists:
 * one kernel draws each element's mask value from the counter-based generator where it applies
 * it, and the backward draws it again.
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator, ones } from "../mod.ts";
 * import { dropout } from "./ops_cnn.ts";
 * await defaultDevice();
 * const y = dropout(ones([4]), 0.5, { training: true, generator: new Generator(1) });
 * console.log(await y.toArray()); // each 0 or 2
 * ```
 */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor<Shape, "f32"> {
  tensorArgument("dropout", x);
  checkOptions("dropout", options, DROPOUT_OPTIONS, true);
  if (typeof options?.training !== "boolean") {
    // A missing flag would otherwise read as evaluation: dropout silently off.
    throw new TypeError(
      `dropout: options.training must be true or false, got ${options?.training}`,
    );
  }
  requireFloat("dropout", x);
  requireNumber("dropout", "p", p);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: probability ${p} is not in [0, 1]`);
  if (!options.training || p === 0) return apply("identity", [x], {});
  const generator = options.generator ?? globalGenerator();
  const shape = x.shape as readonly number[];
  const within = options.within;
  if (!within) {
    return apply("dropout", [x], { p, stream: generator.reserve(x.size) }) as Tensor<Shape, "f32">;
  }
  const [rows, columns] = shape;
  if (
    shape.length !== 2 || !Number.isInteger(within.first) || !Number.isInteger(within.width) ||
    within.first < 0 || within.first + columns > within.width
  ) {
    throw new ShapeError(
      `dropout: [${shape}] is not a block of columns ${within.first}… of a ${within.width}-wide tensor`,
    );
  }
  const block = { columns, width: within.width, first: within.first };
  const stream = generator.reserve(rows * within.width);
  return apply("dropout", [x], { p, stream, block }) as Tensor<Shape, "f32">;
}
