/**
 * Towers as a module of their own: the forward of a layer split over two devices equals the
 * same layer on one device (outputs and gradients), its state dict stacked along axis 0.
 */

import assert from "node:assert/strict";
import { concat, Device, fromTypedArray } from "../mod.ts";
import { Linear } from "../nn/linear.ts";
import { TowerCut, Towers } from "../nn/_towers.ts";
import { Generator } from "../tensor/random.ts";

for (const separateDevices of [false, true]) {
  const placement = separateDevices ? "two GPUDevices" : "one shared GPUDevice";
  Deno.test(`towers compute what the whole layer computes, on the first tower's device (${placement})`, async () => {
    const [d0, d1] = await Device.acquireMany(2, { separateDevices });
    const towers = new Towers([
      new Linear({ inFeatures: 5, outFeatures: 3, device: d0, generator: new Generator(1) }),
      new Linear({ inFeatures: 5, outFeatures: 2, device: d1, generator: new Generator(2) }),
    ]);
    const whole = new Linear({ inFeatures: 5, outFeatures: 5, device: d0 });
    await whole.loadStateDict(await towers.stateDict());
    const input = Float32Array.from({ length: 4 * 5 }, (_, i) => Math.sin(i + 1));
    const x1 = fromTypedArray(input, [4, 5], { device: d0, requiresGrad: true });
    const x2 = fromTypedArray(input, [4, 5], { device: d0, requiresGrad: true });
    const y1 = await towers.forward(x1);
    const y2 = whole.forward(x2.withRank(2));
    assert.deepEqual(y1.shape, [4, 5]);
    assert.equal(y1.device, d0);
    const a = await y1.data(), b = await y2.data();
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `output ${i}: ${v} vs ${b[i]}`));
    await y1.mul(y1).sum().backward();
    await y2.mul(y2).sum().backward();
    const g1 = await x1.grad!.data(), g2 = await x2.grad!.data();
    g1.forEach((v, i) =>
      assert.ok(Math.abs(v - g2[i]) < 1e-5, `input grad ${i}: ${v} vs ${g2[i]}`)
    );
    const part = towers.parts[1].getParameter("weight");
    assert.equal(part.device, d1);
    const wholeGrad = await whole.getParameter("weight").grad!.data();
    const partGrad = await part.grad!.data();
    partGrad.forEach((v, i) =>
      assert.ok(Math.abs(v - wholeGrad[15 + i]) < 1e-5, `weight grad ${i}`)
    );
    for (const d of [d0, d1]) await d.sync();
    for (const d of [d0, d1]) d.destroy();
  });
}

// A cut between two GPUDevices must compute the layer after it exactly as one device does, sums
// in the same order: computed as two partial products (one over each tower's half of the input)
// a pre-activation that is zero up to rounding can land on the other side of the ReLU's zero,
// and that unit's gradient is then all or nothing. Here every pre-activation is zero in exact
// arithmetic (tower B's half of the input is minus tower A's, over the same weights), so the
// rounding of the order decides every mask. (The paper's net on two GPUDevices hit this at a
// few units of fc6/fc7: conv1.weight's gradient was 1.2e-2 off; the scaled net, smaller, did not.)
Deno.test("a cut between two GPUDevices sums the next layer in one device's order (ReLU masks agree)", async () => {
  const [d0, d1] = await Device.acquireMany(2, { separateDevices: true });
  const [n, half, out] = [4, 48, 8];
  const values = (count: number, seed: number) =>
    Float32Array.from({ length: count }, (_, i) => Math.sin(seed + 0.73 * i));
  const aHost = values(n * half, 1);
  const weight = new Float32Array(out * 2 * half);
  const halfWeight = values(out * half, 2);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < half; k++) {
      weight[o * 2 * half + k] = weight[o * 2 * half + half + k] = halfWeight[o * half + k];
    }
  }
  const layerOn = async (device: Device) => {
    const layer = new Linear({
      inFeatures: 2 * half,
      outFeatures: out,
      device,
      activation: "relu",
    });
    await layer.loadStateDict({
      weight: fromTypedArray(weight, [out, 2 * half], { device }),
      bias: fromTypedArray(new Float32Array(out), [out], { device }),
    });
    return layer;
  };
  const input = (data: Float32Array, device: Device) =>
    fromTypedArray(data, [n, half], { device, requiresGrad: true });
  const minusA = aHost.map((v) => -v);

  // One device: the layer on the joined input, once per tower.
  const [a1, b1] = [input(aHost, d0), input(minusA, d0)];
  const joined = concat([a1, b1], 1).withRank(2);
  const whole = [await layerOn(d0), await layerOn(d0)].map((layer) => layer.forward(joined));
  await whole[0].add(whole[1]).sum().backward();

  // Two GPUDevices: the cut.
  const [a2, b2] = [input(aHost, d0), input(minusA, d1)];
  const cut = new TowerCut("test cut");
  const [y0, y1] = await cut.into(a2, b2, [await layerOn(d0), await layerOn(d1)]);
  await y0.sum().add(await y1.sum().to(d0)).backward();

  const masks = (y: ArrayLike<number>) => Array.from(y, (v) => v > 0);
  assert.deepEqual(masks(await y0.data()), masks(await whole[0].data()), "tower A's ReLU mask");
  assert.deepEqual(masks(await y1.data()), masks(await whole[1].data()), "tower B's ReLU mask");
  const [ga1, ga2] = [await a1.grad!.data(), await a2.grad!.data()];
  const [gb1, gb2] = [await b1.grad!.data(), await b2.grad!.data()];
  ga2.forEach((v, i) => assert.ok(Math.abs(v - ga1[i]) < 1e-5, `a's grad ${i}: ${v} vs ${ga1[i]}`));
  gb2.forEach((v, i) => assert.ok(Math.abs(v - gb1[i]) < 1e-5, `b's grad ${i}: ${v} vs ${gb1[i]}`));
  cut.dispose();
  for (const d of [d0, d1]) await d.sync();
  for (const d of [d0, d1]) d.destroy();
});
