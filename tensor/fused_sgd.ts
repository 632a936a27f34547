/**
 * The SGD update as fused in-place tensor ops, for optimisers, multi-tensor like PyTorch's
 * `_foreach` ops: {@link sgdCheckAll} computes every parameter's update without writing it and
 * lowers a {@link StepGuard}'s flag when anything would turn non-finite; {@link sgdUpdateAll}
 * applies them, skipped on the GPU when the guard's flag is down. On a GPU each is one dispatch
 * per device for all the parameters on it (more only where a parameter exceeds a binding or the
 * device binds few buffers; on lavapipe, two parameters a dispatch: see `kernels/sgd.ts`);
 * nothing is read back.
 * {@link sgdCheck} and {@link sgdUpdate} are the one-parameter forms.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import {
  sgdCheckAll as checkKernel,
  type SgdHyperparameters,
  type SgdParameter,
  sgdUpdateAll as updateKernel,
} from "../kernels/sgd.ts";
import { type RawTensor, requireFloat, requireShape, sameDevice } from "./_core.ts";
import { contiguous } from "./_primitives.ts";
import { guardFlag, type StepGuard } from "./step_guard.ts";
import { rawOf, type Tensor } from "./tensor.ts";

export {
  checkSgdHyperparameters,
  type SgdFormulation,
  type SgdHyperparameters,
} from "../kernels/sgd.ts";

/** The three tensors of one parameter's update. */
export interface SgdSlot {
  /** The parameter: a contiguous f32 tensor, updated in place. */
  param: Tensor;
  /** Its velocity (momentum buffer): same shape, contiguous, updated in place. */
  velocity: Tensor;
  /** Its gradient: same shape, read only. */
  grad: Tensor;
}

/** One parameter's update in a multi-tensor step: its tensors and its group's constants. */
export interface SgdParamUpdate extends SgdSlot {
  /** The rule, learning rate, momentum and weight decay of the parameter's group. */
  hyperparameters: SgdHyperparameters;
  /**
   * The counts of momentum steps of the parameters on its device (1-D f32, shared by their
   * updates; an optimiser's state, as Adam's step counts): where a parameter's count is 0 its
   * momentum buffer does not exist yet, and the step begins it as the undampened update,
   * PyTorch's `momentum_buffer = clone(d)`, whatever the velocity held. The update adds 1 to
   * the counts of parameters with momentum > 0 (not when the guard skips it). Without counts,
   * every velocity counts as begun.
   */
  steps?: Tensor;
  /** The parameter's index in `steps`; default 0. */
  stepSlot?: number;
}

/** Checks one update's tensors (every update is checked before any kernel is recorded). */
function checkSlot(op: string, { param, velocity, grad, steps }: SgdParamUpdate): void {
  requireFloat(op, param, velocity, grad, ...(steps ? [steps] : []));
  sameDevice(op, param, velocity, grad, ...(steps ? [steps] : []));
  if (steps && (!steps.isContiguous || steps.shape.length !== 1)) {
    throw new TypeError(`${op}: the momentum counts must be a contiguous 1-D tensor`);
  }
  const [p, v] = [rawOf(param), rawOf(velocity)];
  for (const [name, t] of [["parameter", p], ["velocity", v]] as const) {
    if (!t.isContiguous) throw new TypeError(`${op}: the ${name} must be contiguous`);
  }
  requireShape(op, rawOf(velocity), p.shape);
  requireShape(op, rawOf(grad), p.shape);
}

/**
 * Runs `kernel` once per device over the updates of the parameters on it, with their buffers
 * (gradients made contiguous for the call, and freed after it).
 */
function forEachDevice(
  op: string,
  updates: readonly SgdParamUpdate[],
  kernel: (device: Device, parameters: SgdParameter[], steps?: RawTensor) => void,
): void {
  for (const u of updates) checkSlot(op, u);
  const byDevice = new Map<Device, SgdParamUpdate[]>();
  for (const u of updates) {
    const list = byDevice.get(u.param.device) ?? [];
    if (list.length > 0 && list[0].steps !== u.steps) {
      throw new Error(`${op}: the updates on ${u.param.device.label} name two momentum counts`);
    }
    list.push(u);
    byDevice.set(u.param.device, list);
  }
  for (const [device, list] of byDevice) {
    const grads: RawTensor[] = [];
    try {
      const parameters = list.map(({ param, velocity, grad, hyperparameters, stepSlot }) => {
        const [p, g] = [rawOf(param), contiguous(rawOf(grad))];
        grads.push(g);
        return {
          weight: p.buffer,
          velocity: rawOf(velocity).buffer,
          grad: g.buffer,
          n: p.size,
          hyperparameters,
          stepSlot,
        };
      });
      const steps = list[0].steps;
      kernel(device, parameters, steps && rawOf(steps));
    } finally {
      for (const g of grads) g.dispose();
    }
  }
}

/**
 * Applies one SGD-with-momentum step to every update's parameter and velocity in place, each
 * with its own group's rule and constants: one dispatch per device on a GPU (see the module's
 * notes).
 * With a `guard`, nothing is written on a device whose guard flag is down.
 *
 * @example Two parameters with different learning rates
 * ```ts
 * import { defaultDevice, sgdUpdateAll, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const h = (lr: number) => ({ formulation: "paper", lr, momentum: 0.9, weightDecay: 0 } as const);
 * const a = tensor([1, 2]), b = tensor([3]);
 * sgdUpdateAll([
 *   { param: a, velocity: zeros([2]), grad: tensor([1, 1]), hyperparameters: h(0.1) },
 *   { param: b, velocity: zeros([1]), grad: tensor([1]), hyperparameters: h(0.5) },
 * ]);
 * console.log(await a.toArray(), await b.toArray()); // [0.9, 1.9] [2.5]
 * ```
 */
export function sgdUpdateAll(updates: readonly SgdParamUpdate[], guard?: StepGuard): void {
  forEachDevice("sgdUpdateAll", updates, (device, parameters, steps) => {
    updateKernel(device, parameters, {
      guard: guard ? guardFlag(guard, device).buffer : undefined,
      steps: steps?.buffer,
    });
  });
}

/**
 * Checks the updates {@link sgdUpdateAll} would make, without making them: lowers `guard`'s
 * flag on each device whose parameters' gradient, new velocity or new weight would hold a NaN
 * or ±∞. Check every parameter of a step before updating any.
 *
 * @example
 * ```ts
 * import { defaultDevice, sgdCheckAll, StepGuard, tensor, zeros } from "../mod.ts";
 * const device = await defaultDevice();
 * const guard = new StepGuard(device);
 * guard.begin(tensor([0.5]), 1);
 * const hyperparameters = { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 } as const;
 * sgdCheckAll([
 *   { param: tensor([1, 2]), velocity: zeros([2]), grad: tensor([1, 1]), hyperparameters },
 *   { param: tensor([3]), velocity: zeros([1]), grad: tensor([NaN]), hyperparameters },
 * ], guard);
 * await guard.settle();
 * console.log((await guard.read()).lastOk); // false
 * ```
 */
export function sgdCheckAll(updates: readonly SgdParamUpdate[], guard: StepGuard): void {
  forEachDevice("sgdCheckAll", updates, (device, parameters, steps) => {
    checkKernel(device, parameters, guardFlag(guard, device).buffer, { steps: steps?.buffer });
  });
}

/**
 * Applies one SGD-with-momentum step to `slot.param` and `slot.velocity` in place (the paper's
 * rule or PyTorch's, see `SgdFormulation`): {@link sgdUpdateAll} for one parameter. With a
 * `guard`, the kernel does nothing when the guard's flag on the parameter's device is down.
 *
 * @example
 * ```ts
 * import { defaultDevice, sgdUpdate, tensor, zeros } from "../mod.ts";
 * await defaultDevice();
 * const param = tensor([1, 2]), velocity = zeros([2]), grad = tensor([1, 1]);
 * sgdUpdate({ param, velocity, grad }, { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 });
 * console.log(await param.toArray()); // [0.9, 1.9]
 * ```
 */
export function sgdUpdate(slot: SgdSlot, h: SgdHyperparameters, guard?: StepGuard): void {
  sgdUpdateAll([{ ...slot, hyperparameters: h }], guard);
}

/**
 * Checks the update {@link sgdUpdate} would make, without making it: {@link sgdCheckAll} for
 * one parameter. Lowers `guard`'s flag on the parameter's device when the gradient, the new
 * velocity or the new weight holds a NaN or ±∞.
 *
 * @example
 * ```ts
 * import { defaultDevice, sgdCheck, StepGuard, tensor, zeros } from "../mod.ts";
 * const device = await defaultDevice();
 * const guard = new StepGuard(device);
 * guard.begin(tensor([0.5]), 1);
 * const param = tensor([1, 2]), velocity = zeros([2]), grad = tensor([1, Infinity]);
 * sgdCheck({ param, velocity, grad }, { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 }, guard);
 * await guard.settle();
 * console.log((await guard.read()).lastOk); // false
 * ```
 */
export function sgdCheck(slot: SgdSlot, h: SgdHyperparameters, guard: StepGuard): void {
  sgdCheckAll([{ ...slot, hyperparameters: h }], guard);
}
