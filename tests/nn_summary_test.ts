/**
 * summary() and traceSummary() of modules that are not a Sequential: a custom Module with
 * nested submodules gets a row per layer, its unknown shapes marked and measured by a forward.
 */

import assert from "node:assert/strict";
import { defaultDevice, type Tensor } from "../mod.ts";
import {
  BatchNorm1d,
  Dropout,
  Linear,
  Module,
  ReLU,
  Sequential,
  summary,
  traceSummary,
} from "../nn/mod.ts";

/** A custom module: a stem, a list of blocks registered by index, and a head. */
class Blocks extends Module {
  stem: Linear;
  blocks: Sequential[];
  head: Linear;
  constructor() {
    super();
    this.stem = this.registerModule("stem", new Linear({ inFeatures: 4, outFeatures: 6 }));
    this.blocks = [0, 1].map((i) =>
      this.registerModule(
        `block${i}`,
        new Sequential(
          new Linear({ inFeatures: 6, outFeatures: 6 }),
          new BatchNorm1d({ numFeatures: 6 }),
          new ReLU(),
        ),
      )
    );
    this.registerParameter("scale", new Linear({ inFeatures: 1, outFeatures: 1 }).weight.detach());
    this.head = this.registerModule("head", new Linear({ inFeatures: 6, outFeatures: 3 }));
    this.registerModule("drop", new Dropout({ p: 0.5 }));
  }
  forward(x: Tensor<[number, number], "f32">): Tensor {
    let y = this.stem.forward(x);
    for (const block of this.blocks) y = block.forward(y).withRank(2) as typeof y;
    return this.head.forward(y).mul(this.getParameter("scale"));
  }
}

Deno.test("summary of a custom Module: a row per layer, unknown shapes marked; traceSummary measures them", async () => {
  await defaultDevice();
  const net = new Blocks();
  // It threw "summary: Blocks (Blocks) has no outputShape".
  const text = summary(net, [5, 4]);
  assert.match(text, /^\(Blocks\) +\? +1 +gpu\d/m);
  assert.match(text, /^stem +\? +30 +gpu\d/m);
  assert.match(text, /^block0\.0 +\? +42 /m);
  assert.match(text, /^block1\.1 +\? +12 /m);
  assert.match(text, /^block1\.2 +\? +0 +-$/m);
  assert.match(text, /^drop +\? +0 +-$/m);
  assert.match(
    text,
    /Total parameters: 160\n.*marked \? depend on Blocks's forward: await traceSummary/,
  );
  assert.equal(net.parameterCount(), 160);

  net.train();
  const before = await (net.blocks[0].layers[1] as BatchNorm1d).runningMean!.data();
  const traced = await traceSummary(net, [5, 4]);
  assert.match(traced, /^\(Blocks\) +\[5, 3\] +1 /m);
  assert.match(traced, /^stem +\[5, 6\] +30 /m);
  assert.match(traced, /^block1\.2 +\[5, 6\] +0 +-$/m);
  assert.match(traced, /^head +\[5, 3\] +21 /m);
  assert.match(traced, /^drop +\? +0 +-$/m); // never called by the forward
  assert.match(traced, /Total parameters: 160\n.*marked \? depend/);
  // Nothing changed: the modes, the running statistics, the forward methods.
  assert.equal(net.training, true);
  assert.ok(net.namedModules().every(([, m]) => m.training));
  assert.deepEqual(await (net.blocks[0].layers[1] as BatchNorm1d).runningMean!.data(), before);
  assert.ok(net.namedModules().every(([, m]) => !Object.hasOwn(m, "forward")));
  // A forward that fails is one error naming the model and the input; nothing is left changed.
  await assert.rejects(
    traceSummary(net, [5, 4, 1]),
    /^Error: traceSummary: the forward of Blocks on zeros \[5,4,1\] failed: Linear: expected \[\*, 4\]/,
  );
  assert.ok(net.namedModules().every(([, m]) => m.training && !Object.hasOwn(m, "forward")));
  net.dispose();
});

Deno.test("summary of a Sequential holding a custom module: the chain's shapes up to it, then traced", async () => {
  await defaultDevice();
  class Double extends Module {
    forward(x: Tensor): Tensor {
      return x.mul(2);
    }
  }
  const net = new Sequential(
    new Linear({ inFeatures: 3, outFeatures: 4 }),
    new Sequential(new ReLU(), new Double() as unknown as ReLU),
    new Linear({ inFeatures: 4, outFeatures: 2 }),
  );
  const text = summary(net, [2, 3]);
  assert.match(text, /^0 +\[2, 4\] +16 /m);
  assert.match(text, /^1 +\? +0 /m);
  assert.match(text, /^2 +\? +10 /m);
  const traced = await traceSummary(net, [2, 3]);
  assert.match(traced, /^1 +\[2, 4\] +0 /m);
  assert.match(traced, /^2 +\[2, 2\] +10 /m);
  assert.doesNotMatch(traced, /\?/);
  // A shape the chain rejects is the layer's error, before anything runs.
  await assert.rejects(traceSummary(net, [2, 5]), /Linear: expected \[\*, 3\], got \[2,5\]/);
  net.dispose();
});
