/**
 * Adam's update as fused in-place tensor ops, multi-tensor like `fused_sgd.ts`:
 * {@link adamCheckAll} computes every parameter's update without writing it and lowers a
 * {@link StepGuard}'s flag when anything would turn non-finite; {@link adamUpdateAll} applies
 * them and advances the parameters' step counts, all skipped on the GPU when the guard's flag
 * is down. On a GPU each is one dispatch per device for all the parameters on it (see
 * `kernels/adam.ts` for the formula and `kernels/_multi_tensor.ts` for the packing); nothing is
 * read back.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import {
  adamCheckAll as checkKernel,
  type AdamHyperparameters,
  type AdamParameter,
  adamUpdateAll as updateKernel,
} from "../kernels/adam.ts";
import { type RawTensor, requireFloat, requireShape, sameDevice } from "./_core.ts";
import { contiguous } from "./_primitives.ts";
import { guardFlag, type StepGuard } from "./step_guard.ts";
import { rawOf, type Tensor } from "./tensor.ts";

export { type AdamHyperparameters, checkAdamHyperparameters } from "../kernels/adam.ts";

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

/**
 * Runs `kernel` once per device over the updates of the parameters on it, with their buffers
 * (gradients made contiguous for the call, and freed after it).
 */
function forEachDevice(
  op: string,
  updates: readonly AdamParamUpdate[],
  kernel: (device: Device, parameters: AdamParameter[], steps: RawTensor) => void,
): void {
  const byDevice = new Map<Device, AdamParamUpdate[]>();
  for (const u of updates) {
    const inPlace = [u.param, u.expAvg, u.expAvgSq, ...(u.maxExpAvgSq ? [u.maxExpAvgSq] : [])];
    requireFloat(op, ...inPlace, u.grad, u.steps);
    sameDevice(op, ...inPlace, u.grad, u.steps);
    for (const t of [...inPlace, u.steps]) {
      if (!t.isContiguous) {
        throw new TypeError(`${op}: the parameter and its state must be contiguous`);
      }
    }
    for (const t of [...inPlace.slice(1), u.grad]) requireShape(op, rawOf(t), rawOf(u.param).shape);
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
          expAvg: rawOf(u.expAvg).buffer,
          expAvgSq: rawOf(u.expAvgSq).buffer,
          maxExpAvgSq: u.maxExpAvgSq ? rawOf(u.maxExpAvgSq).buffer : undefined,
          grad: g.buffer,
          n: u.param.size,
          stepSlot: u.stepSlot,
          hyperparameters: u.hyperparameters,
        };
      });
      kernel(device, parameters, rawOf(list[0].steps));
    } finally {
      for (const g of grads) g.dispose();
    }
  }
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
  forEachDevice("adamUpdateAll", updates, (device, parameters, steps) => {
    updateKernel(device, parameters, steps.buffer, {
      guard: guard ? guardFlag(guard, device).buffer : undefined,
    });
  });
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
  forEachDevice("adamCheckAll", updates, (device, parameters, steps) => {
    checkKernel(device, parameters, steps.buffer, guardFlag(guard, device).buffer);
  });
}
