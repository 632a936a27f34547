/**
 * Adam and AdamW against a float64 evaluation of torch.optim's update rule: several steps with
 * random gradients, L2 and decoupled weight decay, AMSGrad, groups with their own learning
 * rates, a parameter without a gradient in some steps (its step count stays), odd sizes and a
 * forced split over several dispatches; a NaN in any gradient leaves every weight, moment and
 * step count as it was; a state dict resumes exactly; parameters on two devices; and a small
 * net learns with AdamW through the Trainer.
 */

import assert from "node:assert/strict";
import {
  crossEntropy,
  defaultDevice,
  fromTypedArray,
  keep,
  StepGuard,
  type Tensor,
  tensor,
} from "../mod.ts";
import { Device } from "../kernels/device.ts";
import { adamUpdateAll, type AdamUpdateOptions } from "../kernels/adam.ts";
import { Adam, type AdamGroupOptions, AdamW } from "../train/adam.ts";
import { SGD } from "../train/sgd.ts";
import { Trainer } from "../train/trainer.ts";
import { Mlp } from "./_mlp.ts";
import { brightChannel, parametersWithGrads, randomArray, setGrad, snapshot } from "./_optim.ts";

const device = await defaultDevice();

/** One parameter's state in float64, as torch.optim keeps it. */
interface Reference {
  w: Float64Array;
  m: Float64Array;
  v: Float64Array;
  vmax: Float64Array;
  step: number;
}

/** torch.optim.Adam / AdamW's update in float64 (`_single_tensor_adam`). */
function referenceStep(
  r: Reference,
  g32: Float32Array,
  h: Required<Omit<AdamGroupOptions, "params" | "names" | "maximize">>,
  decoupled: boolean,
): void {
  r.step += 1;
  const [b1, b2] = h.betas;
  const bc1 = 1 - b1 ** r.step, bc2 = 1 - b2 ** r.step;
  for (let i = 0; i < r.w.length; i++) {
    let g = g32[i];
    if (decoupled) r.w[i] *= 1 - h.lr * h.weightDecay;
    else g += h.weightDecay * r.w[i];
    r.m[i] += (1 - b1) * (g - r.m[i]);
    r.v[i] = b2 * r.v[i] + (1 - b2) * g * g;
    r.vmax[i] = Math.max(r.vmax[i], r.v[i]);
    const second = h.amsgrad ? r.vmax[i] : r.v[i];
    const denom = Math.sqrt(second) / Math.sqrt(bc2) + h.eps;
    r.w[i] -= (h.lr / bc1) * (r.m[i] / denom);
  }
}

const SIZES = [1, 7, 33, 1030];
const GROUPS = [
  { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false },
  { lr: 0.003, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.05, amsgrad: true },
  { lr: 0.03, betas: [0, 0.9], eps: 1e-8, weightDecay: 0.01, amsgrad: false },
] as const;

for (const [name, Kind, decoupled] of [["Adam", Adam, false], ["AdamW", AdamW, true]] as const) {
  {
    Deno.test(
      `${name} matches torch.optim's rule over groups, AMSGrad, weight decay and a parameter ` +
        "without a gradient in some steps",
      async () => {
        const params: Tensor[][] = GROUPS.map((_, gi) =>
          SIZES.map((n, pi) => keep(fromTypedArray(randomArray(n, 100 * gi + pi), [n], { device })))
        );
        const opt = new Kind(GROUPS.map((h, gi) => ({ ...h, params: params[gi] })));
        const refs: Reference[][] = params.map((group, gi) =>
          group.map((p, pi) => ({
            w: Float64Array.from(randomArray(p.size, 100 * gi + pi)),
            m: new Float64Array(p.size),
            v: new Float64Array(p.size),
            vmax: new Float64Array(p.size),
            step: 0,
          }))
        );
        for (let step = 0; step < 6; step++) {
          for (const [gi, group] of params.entries()) {
            for (const [pi, p] of group.entries()) {
              // The second parameter of each group has no gradient on odd steps.
              const skipped = pi === 1 && step % 2 === 1;
              const g = skipped ? undefined : randomArray(p.size, 1000 * step + 10 * gi + pi, 2);
              setGrad(p, g);
              if (g) referenceStep(refs[gi][pi], g, GROUPS[gi] as never, decoupled);
            }
          }
          opt.step();
        }
        for (const [gi, group] of params.entries()) {
          for (const [pi, p] of group.entries()) {
            const got = await p.data() as Float32Array;
            const want = refs[gi][pi].w;
            for (let i = 0; i < got.length; i++) {
              assert.ok(
                Math.abs(got[i] - want[i]) <= 3e-7 + 3e-7 * Math.abs(want[i]),
                `${name} group ${gi} param ${pi} [${i}]: ${got[i]} vs ${want[i]}`,
              );
            }
          }
        }
        const state = await opt.stateDict();
        assert.deepEqual(await state.state["group0.param1.step"].toArray(), [3]);
        assert.deepEqual(await state.state["group0.param0.step"].toArray(), [6]);
        assert.ok("group1.param0.max_exp_avg_sq" in state.state);
        assert.ok(!("group0.param0.max_exp_avg_sq" in state.state));
        const m = await state.state["group2.param3.exp_avg"].data() as Float32Array;
        const v = await state.state["group2.param3.exp_avg_sq"].data() as Float32Array;
        for (let i = 0; i < m.length; i += 97) {
          assert.ok(Math.abs(m[i] - refs[2][3].m[i]) < 1e-6 * (1 + Math.abs(refs[2][3].m[i])));
          assert.ok(Math.abs(v[i] - refs[2][3].v[i]) < 1e-6 * (1 + Math.abs(refs[2][3].v[i])));
        }
        for (const t of Object.values(state.state)) t.dispose();
        opt.dispose();
        for (const p of params.flat()) p.dispose();
      },
    );
  }
}

Deno.test("a NaN in any one gradient leaves every weight, moment and step count as it was", async () => {
  const params = parametersWithGrads(device, [5, 33, 1], 7);
  const opt = new AdamW([
    { params: params.slice(0, 2), lr: 0.01, amsgrad: true },
    { params: params.slice(2), lr: 0.1 },
  ]);
  const guard = new StepGuard(device);
  const loss = keep(tensor([1]));
  const step = () => {
    guard.begin(loss, 1);
    opt.step({ guard });
  };
  step();
  const before = await snapshot(opt, params);
  assert.deepEqual(before["group0.param0.step"], [1]);
  for (const [k, p] of params.entries()) {
    const g = await p.grad!.data() as Float32Array;
    const saved = g[k % p.size];
    g[k % p.size] = k === 1 ? Infinity : NaN;
    setGrad(p, g);
    step();
    assert.deepEqual(await snapshot(opt, params), before, `a bad gradient of parameter ${k}`);
    g[k % p.size] = saved;
    setGrad(p, g);
  }
  step();
  assert.deepEqual((await snapshot(opt, params))["group1.param0.step"], [2]);
  const s = await guard.read();
  assert.deepEqual([s.steps, s.skipped], [2, params.length]);
  loss.dispose();
  guard.dispose();
  opt.dispose();
  for (const p of params) p.dispose();
});

Deno.test("a state dict taken mid-run resumes exactly, through host data too", async () => {
  const sizes = [3, 17, 1];
  const groups = (params: Tensor[]) => [
    { params: params.slice(0, 2), lr: 0.02, weightDecay: 0.1, amsgrad: true },
    { params: params.slice(2), lr: 0.005, betas: [0.5, 0.9] as [number, number] },
  ];
  const a = parametersWithGrads(device, sizes, 11);
  const original = new Adam(groups(a));
  for (let i = 0; i < 3; i++) original.step();
  const dict = await original.stateDict();
  // Through host data, as a checkpoint holds it, and JSON for the rest.
  const host = {
    ...JSON.parse(JSON.stringify({ ...dict, state: {} })),
    state: Object.fromEntries(
      await Promise.all(
        Object.entries(dict.state).map(async ([k, t]) =>
          [k, { shape: t.shape, data: await t.data() as Float32Array }] as const
        ),
      ),
    ),
  };
  for (const t of Object.values(dict.state)) t.dispose();
  const b: Tensor[] = [];
  for (const p of a) {
    const copy = keep(fromTypedArray(await p.data() as Float32Array, [p.size], { device }));
    setGrad(copy, await p.grad!.data() as Float32Array);
    b.push(copy);
  }
  const resumed = new Adam(groups(b).map((g) => ({ ...g, lr: 1, amsgrad: false })));
  await resumed.loadStateDict(host);
  assert.equal(resumed.paramGroups[0].lr, 0.02);
  assert.equal(resumed.paramGroups[0].amsgrad, true);
  assert.equal(resumed.steps, 3);
  for (let i = 0; i < 3; i++) {
    original.step();
    resumed.step();
  }
  const [x, y] = [await snapshot(original, a), await snapshot(resumed, b)];
  assert.deepEqual(y, Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v])));
  await assert.rejects(
    resumed.loadStateDict({
      ...host,
      state: { "group0.param0.exp_avg": host.state["group0.param0.exp_avg"] },
    }),
    /the state of group0.param0 is incomplete/,
  );
  await assert.rejects(
    resumed.loadStateDict({
      ...host,
      state: { "nope.exp_avg": host.state["group0.param0.exp_avg"] },
    }),
    /unknown parameter nope.exp_avg/,
  );
  const sgdState = {
    version: 1,
    steps: 1,
    paramGroups: groups(b).map((g, gi) => ({
      names: [0, 1].slice(0, g.params.length).map((pi) => `group${gi}.param${pi}`),
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 0,
      formulation: "paper",
    })),
    state: {},
  };
  await assert.rejects(
    resumed.loadStateDict(sgdState),
    /group 0 has no betas, eps, amsgrad: not the state of Adam or AdamW/,
  );
  await assert.rejects(
    new SGD(groups(b).map((g) => ({ params: g.params, lr: 0.1 }))).loadStateDict(host),
    /SGD.loadStateDict: group 0 has no momentum, formulation: not the state of SGD/,
  );
  assert.deepEqual(await snapshot(resumed, b), y, "a rejected state changed nothing");
  for (const o of [original, resumed]) o.dispose();
  for (const p of [...a, ...b]) p.dispose();
});

Deno.test("parameters on two devices step as on one, each device with its own step counts", async () => {
  const [left, right] = await Device.acquireMany(2, { label: "adam", separateDevices: true });
  const sizes = [9, 1, 40];
  const one = parametersWithGrads(device, sizes, 21);
  const two = [
    ...parametersWithGrads(left, sizes.slice(0, 2), 21),
    ...parametersWithGrads(right, sizes.slice(2), 23),
  ];
  const groups = (params: Tensor[]) => ({ params, lr: 0.05, amsgrad: true });
  const [a, b] = [new AdamW(groups(one)), new AdamW(groups(two))];
  for (let i = 0; i < 3; i++) {
    if (i === 1) setGrad(two[0], null as never);
    if (i === 1) setGrad(one[0], null as never);
    a.step();
    b.step();
  }
  assert.deepEqual(await snapshot(b, two), await snapshot(a, one));
  for (const o of [a, b]) o.dispose();
  for (const p of [...one, ...two]) p.dispose();
  left.destroy();
  right.destroy();
});

Deno.test("AdamW parameter checks give one-line errors", () => {
  const p = keep(tensor([1, 2]));
  assert.throws(
    () => new AdamW({ params: [p], betas: [1, 0.9] }),
    /beta1 must be in \[0, 1\), got 1/,
  );
  assert.throws(
    () => new Adam({ params: [p], lr: -1 }),
    /Adam: group 0: lr must be a finite number/,
  );
  assert.throws(() => new Adam([{ params: [p] }, { params: [p] }]), /in two groups/);
  assert.equal(new AdamW({ params: [p] }).paramGroups[0].weightDecay, 0.01);
  assert.equal(new Adam({ params: [p] }).paramGroups[0].weightDecay, 0);
  p.dispose();
});

Deno.test("a small net learns with AdamW through the Trainer", async () => {
  const [trainData, valData] = [brightChannel(64, 1), brightChannel(16, 2)];
  const model = new Mlp(4, 3, 16);
  const optimizer = AdamW.forModule(model, { lr: 1e-2 });
  const trainer = new Trainer({
    model,
    optimizer,
    loss: crossEntropy,
    trainData,
    valData,
    epochs: 4,
    batchSize: 16,
  });
  const r = await trainer.run();
  trainer.dispose();
  const losses = r.rows.map((row) => row.trainLoss);
  assert.ok(losses[3] < 0.5 * losses[0], `the loss fell: ${losses.join(", ")}`);
  assert.equal(r.rows.reduce((n, row) => n + row.skippedSteps, 0), 0);
  const state = await optimizer.stateDict();
  assert.deepEqual(await state.state["net.1.weight.step"].toArray(), [r.step]);
  for (const t of Object.values(state.state)) t.dispose();
  optimizer.dispose();
});

Deno.test("binding windows and one segment a dispatch give the same bits as one dispatch", async () => {
  const sizes = [1, 7, 33, 1030];
  const hyperparameters = {
    lr: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0.01,
    decoupled: true,
    amsgrad: true,
  };
  const run = async (options: AdamUpdateOptions): Promise<number[][]> => {
    const buffers = sizes.map((n, k) => {
      const [weight, expAvg, expAvgSq, maxExpAvgSq, grad] = [0, 1, 2, 3, 4].map(() =>
        device.alloc(Math.ceil(n / 4) * 16)
      );
      device.write(weight, randomArray(n, k));
      for (const b of [expAvg, expAvgSq, maxExpAvgSq]) device.write(b, new Float32Array(n));
      device.write(grad, randomArray(n, 10 + k));
      return { weight, expAvg, expAvgSq, maxExpAvgSq, grad, n, stepSlot: k, hyperparameters };
    });
    const steps = device.alloc(16);
    device.write(steps, new Float32Array(4));
    for (let i = 0; i < 3; i++) adamUpdateAll(device, buffers, steps, options);
    const out: number[][] = [Array.from(new Float32Array(await device.read(steps, 0, 16)))];
    for (const b of buffers) {
      for (const buffer of [b.weight, b.expAvg, b.expAvgSq, b.maxExpAvgSq]) {
        out.push(Array.from(new Float32Array(await device.read(buffer, 0, b.n * 4))));
      }
    }
    return out;
  };
  const whole = await run({ segmentsPerDispatch: 64 });
  assert.deepEqual(whole[0], [3, 3, 3, 3]);
  const alignment = device.limits.minStorageBufferOffsetAlignment;
  assert.deepEqual(await run({ segmentsPerDispatch: 1 }), whole);
  assert.deepEqual(await run({ maxBindingBytes: Math.max(alignment, 256) }), whole);
});

Deno.test("a NaN on one of two devices skips the step on both, as the Trainer drives it", async () => {
  const [left, right] = await Device.acquireMany(2, { label: "guard", separateDevices: true });
  const params = [
    ...parametersWithGrads(left, [6, 1], 31),
    ...parametersWithGrads(right, [17], 33),
  ];
  const opt = new Adam({ params, lr: 0.01, weightDecay: 0.1 });
  const guard = new StepGuard(left);
  const loss = keep(tensor([1], { device: left }));
  const step = async () => {
    guard.begin(loss, 1);
    opt.check(guard);
    await guard.settle();
    opt.step({ guard });
  };
  await step();
  const before = await snapshot(opt, params);
  for (const k of [0, 2]) {
    const g = await params[k].grad!.data() as Float32Array;
    const saved = g[0];
    g[0] = NaN;
    setGrad(params[k], g);
    await step();
    assert.deepEqual(await snapshot(opt, params), before, `a NaN in parameter ${k}`);
    g[0] = saved;
    setGrad(params[k], g);
  }
  await step();
  assert.deepEqual((await snapshot(opt, params))["group0.param2.step"], [2]);
  assert.deepEqual((await guard.read()).skipped, 2);
  loss.dispose();
  guard.dispose();
  opt.dispose();
  for (const p of params) p.dispose();
  left.destroy();
  right.destroy();
});
