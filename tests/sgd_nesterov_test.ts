/**
 * SGD's Nesterov momentum and dampening against a float64 evaluation of torch.optim.SGD's rule
 * (and of the paper's rule, where the learning rate changes): several steps with random
 * gradients, groups with their own constants, odd sizes, a parameter without a gradient in
 * some steps, a learning-rate change; torch's errors; a NaN skips the step; a state dict
 * resumes bit for bit; parameters on two devices step as on one; an old state dict (without
 * the new keys) still loads.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, keep, StepGuard, type Tensor, tensor } from "../mod.ts";
import { Device } from "../kernels/device.ts";
import { SGD } from "../train/sgd.ts";
import {
  assertClose,
  copyParams,
  hostStateDict,
  parametersWithGrads,
  randomArray,
  setGrad,
  type SgdConstants as Constants,
  type SgdReference as Reference,
  sgdReferenceStep as referenceStep,
  snapshot,
} from "./_optim.ts";

const device = await defaultDevice();

const SIZES = [1, 7, 33, 1030];
const GROUPS: Constants[] = [
  {
    formulation: "pytorch",
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 1e-3,
    dampening: 0,
    nesterov: true,
  },
  {
    formulation: "pytorch",
    lr: 0.02,
    momentum: 0.8,
    weightDecay: 0,
    dampening: 0.3,
    nesterov: false,
  },
  {
    formulation: "paper",
    lr: 0.03,
    momentum: 0.9,
    weightDecay: 5e-4,
    dampening: 0,
    nesterov: true,
  },
  {
    formulation: "paper",
    lr: 0.01,
    momentum: 0.5,
    weightDecay: 0.01,
    dampening: 0.5,
    nesterov: false,
  },
];

Deno.test(
  "Nesterov and dampening match torch.optim.SGD over groups, odd sizes, a parameter without a " +
    "gradient in some steps and a learning-rate change",
  async () => {
    const params: Tensor[][] = GROUPS.map((_, gi) =>
      SIZES.map((n, pi) => keep(fromTypedArray(randomArray(n, 10 * gi + pi), [n], { device })))
    );
    const opt = new SGD(GROUPS.map((h, gi) => ({ ...h, params: params[gi] })));
    const refs: Reference[][] = params.map((group, gi) =>
      group.map((p, pi) => ({ w: Float64Array.from(randomArray(p.size, 10 * gi + pi)), buf: null }))
    );
    for (let step = 0; step < 6; step++) {
      if (step === 3) opt.setLearningRate(0.007);
      for (const [gi, group] of params.entries()) {
        for (const [pi, p] of group.entries()) {
          // The second parameter of each group has no gradient until step 2: its first step
          // (undampened) comes later than the others'.
          const g = pi === 1 && step < 2 ? undefined : randomArray(p.size, 100 * step + gi + pi, 2);
          setGrad(p, g);
          const lr = opt.paramGroups[gi].lr;
          if (g) referenceStep(refs[gi][pi], g, { ...GROUPS[gi], lr });
        }
      }
      opt.step();
    }
    for (const [gi, group] of params.entries()) {
      for (const [pi, p] of group.entries()) {
        assertClose(await p.data(), refs[gi][pi].w, 1e-6, `group ${gi} parameter ${pi}`);
      }
    }
    opt.dispose();
    for (const p of params.flat()) p.dispose();
  },
);

Deno.test("the paper's and PyTorch's rules take the same steps with Nesterov at a constant lr", async () => {
  const make = () => parametersWithGrads(device, [5, 130], 3);
  const [a, b] = [make(), make()];
  const h = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true };
  const paper = new SGD({ ...h, params: a, formulation: "paper" });
  const pytorch = new SGD({ ...h, params: b, formulation: "pytorch" });
  for (let i = 0; i < 4; i++) {
    paper.step();
    pytorch.step();
  }
  for (const k of [0, 1]) assertClose(await a[k].data(), await b[k].data(), 1e-6, `param ${k}`);
  for (const o of [paper, pytorch]) o.dispose();
  for (const p of [...a, ...b]) p.dispose();
});

Deno.test("torch's errors: Nesterov needs momentum and no dampening", () => {
  const p = keep(tensor([1, 2]));
  assert.throws(
    () => new SGD({ params: [p], lr: 0.1, momentum: 0, nesterov: true }),
    /SGD: group 0: Nesterov momentum requires a momentum > 0 and zero dampening/,
  );
  assert.throws(
    () => new SGD({ params: [p], lr: 0.1, dampening: 0.1, nesterov: true }),
    /zero dampening \(got momentum 0.9, dampening 0.1\)/,
  );
  assert.throws(
    () => new SGD({ params: [p], lr: 0.1, dampening: NaN }),
    /dampening must be a finite number, got NaN/,
  );
  p.dispose();
});

Deno.test("a NaN gradient skips a Nesterov, dampened step: weights and velocities stay", async () => {
  const params = parametersWithGrads(device, [6, 17], 41);
  const opt = new SGD([
    { params: params.slice(0, 1), lr: 0.1, formulation: "pytorch", nesterov: true },
    { params: params.slice(1), lr: 0.1, dampening: 0.5 },
  ]);
  const guard = new StepGuard(device);
  const loss = keep(tensor([1]));
  const step = () => {
    guard.begin(loss, 1);
    opt.check(guard);
    opt.step({ guard });
  };
  step();
  const before = await snapshot(opt, params);
  for (const k of [0, 1]) {
    const g = await params[k].grad!.data() as Float32Array;
    const saved = g[1];
    g[1] = NaN;
    setGrad(params[k], g);
    step();
    assert.deepEqual(await snapshot(opt, params), before, `a NaN in parameter ${k}`);
    g[1] = saved;
    setGrad(params[k], g);
  }
  step();
  assert.notDeepEqual(await snapshot(opt, params), before);
  assert.equal((await guard.read()).skipped, 2);
  loss.dispose();
  guard.dispose();
  opt.dispose();
  for (const p of params) p.dispose();
});

Deno.test("a state dict resumes Nesterov and dampening bit for bit; an old one loads", async () => {
  const groups = (params: Tensor[]) => [
    { params: params.slice(0, 2), lr: 0.02, nesterov: true, formulation: "pytorch" as const },
    { params: params.slice(2), lr: 0.05, dampening: 0.25 },
  ];
  const a = parametersWithGrads(device, [3, 17, 1], 11);
  const original = new SGD(groups(a));
  for (let i = 0; i < 2; i++) original.step();
  const host = await hostStateDict(original);
  assert.equal(host.paramGroups[0].nesterov, true);
  assert.equal(host.paramGroups[1].dampening, 0.25);
  const b = await copyParams(a);
  const resumed = new SGD(groups(b).map((g) => ({ ...g, nesterov: false, dampening: 0 })));
  await resumed.loadStateDict(host);
  assert.equal(resumed.paramGroups[0].nesterov, true);
  for (let i = 0; i < 3; i++) {
    original.step();
    resumed.step();
  }
  assert.deepEqual(await snapshot(resumed, b), await snapshot(original, a));
  // A state dict from before dampening and Nesterov: neither, as then.
  const old = new SGD(groups(b));
  const legacy = {
    ...host,
    paramGroups: host.paramGroups.map((g: Record<string, unknown>) => {
      const { dampening: _d, nesterov: _n, ...rest } = g;
      return rest;
    }),
  };
  await old.loadStateDict(legacy);
  assert.deepEqual(
    old.paramGroups.map((g) => [g.nesterov, g.dampening]),
    [[false, 0], [false, 0]],
  );
  for (const o of [original, resumed, old]) o.dispose();
  for (const p of [...a, ...b]) p.dispose();
});

Deno.test("Nesterov and dampening on two devices step as on one", async () => {
  const [left, right] = await Device.acquireMany(2, { label: "sgd", separateDevices: true });
  const sizes = [9, 1, 40];
  const one = parametersWithGrads(device, sizes, 21);
  const two = [
    ...parametersWithGrads(left, sizes.slice(0, 2), 21),
    ...parametersWithGrads(right, sizes.slice(2), 23),
  ];
  const groups = (params: Tensor[]) => [
    { params: params.slice(0, 2), lr: 0.05, nesterov: true, formulation: "pytorch" as const },
    { params: params.slice(2), lr: 0.05, dampening: 0.5 },
  ];
  const [a, b] = [new SGD(groups(one)), new SGD(groups(two))];
  for (let i = 0; i < 3; i++) {
    a.step();
    b.step();
  }
  assert.deepEqual(await snapshot(b, two), await snapshot(a, one));
  for (const o of [a, b]) o.dispose();
  for (const p of [...one, ...two]) p.dispose();
  left.destroy();
  right.destroy();
});
