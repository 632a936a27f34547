/**
 * Copies between devices. WebGPU devices share no memory, so a copy goes through the host: a
 * readback on the source and a write on the destination. Its backward copies the gradient the
 * other way.
 *
 * @module
 */

import type { Device } from "../../kernels/device.ts";
import type { RawTensor } from "../_core.ts";
import { download, upload } from "../_primitives.ts";
import type { Rules } from "./rule.ts";

/** `x` on `device`: a new reference when already there, else a copy through the host. */
export async function transfer(x: RawTensor, device: Device): Promise<RawTensor> {
  if (x.device === device) return x.alias();
  return upload(device, await download(x), x.shape, x.dtype, "transfer");
}

/** The transfer rule. */
export const transferRules: Rules<"to"> = {
  to: {
    forward: ([x], { device }) => transfer(x, device),
    backward: async (g, _p, ctx) => [await transfer(g, ctx.inputs[0].device)],
  },
};
