/**
 * The convolution family's layers: forward and every gradient against the float64 reference,
 * PyTorch's state-dict names, shapes and default initialisation bounds, `outputShape` against
 * the forward, and a small encoder-decoder in a `Sequential` that learns for a few SGD steps.
 */

import assert from "node:assert/strict";
import { defaultDevice, Generator, mseLoss } from "../mod.ts";
import {
  Conv1d,
  Conv2d,
  ConvTranspose1d,
  ConvTranspose2d,
  type Module,
  ReLU,
  Sequential,
} from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import { fit } from "./_fit.ts";
import {
  convTranspose2d as convTRef,
  drop,
  lift,
  pad as padRef,
} from "./_conv_family_reference.ts";
import { check, randF32, upload } from "./_layer_check.ts";

await defaultDevice();

Deno.test("convolution family layers against the f64 reference", async (t) => {
  await t.step("ConvTranspose2d: stride, padding, output padding, groups, dilation", async () => {
    const layer = new ConvTranspose2d({
      inChannels: 4,
      outChannels: 6,
      kernelSize: [3, 2],
      stride: [2, 3],
      padding: 1,
      outputPadding: [1, 2],
      groups: 2,
      dilation: [1, 2],
    });
    const opts = {
      stride: [2, 3],
      padding: [1, 1],
      outputPadding: [1, 2],
      groups: 2,
      dilation: [1, 2],
    } as const;
    await check({
      label: "ConvTranspose2d",
      layer,
      input: randF32([2, 4, 3, 5], 1),
      reference: (x, [w, b]) =>
        convTRef(x, w, b, {
          ...opts,
          stride: [...opts.stride],
          padding: [...opts.padding],
          outputPadding: [...opts.outputPadding],
          dilation: [...opts.dilation],
        }),
    });
    assert.deepEqual(layer.outputShape([2, 4, 3, 5]), [2, 6, 6, 15]);
  });

  await t.step("Conv1d and ConvTranspose1d, without bias", async () => {
    const conv = new Conv1d({
      inChannels: 3,
      outChannels: 4,
      kernelSize: 3,
      stride: 2,
      padding: 1,
      dilation: 2,
      bias: false,
    });
    await check({
      label: "Conv1d",
      layer: conv,
      input: randF32([2, 3, 9], 2),
      reference: (x, [w]) =>
        drop(ref.conv2d(lift(x), lift(w), null, {
          stride: [1, 2],
          padding: [0, 1],
          dilation: [1, 2],
        })),
    });
    assert.deepEqual(conv.outputShape([2, 3, 9]), [2, 4, 4]);
    const up = new ConvTranspose1d({ inChannels: 4, outChannels: 2, kernelSize: 4, stride: 2 });
    await check({
      label: "ConvTranspose1d",
      layer: up,
      input: randF32([1, 4, 5], 3),
      reference: (x, [w, b]) => drop(convTRef(lift(x), lift(w), b, { stride: [1, 2] })),
    });
    assert.deepEqual(up.outputShape([1, 4, 5]), [1, 2, 12]);
  });

  await t.step(
    "Conv1d and Conv2d with PyTorch's padding modes (input padded, then convolved)",
    async () => {
      const cases = [
        { padding: "same", paddingMode: "reflect", pads: [1, 2], stride: 1 },
        { padding: 2, paddingMode: "circular", pads: [2, 2], stride: 2 },
        { padding: 1, paddingMode: "replicate", pads: [1, 1], stride: 1 },
      ] as const;
      for (const { pads, ...options } of cases) {
        const layer = new Conv1d({ inChannels: 2, outChannels: 3, kernelSize: 4, ...options });
        await check({
          label: `Conv1d ${options.paddingMode}`,
          layer,
          input: randF32([2, 2, 7], 4),
          reference: (x, [w, b]) =>
            drop(ref.conv2d(lift(padRef(x, pads, options.paddingMode)), lift(w), b, {
              stride: [1, options.stride],
            })),
        });
        const expected = layer.outputShape([2, 2, 7]);
        assert.deepEqual(layer.forward(upload(randF32([2, 2, 7], 5)).withRank(3)).shape, expected);
      }
      const cases2d = [
        { padding: 1, paddingMode: "reflect", pads: [1, 1, 1, 1], stride: [1, 1] },
        { padding: "same", paddingMode: "circular", pads: [1, 1, 1, 2], stride: [1, 1] },
        { padding: [2, 1], paddingMode: "replicate", pads: [1, 1, 2, 2], stride: [2, 1] },
      ] as const;
      for (const { pads, ...options } of cases2d) {
        const layer = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: [4, 3], ...options });
        await check({
          label: `Conv2d ${options.paddingMode}`,
          layer,
          input: randF32([1, 2, 5, 6], 6),
          reference: (x, [w, b]) =>
            ref.conv2d(padRef(x, pads, options.paddingMode), w, b, { stride: [...options.stride] }),
        });
        const expected = layer.outputShape([1, 2, 5, 6]);
        assert.deepEqual(
          layer.forward(upload(randF32([1, 2, 5, 6], 7)).withRank(4)).shape,
          expected,
        );
      }
      assert.throws(
        () =>
          new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, paddingMode: "x" as never }),
        /Conv2d: paddingMode must be "zeros", "reflect", "replicate" or "circular"/,
      );
      assert.throws(
        () =>
          new Conv1d({
            inChannels: 1,
            outChannels: 1,
            kernelSize: 3,
            paddingMode: "wrap" as never,
          }),
        /Conv1d: paddingMode must be "zeros", "reflect", "replicate" or "circular"/,
      );
    },
  );
});

Deno.test("convolution family layers: PyTorch's names, shapes and initialisation", async () => {
  const cases: [Module, Record<string, number[]>, number][] = [
    // PyTorch reads fan_in from the weight's dim 1: Cout/groups for a transposed convolution.
    [
      new ConvTranspose2d({ inChannels: 6, outChannels: 4, kernelSize: 3, groups: 2 }),
      { weight: [6, 2, 3, 3], bias: [4] },
      2 * 9,
    ],
    [
      new ConvTranspose1d({ inChannels: 3, outChannels: 5, kernelSize: 4, bias: false }),
      { weight: [3, 5, 4] },
      5 * 4,
    ],
    [
      new Conv1d({ inChannels: 4, outChannels: 8, kernelSize: 5, groups: 4 }),
      { weight: [8, 1, 5], bias: [8] },
      5,
    ],
  ];
  for (const [layer, shapes, fanIn] of cases) {
    const dict = await layer.stateDict();
    assert.deepEqual(Object.keys(dict), Object.keys(shapes));
    for (const [name, shape] of Object.entries(shapes)) {
      assert.deepEqual(dict[name].shape, shape, name);
      const values = await dict[name].data();
      const bound = 1 / Math.sqrt(fanIn);
      assert.ok(values.every((v) => Math.abs(v) <= bound), `${name} within ±1/√${fanIn}`);
      // (The weights are many enough that all falling in the inner half would be a wrong bound.)
      if (values.length >= 30) {
        assert.ok(values.some((v) => Math.abs(v) > bound / 2), `${name} spread over its bound`);
      }
    }
  }
  assert.throws(
    () => new ConvTranspose2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 }),
    /ConvTranspose2d: 3 → 4 channels do not split in 2 groups/,
  );
  assert.throws(
    () => new Conv1d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: "same", stride: 2 }),
    /Conv1d: padding "same" needs stride 1/,
  );
});

Deno.test("an encoder-decoder of Conv2d and ConvTranspose2d learns in a few SGD steps", async () => {
  const generator = new Generator(5);
  const net = new Sequential(
    new Conv2d({ inChannels: 1, outChannels: 4, kernelSize: 3, stride: 2, padding: 1, generator }),
    new ReLU(),
    new ConvTranspose2d({
      inChannels: 4,
      outChannels: 1,
      kernelSize: 3,
      stride: 2,
      padding: 1,
      outputPadding: 1,
      generator,
    }),
  );
  assert.deepEqual(net.outputShape([2, 1, 8, 8]), [2, 1, 8, 8]);
  const x = upload(randF32([2, 1, 8, 8], 7));
  const losses = await fit(net, (net) => mseLoss(net.forward(x.withRank(4)) as never, x), {
    steps: 10,
    lr: 0.2,
  });
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses[9] < 0.75 * losses[0], `the reconstruction loss fell: ${losses}`);
});
