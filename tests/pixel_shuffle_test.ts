/**
 * `pixelShuffle` / `pixelUnshuffle` and their layers against a float64 reference of
 * PyTorch's: forward and gradients at odd sizes and ranks, on strided views; round trips;
 * errors; a sub-pixel convolution trained for a few SGD steps.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  fromTypedArray,
  mseLoss,
  ones,
  pixelShuffle,
  pixelUnshuffle,
} from "../mod.ts";
import { Conv2d, PixelShuffle, PixelUnshuffle, Sequential } from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import { fit } from "./_fit.ts";
import {
  pixelShuffle as shuffleRef,
  pixelUnshuffle as unshuffleRef,
} from "./_conv_family_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

const rng = ref.mulberry32(5);
const n = (...shape: number[]) => normal(shape, rng);

Deno.test("pixelShuffle and pixelUnshuffle against float64", async (t) => {
  const device = await defaultDevice();
  const shuffle = (shape: number[], r: number): OpCase => ({
    name: `pixelShuffle [${shape}] r ${r}`,
    inputs: [n(...shape)],
    run: ([x]) => pixelShuffle(x, r),
    ref: ([x]) => shuffleRef(x, r),
  });
  const unshuffle = (shape: number[], r: number): OpCase => ({
    name: `pixelUnshuffle [${shape}] r ${r}`,
    inputs: [n(...shape)],
    run: ([x]) => pixelUnshuffle(x, r),
    ref: ([x]) => unshuffleRef(x, r),
  });
  await checkAll(
    t,
    device,
    [
      shuffle([2, 8, 3, 5], 2),
      shuffle([1, 9, 1, 7], 3),
      shuffle([18, 2, 2], 3),
      shuffle([2, 1, 4, 3, 3], 2),
      shuffle([1, 3, 2, 2], 1),
      unshuffle([2, 3, 4, 6], 2),
      unshuffle([1, 1, 9, 3], 3),
      unshuffle([2, 2, 1, 2, 2], 2),
      {
        name: "pixelShuffle of an NHWC view [1, 3, 5, 4] r 2",
        inputs: [n(1, 3, 5, 4)],
        run: ([x]) => pixelShuffle(x.permute([0, 3, 1, 2]), 2),
        ref: ([x]) => shuffleRef(ref.permute(x, [0, 3, 1, 2]), 2),
      },
    ],
    rng,
    true,
  );
});

Deno.test("pixelShuffle: round trips, errors, and a sub-pixel convolution learns", async () => {
  await defaultDevice();
  const x = n(2, 12, 3, 5);
  const xs = fromTypedArray(Float32Array.from(x.data), x.shape);
  const back = pixelUnshuffle(pixelShuffle(xs, 2), 2);
  assert.deepEqual(await back.data(), Float32Array.from(x.data));
  const cases: [() => unknown, RegExp][] = [
    [
      () => pixelShuffle(ones([1, 6, 2, 2]), 2),
      /channel axis \(6 of \[1,6,2,2\]\) must be divisible by upscaleFactor² = 4/,
    ],
    [() => pixelShuffle(ones([4, 2]), 2), /expected \[..., C, H, W\]/],
    [() => pixelShuffle(ones([1, 4, 2, 2]), 0), /upscaleFactor must be a positive integer/],
    [
      () => pixelUnshuffle(ones([1, 1, 5, 4]), 2),
      /the height \(5 of \[1,1,5,4\]\) must be divisible by downscaleFactor 2/,
    ],
    [() => new PixelUnshuffle(1.5), /PixelUnshuffle: downscaleFactor must be a positive integer/],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
  assert.deepEqual(new PixelShuffle(3).outputShape([1, 18, 4, 5]), [1, 2, 12, 15]);
  assert.deepEqual(new PixelUnshuffle(2).outputShape([1, 3, 8, 6]), [1, 12, 4, 3]);
  const net = new Sequential(
    new Conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, padding: 1 }),
    new PixelShuffle(2),
  );
  assert.deepEqual(net.outputShape([2, 1, 4, 4]), [2, 1, 8, 8]);
  const input = fromTypedArray(Float32Array.from(n(2, 1, 4, 4).data), [2, 1, 4, 4]);
  const target = fromTypedArray(Float32Array.from(n(2, 1, 8, 8).data), [2, 1, 8, 8]);
  const losses = await fit(net, (net) => mseLoss(net.forward(input) as never, target), {
    steps: 10,
    lr: 0.1,
  });
  assert.ok(losses[9] < 0.9 * losses[0], `the loss fell: ${losses}`);
});
