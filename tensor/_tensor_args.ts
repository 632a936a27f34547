/**
 * The checks and resolutions of what `Tensor`'s methods are given, before any op runs: a shape
 * with a −1 to fill in, a permutation, slice bounds, a scalar operand, an upstream gradient.
 * Each throws an error that names the method and the shapes; none touches tensor data or the
 * graph, so they see tensors only as {@link Described} (shape, dtype, device).
 *
 * @module
 */

import { Device } from "../kernels/device.ts";
import { requireNumber } from "./options.ts";
import { type Described, requireFloat, sameDevice } from "./_core.ts";
import {
  broadcastShapes,
  describeValue,
  type DType,
  normalizeAxes,
  numel,
  plural,
  reductionAxes,
  sameShape,
  ShapeError,
} from "./shape.ts";

/** `shape` for `reshape` of `size` elements with its one −1 filled in, checked against `from`. */
export function resolveShape(from: readonly number[], shape: readonly number[]): number[] {
  requireList("reshape", "the shape", shape);
  const size = numel(from);
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError(`reshape: at most one −1 in [${shape}]`);
  const known = numel(shape.filter((d) => d !== -1));
  const resolved = shape.map((d) => (d === -1 ? size / known : d));
  if (numel(resolved) !== size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(
      `reshape: cannot view [${from}] (${plural(size, "element")}) as [${shape}]`,
    );
  }
  return resolved;
}

/**
 * The shape of `squeeze(axes)`: without the given axes that have size 1 (all of size 1 when
 * `axes` is omitted); an axis of another size stays, as PyTorch leaves it.
 */
export function squeezedShape(
  shape: readonly number[],
  axes?: number | readonly number[],
): number[] {
  // A 0-d tensor takes axis 0 or −1, as PyTorch's.
  const named = axes === undefined
    ? null
    : normalizeAxes(axes, Math.max(shape.length, 1), "squeeze");
  return shape.filter((d, i) => d !== 1 || (named !== null && !named.includes(i)));
}

/** The shape of `unsqueeze(axis)`: a size-1 axis inserted at `axis` of `[−rank − 1, rank]`. */
export function unsqueezedShape(shape: readonly number[], axis: number): number[] {
  const at = normalizeAxes(axis, shape.length + 1, "unsqueeze")[0];
  return [...shape.slice(0, at), 1, ...shape.slice(at)];
}

/** The shape of `flatten(startDim, endDim)`: axes `startDim..endDim` merged into one. */
export function flattenedShape(
  shape: readonly number[],
  startDim: number,
  endDim: number,
): number[] {
  // A 0-d tensor flattens to one axis of 1, as PyTorch's.
  const rank = Math.max(shape.length, 1);
  const full = shape.length === 0 ? [1] : shape;
  const [start, end] = [startDim, endDim].map((a) => normalizeAxes(a, rank, "flatten")[0]);
  if (start > end) {
    throw new ShapeError(
      `flatten: startDim ${startDim} comes after endDim ${endDim} (rank ${shape.length})`,
    );
  }
  return [...full.slice(0, start), numel(full.slice(start, end + 1)), ...full.slice(end + 1)];
}

/**
 * The shape of `expand(sizes)` on `shape`, as PyTorch: `sizes` has at least the rank; −1 keeps
 * an axis's size; an axis of size 1 (or a new leading one) takes any size, others only their own.
 */
export function expandedShape(shape: readonly number[], sizes: readonly number[]): number[] {
  requireList("expand", "the sizes", sizes);
  const lead = sizes.length - shape.length;
  const refuse = (why: string) => {
    throw new ShapeError(`expand: cannot expand [${shape}] to [${sizes}]: ${why}`);
  };
  if (lead < 0) {
    refuse(`${plural(sizes.length, "size")} for ${plural(shape.length, "axis", "axes")}`);
  }
  return sizes.map((d, i) => {
    const own = i < lead ? null : shape[i - lead];
    if (d === -1) {
      if (own === null) refuse(`−1 at new leading axis ${i}`);
      return own!;
    }
    if (!Number.isInteger(d) || d < 0) refuse(`size ${d} at axis ${i}`);
    if (own !== null && own !== 1 && own !== d) refuse(`axis ${i} has size ${own}, not 1`);
    return d;
  });
}

/** The axis order that swaps `axis0` and `axis1` of a tensor of rank `rank`. */
export function swappedAxes(rank: number, axis0: number, axis1: number): number[] {
  const [a, b] = [axis0, axis1].map((axis) => normalizeAxes(axis, rank, "transpose")[0]);
  const order = Array.from({ length: rank }, (_, i) => i);
  [order[a], order[b]] = [order[b], order[a]];
  return order;
}

/** `order` with negative axes counted from the end, checked to be a permutation of `rank` axes. */
export function resolvePermutation(order: readonly number[], rank: number): number[] {
  requireList("permute", "the axis order", order);
  const axes = order.map((a) => (a < 0 ? a + rank : a));
  if (
    axes.length !== rank || new Set(axes).size !== rank ||
    axes.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)
  ) {
    throw new ShapeError(
      `permute: [${order}] is not a permutation of ${plural(rank, "axis", "axes")}`,
    );
  }
  return axes;
}

/**
 * The axis, `[start, end)` and step of `slice` on `shape`, as Python and PyTorch index: a
 * negative bound counts from the end, then both are clamped to the axis, and an `end` at or
 * before `start` gives an empty range. The step is positive, as PyTorch requires.
 */
export function resolveSlice(
  shape: readonly number[],
  axis: number,
  start: number,
  end: number,
  step: number,
): { axis: number; start: number; end: number; step: number } {
  const a = normalizeAxes(axis, shape.length, "slice")[0];
  if (!Number.isInteger(start) || !Number.isInteger(end)) {
    throw new ShapeError(`slice: start and end must be integers, got [${start}, ${end})`);
  }
  if (!Number.isInteger(step) || step < 1) {
    throw new ShapeError(`slice: step must be a positive integer, got ${step}`);
  }
  const length = shape[a];
  const clamped = (i: number) => Math.min(Math.max(i < 0 ? i + length : i, 0), length);
  const from = clamped(start);
  return { axis: a, start: from, end: Math.max(clamped(end), from), step };
}

/**
 * How `torch.matmul(a, b)` runs as one product of the batched kernel (2-D × 2-D, or 3-D × 3-D
 * whose batches are equal or 1). Each operand is first broadcast to `expand` (null: not at
 * all), then viewed as its product shape; the product is then viewed as `out`.
 */
export interface MatmulPlan {
  /** The operands' shapes for the product. */
  operands: [number[], number[]];
  /** The shape each operand is broadcast to first, or null (its batch is 1 or already full). */
  expand: [number[] | null, number[] | null];
  /** The result's shape. */
  out: number[];
}

/**
 * The {@link MatmulPlan} of `a @ b` with PyTorch's rules: a 1-D `a` is a row and a 1-D `b` a
 * column, their axes removed from the result; the batch axes (all but the last two) broadcast.
 * A batch of `a` against a matrix `b` folds into `a`'s rows (one large product, as PyTorch);
 * an operand whose batch is a single matrix is read by the kernel for every batch entry, and
 * only one whose batch is partly broadcast is copied out.
 */
export function matmulPlan(a: readonly number[], b: readonly number[]): MatmulPlan {
  const both = `[${a}] × [${b}]`;
  if (a.length === 0 || b.length === 0) {
    throw new ShapeError(`matmul: both operands need at least one axis, got ${both}`);
  }
  const left = a.length === 1 ? [1, a[0]] : [...a];
  const right = b.length === 1 ? [b[0], 1] : [...b];
  const [m, k] = left.slice(-2), [k2, n] = right.slice(-2);
  if (k !== k2) throw new ShapeError(`matmul: inner dimensions differ: ${both} (${k} ≠ ${k2})`);
  const [batchA, batchB] = [left.slice(0, -2), right.slice(0, -2)];
  let batch: number[];
  try {
    batch = broadcastShapes(batchA, batchB, "matmul");
  } catch {
    throw new ShapeError(`matmul: the batch axes of ${both} do not broadcast`);
  }
  const out = [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  if (batchB.length === 0) {
    return { operands: [[numel(batchA) * m, k], right], expand: [null, null], out };
  }
  const count = numel(batch);
  const operand = (own: number[], rows: number, cols: number) => {
    const single = numel(own) === 1;
    const full = sameShape([...Array(batch.length - own.length).fill(1), ...own], batch);
    return {
      shape: [single ? 1 : count, rows, cols],
      expand: single || full ? null : [...batch, rows, cols],
    };
  };
  const [x, y] = [operand(batchA, m, k), operand(batchB, k, n)];
  return { operands: [x.shape, y.shape], expand: [x.expand, y.expand], out };
}

/**
 * `x op value` as the scalar op that computes it (`x − v` is `x + (−v)`). Any number is taken,
 * as PyTorch does: a division by 0 gives ±∞ or NaN, an infinite or NaN operand IEEE's results.
 */
export function scalarOp(
  op: "add" | "sub" | "mul" | "div",
  value: number,
): { op: "addScalar" | "mulScalar" | "divScalar"; value: number } {
  if (op === "add" || op === "sub") {
    return { op: "addScalar", value: op === "add" ? value : -value };
  }
  return { op: op === "mul" ? "mulScalar" : "divScalar", value };
}

/**
 * Checks what `backward` starts from: a scalar output needs no `grad`; any other needs one of
 * its shape, on its device, f32.
 */
export function checkUpstreamGradient(output: Described, grad: Described | undefined): void {
  if (!grad && numel(output.shape) !== 1) {
    throw new ShapeError(
      `backward: the tensor has shape [${output.shape}]; pass a gradient for non-scalar outputs`,
    );
  }
  if (!grad) return;
  // An upstream gradient of another shape would flow through the graph unchecked and leave
  // gradients of the wrong shapes in the leaves.
  if (!sameShape(grad.shape, output.shape)) {
    throw new ShapeError(
      `backward: the gradient has shape [${grad.shape}], the tensor [${output.shape}]`,
    );
  }
  sameDevice("backward", output, grad);
  requireFloat("backward", grad);
}

/** Throws unless `a` and `b` have one dtype, naming `op` (PyTorch would promote to f32). */
export function sameDtype(op: string, a: Described, b: Described): void {
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `${op}: dtypes ${a.dtype} and ${b.dtype} differ; convert one with .float()`,
    );
  }
}

/** The axes of `max` or `min`, checked: none of them empty (PyTorch refuses too). */
export function extremumAxes(
  x: Described,
  axes: number | readonly number[] | undefined,
  op: "max" | "min",
): number[] {
  const list = reductionAxes(axes, x.shape.length, op);
  // ±∞ of nothing would pass for a value.
  const empty = list.find((axis) => x.shape[axis] === 0);
  if (empty !== undefined) {
    throw new ShapeError(`${op}: axis ${empty} of [${x.shape}] is empty: no ${op}imum`);
  }
  return list;
}

/** The bounds of `clamp` (±∞ where omitted), checked. */
export function clampBounds(
  dtype: DType,
  min?: number | null,
  max?: number | null,
): { min: number; max: number } {
  if (min == null && max == null) {
    throw new TypeError("clamp: give at least one of min and max");
  }
  if (min != null) requireNumber("clamp", "min", min);
  if (max != null) requireNumber("clamp", "max", max);
  if (Number.isNaN(min) || Number.isNaN(max)) {
    throw new RangeError(`clamp: a bound is NaN (min ${min}, max ${max})`);
  }
  const bounds = { min: min ?? -Infinity, max: max ?? Infinity };
  if (dtype === "f32") return bounds;
  // An i32 tensor's bounds are integers, those past its range (±∞ included) at its ends.
  const inRange = (bound: number) => {
    if (Number.isFinite(bound) && !Number.isInteger(bound)) {
      throw new TypeError(`clamp: bound ${bound} of an i32 tensor is not an integer; use .float()`);
    }
    return Math.min(Math.max(bound, -(2 ** 31)), 2 ** 31 - 1);
  };
  return { min: inRange(bounds.min), max: inRange(bounds.max) };
}

/**
 * Throws unless `list` is an array: PyTorch's `x.reshape(2, 3)` (sizes as separate arguments)
 * names the one form this API takes, `x.reshape([2, 3])`.
 */
export function requireList(op: string, what: string, list: unknown): void {
  if (!Array.isArray(list)) {
    throw new TypeError(
      `${op}: takes ${what} as one array, as ${op}([2, 3]), not separate numbers; got ` +
        describeValue(list),
    );
  }
}

/** Throws unless `device` is a `Device` (a name such as "gpu1" is not one). */
export function requireDevice(op: string, device: unknown): asserts device is Device {
  if (!(device instanceof Device)) {
    throw new TypeError(
      `${op}: expected a Device (from defaultDevice() or Device.acquire()), got ` +
        describeValue(device),
    );
  }
}
