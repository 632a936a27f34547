/**
 * RMSprop and Adagrad against a float64 evaluation of torch.optim's rules: several steps with
 * random gradients, groups with their own hyperparameters (RMSprop plain, with momentum,
 * centered, both; Adagrad with learning-rate decay, weight decay and a starting accumulator),
 * odd sizes, a parameter without a gradient in some steps (its step count stays), a forced
 * split over one segment a dispatch; a NaN in any gradient changes nothing; a state dict
 * resumes bit for bit through host data; parameters on two devices step as on one; torch's
 * errors; and a small net learns through the Trainer.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, keep, StepGuard, type Tensor, tensor } from "../mod.ts";
import { Device } from "../kernels/device.ts";
import { Adagrad, type AdagradGroupOptions } from "../train/adagrad.ts";
import { RMSprop, type RmspropGroupOptions } from "../train/rmsprop.ts";
import type { Optimizer } from "../train/optimizer.ts";
import { Trainer } from "../train/trainer.ts";
import {
  assertClose,
  brightChannel,
  copyParams,
  hostStateDict,
  parametersWithGrads,
  randomArray,
  setGrad,
  snapshot,
} from "./_optim.ts";
import { Mlp } from "./_mlp.ts";

const device = await defaultDevice();

type Rms = Required<Omit<RmspropGroupOptions, "params" | "names" | "maximize">>;
type Ada = Required<Omit<AdagradGroupOptions, "params" | "names" | "maximize">>;

/** One parameter in float64: weights and torch's state. */
interface Reference {
  w: Float64Array;
  a: Float64Array; // square_avg or sum
  m: Float64Array; // grad_avg
  b: Float64Array; // momentum_buffer
  step: number;
}

function reference(w: Float32Array, initial = 0): Reference {
  const n = w.length;
  return {
    w: Float64Array.from(w),
    a: new Float64Array(n).fill(initial),
    m: new Float64Array(n),
    b: new Float64Array(n),
    step: 0,
  };
}

/** torch.optim.RMSprop (`_single_tensor_rmsprop`) in float64. */
function rmspropStep(r: Reference, g32: Float32Array, h: Rms): void {
  r.step += 1;
  for (let i = 0; i < r.w.length; i++) {
    const g = g32[i] + h.weightDecay * r.w[i];
    r.a[i] = h.alpha * r.a[i] + (1 - h.alpha) * g * g;
    let avg: number;
    if (h.centered) {
      r.m[i] += (1 - h.alpha) * (g - r.m[i]);
      avg = Math.sqrt(r.a[i] - r.m[i] * r.m[i]) + h.eps;
    } else avg = Math.sqrt(r.a[i]) + h.eps;
    if (h.momentum > 0) {
      r.b[i] = h.momentum * r.b[i] + g / avg;
      r.w[i] -= h.lr * r.b[i];
    } else r.w[i] -= h.lr * g / avg;
  }
}

/** torch.optim.Adagrad (`_single_tensor_adagrad`) in float64. */
function adagradStep(r: Reference, g32: Float32Array, h: Ada): void {
  r.step += 1;
  const clr = h.lr / (1 + (r.step - 1) * h.lrDecay);
  for (let i = 0; i < r.w.length; i++) {
    const g = g32[i] + h.weightDecay * r.w[i];
    r.a[i] += g * g;
    r.w[i] -= clr * g / (Math.sqrt(r.a[i]) + h.eps);
  }
}

const SIZES = [1, 7, 33, 1030];
const RMS_GROUPS: Rms[] = [
  { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
  { lr: 0.003, alpha: 0.9, eps: 1e-6, weightDecay: 0.05, momentum: 0.9, centered: false },
  { lr: 0.005, alpha: 0.95, eps: 1e-8, weightDecay: 0, momentum: 0, centered: true },
  { lr: 0.002, alpha: 0.8, eps: 1e-4, weightDecay: 0.01, momentum: 0.5, centered: true },
];
const ADA_GROUPS: Ada[] = [
  { lr: 0.1, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
  { lr: 0.05, lrDecay: 0.1, weightDecay: 0.01, initialAccumulatorValue: 0.5, eps: 1e-6 },
];

const CASES = [
  {
    name: "RMSprop",
    groups: RMS_GROUPS,
    make: (params: Tensor[][]) =>
      new RMSprop(RMS_GROUPS.map((h, gi) => ({ ...h, params: params[gi] }))),
    step: (r: Reference, g: Float32Array, gi: number) => rmspropStep(r, g, RMS_GROUPS[gi]),
    initial: () => 0,
    tolerance: 2e-6,
  },
  {
    name: "Adagrad",
    groups: ADA_GROUPS,
    make: (params: Tensor[][]) =>
      new Adagrad(ADA_GROUPS.map((h, gi) => ({ ...h, params: params[gi] }))),
    step: (r: Reference, g: Float32Array, gi: number) => adagradStep(r, g, ADA_GROUPS[gi]),
    initial: (gi: number) => ADA_GROUPS[gi].initialAccumulatorValue,
    tolerance: 1e-6,
  },
];

for (const c of CASES) {
  Deno.test(
    `${c.name} matches torch.optim's rule over groups, odd sizes and a parameter without a ` +
      "gradient in some steps",
    async () => {
      const params: Tensor[][] = c.groups.map((_, gi) =>
        SIZES.map((n, pi) => keep(fromTypedArray(randomArray(n, 10 * gi + pi), [n], { device })))
      );
      const opt = c.make(params);
      const refs = params.map((group, gi) =>
        group.map((p, pi) => reference(randomArray(p.size, 10 * gi + pi), c.initial(gi)))
      );
      for (let step = 0; step < 6; step++) {
        for (const [gi, group] of params.entries()) {
          for (const [pi, p] of group.entries()) {
            const skipped = pi === 1 && step % 2 === 1;
            const g = skipped ? undefined : randomArray(p.size, 1000 * step + 10 * gi + pi, 2);
            setGrad(p, g);
            if (g) c.step(refs[gi][pi], g, gi);
          }
        }
        opt.step();
      }
      for (const [gi, group] of params.entries()) {
        for (const [pi, p] of group.entries()) {
          assertClose(await p.data(), refs[gi][pi].w, c.tolerance, `group ${gi} param ${pi}`);
        }
      }
      const state = await opt.stateDict();
      assert.deepEqual(await state.state["group0.param1.step"].toArray(), [3]);
      assert.deepEqual(await state.state["group1.param0.step"].toArray(), [6]);
      const first = c.name === "RMSprop" ? "square_avg" : "sum";
      assertClose(await state.state[`group1.param3.${first}`].data(), refs[1][3].a, 2e-6, first);
      if (c.name === "RMSprop") {
        assert.deepEqual(
          Object.keys(state.state).filter((k) => k.startsWith("group3.param0.")).sort(),
          ["grad_avg", "momentum_buffer", "square_avg", "step"].map((k) => `group3.param0.${k}`),
        );
        assert.ok(!("group0.param0.momentum_buffer" in state.state));
        assertClose(await state.state["group3.param2.grad_avg"].data(), refs[3][2].m, 2e-6, "ḡ");
      }
      for (const t of Object.values(state.state)) t.dispose();
      opt.dispose();
      for (const p of params.flat()) p.dispose();
    },
  );
}

/** Both optimisers over `params` in two groups of a kind each. */
const MAKERS: [string, (params: Tensor[]) => Optimizer][] = [
  ["RMSprop", (params) =>
    new RMSprop([
      { params: params.slice(0, 2), lr: 0.01, momentum: 0.9, centered: true, weightDecay: 0.1 },
      { params: params.slice(2), lr: 0.02 },
    ])],
  ["Adagrad", (params) =>
    new Adagrad([
      { params: params.slice(0, 2), lr: 0.1, lrDecay: 0.05, initialAccumulatorValue: 0.1 },
      { params: params.slice(2), lr: 0.02, weightDecay: 0.01 },
    ])],
];

for (const [name, make] of MAKERS) {
  Deno.test(`${name}: a NaN in any one gradient leaves every weight, state and step count`, async () => {
    const params = parametersWithGrads(device, [5, 33, 1], 7);
    const opt = make(params);
    const guard = new StepGuard(device);
    const loss = keep(tensor([1]));
    const step = () => {
      guard.begin(loss, 1);
      opt.step({ guard });
    };
    step();
    const before = await snapshot(opt, params);
    for (const [k, p] of params.entries()) {
      const g = await p.grad!.data() as Float32Array;
      const saved = g[0];
      g[0] = k === 1 ? Infinity : NaN;
      setGrad(p, g);
      step();
      assert.deepEqual(await snapshot(opt, params), before, `a bad gradient of parameter ${k}`);
      g[0] = saved;
      setGrad(p, g);
    }
    step();
    assert.deepEqual((await snapshot(opt, params))["group1.param0.step"], [2]);
    assert.equal((await guard.read()).skipped, params.length);
    loss.dispose();
    guard.dispose();
    opt.dispose();
    for (const p of params) p.dispose();
  });

  Deno.test(`${name}: a state dict resumes bit for bit through host data`, async () => {
    const a = parametersWithGrads(device, [3, 17, 1], 11);
    const original = make(a);
    for (let i = 0; i < 3; i++) original.step();
    const host = await hostStateDict(original);
    const b = await copyParams(a);
    const resumed = make(b);
    for (const g of resumed.paramGroups) g.lr = 1;
    await resumed.loadStateDict(host);
    assert.equal(resumed.paramGroups[1].lr, original.paramGroups[1].lr);
    for (let i = 0; i < 3; i++) {
      original.step();
      resumed.step();
    }
    assert.deepEqual(await snapshot(resumed, b), await snapshot(original, a));
    await assert.rejects(
      resumed.loadStateDict({
        ...host,
        state: { "group0.param0.step": host.state["group0.param0.step"] },
      }),
      /the state of group0.param0 is incomplete/,
    );
    const adam = {
      ...host,
      paramGroups: host.paramGroups.map((g: object) => ({
        names: (g as { names: string[] }).names,
        lr: 1,
      })),
    };
    await assert.rejects(resumed.loadStateDict(adam), new RegExp(`not the state of ${name}`));
    for (const o of [original, resumed]) o.dispose();
    for (const p of [...a, ...b]) p.dispose();
  });

  Deno.test(`${name}: parameters on two devices step as on one`, async () => {
    const [left, right] = await Device.acquireMany(2, { label: name, separateDevices: true });
    const sizes = [9, 1, 40];
    const one = parametersWithGrads(device, sizes, 21);
    const two = [
      ...parametersWithGrads(left, sizes.slice(0, 2), 21),
      ...parametersWithGrads(right, sizes.slice(2), 23),
    ];
    const [x, y] = [make(one), make(two)];
    for (let i = 0; i < 3; i++) {
      x.step();
      y.step();
    }
    assert.deepEqual(await snapshot(y, two), await snapshot(x, one));
    for (const o of [x, y]) o.dispose();
    for (const p of [...one, ...two]) p.dispose();
    left.destroy();
    right.destroy();
  });
}

Deno.test("RMSprop and Adagrad give torch's one-line errors", () => {
  const p = keep(tensor([1, 2]));
  assert.throws(
    () => new RMSprop({ params: [p], alpha: -0.1 }),
    /RMSprop: group 0: alpha must be a finite number ≥ 0/,
  );
  assert.throws(
    () => new RMSprop({ params: [p], momentum: NaN }),
    /momentum must be a finite number/,
  );
  assert.throws(
    () => new Adagrad({ params: [p], lrDecay: -1 }),
    /Adagrad: group 0: lrDecay must be/,
  );
  assert.throws(
    () => new Adagrad({ params: [p], initialAccumulatorValue: -1 }),
    /initialAccumulatorValue must be a finite number ≥ 0/,
  );
  assert.equal(new RMSprop({ params: [p] }).paramGroups[0].alpha, 0.99);
  assert.equal(new Adagrad({ params: [p] }).paramGroups[0].eps, 1e-10);
  p.dispose();
});

Deno.test("a small net learns with RMSprop and with Adagrad through the Trainer", async () => {
  const trainData = brightChannel(64, 1);
  for (
    const make of [
      (m: Mlp) => RMSprop.forModule(m, { lr: 1e-2 }),
      (m: Mlp) => Adagrad.forModule(m, { lr: 0.05 }),
    ]
  ) {
    const model = new Mlp(4, 3, 16);
    const optimizer = make(model);
    const trainer = new Trainer({ model, optimizer, trainData, epochs: 4, batchSize: 16 });
    const r = await trainer.run();
    trainer.dispose();
    optimizer.dispose();
    const losses = r.rows.map((row) => row.trainLoss);
    assert.ok(losses[3] < 0.7 * losses[0], `${optimizer.constructor.name}: ${losses.join(", ")}`);
  }
});
