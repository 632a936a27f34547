/**
 * Shapes travel as uniforms: a training step of the scaled AlexNet compiles its pipelines once,
 * and a step at another batch size compiles none at all; bind groups are reused when the
 * buffers repeat.
 */

import assert from "node:assert/strict";
import { crossEntropy, Device, fromTypedArray, Generator, tidy } from "../mod.ts";
import { alexnetSmall } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { conv2d } from "../kernels/conv2d.ts";

const GEMM_KERNELS = /^(conv2d|matmul)/;

Deno.test("pipelines compile once per variant, not per shape", async (t) => {
  const device = await Device.acquire();

  await t.step("a new batch size compiles no pipeline", async () => {
    const model = alexnetSmall({ seed: 0 }, device);
    model.train();
    const opt = new SGD({ params: model.parameters(), lr: 0.01, momentum: 0.9 });
    const data = new Generator(1);
    /** The kernels whose pipelines one step compiled. */
    const step = async (batch: number): Promise<string[]> => {
      const before = device.compiledKernels().length;
      const host = Int32Array.from({ length: batch }, (_, i) => i % 10);
      const labels = fromTypedArray(host, [batch], { device });
      const loss = await tidy(async () => {
        const x = data.normal([batch, 3, 32, 32], 0, 1, device).withRank(4);
        return crossEntropy(await model.forward(x), labels);
      });
      await loss.backward();
      opt.step();
      opt.zeroGrad();
      await loss.item();
      loss.dispose();
      labels.dispose();
      return device.compiledKernels().slice(before);
    };
    const first = (await step(4)).filter((n) => GEMM_KERNELS.test(n));
    // conv1–5 forward, input gradients of conv2–5, weight and bias gradients, fc6–8.
    assert.ok(first.length >= 8, `batch 4 compiled ${first.length} conv/matmul pipelines`);
    assert.deepEqual(await step(6), []);
    assert.deepEqual(await step(5), []);
  });

  await t.step("another layer of the same kernel size and stride reuses the pipeline", () => {
    const g = {
      batch: 2,
      inChannels: 8,
      height: 9,
      width: 9,
      outChannels: 8,
      kernelH: 3,
      kernelW: 3,
      strideH: 1,
      strideW: 1,
      padH: 1,
      padW: 1,
      groups: 1,
    };
    const tile = { ty: 2, tx: 4, q: 4, wg: 8 };
    const x = device.alloc(4 * 2 * 16 * 13 * 13), w = device.alloc(4 * 16 * 16 * 9);
    const out = device.alloc(4 * 2 * 16 * 13 * 13);
    conv2d(device, g, { x, w, out, tile });
    const compiled = device.memory().pipelines, groups = device.memory().bindGroups;
    conv2d(device, g, { x, w, out, tile });
    assert.equal(device.memory().bindGroups, groups, "same buffers and shape: bind group reused");
    conv2d(device, { ...g, inChannels: 16, outChannels: 12, height: 13, width: 11 }, {
      x,
      w,
      out,
      tile,
    });
    assert.equal(device.memory().pipelines, compiled);
    for (const b of [x, w, out]) device.release(b);
  });

  device.destroy();
});
