/**
 * Padding, as PyTorch's `F.pad`: constant padding of any axes (a copy into a filled tensor),
 * and reflection, replication and circular padding (a resampling whose per-axis tables map
 * each output to the input element it repeats, `kernels/interpolate.ts`), with gradients.
 *
 * @module
 */

import type { ResampleAxis } from "../kernels/interpolate.ts";
import { requireFloat } from "./_core.ts";
import { checkOptions, optionNames, requireNumber } from "./options.ts";
import { ShapeError } from "./shape.ts";
import { apply, type Tensor, tensorArgument } from "./tensor.ts";

/** PyTorch's padding modes. */
export type PadMode = "constant" | "reflect" | "replicate" | "circular";

/** Options of {@link pad}. */
export interface PadOptions {
  /** How the padding is filled (default `"constant"`). */
  mode?: PadMode;
  /** The fill of `"constant"` padding (default 0). */
  value?: number;
}

const PAD_OPTIONS = optionNames<PadOptions>({ mode: true, value: true });

/**
 * The shape `pads` (PyTorch's order: the last axis's before and after, then the axis before
 * it's, …) give `shape`; a one-line error naming the problem otherwise.
 *
 * @example Two columns left, one right; one row above
 * ```ts
 * import { paddedShape } from "./ops_pad.ts";
 * console.log(paddedShape([1, 3, 4, 5], [2, 1, 1, 0])); // [1, 3, 5, 8]
 * ```
 */
export function paddedShape(shape: readonly number[], pads: readonly number[]): number[] {
  if (pads.length % 2 !== 0 || !pads.every(Number.isInteger)) {
    throw new RangeError(`pad: pads must be pairs of integers, got [${pads}]`);
  }
  if (pads.length / 2 > shape.length) {
    throw new ShapeError(
      `pad: ${pads.length / 2} pairs of pads for ${shape.length} axes ([${shape}])`,
    );
  }
  return shape.map((d, axis) => {
    const k = shape.length - 1 - axis;
    return 2 * k < pads.length ? d + pads[2 * k] + pads[2 * k + 1] : d;
  });
}

/**
 * Pads `x` as PyTorch's `F.pad`: `pads` lists, from the last axis backwards, the elements to
 * add before and after each axis (negative ones crop). `"constant"` fills with `value` (any
 * axes); `"reflect"` mirrors the input without repeating its edge (each pad below the axis's
 * size), `"replicate"` repeats the edge, `"circular"` wraps around (each pad at most the
 * axis's size). Differentiable with respect to `x`.
 *
 * @example A zero border, and a reflection
 * ```ts
 * import { defaultDevice, tensor } from "../mod.ts";
 * import { pad } from "./ops_pad.ts";
 * await defaultDevice();
 * const x = tensor([[[1, 2, 3]]]);
 * console.log(await pad(x, [1, 2]).toArray()); // [[[0, 1, 2, 3, 0, 0]]]
 * console.log(await pad(x, [2, 2], { mode: "reflect" }).toArray()); // [[[3, 2, 1, 2, 3, 2, 1]]]
 * console.log(await pad(x, [1, 1], { mode: "circular" }).toArray()); // [[[3, 1, 2, 3, 1]]]
 * ```
 */
export function pad(x: Tensor, pads: readonly number[], options: PadOptions = {}): Tensor {
  tensorArgument("pad", x);
  checkOptions("pad", options, PAD_OPTIONS);
  requireFloat("pad", x);
  const { mode = "constant" } = options;
  if (options.value !== undefined) requireNumber("pad", "value", options.value);
  if (!["constant", "reflect", "replicate", "circular"].includes(mode)) {
    throw new RangeError(
      `pad: mode must be "constant", "reflect", "replicate" or "circular", got "${mode}"`,
    );
  }
  const shape = x.shape as readonly number[];
  const out = paddedShape(shape, pads);
  const before = shape.map((_, axis) => padOf(pads, shape.length, axis, 0));
  const after = shape.map((_, axis) => padOf(pads, shape.length, axis, 1));
  if (mode === "constant") {
    const cropped = shape.findIndex((d, i) => Math.max(0, -before[i]) + Math.max(0, -after[i]) > d);
    if (cropped >= 0 || out.some((d) => d < 0)) {
      const axis = cropped >= 0 ? cropped : out.findIndex((d) => d < 0);
      throw new ShapeError(
        `pad: pads ${before[axis]} and ${after[axis]} crop more than the ${shape[axis]} ` +
          `elements of axis ${axis} of [${shape}]`,
      );
    }
    return apply("padConstant", [x], { before, after, value: options.value ?? 0 });
  }
  if (options.value !== undefined) {
    throw new RangeError(`pad: mode "${mode}" takes no value (got ${options.value})`);
  }
  const axes = pads.length / 2;
  for (let axis = shape.length - axes; axis < shape.length; axis++) {
    checkWrapping(mode, shape, axis, before[axis], after[axis], out[axis]);
  }
  // The last two axes in one pass, then each further one in a pass of its own.
  let y = x;
  const passes = axes >= 2 ? [shape.length - 2, ...range(shape.length - 3, shape.length - axes)] : [
    shape.length - 1,
  ];
  for (const [i, axis] of passes.entries()) {
    const both = i === 0 && axes >= 2;
    const next = padPass(y, axis, both, mode, before, after);
    if (y !== x) y.dispose(); // (the graph holds what the backward needs)
    y = next;
  }
  return y;
}

/**
 * The pads (in `pad`'s order, the last axis first) that a convolution with a padding mode other
 * than zeros applies to its input before an unpadded convolution, as PyTorch's `Conv1d`/`Conv2d`
 * (`_reversed_padding_repeated_twice`): `padding` on both sides of each axis (one number, or
 * one per axis in axis order), or `"same"`'s `dilation·(kernel − 1)` split with the odd one
 * after, or none for `"valid"`.
 *
 * @example A 4×3 kernel, padding "same": one row above and two below, one column each side
 * ```ts
 * import { convModePads } from "./ops_pad.ts";
 * console.log(convModePads("same", [4, 3], [1, 1])); // [1, 1, 1, 2]
 * console.log(convModePads([2, 1], [3, 3], [1, 1])); // [1, 1, 2, 2]
 * ```
 */
export function convModePads(
  padding: number | readonly number[] | "same" | "valid",
  kernel: readonly number[],
  dilation: readonly number[],
): number[] {
  const perAxis = kernel.map((k, i): [number, number] => {
    if (padding === "valid") return [0, 0];
    if (padding === "same") {
      const total = dilation[i] * (k - 1), before = Math.floor(total / 2);
      return [before, total - before];
    }
    const p = typeof padding === "number" ? padding : padding[i];
    return [p, p];
  });
  return perAxis.reverse().flat();
}

/** Axes `from` down to `to`, inclusive (none when `from < to`). */
function range(from: number, to: number): number[] {
  return from < to ? [] : Array.from({ length: from - to + 1 }, (_, i) => from - i);
}

/** The pad before (`side` 0) or after (1) `axis` of a rank-`rank` tensor; 0 where none. */
function padOf(pads: readonly number[], rank: number, axis: number, side: 0 | 1): number {
  const k = rank - 1 - axis;
  return 2 * k < pads.length ? pads[2 * k + side] : 0;
}

/** PyTorch's limits on a non-constant pad of one axis. */
function checkWrapping(
  mode: Exclude<PadMode, "constant">,
  shape: readonly number[],
  axis: number,
  before: number,
  after: number,
  out: number,
): void {
  const size = shape[axis];
  const where = `axis ${axis} of [${shape}]`;
  if (size < 1) throw new ShapeError(`pad: mode "${mode}" needs a non-empty ${where}`);
  if (mode === "reflect" && (before >= size || after >= size)) {
    throw new RangeError(
      `pad: reflect padding must be less than the input size, got pads ${before} and ${after} ` +
        `for ${where}`,
    );
  }
  if (mode === "circular" && (before > size || after > size)) {
    throw new RangeError(
      `pad: circular padding wraps around more than once: pads ${before} and ${after} for ${where}`,
    );
  }
  if (out < 1) {
    throw new ShapeError(`pad: pads ${before} and ${after} leave nothing of ${where}`);
  }
}

/**
 * One resampling pass: `axis` (and the axis after it, when `both`) padded, the tensor seen as
 * `[leading, 1, size, trailing]` planes (`[leading, 1, H, W]` for two axes) so the 2-D kernel
 * serves every rank; an axis not padded maps to itself.
 */
function padPass(
  x: Tensor,
  axis: number,
  both: boolean,
  mode: Exclude<PadMode, "constant">,
  before: readonly number[],
  after: readonly number[],
): Tensor {
  const shape = x.shape as readonly number[];
  const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
  const leading = product(shape.slice(0, axis));
  const padded = (a: number): ResampleAxis => ({
    size: shape[a],
    out: shape[a] + before[a] + after[a],
    mode,
    alignCorners: false,
    scale: null,
    offset: before[a],
  });
  const trailing = product(shape.slice(axis + 1));
  const rows = padded(axis);
  const cols: ResampleAxis = both ? padded(axis + 1) : {
    size: trailing,
    out: trailing,
    mode: "nearest",
    alignCorners: false,
    scale: null,
  };
  const planes = x.reshape([leading, 1, rows.size, cols.size]);
  const geometry = { batch: leading, channels: 1, rows, cols };
  const y = apply("resample", [planes], { geometry });
  planes.dispose();
  const outShape = shape.map((
    d,
    a,
  ) => (a === axis || (both && a === axis + 1) ? d + before[a] + after[a] : d));
  const result = y.reshape(outShape);
  y.dispose();
  return result;
}
