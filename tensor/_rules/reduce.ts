/**
 * Reductions over axes: a sum spreads its gradient back over the reduced axes, a product sends
 * each element the product of the others; a maximum or a
 * minimum sends it to the extrema, shared equally among ties (the subgradient PyTorch's `amax`
 * and `amin` use). A vector norm's gradient is PyTorch's, 0 where the norm is 0.
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

/** The vector norm of `x` over `axes`: `(Σ |x|^ord)^(1/ord)`, the count of nonzeros for 0. */
function vectorNormOf(x: RawTensor, ord: number, axes: readonly number[], keepdim: boolean) {
  if (ord === 0) {
    const nonzero = unary(x, "neScalar", 0);
    return freeing([nonzero], reduce(nonzero, "sum", axes, keepdim));
  }
  const magnitude = unary(x, "abs");
  if (!Number.isFinite(ord)) {
    return freeing([magnitude], reduce(magnitude, ord > 0 ? "max" : "min", axes, keepdim));
  }
  if (ord === 1) return freeing([magnitude], reduce(magnitude, "sum", axes, keepdim));
  const powers = ord === 2 ? binary(x, x, "mul") : unary(magnitude, "pow", ord);
  const total = reduce(powers, "sum", axes, keepdim);
  const root = ord === 2 ? unary(total, "sqrt") : unary(total, "pow", 1 / ord);
  return freeing([magnitude, powers, total], root);
}

/**
 * The gradient of a vector norm, PyTorch's `linalg_vector_norm_backward`: for a finite `ord`,
 * `g · sgn(x)·|x|^(ord−1) / ‖x‖^(ord−1)`, 0 where `x` is 0 and where the norm is 0 (so the
 * 2-norm of zeros has a zero gradient, not NaN); for ±∞, `g · sgn(x)` shared equally among the
 * elements whose magnitude is the norm; for 0, zeros.
 */
function vectorNormGrad(
  g: RawTensor,
  x: RawTensor,
  norm: RawTensor,
  ord: number,
  axes: readonly number[],
): RawTensor {
  if (ord === 0) return fill(x.device, x.shape, 0);
  const shape = keptShape(x.shape, axes);
  const [upstream, peak] = [reshape(g, shape), reshape(norm, shape)];
  const [zero, sign] = [fill(x.device, [], 0), unary(x, "sign")];
  const temporaries = [upstream, peak, zero, sign];
  if (!Number.isFinite(ord)) {
    const magnitude = unary(x, "abs");
    const at = binary(magnitude, peak, "eq");
    const ties = reduce(at, "sum", axes, true);
    const share = binary(upstream, ties, "div");
    const signed = binary(sign, at, "mul");
    return freeing(
      [...temporaries, magnitude, at, ties, share, signed],
      binary(signed, share, "mul"),
    );
  }
  // sgn(x)·|x|^(ord−1), 0 at 0 (where |x|^(ord−1) is ∞ for ord < 1).
  let direction = ord === 1 ? sign.alias() : ord === 2 ? x.alias() : null;
  if (!direction) {
    const magnitude = unary(x, "abs");
    const power = unary(magnitude, "pow", ord - 1);
    const signed = binary(sign, power, "mul");
    const isZero = unary(x, "eqScalar", 0);
    direction = where(isZero, zero, signed);
    temporaries.push(magnitude, power, signed, isZero);
  }
  const divisor = ord === 2 ? peak.alias() : unary(peak, "pow", ord - 1);
  const quotient = binary(upstream, divisor, "div");
  const normZero = unary(peak, "eqScalar", 0);
  const scale = where(normZero, zero, quotient);
  return freeing(
    [...temporaries, direction, divisor, quotient, normZero, scale],
    binary(direction, scale, "mul"),
  );
}

/** The reduction rules. */
export const reduceRules: Rules<"sum" | "prod" | "max" | "min" | "vectorNorm"> = {
  vectorNorm: {
    forward([x], { ord, axes, keepdim }, ctx) {
      const out = vectorNormOf(x, ord, axes, keepdim);
      ctx.save(x, out);
      return out;
    },
    backward: (g, { ord, axes }, ctx) => [
      vectorNormGrad(g, ctx.saved[0], ctx.saved[1], ord, axes),
    ],
  },
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
