/**
 * The rules of indexing along an axis: a gather sends its gradient back by a scatter-add into
 * the positions it read (a position read twice gets both), and a scatter sends it back to `src`
 * by a gather and to the destination where its own value still counts, each reduction as
 * PyTorch's `scatter_reduce` backward: a sum passes it, a mean divides it by the count, `amax`
 * and `amin` share it equally among the values equal to the result, a product sends each
 * factor the product of the others (exact where factors are zero). The index (input 1) gets no
 * gradient.
 *
 * @module
 */

import type { RawTensor } from "../_core.ts";
import { binary, fill, place, unary, where } from "../_primitives.ts";
import { gather, scatter, type ScatterMode } from "../_primitives_index.ts";
import { sameShape } from "../shape.ts";
import { freeing } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** `part` in the corner of a zero tensor of `shape` (where `src` outgrows the index). */
function padded(part: RawTensor, shape: readonly number[]): RawTensor {
  return sameShape(part.shape, shape) ? part : freeing([part], place(part, shape, 0));
}

/** A scalar `value` broadcast to `shape` (a view: strides 0). */
function constant(device: RawTensor["device"], shape: readonly number[], value: number) {
  const scalar = fill(device, [], value);
  return freeing([scalar], scalar.view(shape, shape.map(() => 0)));
}

/** What a scatter's backward reads: the saved tensors, and `src` cut to the index's shape. */
interface Saved {
  readonly index: RawTensor;
  readonly x: RawTensor;
  readonly src: RawTensor;
  readonly y: RawTensor;
}

/** How many index entries reach each element of the destination (f32). */
function reachCounts(shape: readonly number[], dim: number, index: RawTensor): RawTensor {
  const ones = constant(index.device, index.shape, 1);
  return freeing([ones], scatter(null, shape, dim, index, ones, "add"));
}

/**
 * The gradients of `y = scatter_reduce(x, dim, index, src, mode)` for the destination and for
 * `src` (the index's shape), from the output's gradient `g`; null where not needed.
 */
function scatterGrads(
  g: RawTensor,
  mode: ScatterMode,
  includeSelf: boolean,
  dim: number,
  saved: Saved,
  needs: readonly [boolean, boolean],
): [RawTensor | null, RawTensor | null] {
  const { index, x, src, y } = saved;
  const temporaries: RawTensor[] = [];
  const keep = <T extends RawTensor>(t: T) => (temporaries.push(t), t);
  const counts = keep(reachCounts(g.shape, dim, index));
  const zero = keep(fill(g.device, [], 0));
  // Where an entry replaced the destination's own value, it gets no gradient.
  const own = (grad: RawTensor) =>
    mode === "assign" || !includeSelf ? freeing([grad], where(counts, zero, grad)) : grad;
  const gathered = (t: RawTensor) => gather(t, dim, index);
  let gx: RawTensor | null = null, gs: RawTensor | null = null;
  if (mode === "assign" || mode === "add") {
    if (needs[0]) gx = own(g.alias());
    if (needs[1]) gs = gathered(g);
  } else if (mode === "mean") {
    const divisor = keep(unary(counts, "addScalar", includeSelf ? 1 : 0));
    const share = keep(binary(g, keep(unary(divisor, "clamp", 1, Infinity)), "div"));
    if (needs[0]) gx = own(share.alias());
    if (needs[1]) gs = gathered(share);
  } else if (mode === "amax" || mode === "amin") {
    // The gradient is shared among the values equal to the result, the own one included.
    const selfWins = keep(own(binary(x, y, "eq")));
    const srcWins = keep(binary(src, keep(gathered(y)), "eq"));
    const winners = keep(scatter(selfWins, g.shape, dim, index, srcWins, "add"));
    const share = keep(binary(g, winners, "div"));
    if (needs[0]) gx = binary(selfWins, share, "mul");
    if (needs[1]) gs = binary(srcWins, keep(gathered(share)), "mul");
  } else {
    [gx, gs] = productGrads(g, includeSelf, dim, saved, counts, needs);
  }
  temporaries.forEach((t) => t.dispose());
  return [gx, gs];
}

/**
 * A scatter product's gradients, each factor's the product of the others times `g`: `y / f`
 * where its destination has no zero factor; the product of the nonzero factors at the one
 * zero where it has one; 0 elsewhere (PyTorch's, without dividing by a zero).
 */
function productGrads(
  g: RawTensor,
  includeSelf: boolean,
  dim: number,
  { index, x, src, y }: Saved,
  counts: RawTensor,
  needs: readonly [boolean, boolean],
): [RawTensor | null, RawTensor | null] {
  const temporaries: RawTensor[] = [];
  const keep = <T extends RawTensor>(t: T) => (temporaries.push(t), t);
  const [zero, one] = [keep(fill(g.device, [], 0)), keep(fill(g.device, [], 1))];
  const [selfZero, srcZero] = [keep(unary(x, "eqScalar", 0)), keep(unary(src, "eqScalar", 0))];
  const ownZeros = includeSelf ? selfZero : keep(fill(g.device, g.shape, 0));
  const zeros = keep(scatter(ownZeros, g.shape, dim, index, srcZero, "add"));
  // The product of the nonzero factors of each destination.
  const [selfNonzero, srcNonzero] = [keep(where(selfZero, one, x)), keep(where(srcZero, one, src))];
  const options = { includeSelf };
  const nonzero = keep(scatter(selfNonzero, g.shape, dim, index, srcNonzero, "prod", options));
  const [noZero, oneZero] = [keep(unary(zeros, "eqScalar", 0)), keep(unary(zeros, "eqScalar", 1))];
  const gy = keep(binary(g, y, "mul"));
  const gq = keep(binary(g, nonzero, "mul"));
  /** The gradient of a factor `f` (zero mask `fZero`) from `g·y` and `g·q` at its destination. */
  const factorGrad = (f: RawTensor, fZero: RawTensor, gyAt: RawTensor, gqAt: RawTensor) => {
    const quotient = keep(binary(gyAt, f, "div"));
    const atTheZero = keep(where(fZero, gqAt, zero));
    return [quotient, atTheZero];
  };
  let gx: RawTensor | null = null, gs: RawTensor | null = null;
  if (needs[0]) {
    // Without the own value, a reached element's gets nothing and an unreached one passes `g`.
    if (!includeSelf) gx = where(counts, zero, g);
    else {
      const [quotient, atTheZero] = factorGrad(x, selfZero, gy, gq);
      gx = where(noZero, quotient, keep(where(oneZero, atTheZero, zero)));
    }
  }
  if (needs[1]) {
    const at = (t: RawTensor) => keep(gather(t, dim, index));
    const [quotient, atTheZero] = factorGrad(src, srcZero, at(gy), at(gq));
    const whenOne = keep(where(at(oneZero), atTheZero, zero));
    gs = where(at(noZero), quotient, whenOne);
  }
  temporaries.forEach((t) => t.dispose());
  return [gx, gs];
}

/** The modes whose backward needs the input, `src` and the output. */
const NEEDS_VALUES: ReadonlySet<ScatterMode> = new Set<ScatterMode>(["amax", "amin", "prod"]);

/** The rules of `gather` and `scatter`. */
export const indexRules: Rules<"gather" | "scatter"> = {
  gather: {
    forward([x, index], { dim }, ctx) {
      ctx.save(index);
      return gather(x, dim, index);
    },
    backward(g, { dim }, ctx) {
      if (!ctx.needsGrad[0]) return [null, null];
      return [scatter(null, ctx.inputs[0].shape, dim, ctx.saved[0], g, "add"), null];
    },
  },
  scatter: {
    forward([x, index, src], { dim, mode, includeSelf }, ctx) {
      const y = scatter(x, x.shape, dim, index, src, mode, {
        op: mode === "add" ? "scatterAdd" : mode === "assign" ? "scatter" : "scatterReduce",
        includeSelf,
      });
      // The entries of `src` the index reaches: its corner of the index's shape.
      const part = src.view(index.shape, src.strides, src.offset);
      ctx.save(index, part);
      if (NEEDS_VALUES.has(mode)) ctx.save(x, y);
      part.dispose();
      return y;
    },
    backward(g, { dim, mode, includeSelf }, ctx) {
      const [index, src, x = index, y = index] = ctx.saved;
      const needs = [ctx.needsGrad[0], ctx.needsGrad[2]] as const;
      const [gx, gs] = scatterGrads(g, mode, includeSelf, dim, { index, x, src, y }, needs);
      return [gx, null, gs && padded(gs, ctx.inputs[2].shape)];
    },
  },
};
