/**
 * Shapes travel as uniforms: a training step of the scaled AlexNet compiles its pipelines once,
 * and a step at another batch size compiles none at all; bind groups are reused when the
 * buffers repeat.
 */

import assert from "node:assert/strict";
import { Device, Generator } from "../mod.ts";
import { AlexNet, alexnetSmall } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { conv2d } from "../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../kernels/conv2d_backward.ts";
import { fillRandom } from "../kernels/random.ts";
import { geometry } from "./_conv_geometry.ts";
import { trainStep } from "./_train_step.ts";

const GEMM_KERNELS = /^(conv2d|matmul)/;

Deno.test("pipelines compile once per variant, not per shape", async (t) => {
  const device = await Device.acquire();

  /** Trains `model` one SGD step per batch size; returns the kernels each step compiled. */
  const steps = async (model: AlexNet, size: number, batches: number[]): Promise<string[][]> => {
    model.train();
    const opt = new SGD({ params: model.parameters(), lr: 0.01, momentum: 0.9 });
    const data = new Generator(1);
    const out: string[][] = [];
    for (const batch of batches) {
      const before = device.compiledKernels().length;
      await trainStep(device, model, opt, data, batch, size);
      out.push(device.compiledKernels().slice(before));
    }
    return out;
  };

  await t.step(
    "the default train configuration: an epoch's last batch compiles nothing",
    async () => {
      // The scaled net on 24×24 crops at batch 32, then smaller batches.
      const model = new AlexNet({ width: 1 / 8, inputSize: 24, numClasses: 10, seed: 0 }, device);
      const [first, ...rest] = await steps(model, 24, [32, 31, 17]);
      const gemm = first.filter((n) => GEMM_KERNELS.test(n));
      // conv1–5 forward, input gradients of conv2–5, weight and bias gradients, fc6–8.
      assert.ok(gemm.length >= 8, `batch 32 compiled ${gemm.length} conv/matmul pipelines`);
      assert.deepEqual(rest, [[], []]);
    },
  );

  await t.step("batches 4, 6, 5 of the 32×32 scaled net: one compile", async () => {
    const [, ...rest] = await steps(alexnetSmall({ seed: 0 }, device), 32, [4, 6, 5]);
    assert.deepEqual(rest, [[], []]);
  });

  await t.step("another layer of the same kernel size and stride reuses the pipeline", () => {
    const g = geometry({ inChannels: 8, width: 9, outChannels: 8, padH: 1, padW: 1 });
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

  await t.step("random fills of other parameters and sizes reuse the pipeline", () => {
    const out = device.alloc(4 * 300), stream = { seed: [3, 0] as const, offset: 0 };
    fillRandom(device, out, 300, { kind: "normal", mean: 0, std: 0.01 }, stream);
    const compiled = device.memory().pipelines;
    // He initialisation: a standard deviation per layer.
    fillRandom(device, out, 123, { kind: "normal", mean: 0.5, std: 0.2 }, stream);
    fillRandom(device, out, 300, { kind: "uniform", low: -1, high: 1 }, stream);
    fillRandom(device, out, 77, { kind: "uniform", low: 0, high: 3 }, stream);
    assert.equal(device.memory().pipelines, compiled + 1, "one more: the uniform kind's");
    device.release(out);
  });

  await t.step("a direct input gradient with and without the ReLU mask: one pipeline", async () => {
    // A ReLU below one layer and not below the next (conv3–5 of the default net): the mask is
    // a uniform switch, not a second compile (0.3–0.5 s on lavapipe).
    const g = geometry({ inChannels: 6, height: 7, outChannels: 8, padH: 1, padW: 1 });
    const n = 2 * 6 * 7 * 7, dyN = 2 * 8 * 7 * 7;
    const dy = device.alloc(4 * dyN), w = device.alloc(4 * 8 * 6 * 9);
    const dx = device.alloc(4 * n), mask = device.alloc(4 * n);
    device.write(dy, new Float32Array(dyN).fill(1));
    device.write(w, new Float32Array(8 * 6 * 9).fill(1));
    device.write(mask, new Float32Array(n).map((_, i) => i % 3 - 1));
    const tile = { ty: 2, tx: 4, q: 4, wg: 8 };
    conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: dx, tile });
    const plain = new Float32Array(await device.read(dx, 0, 4 * n));
    const compiled = device.memory().pipelines;
    conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: dx, mask, tile });
    const masked = new Float32Array(await device.read(dx, 0, 4 * n));
    assert.equal(device.memory().pipelines, compiled);
    assert.ok(plain.every((v) => v > 0));
    assert.deepEqual(masked, plain.map((v, i) => (i % 3 === 2 ? v : 0)));
    for (const b of [dy, w, dx, mask]) device.release(b);
  });

  device.destroy();
});
