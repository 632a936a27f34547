/**
 * Frozen parameters under `forModule`, as `torch.optim.SGD(model.parameters())`: every
 * optimiser takes all of a module's parameters, a frozen one (`requiresGrad` false) gets no
 * gradient and so no update and no state, and unfreezing it later (gradual unfreezing, common
 * in fine-tuning) lets it train on the same optimiser.
 */

import assert from "node:assert/strict";
import { defaultDevice, keep, mseLoss, randn, type Tensor } from "../mod.ts";
import { Linear, Sequential } from "../nn/mod.ts";
import { Adagrad, Adam, AdamW, type Optimizer, RMSprop, SGD } from "../train/mod.ts";

await defaultDevice();

const makers: [string, (m: Sequential) => Optimizer][] = [
  ["SGD", (m) => SGD.forModule(m, { lr: 0.1, momentum: 0.9, weightDecay: 1e-2 })],
  ["Adam", (m) => Adam.forModule(m, { lr: 0.01, weightDecay: 1e-2 })],
  ["AdamW", (m) => AdamW.forModule(m, { lr: 0.01, weightDecay: 1e-2 })],
  ["RMSprop", (m) => RMSprop.forModule(m, { lr: 0.01, weightDecay: 1e-2 })],
  ["Adagrad", (m) => Adagrad.forModule(m, { lr: 0.1, weightDecay: 1e-2 })],
];

for (const [name, make] of makers) {
  Deno.test(`${name}.forModule: a frozen layer stays put, and trains once unfrozen`, async () => {
    const model = new Sequential(
      new Linear({ inFeatures: 5, outFeatures: 7 }),
      new Linear({ inFeatures: 7, outFeatures: 3 }),
    );
    const first = model.parameters().slice(0, 2);
    for (const p of first) p.requiresGrad = false;
    const optimizer = make(model);
    const x = keep(randn([4, 5])), y = keep(randn([4, 3]));
    const snapshot = (ps: readonly Tensor[]) => Promise.all(ps.map((p) => p.data()));
    const step = async () => {
      optimizer.zeroGrad();
      const loss = mseLoss(model.forward(x) as Tensor, y);
      await loss.backward();
      optimizer.step();
      loss.dispose();
      await snapshot(model.parameters());
    };
    const frozen = await snapshot(first);
    const head = await snapshot(model.parameters().slice(2));
    await step();
    await step();
    assert.deepEqual(await snapshot(first), frozen, "frozen: no update, weight decay included");
    assert.notDeepEqual(await snapshot(model.parameters().slice(2)), head, "the head trains");
    for (const p of first) p.requiresGrad = true;
    await step();
    assert.notDeepEqual(await snapshot(first), frozen, "unfrozen: it trains on");
    optimizer.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
}
