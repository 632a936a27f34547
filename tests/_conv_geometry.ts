/** A conv geometry for kernel tests: a small 3×3, stride-1, unpadded layer, overridden per case. */

import type { Conv2dGeometry } from "../kernels/_conv_geometry.ts";

/** `o` over the defaults: batch 2, 3 → 5 channels, 9×7 input, 3×3 kernel, stride 1, no padding. */
export function geometry(o: Partial<Conv2dGeometry> = {}): Conv2dGeometry {
  return {
    batch: 2,
    inChannels: 3,
    height: 9,
    width: 7,
    outChannels: 5,
    kernelH: 3,
    kernelW: 3,
    strideH: 1,
    strideW: 1,
    padH: 0,
    padW: 0,
    groups: 1,
    ...o,
  };
}
