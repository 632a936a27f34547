/**
 * Rounding error of each convolution algorithm against the float64 reference, on AlexNet's
 * conv3–conv5 geometry (13×13, 3×3, pad 1) and conv2's (27×27, 5×5, pad 2) with fewer
 * channels: the largest absolute error of the forward pass and of the input gradient, relative
 * to the largest reference value, for the direct kernel, the GEMM core (and the register GEMM
 * where the adapter has subgroups) and Winograd F(2×2, 3×3) / F(2×2, 5×5).
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
  CONV_SUBGROUP_TILES,
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
const device = await Device.acquire();
const rows: string[][] = [];
for (const [k, size] of [[3, 13], [5, 27]]) {
  const pad = (k - 1) / 2, taps = k * k;
  const g = squareConv(batch, c, size, c, k, 1, pad);
  const { outH, outW } = conv2dOutputSize(g);
  const rng = ref.mulberry32(7);
  const X = ref.randn([batch, c, size, size], rng), W = ref.randn([c, c, k, k], rng, 0.05);
  const DY = ref.randn([batch, c, outH, outW], rng);
  const y = ref.conv2d(X, W, null, { padding: [pad, pad] });
  // The input gradient is the transposed convolution: conv of dy with the flipped, transposed
  // kernel at padding k − 1 − pad (= pad here).
  const Wt = ref.randn([c, c, k, k], rng);
  for (let o = 0; o < c; o++) {
    for (let i = 0; i < c; i++) {
      for (let t = 0; t < taps; t++) {
        Wt.data[(i * c + o) * taps + taps - 1 - t] = W.data[(o * c + i) * taps + t];
      }
    }
  }
  const dx = ref.conv2d(DY, Wt, null, { padding: [pad, pad] });
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
    ["direct (register patches)", { kind: "direct" }],
    ["GEMM core (implicit GEMM)", { kind: "gemm", tile: CONV_SMALL_TILE }],
    ...(device.hasSubgroups
      ? [["register GEMM (subgroups)", { kind: "gemm", tile: CONV_SUBGROUP_TILES[0] }] as [
        string,
        ConvAlgorithm,
      ]]
      : []),
    [`Winograd F(2×2, ${k}×${k})`, { kind: "winograd" }],
  ];
  for (const [name, algorithm] of algorithms) {
    conv2d(device, g, { x, w, out, algorithm });
    conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: gx, algorithm });
    const f = new Float32Array(await device.read(out, 0, y.data.length * 4));
    const b = new Float32Array(await device.read(gx, 0, X.data.length * 4));
    const shape = `${batch}×${c}×${size}², ${k}×${k} pad ${pad}`;
    rows.push([shape, name, error(f, y.data).toExponential(2), error(b, dx.data).toExponential(2)]);
  }
  for (const b of [x, w, dy, out, gx]) device.release(b);
}
console.log(
  `max |error| / max |reference|, ${c} → ${c} channels, weights N(0, 0.05²), ` +
    `${device.describe()}\n` + table(["geometry", "algorithm", "forward", "grad input"], rows),
);
device.destroy();
