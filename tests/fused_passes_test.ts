/**
 * Issue 10's fusions save passes: a training step of the scaled AlexNet (the default `train`
 * configuration: width 1/8, 24×24 crops, batch 32) takes its bias gradients from the weight
 * gradients' kernels and draws its dropout masks inside the kernels that apply them, so none of
 * their separate passes is dispatched, and the step dispatches fewer passes than before.
 */

import assert from "node:assert/strict";
import { Device, Generator } from "../mod.ts";
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
  const names: string[] = [];
  const dispatch = device.dispatch.bind(device);
  device.dispatch = (d, bindings) => {
    names.push(d.name);
    dispatch(d, bindings);
  };
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
