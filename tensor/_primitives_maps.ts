/**
 * The primitives of the scalar-function maps: activations (`kernels/activation.ts`) and loss
 * terms (`kernels/loss_terms.ts`), a pass each way. Each returns a new raw tensor that the
 * caller owns.
 *
 * @module
 */

import {
  mapScalarFunction,
  mapScalarFunctionGrad,
  type ScalarFunction,
} from "../kernels/_scalar_map.ts";
import { empty, type RawTensor, requireFloat, sameDevice } from "./_core.ts";
import { contiguous } from "./_primitives.ts";
import { sameShape, ShapeError } from "./shape.ts";

export type { ScalarFunction } from "../kernels/_scalar_map.ts";
export { ACTIVATION_FUNCTIONS, type ActivationFn } from "../kernels/activation.ts";
export { LOSS_TERMS, type LossTerm } from "../kernels/loss_terms.ts";
export { MATH_FUNCTIONS, type MathFn, ZERO_GRADIENT } from "../kernels/maths.ts";

/** The operands of a map, checked (f32, one device, one shape) and made contiguous. */
function operands(name: string, tensors: readonly RawTensor[]): RawTensor[] {
  requireFloat(name, ...tensors);
  sameDevice(name, ...tensors);
  const shape = tensors[0].shape;
  const other = tensors.find((t) => !sameShape(t.shape, shape));
  if (other) throw new ShapeError(`${name}: shapes [${shape}] and [${other.shape}] differ`);
  return tensors.map(contiguous);
}

/** `fn(inputs…)` elementwise: f32 inputs of one shape, `params` in `fn.params` order. */
export function scalarMap(
  fn: ScalarFunction,
  inputs: readonly RawTensor[],
  params: readonly number[],
): RawTensor {
  const packed = operands(fn.name, inputs);
  const out = empty(inputs[0].device, inputs[0].shape);
  mapScalarFunction(out.device, fn, packed.map((t) => t.buffer), out.buffer, out.size, params);
  packed.forEach((t) => t.dispose());
  return out;
}

/** The gradient of input `wrt` of {@link scalarMap}, from the output's gradient `grad`. */
export function scalarMapGrad(
  fn: ScalarFunction,
  wrt: number,
  grad: RawTensor,
  inputs: readonly RawTensor[],
  params: readonly number[],
): RawTensor {
  const packed = operands(fn.name, [...inputs, grad]);
  const out = empty(grad.device, grad.shape);
  const buffers = packed.map((t) => t.buffer);
  const g = buffers.pop()!;
  mapScalarFunctionGrad(out.device, fn, wrt, g, buffers, out.buffer, out.size, params);
  packed.forEach((t) => t.dispose());
  return out;
}
