/**
 * The rules of the ops that reorder or accumulate along axes: flips and rolls send the
 * gradient back by the inverse move, a triangle masks it the same way, a running sum's gradient
 * is a running sum from the end, a running product's is PyTorch's, exact where the input has
 * zeros, and a running `log Σ exp`'s is computed in the log domain.
 *
 * @module
 */

import type { RawTensor } from "../_core.ts";
import { binary, copyInto, fill, unary, where } from "../_primitives.ts";
import { cumulative, flipRoll, triangle } from "../_primitives_index.ts";
import { freeing } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/**
 * The gradient of `y = cumprod(x)` along `dim` from the output's gradient `g`, as PyTorch's
 * `cumprod_backward`: before a row's first zero, `Σ_{j≥i} g_j·y_j / x_i`; at the first zero,
 * `Σ_{j≥i} g_j·Π_{k≤j, k≠i} x_k` (the running product with that zero taken as 1); after it, 0
 * (every later product holds that zero and another factor of it). No division by a zero.
 */
function cumprodGrad(g: RawTensor, x: RawTensor, y: RawTensor, dim: number): RawTensor {
  const [zero, one] = [fill(x.device, [], 0), fill(x.device, [], 1)];
  const isZero = unary(x, "eqScalar", 0);
  const zerosSoFar = cumulative(isZero, dim, "sum");
  const [none, oneSoFar] = [unary(zerosSoFar, "eqScalar", 0), unary(zerosSoFar, "eqScalar", 1)];
  const first = binary(isZero, oneSoFar, "mul");
  const gy = binary(g, y, "mul");
  const tail = cumulative(gy, dim, "sum", true);
  const early = binary(tail, x, "div");
  const skipped = where(first, one, x);
  const partial = cumulative(skipped, dim, "prod");
  const gp = binary(g, partial, "mul");
  const atZero = cumulative(gp, dim, "sum", true);
  const later = where(first, atZero, zero);
  const temporaries = [zero, one, isZero, zerosSoFar, none, oneSoFar, first, gy, tail, early];
  return freeing(
    [...temporaries, skipped, partial, gp, atZero, later],
    where(none, early, later),
  );
}

/**
 * The diagonal of `x` at `offset` between `dim1` and `dim2` as a view (as PyTorch's
 * `diagonal`): the two axes removed, one axis of the diagonal's length appended, its stride
 * the sum of theirs.
 */
export function diagonalView(
  x: { shape: readonly number[]; strides: readonly number[]; offset: number },
  offset: number,
  dim1: number,
  dim2: number,
) {
  const [rows, cols] = [x.shape[dim1], x.shape[dim2]];
  const length = Math.max(0, Math.min(rows + Math.min(offset, 0), cols - Math.max(offset, 0)));
  const start = length === 0
    ? 0
    : (offset >= 0 ? offset * x.strides[dim2] : -offset * x.strides[dim1]);
  const kept = x.shape.map((_, a) => a).filter((a) => a !== dim1 && a !== dim2);
  return {
    shape: [...kept.map((a) => x.shape[a]), length],
    strides: [...kept.map((a) => x.strides[a]), x.strides[dim1] + x.strides[dim2]],
    offset: x.offset + start,
  };
}

/**
 * The gradient of `y = logcumsumexp(x)` along `dim`: `Σ_{j≥i} g_j·e^{x_i − y_j}`, computed in
 * the log domain as PyTorch does so that nothing overflows: the positive and the negative parts
 * of `g` each summed by a reversed `logcumsumexp` of `log|g| − y`, then `e^{x + ·}`.
 */
function logcumsumexpGrad(g: RawTensor, x: RawTensor, y: RawTensor, dim: number): RawTensor {
  const part = (sign: 1 | -1) => {
    const signed = sign === 1 ? g.alias() : unary(g, "neg");
    const positive = unary(signed, "relu");
    const logs = unary(positive, "log");
    const shifted = binary(logs, y, "sub");
    const tail = cumulative(shifted, dim, "logaddexp", true);
    const exponent = binary(x, tail, "add");
    return freeing([signed, positive, logs, shifted, tail, exponent], unary(exponent, "exp"));
  };
  const [up, down] = [part(1), part(-1)];
  return freeing([up, down], binary(up, down, "sub"));
}

/** The rules of `cumulative`, `flipRoll`, `triangle` and `diagonal`. */
export const reorderRules: Rules<"cumulative" | "flipRoll" | "triangle" | "diagonal"> = {
  diagonal: {
    forward([x], { offset, dim1, dim2 }) {
      const view = diagonalView(x, offset, dim1, dim2);
      return x.view(view.shape, view.strides, view.offset);
    },
    // The gradient written onto the diagonal of zeros.
    backward(g, { offset, dim1, dim2 }, ctx) {
      const out = fill(g.device, ctx.inputs[0].shape, 0);
      const view = diagonalView(out, offset, dim1, dim2);
      const region = out.view(view.shape, view.strides, view.offset);
      copyInto(g, region, 0);
      region.dispose();
      return [out];
    },
  },
  cumulative: {
    forward([x], { dim, op }, ctx) {
      const y = cumulative(x, dim, op);
      if (op !== "sum") ctx.save(x, y);
      return y;
    },
    backward(g, { dim, op }, ctx) {
      if (op === "sum") return [cumulative(g, dim, "sum", true)];
      const [x, y] = ctx.saved;
      return [op === "prod" ? cumprodGrad(g, x, y, dim) : logcumsumexpGrad(g, x, y, dim)];
    },
  },
  flipRoll: {
    forward: ([x], { flip, shift }) => flipRoll(x, flip, shift),
    backward: (g, { flip, shift }) => [flipRoll(g, flip, shift.map((s) => -s))],
  },
  triangle: {
    forward: ([x], { upper, diagonal }) => triangle(x, upper, diagonal),
    backward: (g, { upper, diagonal }) => [triangle(g, upper, diagonal)],
  },
};
