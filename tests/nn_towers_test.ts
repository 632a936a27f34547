/**
 * Towers as a module of their own: the forward of a layer split over two devices equals the
 * same layer on one device (outputs and gradients), its state dict stacked along axis 0.
 */

import assert from "node:assert/strict";
import { Device, fromTypedArray } from "../mod.ts";
import { Linear } from "../nn/linear.ts";
import { Towers } from "../nn/_towers.ts";
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
