/**
 * Copies between devices. WebGPU devices share no memory, so a copy goes through the host:
 * a readback on the source and a write on the destination. Its backward copies the gradient
 * the other way.
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { recordOp } from "./_autograd.ts";
import type { DType, Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { empty } from "./ops_elementwise.ts";

/** `t` on `device`: the same data when already there, otherwise a copy through the host. */
export async function copyToDevice<S extends Shape, D extends DType>(
  t: Tensor<S, D>,
  device: Device,
): Promise<Tensor<S, D>> {
  if (t.device === device) {
    return recordOp(t.alias(), "to", [t], [], () => (g) => [g.alias()]) as Tensor<S, D>;
  }
  const data = await t.data();
  const out = empty(device, t.shape as readonly number[], t.dtype, "transfer");
  device.write(out.storage.buffer, data);
  return recordOp(
    out,
    "to",
    [t],
    [],
    () => async (g) => [await copyToDevice(g, t.device)],
  ) as unknown as Tensor<S, D>;
}
