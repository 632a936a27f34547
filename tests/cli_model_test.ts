/**
 * The command line's He initialisation: drawn from the library's seeded generator (the same
 * seed gives the same weights, another seed others), N(0, 2/fan_in) weights and zero biases.
 */

import assert from "node:assert/strict";
import { defaultDevice } from "../mod.ts";
import { AlexNet } from "../nn/alexnet.ts";
import { Generator } from "../tensor/random.ts";
import { heInit } from "../cli/_model.ts";
import { BatchNorm2d, Conv2d, Flatten, Linear, PReLU, Sequential } from "../nn/mod.ts";

await defaultDevice();

/** A He-initialised narrow AlexNet's parameters by name, as host arrays. */
async function heWeights(
  seed: number,
): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  // The model's own seed differs from He's, so that nothing of its own draw survives.
  const model = new AlexNet({ inputSize: 16, width: 1 / 16, numClasses: 4, seed: 99 });
  await heInit(model, seed);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of model.namedParameters()) {
    out.set(name, {
      shape: [...p.shape as readonly number[]],
      data: await p.data() as Float32Array,
    });
  }
  model.dispose();
  return out;
}

Deno.test("He init: the library's generator from the seed, N(0, 2/fan_in) weights, zero biases", async () => {
  const a = await heWeights(3);
  assert.deepEqual(await heWeights(3), a, "the same seed gives the same weights");
  const other = await heWeights(4);
  const [first, { shape, data }] = [...a.entries()].find(([, p]) => p.shape.length > 1)!;
  assert.notDeepEqual(other.get(first)!.data, data, "another seed gives other weights");
  // The first weight is the generator's first draw.
  const fanIn = data.length / shape[0];
  const drawn = new Generator(3).normal(shape, 0, Math.sqrt(2 / fanIn));
  assert.deepEqual(await drawn.data(), data);
  drawn.dispose();
  for (const [name, p] of a) {
    if (p.shape.length === 1) {
      assert.ok(p.data.every((v) => v === 0), `${name}: zero biases`);
      continue;
    }
    const std = Math.sqrt(p.data.reduce((s, v) => s + v * v, 0) / p.data.length);
    const want = Math.sqrt(2 / (p.data.length / p.shape[0]));
    const tolerance = 5 / Math.sqrt(p.data.length); // five standard errors of the estimate
    assert.ok(Math.abs(std / want - 1) < tolerance, `${name}: std ${std}, want ${want}`);
  }
});

Deno.test("He init leaves a norm's scale at 1 and shift at 0, and a PReLU's slopes, as their modules start them", async () => {
  const net = new Sequential(
    new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3 }),
    new BatchNorm2d({ numFeatures: 3 }),
    new PReLU({ numParameters: 3 }),
    new Flatten(),
    new Linear({ inFeatures: 3, outFeatures: 2 }),
  );
  await heInit(net, 5);
  const values = new Map<string, Float32Array>();
  for (const [name, p] of net.namedParameters()) values.set(name, await p.data() as Float32Array);
  assert.deepEqual([...values.get("1.weight")!], [1, 1, 1], "batch norm scale");
  assert.deepEqual([...values.get("1.bias")!], [0, 0, 0], "batch norm shift");
  assert.deepEqual([...values.get("2.weight")!], [0.25, 0.25, 0.25], "PReLU slopes");
  for (const name of ["0.bias", "4.bias"]) {
    assert.ok(values.get(name)!.every((v) => v === 0), `${name}: zero`);
  }
  // The conv's weight is the generator's first draw, the linear's its second.
  const first = new Generator(5).normal([3, 2, 3, 3], 0, Math.sqrt(2 / 18));
  assert.deepEqual(await first.data(), values.get("0.weight"));
  first.dispose();
  net.dispose();
});
