/**
 * Multi-tensor optimiser updates made from an element-wise rule (`kernels/_foreach_update.ts`)
 * as fused in-place tensor ops, like `fused_adam.ts`: {@link foreachCheckAll} computes every
 * parameter's update without writing it and lowers a {@link StepGuard}'s flag when anything
 * would turn non-finite; {@link foreachUpdateAll} applies them and advances the step counts,
 * skipped on the GPU when the flag is down. RMSprop and Adagrad are built on them.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import {
  foreachCheckAll as checkKernel,
  type ForeachParameter,
  type ForeachRule,
  foreachUpdateAll as updateKernel,
} from "../kernels/_foreach_update.ts";
import { type RawTensor, requireFloat, requireShape, sameDevice } from "./_core.ts";
import { contiguous } from "./_primitives.ts";
import { guardFlag, type StepGuard } from "./step_guard.ts";
import { rawOf, type Tensor } from "./tensor.ts";

export type { ForeachRule } from "../kernels/_foreach_update.ts";
export {
  ADAGRAD_RULE,
  adagradConstants,
  type AdagradHyperparameters,
  checkAdagradHyperparameters,
} from "../kernels/adagrad.ts";
export {
  checkRmspropHyperparameters,
  RMSPROP_RULE,
  rmspropConstants,
  type RmspropHyperparameters,
  rmspropVariant,
} from "../kernels/rmsprop.ts";

/** One parameter's update: its tensors, its step-count slot and its group's constants. */
export interface ForeachParamUpdate {
  /** The parameter: a contiguous f32 tensor, updated in place. */
  param: Tensor;
  /** Its gradient: same shape, read only. */
  grad: Tensor;
  /** Its state tensors, as the rule's variant names them: same shape, contiguous, in place. */
  states: readonly Tensor[];
  /** The step counts of the parameters on its device (1-D f32), shared by their updates. */
  steps: Tensor;
  /** The parameter's index in `steps`. */
  stepSlot: number;
  /** Which form of the rule. */
  variant: number;
  /** Its group's constants (at most 12). */
  constants: readonly number[];
  /** Whether to maximise (PyTorch's `maximize`: the rule sees −g); default false. */
  maximize?: boolean;
}

/** Runs `kernel` once per device over the updates of the parameters on it. */
function forEachDevice(
  op: string,
  updates: readonly ForeachParamUpdate[],
  kernel: (device: Device, parameters: ForeachParameter[], steps: RawTensor) => void,
): void {
  const byDevice = new Map<Device, ForeachParamUpdate[]>();
  for (const u of updates) {
    const inPlace = [u.param, ...u.states];
    requireFloat(op, ...inPlace, u.grad, u.steps);
    sameDevice(op, ...inPlace, u.grad, u.steps);
    for (const t of [...inPlace, u.steps]) {
      if (!t.isContiguous) {
        throw new TypeError(`${op}: the parameter and its state must be contiguous`);
      }
    }
    for (const t of [...u.states, u.grad]) requireShape(op, rawOf(t), rawOf(u.param).shape);
    const list = byDevice.get(u.param.device) ?? [];
    if (list.length > 0 && list[0].steps !== u.steps) {
      throw new Error(`${op}: the updates on ${u.param.device.label} name two step-count tensors`);
    }
    list.push(u);
    byDevice.set(u.param.device, list);
  }
  for (const [device, list] of byDevice) {
    const grads: RawTensor[] = [];
    try {
      const parameters = list.map((u) => {
        const g = contiguous(rawOf(u.grad));
        grads.push(g);
        return {
          weight: rawOf(u.param).buffer,
          states: u.states.map((t) => rawOf(t).buffer),
          grad: g.buffer,
          n: u.param.size,
          stepSlot: u.stepSlot,
          variant: u.variant,
          constants: u.constants,
          maximize: u.maximize,
        };
      });
      kernel(device, parameters, rawOf(list[0].steps));
    } finally {
      for (const g of grads) g.dispose();
    }
  }
}

/**
 * Applies `rule` to every update's parameter and states in place and adds one to each step
 * count: one dispatch per device and variant for the updates on a GPU, one for the counts.
 * With a `guard`, nothing is written on a device whose flag is down.
 *
 * @example Adagrad's first step moves each weight by about lr
 * ```ts
 * import { defaultDevice, tensor, zeros } from "../mod.ts";
 * import { foreachUpdateAll } from "./fused_foreach.ts";
 * import { ADAGRAD_RULE, adagradConstants } from "../kernels/adagrad.ts";
 * await defaultDevice();
 * const param = tensor([1, 2]);
 * const constants = adagradConstants({ lr: 0.1, lrDecay: 0, weightDecay: 0, eps: 1e-10 });
 * foreachUpdateAll(ADAGRAD_RULE, [{
 *   param, grad: tensor([3, -4]), states: [zeros([2])], steps: zeros([1]), stepSlot: 0,
 *   variant: 0, constants,
 * }]);
 * console.log(await param.toArray()); // about [0.9, 2.1]
 * ```
 */
export function foreachUpdateAll(
  rule: ForeachRule,
  updates: readonly ForeachParamUpdate[],
  guard?: StepGuard,
): void {
  forEachDevice(`${rule.name} update`, updates, (device, parameters, steps) => {
    updateKernel(device, rule, parameters, steps.buffer, {
      guard: guard ? guardFlag(guard, device).buffer : undefined,
    });
  });
}

/**
 * Checks the updates {@link foreachUpdateAll} would make, without making them: lowers
 * `guard`'s flag on each device where a gradient, a new weight or a new state would hold a NaN
 * or ±∞.
 *
 * @example
 * ```ts
 * import { defaultDevice, StepGuard, tensor, zeros } from "../mod.ts";
 * import { foreachCheckAll } from "./fused_foreach.ts";
 * import { ADAGRAD_RULE, adagradConstants } from "../kernels/adagrad.ts";
 * const device = await defaultDevice();
 * const guard = new StepGuard(device);
 * guard.begin(tensor([0.5]), 1);
 * const constants = adagradConstants({ lr: 0.1, lrDecay: 0, weightDecay: 0, eps: 1e-10 });
 * foreachCheckAll(ADAGRAD_RULE, [{
 *   param: tensor([1, 2]), grad: tensor([1, NaN]), states: [zeros([2])], steps: zeros([1]),
 *   stepSlot: 0, variant: 0, constants,
 * }], guard);
 * await guard.settle();
 * console.log((await guard.read()).lastOk); // false
 * ```
 */
export function foreachCheckAll(
  rule: ForeachRule,
  updates: readonly ForeachParamUpdate[],
  guard: StepGuard,
): void {
  forEachDevice(`${rule.name} check`, updates, (device, parameters, steps) => {
    checkKernel(device, rule, parameters, steps.buffer, guardFlag(guard, device).buffer);
  });
}
