/**
 * Elementwise ops: unary maps and broadcasting binary maps, each backward beside its forward.
 * Broadcast gradients are summed back to the operand's shape.
 *
 * @module
 */

import type { RawTensor } from "../_core.ts";
import { binary, fill, reduce, unary, type UnaryOp, where } from "../_primitives.ts";
import { sameShape } from "../shape.ts";
import type { Context, Grads, Rule, Rules } from "./rule.ts";

/** Disposes `temporaries` and returns `result` (computed from them before the call). */
export function freeing<R>(temporaries: RawTensor[], result: R): R {
  temporaries.forEach((t) => t.dispose());
  return result;
}

/** A unary map whose backward needs its input (`x`) or its output (`y`), saved as `s`. */
function unaryRule<K extends "exp" | "log" | "log1p" | "sqrt" | "tanh" | "sigmoid">(
  op: K & UnaryOp,
  keep: "x" | "y",
  backward: (g: RawTensor, s: RawTensor) => RawTensor,
): Rule<K> {
  return {
    forward([x], _p, ctx) {
      const y = unary(x, op);
      ctx.save(keep === "x" ? x : y);
      return y as ReturnType<Rule<K>["forward"]>;
    },
    backward: (g, _p, ctx) => [backward(g, ctx.saved[0])],
  };
}

/** `g · (1 − y²)`: tanh's gradient from its output. */
function tanhGrad(g: RawTensor, y: RawTensor): RawTensor {
  const square = binary(y, y, "mul");
  const slope = unary(square, "rsubScalar", 1);
  return freeing([square, slope], binary(g, slope, "mul"));
}

/** `g · y · (1 − y)`: the sigmoid's gradient from its output. */
function sigmoidGrad(g: RawTensor, y: RawTensor): RawTensor {
  const complement = unary(y, "rsubScalar", 1);
  const slope = binary(y, complement, "mul");
  return freeing([complement, slope], binary(g, slope, "mul"));
}

/** `g / (1 + x)`: log1p's gradient from its input. */
function log1pGrad(g: RawTensor, x: RawTensor): RawTensor {
  const shifted = unary(x, "addScalar", 1);
  return freeing([shifted], binary(g, shifted, "div"));
}

/** `g / (2·y)`: the square root's gradient from its output. */
function sqrtGrad(g: RawTensor, y: RawTensor): RawTensor {
  const twice = unary(y, "mulScalar", 2);
  return freeing([twice], binary(g, twice, "div"));
}

/** The elementwise rules. */
export const elementwiseRules: Rules<
  | "identity"
  | "neg"
  | "exp"
  | "log"
  | "log1p"
  | "sqrt"
  | "relu"
  | "tanh"
  | "sigmoid"
  | "pow"
  | "powTensor"
  | "addScalar"
  | "mulScalar"
  | "divScalar"
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "abs"
  | "clamp"
  | "maximum"
  | "minimum"
  | "where"
> = {
  identity: {
    forward: ([x]) => unary(x, "copy"),
    backward: (g) => [unary(g, "copy")],
  },
  neg: {
    forward: ([x]) => unary(x, "neg"),
    backward: (g) => [unary(g, "neg")],
  },
  exp: unaryRule("exp", "y", (g, y) => binary(g, y, "mul")),
  log: unaryRule("log", "x", (g, x) => binary(g, x, "div")),
  log1p: unaryRule("log1p", "x", log1pGrad),
  sqrt: unaryRule("sqrt", "y", sqrtGrad),
  tanh: unaryRule("tanh", "y", tanhGrad),
  sigmoid: unaryRule("sigmoid", "y", sigmoidGrad),
  relu: {
    forward([x], _p, ctx) {
      const y = unary(x, "relu");
      ctx.save(y);
      return y;
    },
    // A gradient that a consumer has masked already passes through: no kernel at all.
    backward: (g, _p, ctx, fold) => [
      fold.gradMasked ? g.alias() : binary(g, ctx.saved[0], "reluMask"),
    ],
    reluFusion: { output: (_p, ctx) => ctx.saved[0] },
  },
  pow: {
    forward([x], { exponent }, ctx) {
      ctx.save(x);
      return unary(x, "pow", exponent);
    },
    backward(g, { exponent }, ctx) {
      // x⁰ is 1 everywhere, 0⁰ included: its slope is 0, not 0·0⁻¹ = NaN (as PyTorch).
      if (exponent === 0) return [fill(g.device, g.shape, 0)];
      const power = unary(ctx.saved[0], "pow", exponent - 1);
      const slope = unary(power, "mulScalar", exponent);
      return freeing([power, slope], [binary(g, slope, "mul")]);
    },
  },
  powTensor: {
    forward([x, p], _p, ctx) {
      const y = binary(x, p, "pow");
      ctx.save(x, p, y);
      return y;
    },
    // PyTorch's: g · p · x^(p−1), 0 where p = 0; g · y · log x, 0 where x = 0 and p ≥ 0.
    backward(g, _p, ctx) {
      const [x, p, y] = ctx.saved;
      const zero = fill(g.device, [], 0);
      const made = [zero];
      const temporary = (t: RawTensor) => (made.push(t), t);
      let gx: RawTensor | null = null, gp: RawTensor | null = null;
      if (ctx.needsGrad[0]) {
        const lower = temporary(binary(x, temporary(unary(p, "addScalar", -1)), "pow"));
        const slope = temporary(binary(p, lower, "mul"));
        const flat = temporary(unary(p, "eqScalar", 0));
        gx = productTo(g, temporary(where(flat, zero, slope)), ctx, 0);
      }
      if (ctx.needsGrad[1]) {
        const slope = temporary(binary(y, temporary(unary(x, "log")), "mul"));
        const atZero = temporary(unary(x, "eqScalar", 0));
        const held = temporary(binary(atZero, temporary(unary(p, "geScalar", 0)), "mul"));
        gp = productTo(g, temporary(where(held, zero, slope)), ctx, 1);
      }
      return freeing(made, [gx, gp]);
    },
  },
  addScalar: {
    forward: ([x], { value }) => unary(x, "addScalar", value),
    backward: (g) => [unary(g, "copy")],
  },
  mulScalar: {
    forward: ([x], { value }) => unary(x, "mulScalar", value),
    backward: (g, { value }) => [unary(g, "mulScalar", value)],
  },
  // IEEE as PyTorch: x/0 is ±∞ (NaN for 0/0), and so is the slope g/0.
  divScalar: {
    forward: ([x], { value }) => unary(x, "divScalar", value),
    backward: (g, { value }) => [unary(g, "divScalar", value)],
  },
  add: {
    forward: ([a, b]) => binary(a, b, "add"),
    backward(g, _p, ctx) {
      const ga = passedTo(g, ctx, 0);
      // The second gets its own copy where the first already holds `g`: no two share storage.
      return [ga, ga?.storage === g.storage ? reduceTo(g, ctx, 1) : passedTo(g, ctx, 1)];
    },
  },
  sub: {
    forward: ([a, b]) => binary(a, b, "sub"),
    backward(g, _p, ctx) {
      if (!ctx.needsGrad[1]) return [passedTo(g, ctx, 0), null];
      // Input 1's gradient is negated, a new tensor either way: no copy before it.
      const reduced = sameShape(g.shape, ctx.inputs[1].shape) ? g.alias() : reduceTo(g, ctx, 1)!;
      return [passedTo(g, ctx, 0), freeing([reduced], unary(reduced, "neg"))];
    },
  },
  mul: {
    forward([a, b], _p, ctx) {
      ctx.save(a, b);
      return binary(a, b, "mul");
    },
    backward(g, _p, ctx) {
      const [a, b] = ctx.saved;
      return [productTo(g, b, ctx, 0), productTo(g, a, ctx, 1)];
    },
  },
  div: {
    forward([a, b], _p, ctx) {
      ctx.save(a, b);
      return binary(a, b, "div");
    },
    backward(g, _p, ctx): Grads {
      const [a, b] = ctx.saved;
      // d(a/b)/da = 1/b; d(a/b)/db = −a/b² = −(g/b)·(a/b).
      const quotient = binary(g, b, "div");
      if (!ctx.needsGrad[1]) return freeing([quotient], [reduceTo(quotient, ctx, 0), null]);
      const ratio = binary(a, b, "div");
      const product = binary(quotient, ratio, "mul");
      const gb = reduceTo(product, ctx, 1)!;
      const grads = [reduceTo(quotient, ctx, 0), unary(gb, "neg")];
      return freeing([quotient, ratio, product, gb], grads);
    },
  },
  abs: {
    forward([x], _p, ctx) {
      ctx.save(x);
      return unary(x, "abs");
    },
    // PyTorch's: g · sign(x), so 0 at 0.
    backward(g, _p, ctx) {
      const sign = unary(ctx.saved[0], "sign");
      return freeing([sign], [binary(g, sign, "mul")]);
    },
  },
  clamp: {
    forward([x], { min, max }, ctx) {
      ctx.save(x);
      return unary(x, "clamp", min, max);
    },
    // `g` where min ≤ x ≤ max, the bounds included (PyTorch's subgradient), else 0: the 0/1
    // mask selects as a ReLU mask does.
    backward(g, { min, max }, ctx) {
      const inside = unary(ctx.saved[0], "inRange", min, max);
      return freeing([inside], [binary(g, inside, "reluMask")]);
    },
  },
  maximum: extremumRule("max"),
  minimum: extremumRule("min"),
  where: {
    forward([cond, a, b], _p, ctx) {
      ctx.save(cond);
      return where(cond, a, b);
    },
    backward: (g, _p, ctx) => [
      null,
      branchGrad(g, ctx.saved[0], ctx, 1),
      branchGrad(g, ctx.saved[0], ctx, 2),
    ],
  },
};

/**
 * The rule of `maximum` or `minimum`: each operand's gradient is `g` times its share (PyTorch's:
 * all of it where it wins, half on a tie, none where it loses).
 */
function extremumRule(op: "max" | "min"): Rule<"maximum" | "minimum"> {
  const share = op === "max" ? "maxShare" : "minShare";
  return {
    forward([a, b], _p, ctx) {
      ctx.save(a, b);
      return binary(a, b, op, op === "max" ? "maximum" : "minimum");
    },
    backward(g, _p, ctx) {
      const [a, b] = ctx.saved;
      return [[a, b], [b, a]].map(([own, other], i) => {
        if (!ctx.needsGrad[i]) return null;
        const weight = binary(own, other, share);
        return freeing([weight], productTo(g, weight, ctx, i));
      });
    },
  };
}

/** `g` where `cond ≠ 0` (`side` 1) or where `cond = 0` (`side` 2), else 0, summed to that input. */
function branchGrad(g: RawTensor, cond: RawTensor, ctx: Context, side: 1 | 2): RawTensor | null {
  if (!ctx.needsGrad[side]) return null;
  const zero = fill(g.device, [], 0);
  const picked = side === 1 ? where(cond, g, zero) : where(cond, zero, g);
  return freeing([zero, picked], reduceTo(picked, ctx, side));
}

/** `g · factor` summed down to input `i`'s shape. */
function productTo(g: RawTensor, factor: RawTensor, ctx: Context, i: number): RawTensor | null {
  if (!ctx.needsGrad[i]) return null;
  const product = binary(g, factor, "mul");
  return freeing([product], reduceTo(product, ctx, i));
}

/**
 * `g` as input `i`'s gradient: `g` itself (an alias, no dispatch) where input `i` has `g`'s
 * shape, else {@link reduceTo}'s reduction; null when input `i` needs no gradient.
 */
function passedTo(g: RawTensor, ctx: Context, i: number): RawTensor | null {
  if (!ctx.needsGrad[i]) return null;
  return sameShape(g.shape, ctx.inputs[i].shape) ? g.alias() : reduceTo(g, ctx, i);
}

/**
 * A new tensor: `g` reduced over the axes input `i` was broadcast along, in its shape (a copy
 * when nothing is reduced); null when input `i` needs no gradient.
 */
function reduceTo(g: RawTensor, ctx: Context, i: number): RawTensor | null {
  return ctx.needsGrad[i] ? summedTo(g, ctx.inputs[i].shape) : null;
}

/**
 * A new tensor: `g` summed over the axes that `shape` was broadcast along to make it, in
 * `shape` (a copy when nothing is summed).
 */
export function summedTo(g: RawTensor, shape: readonly number[]): RawTensor {
  if (sameShape(g.shape, shape)) return unary(g, "copy");
  const shift = g.rank - shape.length;
  const axes: number[] = [];
  for (let axis = 0; axis < g.rank; axis++) {
    if (axis < shift || (shape[axis - shift] === 1 && g.shape[axis] !== 1)) axes.push(axis);
  }
  const summed = reduce(g, "sum", axes, true);
  return freeing([summed], summed.view(shape));
}
