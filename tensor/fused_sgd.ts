/**
 * The SGD update as two fused in-place tensor ops, for optimisers: {@link sgdCheck} computes a
 * parameter's update without writing it and lowers a {@link StepGuard}'s flag when anything
 * would turn non-finite; {@link sgdUpdate} applies it (one kernel per parameter, nothing read
 * back), skipped on the GPU when the guard's flag is down.
 *
 * @module
 */

import {
  sgdCheck as checkKernel,
  type SgdHyperparameters,
  sgdUpdate as updateKernel,
} from "../kernels/sgd.ts";
import { requireFloat, requireShape, sameDevice } from "./_core.ts";
import { contiguous } from "./_primitives.ts";
import { guardFlag, type StepGuard } from "./step_guard.ts";
import { rawOf, type Tensor } from "./tensor.ts";

export type { SgdFormulation, SgdHyperparameters } from "../kernels/sgd.ts";

/** The three tensors of one parameter's update. */
export interface SgdSlot {
  /** The parameter: a contiguous f32 tensor, updated in place. */
  param: Tensor;
  /** Its velocity (momentum buffer): same shape, contiguous, updated in place. */
  velocity: Tensor;
  /** Its gradient: same shape, read only. */
  grad: Tensor;
}

function buffersOf(op: string, { param, velocity, grad }: SgdSlot) {
  requireFloat(op, param, velocity, grad);
  sameDevice(op, param, velocity, grad);
  const [p, v] = [rawOf(param), rawOf(velocity)];
  for (const [name, t] of [["parameter", p], ["velocity", v]] as const) {
    if (!t.isContiguous) throw new TypeError(`${op}: the ${name} must be contiguous`);
  }
  requireShape(op, rawOf(velocity), p.shape);
  requireShape(op, rawOf(grad), p.shape);
  const g = contiguous(rawOf(grad));
  return { p, v, g };
}

/**
 * Applies one SGD-with-momentum step to `slot.param` and `slot.velocity` in place (the paper's
 * rule or PyTorch's, see `SgdFormulation`). With a `guard`, the kernel does nothing when the
 * guard's flag on the parameter's device is down.
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
  const { p, v, g } = buffersOf("sgdUpdate", slot);
  updateKernel(p.device, { weight: p.buffer, velocity: v.buffer, grad: g.buffer, n: p.size }, h, {
    guard: guard ? guardFlag(guard, p.device).buffer : undefined,
  });
  g.dispose();
}

/**
 * Checks the update {@link sgdUpdate} would make, without making it: lowers `guard`'s flag on
 * the parameter's device when the gradient, the new velocity or the new weight holds a NaN or
 * ±∞. Check every parameter of a step before updating any.
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
  const { p, v, g } = buffersOf("sgdCheck", slot);
  const flag = guardFlag(guard, p.device);
  checkKernel(
    p.device,
    { weight: p.buffer, velocity: v.buffer, grad: g.buffer, n: p.size },
    h,
    flag.buffer,
  );
  g.dispose();
}
