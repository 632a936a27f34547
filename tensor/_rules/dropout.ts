/**
 * Dropout's rule: the forward multiplies by a mask drawn where it is applied, and the backward
 * draws the same mask again from the same stream position (a counter-based generator makes
 * that a pure function), so no mask is kept between the two.
 *
 * @module
 */

import { dropout } from "../_primitives.ts";
import type { Rules } from "./rule.ts";

/**
 * The dropout rule. Dropout keeps the sign of what it keeps, so after a ReLU the next layer
 * folds the ReLU's mask through it (`reluFusion`); its output is saved as that mask operand.
 */
export const dropoutRules: Rules<"dropout"> = {
  dropout: {
    forward([x], { p, stream, block }, ctx) {
      const out = dropout(x, p, stream, block);
      ctx.save(out);
      return out;
    },
    backward: (g, { p, stream, block }) => [dropout(g, p, stream, block)],
    reluFusion: { output: (_p, ctx) => ctx.saved[0], keepsSign: true },
  },
};
