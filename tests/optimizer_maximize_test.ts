/**
 * PyTorch's `maximize` on every optimiser: the gradient's sign is flipped before anything else
 * (weight decay included), so maximising with g takes the very steps of minimising with −g,
 * bit for bit (and not those of minimising with g); SGD's against float64 too; the flag
 * round-trips through a state dict, and a state from before it existed loads as false.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, keep, type Tensor } from "../mod.ts";
import { Adagrad } from "../train/adagrad.ts";
import { Adam, AdamW } from "../train/adam.ts";
import type { Optimizer } from "../train/optimizer.ts";
import { RMSprop } from "../train/rmsprop.ts";
import { SGD } from "../train/sgd.ts";
import {
  assertClose,
  hostStateDict,
  randomArray,
  setGrad,
  type SgdConstants,
  sgdReferenceStep,
  snapshot,
} from "./_optim.ts";

const device = await defaultDevice();
const SIZES = [1, 7, 33];

/** An optimiser over `params`, maximising or not. */
type Make = (params: Tensor[], maximize: boolean) => Optimizer;

const OPTIMISERS: [string, Make][] = [
  [
    "SGD paper, dampened",
    (params, maximize) =>
      new SGD({ params, lr: 0.05, weightDecay: 0.01, dampening: 0.3, maximize }),
  ],
  [
    "SGD pytorch, Nesterov",
    (params, maximize) =>
      new SGD({
        params,
        lr: 0.05,
        weightDecay: 0.01,
        formulation: "pytorch",
        nesterov: true,
        maximize,
      }),
  ],
  [
    "Adam, AMSGrad",
    (params, maximize) =>
      new Adam({ params, lr: 0.01, weightDecay: 0.01, amsgrad: true, maximize }),
  ],
  ["AdamW", (params, maximize) => new AdamW({ params, lr: 0.01, maximize })],
  [
    "RMSprop, centred, momentum",
    (params, maximize) =>
      new RMSprop({ params, lr: 0.01, weightDecay: 0.01, momentum: 0.9, centered: true, maximize }),
  ],
  ["Adagrad", (params, maximize) => new Adagrad({ params, lr: 0.1, weightDecay: 0.01, maximize })],
];

function parameters(seed: number): Tensor[] {
  return SIZES.map((n, k) => keep(fromTypedArray(randomArray(n, seed + k), [n], { device })));
}

/** Three steps with gradients `sign`·g. */
async function run(make: Make, maximize: boolean, sign: number) {
  const params = parameters(5);
  const opt = make(params, maximize);
  for (let s = 0; s < 3; s++) {
    params.forEach((p, k) => setGrad(p, randomArray(p.size, 100 * s + k, 2).map((x) => sign * x)));
    opt.step();
  }
  const out = await snapshot(opt, params);
  opt.dispose();
  for (const p of params) p.dispose();
  return out;
}

for (const [name, make] of OPTIMISERS) {
  Deno.test(`${name}: maximising with g steps as minimising with −g, bit for bit`, async () => {
    const maximised = await run(make, true, 1);
    assert.deepEqual(maximised, await run(make, false, -1));
    assert.notDeepEqual(maximised, await run(make, false, 1));
  });
}

Deno.test("SGD's maximize against float64, and through a state dict", async () => {
  const h: SgdConstants = {
    formulation: "pytorch",
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 0.01,
    dampening: 0.2,
    nesterov: false,
    maximize: true,
  };
  const params = parameters(9);
  const refs = params.map((_, k) => ({
    w: Float64Array.from(randomArray(SIZES[k], 9 + k)),
    buf: null,
  }));
  const opt = new SGD({ ...h, params });
  for (let s = 0; s < 3; s++) {
    params.forEach((p, k) => {
      const g = randomArray(p.size, 100 * s + k, 2);
      setGrad(p, g);
      sgdReferenceStep(refs[k], g, h);
    });
    opt.step();
  }
  for (const [k, p] of params.entries()) {
    assertClose(await p.data(), refs[k].w, 2e-6, `parameter ${k}`);
  }
  const host = await hostStateDict(opt);
  assert.equal(host.paramGroups[0].maximize, true);
  const other = new SGD({ ...h, maximize: false, params });
  await other.loadStateDict(host);
  assert.equal(other.paramGroups[0].maximize, true);
  // A state from before `maximize`: false.
  delete host.paramGroups[0].maximize;
  await other.loadStateDict(host);
  assert.equal(other.paramGroups[0].maximize, false);
  const adam = new Adam({ params, maximize: true });
  const adamState = await hostStateDict(adam);
  assert.equal(adamState.paramGroups[0].maximize, true);
  delete adamState.paramGroups[0].maximize;
  await adam.loadStateDict(adamState);
  assert.equal(adam.paramGroups[0].maximize, false);
  assert.throws(
    () => new Adagrad({ params: [params[0]], maximize: 1 as unknown as boolean }),
    /^TypeError: Adagrad: group 0: maximize must be true or false$/,
  );
  for (const o of [opt, other, adam]) o.dispose();
  for (const p of params) p.dispose();
});
