/**
 * Matrix products. A transposed operand (a view with swapped strides, such as `w.T()`) is read
 * in place by the primitive, so `x.matmul(w.T())` and every backward product cost no copy.
 * `linear` is `x·wᵀ + bias` with an optional ReLU, all in the product's epilogue; it offers its
 * output as a ReLU mask. Both fold a ReLU's mask into their inputs' gradients, in the epilogue of
 * the product that computes them.
 *
 * @module
 */

import { type RawTensor, requireFloat, sameDevice } from "../_core.ts";
import { binary, matmul, matmulRowSums, reduce } from "../_primitives.ts";
import { ShapeError } from "../shape.ts";
import { freeing } from "./elementwise.ts";
import type { Grads, Rules } from "./rule.ts";
import { permuted } from "./shape.ts";

/** `x` with its last two axes swapped, as a view. */
function transposed(x: RawTensor): RawTensor {
  const order = x.shape.map((_, i) => i);
  [order[x.rank - 2], order[x.rank - 1]] = [order[x.rank - 1], order[x.rank - 2]];
  return permuted(x, order);
}

/** `x · yᵀ` or `xᵀ · y`, through a transposed view; times the ReLU mask of `mask` if given. */
function productTransposed(
  x: RawTensor,
  y: RawTensor,
  which: "left" | "right",
  mask: RawTensor | null = null,
): RawTensor {
  const view = transposed(which === "left" ? x : y);
  const out = which === "left" ? matmul(view, y, { mask }) : matmul(x, view, { mask });
  return freeing([view], out);
}

/**
 * The gradient of a product's operand of `shape` from `product` over a batch of `batch`:
 * summed over the batch when the operand was broadcast, and times the ReLU mask of `mask` when
 * given, in the product's epilogue unless that sum comes after it.
 */
function operandGrad(
  shape: readonly number[],
  batch: number,
  mask: RawTensor | null,
  product: (mask: RawTensor | null) => RawTensor,
): RawTensor {
  if (shape.length !== 3 || shape[0] === batch) return product(mask);
  const grad = product(null);
  const summed = reduce(grad, "sum", [0], true);
  grad.dispose();
  return mask ? freeing([summed], binary(summed, mask, "reluMask")) : summed;
}

/** Checks the operands of `a · b` (two 2-D or two 3-D f32 tensors on one device). */
function checkProduct(a: RawTensor, b: RawTensor): void {
  requireFloat("matmul", a, b);
  sameDevice("matmul", a, b);
  if (a.rank !== b.rank || a.rank < 2 || a.rank > 3) {
    throw new ShapeError(
      `matmul: expected two 2-D or two 3-D tensors, got ${a.rank}-D and ${b.rank}-D: ` +
        `[${a.shape}] and [${b.shape}]`,
    );
  }
  const k = a.shape[a.rank - 1], k2 = b.shape[b.rank - 2];
  if (k !== k2) {
    throw new ShapeError(
      `matmul: inner dimensions differ: [${a.shape}] × [${b.shape}] (${k} ≠ ${k2})`,
    );
  }
  const batchA = a.rank === 3 ? a.shape[0] : 1;
  const batchB = b.rank === 3 ? b.shape[0] : 1;
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new ShapeError(`matmul: batch sizes ${batchA} and ${batchB} do not broadcast`);
  }
}

/** Checks the operands of `x · wᵀ + bias`. */
function checkLinear(x: RawTensor, w: RawTensor, bias: RawTensor | undefined): void {
  const all = bias ? [x, w, bias] : [x, w];
  requireFloat("linear", ...all);
  sameDevice("linear", ...all);
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) {
    throw new ShapeError(
      `linear: input [${x.shape}] does not match weight [${w.shape}] ([N, in] × [out, in])`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) {
    throw new ShapeError(`linear: bias [${bias.shape}] does not match ${w.shape[0]} outputs`);
  }
}

/** The product rules. */
export const productRules: Rules<"matmul" | "linear"> = {
  matmul: {
    forward([a, b], _p, ctx) {
      checkProduct(a, b);
      ctx.save(a, b);
      return matmul(a, b);
    },
    backward(g, _p, ctx, fold) {
      const [a, b] = ctx.saved;
      const batch = g.rank === 3 ? g.shape[0] : 1;
      const [maskA = null, maskB = null] = fold.masks;
      return [
        ctx.needsGrad[0]
          ? operandGrad(a.shape, batch, maskA, (m) => productTransposed(g, b, "right", m))
          : null,
        ctx.needsGrad[1]
          ? operandGrad(b.shape, batch, maskB, (m) => productTransposed(a, g, "left", m))
          : null,
      ];
    },
    reluFusion: { foldsInto: [0, 1] },
  },
  linear: {
    forward([x, w, bias], { relu }, ctx) {
      checkLinear(x, w, bias);
      const wt = transposed(w);
      const out = matmul(x, wt, { bias, relu });
      wt.dispose();
      ctx.save(x, w, out);
      return out;
    },
    backward(g, { relu }, ctx, fold) {
      const [x, w, out] = ctx.saved;
      const gz = relu && !fold.gradMasked ? binary(g, out, "reluMask") : g.alias();
      const [, needW, needB = false] = ctx.needsGrad;
      const grads: Grads = [ctx.needsGrad[0] ? matmul(gz, w, { mask: fold.masks[0] }) : null];
      if (needW && needB) {
        // gzᵀ·x and the row sums of gzᵀ (the bias gradient) from one product.
        const gzT = transposed(gz);
        const { out: gradW, rowSums: gradB } = matmulRowSums(gzT, x);
        grads.push(gradW, gradB);
        gzT.dispose();
      } else {
        grads.push(needW ? productTransposed(gz, x, "left") : null);
        // The bias is 1-D with one entry per output, so the column sums have its shape.
        if (ctx.inputs.length === 3) grads.push(needB ? reduce(gz, "sum", [0], false) : null);
      }
      return freeing([gz], grads);
    },
    reluFusion: { output: ({ relu }, ctx) => relu ? ctx.saved[2] : null, foldsInto: [0] },
  },
};
