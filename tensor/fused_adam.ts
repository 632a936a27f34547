/**
 * Adam's update as fused in-place tensor ops, multi-tensor like `fused_sgd.ts`:
 * {@link adamCheckAll} computes every parameter's update without writing it and lowers a
 * {@link StepGuard}'s flag when anything would turn non-finite; {@link adamUpdateAll} applies
 * them and advances the parameters' step counts, all skipped on the GPU when the guard's flag
 * is down. On a GPU each is one dispatch per device for all the parameters on it (see
 * `kernels/adam.ts` for the formula; the multi-tensor machinery is `fused_foreach.ts`'s);
 * nothing is read back.
 *
 * @module
 */

import {
  ADAM_RULE,
  adamConstants,
  type AdamHyperparameters,
  adamVariant,
  checkAdamHyperparameters,
} from "../kernels/adam.ts";
import { foreachCheckAll, type ForeachParamUpdate, foreachUpdateAll } from "./fused_foreach.ts";
import type { StepGuard } from "./step_guard.ts";
import type { Tensor } from "./tensor.ts";

export {
  ADAM_RULE,
  adamConstants,
  type AdamHyperparameters,
  adamVariant,
  checkAdamHyperparameters,
} from "../kernels/adam.ts";

/** One parameter's update in a multi-tensor Adam step: its tensors and its group's constants. */
export interface AdamParamUpdate {
  /** The parameter: a contiguous f32 tensor, updated in place. */
  param: Tensor;
  /** Its first moment: same shape, contiguous, updated in place. */
  expAvg: Tensor;
  /** Its second moment: same shape, contiguous, updated in place. */
  expAvgSq: Tensor;
  /** Its maximum second moment, with `amsgrad`: same shape, contiguous, updated in place. */
  maxExpAvgSq?: Tensor;
  /** Its gradient: same shape, read only. */
  grad: Tensor;
  /**
   * The step counts of the parameters on its device: a contiguous 1-D f32 tensor, shared by
   * every update on that device (the counts before this step; the update advances them).
   */
  steps: Tensor;
  /** The parameter's index in `steps`. */
  stepSlot: number;
  /** Its group's constants. */
  hyperparameters: AdamHyperparameters;
}

/** An Adam update as the element-wise rule's (its constants checked). */
function foreachUpdate(u: AdamParamUpdate): ForeachParamUpdate {
  const h = u.hyperparameters;
  checkAdamHyperparameters(h);
  if (h.amsgrad && !u.maxExpAvgSq) {
    throw new Error("adam: amsgrad needs the maximum second moment (maxExpAvgSq)");
  }
  return {
    param: u.param,
    grad: u.grad,
    states: [u.expAvg, u.expAvgSq, ...(h.amsgrad ? [u.maxExpAvgSq!] : [])],
    steps: u.steps,
    stepSlot: u.stepSlot,
    variant: adamVariant(h),
    constants: adamConstants(h),
  };
}

/**
 * Applies one Adam (or AdamW) step to every update's parameter and moments in place, each with
 * its own group's constants, and adds one to each parameter's step count: one dispatch per
 * device for the updates on a GPU, and one for the counts. With a `guard`, nothing is written
 * on a device whose guard flag is down.
 *
 * @example One AdamW step: the first step moves each weight by about lr
 * ```ts
 * import { adamUpdateAll, defaultDevice, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const param = tensor([1, 2]);
 * const hyperparameters = {
 *   lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true, amsgrad: false,
 * };
 * adamUpdateAll([{
 *   param, expAvg: zeros([2]), expAvgSq: zeros([2]), grad: tensor([3, -4]),
 *   steps: zeros([1]), stepSlot: 0, hyperparameters,
 * }]);
 * console.log(await param.toArray()); // about [0.9, 2.1]
 * ```
 */
export function adamUpdateAll(updates: readonly AdamParamUpdate[], guard?: StepGuard): void {
  foreachUpdateAll(ADAM_RULE, updates.map(foreachUpdate), guard);
}

/**
 * Checks the updates {@link adamUpdateAll} would make, without making them: lowers `guard`'s
 * flag on each device where a gradient, a new weight or a new moment would hold a NaN or ±∞.
 * Check every parameter of a step before updating any.
 *
 * @example
 * ```ts
 * import { adamCheckAll, defaultDevice, StepGuard, tensor, zeros } from "../mod.ts";
 * const device = await defaultDevice();
 * const guard = new StepGuard(device);
 * guard.begin(tensor([0.5]), 1);
 * const hyperparameters = {
 *   lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true, amsgrad: false,
 * };
 * adamCheckAll([{
 *   param: tensor([1, 2]), expAvg: zeros([2]), expAvgSq: zeros([2]), grad: tensor([1, NaN]),
 *   steps: zeros([1]), stepSlot: 0, hyperparameters,
 * }], guard);
 * await guard.settle();
 * console.log((await guard.read()).lastOk); // false
 * ```
 */
export function adamCheckAll(updates: readonly AdamParamUpdate[], guard: StepGuard): void {
  foreachCheckAll(ADAM_RULE, updates.map(foreachUpdate), guard);
}
