/**
 * The convolution family beyond `conv2d`: the transposed convolution (2-D and 1-D) on the
 * convolution's own kernels (its rule is in `_rules/conv_family.ts`), and the 1-D convolution
 * as the 2-D one over a height of 1.
 *
 * @module
 */

import { requireFloat, sameDevice } from "./_core.ts";
import type { Conv2dGeometry } from "./_primitives_cnn.ts";
import { checkOptions, optionNames } from "./options.ts";
import { zeros } from "./creation.ts";
import {
  checkSizes,
  conv2d,
  type ConvPadding,
  convPadding,
  type Pair,
  pair,
  type Tensor2D,
  type Tensor3D,
  type Tensor4D,
  throughUnitAxis,
} from "./ops_cnn.ts";
import { concat } from "./ops_shape.ts";
import { plural, ShapeError } from "./shape.ts";
import { apply, type Tensor, tensorArgument } from "./tensor.ts";

export type { Tensor2D, Tensor3D } from "./ops_cnn.ts";

/** Options of {@link convTranspose2d}, PyTorch's `F.conv_transpose2d` arguments. */
export interface ConvTranspose2dOptions {
  /** Step between the input's pixels in the output (default 1). */
  stride?: Pair;
  /** Rows and columns cropped from each side of the full output (default 0). */
  padding?: Pair;
  /**
   * Rows and columns added after the output, smaller than the stride or the dilation
   * (default 0): the one of a strided convolution's input sizes that gave this output size.
   */
  outputPadding?: Pair;
  /** Channel groups: output group g sees only input group g (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
  /**
   * The output's `[height, width]`, as PyTorch's `output_size` of `ConvTranspose2d.forward`:
   * chooses the output padding (within one stride of the smallest size) and overrides it.
   */
  outputSize?: readonly [number, number];
}

/** What the transposed convolution's output size rule gives on one axis. */
interface TransposedAxis {
  /** The output size. */
  size: number;
  /** Zero rows (columns) appended to the input so that the convolution maps back onto it. */
  extra: number;
}

/** A transposed convolution's sizes per axis (one axis for 1-D, two for 2-D). */
interface TransposedSizes {
  stride: readonly number[];
  padding: readonly number[];
  outputPadding: readonly number[];
  dilation: readonly number[];
  outputSize?: readonly number[];
}

/**
 * PyTorch's output size of a transposed convolution on each axis, `(in − 1)·stride −
 * 2·padding + dilation·(kernel − 1) + outputPadding + 1`, the output padding taken from
 * `outputSize` when given; the checks and errors as PyTorch's, in the op's own terms (sizes
 * joined by ×, options by commas).
 */
function transposedAxes(
  op: string,
  input: readonly number[],
  kernel: readonly number[],
  o: TransposedSizes,
): TransposedAxis[] {
  const { stride: s, padding: p, dilation: d, outputPadding: given } = o;
  const smallest = input.map((n, i) => (n - 1) * s[i] - 2 * p[i] + d[i] * (kernel[i] - 1) + 1);
  const by = (sizes: readonly number[]) => sizes.join("×");
  let extra: number[];
  if (o.outputSize) {
    const wanted = [...o.outputSize];
    if (
      wanted.length !== input.length ||
      wanted.some((w, i) => !Number.isInteger(w) || w < smallest[i] || w >= smallest[i] + s[i])
    ) {
      throw new ShapeError(
        `${op}: outputSize [${wanted}] is not a valid size: for an input of ${by(input)} it ` +
          `ranges from ${by(smallest)} to ${by(smallest.map((n, i) => n + s[i] - 1))}`,
      );
    }
    extra = wanted.map((w, i) => w - smallest[i]);
  } else {
    if (given.some((g, i) => g >= s[i] && g >= d[i])) {
      throw new RangeError(
        `${op}: outputPadding must be smaller than either stride or dilation, got ` +
          `outputPadding ${given} for stride ${s} and dilation ${d}`,
      );
    }
    extra = [...given];
  }
  const sizes = smallest.map((n, i) => n + extra[i]);
  if (sizes.some((n) => n < 1)) {
    throw new ShapeError(
      `${op}: an input of ${by(input)} gives an output of ${by(sizes)} (kernel ${kernel}, ` +
        `stride ${s}, padding ${p}, dilation ${d}): too small`,
    );
  }
  // The convolution of the output maps back onto `in + floor(outputPadding / stride)` rows:
  // more than the input only where the output padding reaches a stride (it is below the
  // dilation), and those rows of the input are zeros.
  return sizes.map((size, i) => ({ size, extra: Math.floor(extra[i] / s[i]) }));
}

/**
 * Checks a transposed convolution's input, weight `[Cin, Cout/groups, ...kernel]`, bias and
 * groups as PyTorch does; the output channels.
 */
function transposedChannels(
  op: string,
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  groups: number,
): number {
  if (!Number.isInteger(groups) || groups < 1) {
    throw new RangeError(`${op}: groups must be a positive integer, got ${groups}`);
  }
  const [inChannels, weightIn, perGroup] = [x.shape[1], w.shape[0], w.shape[1]] as number[];
  if (inChannels !== weightIn || inChannels % groups !== 0) {
    throw new ShapeError(
      `${op}: input has ${plural(inChannels, "channel")} but weight [${w.shape}] with ` +
        `${plural(groups, "group")} expects ${weightIn} (a multiple of ${groups})`,
    );
  }
  const outChannels = perGroup * groups;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outChannels)) {
    throw new ShapeError(
      `${op}: bias [${bias.shape}] does not match ${outChannels} output channels`,
    );
  }
  return outChannels;
}

/**
 * 2-D transposed convolution ("deconvolution", PyTorch's `F.conv_transpose2d`) of
 * `x [N, Cin, H, W]` with `w [Cin, Cout/groups, KH, KW]` and optional `bias [Cout]`: the
 * gradient of a `conv2d` with respect to its input, so each input pixel spreads its kernel
 * over the output, `stride` pixels apart. Output size per axis: `(in − 1)·stride −
 * 2·padding + dilation·(kernel − 1) + outputPadding + 1`.
 *
 * @example A 2×2 kernel at stride 2 doubles the size; an upsampling that keeps the input's
 * pixels
 * ```ts
 * import { defaultDevice, ones, tensor } from "../mod.ts";
 * import { convTranspose2d } from "./ops_conv_family.ts";
 * await defaultDevice();
 * const x = tensor([[[[1, 2], [3, 4]]]]);
 * const y = convTranspose2d(x, ones([1, 1, 2, 2]), null, { stride: 2 });
 * console.log(await y.toArray());
 * // [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]
 * const z = convTranspose2d(x, ones([1, 1, 3, 3]), null, { stride: 2, padding: 1, outputPadding: 1 });
 * console.log(z.shape); // [1, 1, 4, 4]
 * ```
 */
export function convTranspose2d(
  x: Tensor3D,
  w: Tensor,
  bias: Tensor | null,
  options?: ConvTranspose2dOptions,
): Tensor3D;
/** The same over a batch, `x [N, C, H, W]`. */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options?: ConvTranspose2dOptions,
): Tensor4D;
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: ConvTranspose2dOptions = {},
): Tensor3D | Tensor4D {
  tensorArgument("convTranspose2d", x);
  const op = "convTranspose2d";
  checkOptions(op, options, CONV_TRANSPOSE_OPTIONS);
  const inputs = bias ? [x, w, bias] : [x, w];
  requireFloat(op, ...inputs);
  sameDevice(op, ...inputs);
  if ((x.rank !== 3 && x.rank !== 4) || w.rank !== 4) {
    throw new ShapeError(
      `${op}: expected x [Cin, H, W] or [N, Cin, H, W] and w [Cin, Cout/groups, KH, KW], got ` +
        `[${x.shape}] and [${w.shape}]`,
    );
  }
  if (x.rank === 3) {
    return throughUnitAxis([x], 0, ([x4]) => convTranspose2d(x4, w, bias, options)) as Tensor3D;
  }
  const groups = options.groups ?? 1;
  const outChannels = transposedChannels(op, x, w, bias, groups);
  const [batch, inChannels, height, width] = x.shape as readonly number[];
  const [kernelH, kernelW] = (w.shape as readonly number[]).slice(2);
  const { stride = 1, padding = 0, outputPadding = 0, dilation = 1 } = options;
  checkSizes(op, [
    ["stride", stride, 1],
    ["padding", padding, 0],
    ["outputPadding", outputPadding, 0],
    ["dilation", dilation, 1],
  ]);
  const [strideH, strideW] = pair(stride), [padH, padW] = pair(padding);
  const [dilationH, dilationW] = pair(dilation);
  const [rows, columns] = transposedAxes(op, [height, width], [kernelH, kernelW], {
    stride: [strideH, strideW],
    padding: [padH, padW],
    outputPadding: pair(outputPadding),
    dilation: [dilationH, dilationW],
    outputSize: options.outputSize,
  });
  // The convolution whose input gradient this is: from the output (its input) to x.
  const geometry: Conv2dGeometry = {
    batch,
    inChannels: outChannels,
    height: rows.size,
    width: columns.size,
    outChannels: inChannels,
    kernelH,
    kernelW,
    strideH,
    strideW,
    padH,
    padW,
    groups,
    ...(dilationH > 1 || dilationW > 1 ? { dilationH, dilationW } : {}),
  };
  const padded = zeroExtended(x, rows.extra, columns.extra);
  const y = apply("convTranspose2d", bias ? [padded, w, bias] : [padded, w], { geometry });
  if (padded !== x) padded.dispose(); // (the graph holds what the backward needs)
  return y as Tensor4D;
}

/** `x [N, C, H, W]` with `rows` zero rows and `columns` zero columns after it (else `x`). */
function zeroExtended(x: Tensor, rows: number, columns: number): Tensor {
  let out = x;
  for (const [axis, count] of [[2, rows], [3, columns]] as const) {
    if (count === 0) continue;
    const shape = out.shape.map((d, i) => (i === axis ? count : d));
    const zero = zeros(shape, { device: x.device });
    const joined = concat([out, zero], axis);
    zero.dispose();
    if (out !== x) out.dispose();
    out = joined;
  }
  return out;
}

/** Options of {@link convTranspose1d}: those of {@link convTranspose2d} along one axis. */
export interface ConvTranspose1dOptions {
  /** Step between the input's samples in the output (default 1). */
  stride?: number;
  /** Samples cropped from each end of the full output (default 0). */
  padding?: number;
  /** Samples added after the output, smaller than the stride or the dilation (default 0). */
  outputPadding?: number;
  /** Channel groups (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** The output's length (PyTorch's `output_size`): chooses the output padding. */
  outputSize?: number;
}

/** The options of the transposed convolutions (one set for both: 1-D's are 2-D's per axis). */
const CONV_TRANSPOSE_OPTIONS = optionNames<ConvTranspose2dOptions & ConvTranspose1dOptions>({
  stride: true,
  padding: true,
  outputPadding: true,
  groups: true,
  dilation: true,
  outputSize: true,
});

/**
 * 1-D transposed convolution (PyTorch's `F.conv_transpose1d`) of `x [N, Cin, L]` with
 * `w [Cin, Cout/groups, K]` and optional `bias [Cout]`: {@link convTranspose2d} over a height of
 * one.
 *
 * @example Stride 2 spreads each sample over two
 * ```ts
 * import { defaultDevice, ones, tensor } from "../mod.ts";
 * import { convTranspose1d } from "./ops_conv_family.ts";
 * await defaultDevice();
 * const y = convTranspose1d(tensor([[[1, 2, 3]]]), ones([1, 1, 2]), null, { stride: 2 });
 * console.log(await y.toArray()); // [[[1, 1, 2, 2, 3, 3]]]
 * ```
 */
export function convTranspose1d(
  x: Tensor2D,
  w: Tensor,
  bias: Tensor | null,
  options?: ConvTranspose1dOptions,
): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function convTranspose1d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options?: ConvTranspose1dOptions,
): Tensor3D;
export function convTranspose1d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: ConvTranspose1dOptions = {},
): Tensor2D | Tensor3D {
  tensorArgument("convTranspose1d", x);
  const op = "convTranspose1d";
  checkOptions(op, options, CONV_TRANSPOSE_OPTIONS);
  if ((x.rank !== 2 && x.rank !== 3) || w.rank !== 3) {
    throw new ShapeError(
      `${op}: expected x [Cin, L] or [N, Cin, L] and w [Cin, Cout/groups, K], got ` +
        `[${x.shape}] and [${w.shape}]`,
    );
  }
  if (x.rank === 2) {
    return throughUnitAxis([x], 0, ([x3]) => convTranspose1d(x3, w, bias, options)) as Tensor2D;
  }
  checkScalars(op, { ...options });
  const { stride = 1, padding = 0, outputPadding = 0, dilation = 1, outputSize } = options;
  // Checked in 1-D terms here: convTranspose2d would speak of the 2-D shapes it runs on.
  transposedChannels(op, x, w, bias, options.groups ?? 1);
  transposedAxes(op, [x.shape[2] as number], [w.shape[2] as number], {
    stride: [stride],
    padding: [padding],
    outputPadding: [outputPadding],
    dilation: [dilation],
    outputSize: outputSize === undefined ? undefined : [outputSize],
  });
  const y = as1d(op, [x, w], ([x2, w2]) =>
    convTranspose2d(x2, w2, bias, {
      stride: [1, stride],
      padding: [0, padding],
      outputPadding: [0, outputPadding],
      dilation: [1, dilation],
      groups: options.groups,
      outputSize: outputSize === undefined ? undefined : [1, outputSize],
    }));
  return y;
}

/** Options of {@link conv1d}, PyTorch's `F.conv1d` arguments. */
export interface Conv1dOptions {
  /** Step between windows (default 1). */
  stride?: number;
  /** Zero padding at each end (default 0), or `"same"` / `"valid"` as PyTorch's. */
  padding?: number | "same" | "valid";
  /** Channel groups (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
}

const CONV1D_OPTIONS = optionNames<Conv1dOptions>({
  stride: true,
  padding: true,
  groups: true,
  dilation: true,
});

/**
 * 1-D convolution (cross-correlation, PyTorch's `F.conv1d`) of `x [N, C, L]` with
 * `w [O, C/groups, K]` and optional `bias [O]`: {@link conv2d} over a height of one, on the
 * same kernels. Output length `floor((L + 2·padding − dilation·(K − 1) − 1) / stride) + 1`.
 *
 * @example A 2-tap moving sum; the same length with padding "same"
 * ```ts
 * import { defaultDevice, ones, tensor } from "../mod.ts";
 * import { conv1d } from "./ops_conv_family.ts";
 * await defaultDevice();
 * const x = tensor([[[1, 2, 3, 4]]]);
 * console.log(await conv1d(x, ones([1, 1, 2]), null).toArray()); // [[[3, 5, 7]]]
 * console.log(await conv1d(x, ones([1, 1, 2]), null, { padding: "same" }).toArray());
 * // [[[3, 5, 7, 4]]]
 * ```
 */
export function conv1d(
  x: Tensor2D,
  w: Tensor,
  bias: Tensor | null,
  options?: Conv1dOptions,
): Tensor2D;
/** The same over a batch, `x [N, C, L]`. */
export function conv1d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options?: Conv1dOptions,
): Tensor3D;
export function conv1d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  options: Conv1dOptions = {},
): Tensor2D | Tensor3D {
  tensorArgument("conv1d", x);
  const op = "conv1d";
  checkOptions(op, options, CONV1D_OPTIONS);
  if ((x.rank !== 2 && x.rank !== 3) || w.rank !== 3) {
    throw new ShapeError(
      `${op}: expected x [C, L] or [N, C, L] and w [O, C/groups, K], got [${x.shape}] and ` +
        `[${w.shape}]`,
    );
  }
  if (x.rank === 2) {
    return throughUnitAxis([x], 0, ([x3]) => conv1d(x3, w, bias, options)) as Tensor2D;
  }
  const { padding: given = 0, stride = 1, dilation = 1, groups = 1 } = options;
  checkScalars(op, { stride, dilation, ...(typeof given === "number" ? { padding: given } : {}) });
  if (!Number.isInteger(groups) || groups < 1) {
    throw new RangeError(`${op}: groups must be a positive integer, got ${groups}`);
  }
  // Checked in 1-D terms here: conv2d would name the 4-D shapes it runs on.
  const [channels, perGroup, outChannels] = [x.shape[1], w.shape[1], w.shape[0]] as number[];
  if (channels !== perGroup * groups || outChannels % groups !== 0) {
    throw new ShapeError(
      `${op}: input [${x.shape}] has ${plural(channels, "channel")} but weight [${w.shape}] ` +
        `with ${plural(groups, "group")} expects ${perGroup * groups} (and ${outChannels} ` +
        `outputs divisible by ${groups})`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outChannels)) {
    throw new ShapeError(
      `${op}: bias [${bias.shape}] does not match ${outChannels} output channels`,
    );
  }
  const kernel = w.shape[2] as number;
  const { padding } = convPadding(given, kernel, stride, dilation, op);
  const span = dilation * (kernel - 1) + 1, length = x.shape[2] as number;
  if (length + 2 * pair(padding)[1] < span) {
    throw new ShapeError(
      `${op}: input [${x.shape}]: a ${kernel}-tap kernel (dilation ${dilation}, spanning ` +
        `${span}; padding ${padding}) does not fit a length of ${length}`,
    );
  }
  const padding2d: ConvPadding = typeof given === "number" ? [0, given] : given;
  return as1d(op, [x, w], ([x2, w2]) =>
    conv2d(x2, w2, bias, {
      stride: [1, stride],
      padding: padding2d,
      dilation: [1, dilation],
      groups: options.groups,
    }));
}

/** Checks that the scalar options of a 1-D op are integers in range. */
function checkScalars(op: string, options: Record<string, number | undefined>): void {
  const least: Record<string, 0 | 1> = { stride: 1, dilation: 1, padding: 0, outputPadding: 0 };
  checkSizes(
    op,
    Object.entries(least).flatMap(([name, min]) => {
      const v = options[name];
      return v === undefined ? [] : [[name, v, min] as const];
    }),
  );
}

/**
 * Runs a 2-D op on 3-D tensors given a height of one (`[N, C, L]` as `[N, C, 1, L]`), and
 * returns its result without that axis.
 */
export function as1d(
  op: string,
  xs: readonly Tensor[],
  body: (xs: Tensor4D[]) => Tensor4D,
): Tensor3D {
  for (const t of xs) {
    if (t.rank !== 3) throw new ShapeError(`${op}: expected a 3-D tensor, got [${t.shape}]`);
  }
  return throughUnitAxis(xs, 2, (lifted) => body(lifted as Tensor4D[])) as Tensor3D;
}
