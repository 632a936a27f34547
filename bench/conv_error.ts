/**
 * Rounding error of each convolution algorithm against the float64 reference, on AlexNet's
 * conv3–conv5 geometry (13×13, 3×3, pad 1) with fewer channels: the largest absolute error of
 * the forward pass and of the input gradient, relative to the largest reference value, for the
 * direct kernel, the GEMM core and Winograd F(2×2, 3×3).
 *
 *     deno run -A bench/conv_error.ts [--channels 64] [--batch 2]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  conv2d,
  conv2dOutputSize,
  CONV_SMALL_TILE,
  type ConvAlgorithm,
} from "../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../kernels/conv2d_backward.ts";
import * as ref from "../tests/_reference.ts";
import { squareConv } from "./cnn_layers.ts";
import { table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { channels: { type: "string", default: "64" }, batch: { type: "string", default: "2" } },
  strict: true,
});
const c = Number(values.channels), batch = Number(values.batch);
const g = squareConv(batch, c, 13, c, 3, 1, 1);
const { outH, outW } = conv2dOutputSize(g);
const rng = ref.mulberry32(7);
const X = ref.randn([batch, c, 13, 13], rng), W = ref.randn([c, c, 3, 3], rng, 0.05);
const DY = ref.randn([batch, c, outH, outW], rng);
const y = ref.conv2d(X, W, null, { padding: [1, 1] });
// The input gradient is the transposed convolution: conv of dy with the flipped, transposed
// kernel at padding 2 − 1.
const Wt = ref.randn([c, c, 3, 3], rng);
for (let o = 0; o < c; o++) {
  for (let i = 0; i < c; i++) {
    for (let t = 0; t < 9; t++) Wt.data[(i * c + o) * 9 + 8 - t] = W.data[(o * c + i) * 9 + t];
  }
}
const dx = ref.conv2d(DY, Wt, null, { padding: [1, 1] });

const device = await Device.acquire();
const upload = (data: Float64Array): GpuBuffer => {
  const b = device.alloc(data.length * 4);
  device.write(b, Float32Array.from(data));
  return b;
};
const x = upload(X.data), w = upload(W.data), dy = upload(DY.data);
const out = device.alloc(y.data.length * 4), gx = device.alloc(X.data.length * 4);
const error = (got: Float32Array, want: Float64Array): number => {
  let e = 0, m = 0;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return e / m;
};
const algorithms: [string, ConvAlgorithm][] = [
  ["direct", { kind: "direct" }],
  ["gemm", { kind: "gemm", tile: CONV_SMALL_TILE }],
  ["winograd F(2×2,3×3)", { kind: "winograd" }],
];
const rows: string[][] = [];
for (const [name, algorithm] of algorithms) {
  conv2d(device, g, { x, w, out, algorithm });
  conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: gx, algorithm });
  const f = new Float32Array(await device.read(out, 0, y.data.length * 4));
  const b = new Float32Array(await device.read(gx, 0, X.data.length * 4));
  rows.push([name, error(f, y.data).toExponential(2), error(b, dx.data).toExponential(2)]);
}
console.log(
  `max |error| / max |reference|, ${batch}×${c}×13×13, 3×3 pad 1, ${c} outputs, ` +
    `${device.describe()}\n` + table(["algorithm", "forward", "grad input"], rows),
);
device.destroy();
