/**
 * `pad` and the padding layers against a float64 reference of PyTorch's `F.pad`: constant
 * (with negative pads that crop, on any axes), reflect, replicate and circular padding of one,
 * two and three axes, forward and gradients by central differences at odd sizes and on strided
 * views; PyTorch's errors; a padded convolution trained for a few SGD steps.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, mseLoss, ones, pad, type PadMode, tensor } from "../mod.ts";
import {
  CircularPad2d,
  ConstantPad1d,
  Conv2d,
  Pad,
  ReflectionPad1d,
  ReflectionPad2d,
  ReplicationPad2d,
  Sequential,
  ZeroPad2d,
} from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import { fit } from "./_fit.ts";
import { pad as padRef } from "./_conv_family_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

const rng = ref.mulberry32(13);
const n = (...shape: number[]) => normal(shape, rng);

function padCase(shape: number[], pads: number[], mode: PadMode, value?: number): OpCase {
  return {
    name: `${mode} [${shape}] pads [${pads}]${value === undefined ? "" : ` value ${value}`}`,
    inputs: [n(...shape)],
    run: ([x]) => pad(x, pads, mode === "constant" ? { mode, value } : { mode }),
    ref: ([x]) => padRef(x, pads, mode, value ?? 0),
  };
}

Deno.test("pad: every mode against float64, forward and gradient", async (t) => {
  const device = await defaultDevice();
  await checkAll(
    t,
    device,
    [
      padCase([2, 3, 4, 5], [1, 2, 0, 3], "constant", 0.5),
      padCase([2, 3, 4, 5], [-1, 2, 1, -2], "constant"),
      padCase([1, 3, 2, 2], [1, 1, 0, 0, 2, 1], "constant", -1),
      padCase([7], [3, 0], "constant"),
      padCase([2, 3, 5, 4], [2, 1, 1, 3], "reflect"),
      padCase([1, 2, 7], [6, 6], "reflect"),
      padCase([2, 2, 3, 4], [1, 1, 1, 1, 1, 1], "reflect"),
      padCase([1, 2, 3, 5], [3, 0, 1, 4], "replicate"),
      padCase([1, 1, 1, 1], [2, 2, 2, 2], "replicate"),
      padCase([1, 2, 3, 4], [4, 3, 1, 3], "circular"),
      padCase([1, 2, 3, 4, 5], [1, 2, 2, 1, 1, 3], "circular"),
      padCase([1, 2, 5, 6], [-1, 2, 2, -2], "reflect"),
      padCase([33, 1], [0, 0, 1, 1], "replicate"),
      {
        name: "reflect NHWC view [1, 4, 5, 3] pads [2, 2, 1, 1]",
        inputs: [n(1, 4, 5, 3)],
        run: ([x]) => pad(x.permute([0, 3, 1, 2]), [2, 2, 1, 1], { mode: "reflect" }),
        ref: ([x]) => padRef(ref.permute(x, [0, 3, 1, 2]), [2, 2, 1, 1], "reflect"),
      },
      {
        name: "constant NHWC view [1, 4, 5, 3] pads [1, 0, 0, 2]",
        inputs: [n(1, 4, 5, 3)],
        run: ([x]) => pad(x.permute([0, 3, 1, 2]), [1, 0, 0, 2], { value: 2 }),
        ref: ([x]) => padRef(ref.permute(x, [0, 3, 1, 2]), [1, 0, 0, 2], "constant", 2),
      },
    ],
    rng,
    true,
  );
});

Deno.test("pad: values and errors as PyTorch's", async () => {
  await defaultDevice();
  const x = tensor([[[[1, 2, 3], [4, 5, 6]]]]);
  assert.deepEqual(await pad(x, [1, 1, 1, 0], { mode: "reflect" }).toArray(), [[[
    [5, 4, 5, 6, 5],
    [2, 1, 2, 3, 2],
    [5, 4, 5, 6, 5],
  ]]]);
  assert.deepEqual(await pad(x, [1, 0, 0, 1], { mode: "replicate" }).toArray(), [[[
    [1, 1, 2, 3],
    [4, 4, 5, 6],
    [4, 4, 5, 6],
  ]]]);
  const y = ones([1, 1, 3, 3]);
  const cases: [() => unknown, RegExp][] = [
    [() => pad(y, [1]), /pads must be pairs of integers, got \[1\]/],
    [() => pad(y, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), /5 pairs of pads for 4 axes/],
    [
      () => pad(y, [3, 0], { mode: "reflect" }),
      /reflect padding must be less than the input size, got pads 3 and 0 for axis 3 of \[1,1,3,3\]/,
    ],
    [() => pad(y, [0, 4], { mode: "circular" }), /circular padding wraps around more than once/],
    [() => pad(y, [1, 1], { mode: "reflect", value: 1 }), /mode "reflect" takes no value/],
    [() => pad(y, [-2, -2]), /pads -2 and -2 crop more than the 3 elements of axis 3/],
    [() => pad(y, [1, 1], { mode: "wrap" as never }), /mode must be "constant", "reflect"/],
    [
      () => new ReflectionPad2d([1, 1]),
      /ReflectionPad2d: padding must be an integer or 4 integers/,
    ],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});

Deno.test("padding layers: shapes, and a reflection-padded convolution learns", async () => {
  await defaultDevice();
  assert.deepEqual(new ZeroPad2d([1, 2, 3, 4]).outputShape([2, 3, 5, 5]), [2, 3, 12, 8]);
  assert.deepEqual(new ConstantPad1d(2, 1).outputShape([2, 3, 5]), [2, 3, 9]);
  assert.deepEqual(new ReflectionPad1d([1, 2]).outputShape([2, 3, 5]), [2, 3, 8]);
  assert.deepEqual(new CircularPad2d(1).outputShape([2, 3, 5, 5]), [2, 3, 7, 7]);
  assert.deepEqual(new Pad({ padding: 1, axes: 3 }).outputShape([2, 3, 5, 5]), [2, 5, 7, 7]);
  const net = new Sequential(
    new ReplicationPad2d(1),
    new Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 3 }),
    new ReflectionPad2d([1, 1, 1, 1]),
    new Conv2d({ inChannels: 2, outChannels: 1, kernelSize: 3 }),
  );
  assert.deepEqual(net.outputShape([2, 2, 6, 6]), [2, 1, 6, 6]);
  const x = n(2, 2, 6, 6), target = n(2, 1, 6, 6);
  const xs = fromTypedArray(Float32Array.from(x.data), x.shape);
  const ts = fromTypedArray(Float32Array.from(target.data), target.shape);
  const losses = await fit(net, (net) => mseLoss(net.forward(xs) as never, ts), {
    steps: 10,
    lr: 0.1,
  });
  assert.ok(losses[9] < 0.9 * losses[0], `the loss fell: ${losses}`);
});
