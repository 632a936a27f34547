/**
 * The rule of every op, in one table. Its type lists every {@link Op}, so an op added to
 * `OpParams` without a forward and backward here is a compile error.
 *
 * @module
 */

import { activationRules } from "./activation.ts";
import { cnnRules } from "./cnn.ts";
import { convFamilyRules } from "./conv_family.ts";
import { dropoutRules } from "./dropout.ts";
import { elementwiseRules } from "./elementwise.ts";
import { indexRules } from "./index.ts";
import { reorderRules } from "./reorder.ts";
import { lossRules } from "./loss.ts";
import { nllRules } from "./nll.ts";
import { normRules } from "./norm.ts";
import { productRules } from "./products.ts";
import { reduceRules } from "./reduce.ts";
import type { Op, Rules } from "./rule.ts";
import { shapeRules } from "./shape.ts";
import { transferRules } from "./transfer.ts";

export {
  ASYNC_OPS,
  type AsyncOp,
  Context,
  type Grads,
  type MaskFold,
  type Op,
  type OpParams,
  type Rule,
} from "./rule.ts";

/** Every op's forward and backward. */
export const rules: Rules<Op> = {
  ...elementwiseRules,
  ...activationRules,
  ...reduceRules,
  ...shapeRules,
  ...indexRules,
  ...reorderRules,
  ...productRules,
  ...cnnRules,
  ...convFamilyRules,
  ...dropoutRules,
  ...lossRules,
  ...nllRules,
  ...normRules,
  ...transferRules,
};
