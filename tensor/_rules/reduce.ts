/**
 * Reductions over axes: a sum spreads its gradient back over the reduced axes, a product sends
 * each element the product of the others; a maximum or a
 * minimum sends it to the extrema, shared equally among ties (the subgradient PyTorch's `amax`
 * and `amin` use).
 *
 * @module
 */

import { binary, broadcast, fill, reduce, reshape, unary, where } from "../_primitives.ts";
import { freeing } from "./elementwise.ts";
import type { RawTensor } from "../_core.ts";
import type { Rule, Rules } from "./rule.ts";

/** `shape` with the reduced `axes` kept as size 1. */
function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** The rule of a maximum or a minimum over axes. */
function extremumRule(op: "max" | "min"): Rule<"max" | "min"> {
  return {
    forward([x], { axes, keepdim }, ctx) {
      const out = reduce(x, op, axes, keepdim);
      ctx.save(x, out);
      return out;
    },
    backward(g, { axes }, ctx) {
      const [x, out] = ctx.saved;
      const shape = keptShape(x.shape, axes);
      const peak = out.view(shape);
      const mask = binary(x, peak, "eq");
      const ties = reduce(mask, "sum", axes, true);
      const upstream = reshape(g, shape);
      const share = binary(upstream, ties, "div");
      return freeing([peak, mask, ties, upstream, share], [binary(mask, share, "mul")]);
    },
  };
}

/** The reduction rules. */
export const reduceRules: Rules<"sum" | "prod" | "max" | "min"> = {
  sum: {
    forward: ([x], { axes, keepdim }) => reduce(x, "sum", axes, keepdim),
    backward(g, { axes }, ctx) {
      const shape = ctx.inputs[0].shape;
      const kept = reshape(g, keptShape(shape, axes));
      return freeing([kept], [broadcast(kept, shape)]);
    },
  },
  prod: {
    forward([x], { axes, keepdim }, ctx) {
      ctx.save(x);
      return reduce(x, "prod", axes, keepdim);
    },
    backward(g, { axes }, ctx) {
      const x = ctx.saved[0];
      const upstream = reshape(g, keptShape(x.shape, axes));
      const slope = productOfOthers(x, axes);
      return freeing([upstream, slope], [binary(upstream, slope, "mul")]);
    },
  },
  max: extremumRule("max"),
  min: extremumRule("min"),
};

/**
 * For each element of `x`, the product of the others along `axes`, exact where zeros are:
 * with none in its row, `Π / x`; with one, the product of the nonzero elements at the zero and
 * 0 elsewhere; with more, 0 (as PyTorch's `prod_backward`, which never divides by a zero).
 */
function productOfOthers(x: RawTensor, axes: readonly number[]): RawTensor {
  const [zero, one] = [fill(x.device, [], 0), fill(x.device, [], 1)];
  const isZero = binary(x, zero, "eq");
  const zeros = reduce(isZero, "sum", axes, true);
  const nonzero = where(isZero, one, x);
  const partial = reduce(nonzero, "prod", axes, true);
  const quotient = binary(partial, x, "div");
  const [noZero, oneZero] = [unary(zeros, "eqScalar", 0), unary(zeros, "eqScalar", 1)];
  const atTheZero = where(isZero, partial, zero);
  const withOneZero = where(oneZero, atTheZero, zero);
  const temporaries = [zero, one, isZero, zeros, nonzero, partial, quotient, noZero, oneZero];
  return freeing([...temporaries, atTheZero, withOneZero], where(noZero, quotient, withOneZero));
}
