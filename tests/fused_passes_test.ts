/**
 * Issue 10's fusions save passes: a training step of the scaled AlexNet (the default `train`
 * configuration: width 1/8, 24×24 crops, batch 32) takes its bias gradients from the weight
 * gradients' kernels and draws its dropout masks inside the kernels that apply them, so none of
 * their separate passes is dispatched, and the step dispatches fewer passes than before. The
 * fused bias gradient equals the one computed alone (weights frozen), and the weight gradient is
 * unchanged by it.
 */

import assert from "node:assert/strict";
import {
  conv2d,
  Device,
  fromTypedArray,
  Generator,
  linear,
  type Shape,
  type Tensor,
} from "../mod.ts";
import { logDispatches } from "./_dispatch_log.ts";
import { mulberry32 } from "./_reference.ts";
import { AlexNet } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { trainStep } from "./_train_step.ts";

/**
 * Passes of the second step before issue 10's fusions (commit ac9d78d, lavapipe): 107. The
 * bias fusion removes 5 conv and 3 linear bias reductions; dropout's turns 2 mask draws and 4
 * mask products (forward and backward) into 4 passes.
 */
const BEFORE = 107;

Deno.test("a training step dispatches no separate bias or dropout-mask pass", async () => {
  const device = await Device.acquire();
  const names = logDispatches(device);
  const model = new AlexNet({ width: 1 / 8, inputSize: 24, numClasses: 10, seed: 0 }, device);
  model.train();
  const opt = new SGD({ params: model.parameters(), lr: 0.01, momentum: 0.9 });
  const data = new Generator(1);
  let step: string[] = [];
  for (let i = 0; i < 2; i++) {
    names.length = 0;
    await trainStep(device, model, opt, data, 32, 24);
    step = [...names];
  }
  const count = (re: RegExp) => step.filter((n) => re.test(n)).length;
  assert.equal(count(/^conv2dBackwardBias/), 0, "conv bias gradients have no pass");
  assert.equal(count(/^random bernoulli/), 0, "no dropout mask is drawn apart");
  // drop6 and drop7, forward and backward.
  assert.equal(count(/^dropout/), 4);
  assert.ok(step.length < BEFORE, `${step.length} passes, ${BEFORE} before the fusions`);
  device.destroy();
});

/** Random values in [−1, 1) as a tensor. */
function values(device: Device, shape: number[], seed: number, grad: boolean): Tensor<Shape> {
  const rng = mulberry32(seed);
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng() * 2 - 1);
  return fromTypedArray(data, shape, { device, requiresGrad: grad }) as Tensor<Shape>;
}

Deno.test("conv2d and linear: the fused bias gradient equals the one computed alone", async () => {
  const device = await Device.acquire();
  // Each layer three ways: weight and bias trainable (one fused pass), the weight frozen (the
  // bias gradient alone) and the bias frozen (the weight gradient alone).
  const layers: [string, number[], (x: Tensor, w: Tensor, b: Tensor) => Tensor, number[]][] = [
    ["conv2d", [3, 4, 9, 7], (x, w, b) => conv2d(x, w, b, { padding: 1, stride: 2 }), [5, 4, 3, 3]],
    ["linear", [7, 33], (x, w, b) => linear(x, w, b, { relu: true }), [5, 33]],
  ];
  for (const [name, xShape, layer, wShape] of layers) {
    const grads = async (trainW: boolean, trainB: boolean) => {
      const x = values(device, xShape, 1, false);
      const w = values(device, wShape, 2, trainW), b = values(device, [wShape[0]], 3, trainB);
      const y = layer(x, w, b);
      await y.mul(values(device, [...y.shape], 4, false)).sum().backward();
      const out = [trainW ? await w.grad!.data() : null, trainB ? await b.grad!.data() : null];
      for (const t of [x, w, b, y]) t.dispose();
      return out;
    };
    const [gw, gb] = await grads(true, true);
    const [, gbAlone] = await grads(false, true), [gwAlone] = await grads(true, false);
    assert.deepEqual(gw, gwAlone, `${name}: weight gradient`);
    const alone = Array.from(gbAlone!);
    const err = Array.from(gb!).reduce((m, v, i) => Math.max(m, Math.abs(v - alone[i])), 0);
    assert.ok(err < 1e-5, `${name}: bias gradient differs by ${err}`);
  }
  device.destroy();
});
