/**
 * The rules of indexing along an axis: a gather sends its gradient back by a scatter-add into
 * the positions it read (a position read twice gets both), and a scatter sends the gradient of
 * what it wrote back to `src` by a gather, and to the destination where nothing was written
 * over (all of it for a scatter-add). The index (input 1) gets no gradient.
 *
 * @module
 */

import type { RawTensor } from "../_core.ts";
import { fill, place } from "../_primitives.ts";
import { gather, scatter } from "../_primitives_index.ts";
import { sameShape } from "../shape.ts";
import { freeing } from "./elementwise.ts";
import type { Rules } from "./rule.ts";

/** `part` in the corner of a zero tensor of `shape` (where `src` outgrows the index). */
function padded(part: RawTensor, shape: readonly number[]): RawTensor {
  return sameShape(part.shape, shape) ? part : freeing([part], place(part, shape, 0));
}

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
    forward([x, index, src], { dim, mode }, ctx) {
      ctx.save(index);
      return scatter(x, x.shape, dim, index, src, mode);
    },
    backward(g, { dim, mode }, ctx) {
      const index = ctx.saved[0];
      let base: RawTensor | null = null;
      if (ctx.needsGrad[0]) {
        if (mode === "add") base = g.alias();
        else {
          // Zeros written where the forward wrote: what was overwritten has no gradient.
          const zero = fill(g.device, [], 0);
          const zeros = zero.view(index.shape, index.shape.map(() => 0));
          base = freeing([zero, zeros], scatter(g, g.shape, dim, index, zeros, "assign"));
        }
      }
      const src = ctx.needsGrad[2] ? padded(gather(g, dim, index), ctx.inputs[2].shape) : null;
      return [base, null, src];
    },
  },
};
