/**
 * Dropout's rule: the forward multiplies by a mask drawn where it is applied, and the backward
 * draws the same mask again from the same stream position (a counter-based generator makes
 * that a pure function), so nothing is kept between the two.
 *
 * @module
 */

import { dropout } from "../_primitives.ts";
import type { Rules } from "./rule.ts";

/** The dropout rule. */
export const dropoutRules: Rules<"dropout"> = {
  dropout: {
    forward: ([x], { p, stream, block }) => dropout(x, p, stream, block),
    backward: (g, { p, stream, block }) => [dropout(g, p, stream, block)],
  },
};
