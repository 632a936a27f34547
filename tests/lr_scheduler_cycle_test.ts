/**
 * ConstantLR, PolynomialLR, LambdaLR, MultiplicativeLR, OneCycleLR, CyclicLR and SequentialLR against
 * torch.optim.lr_scheduler's closed forms and hand-computed tables; their errors; resumption
 * from a JSON state (SequentialLR with its schedulers); OneCycleLR's momentum on SGD and on
 * Adam's β1; and OneCycleLR stepped per optimiser step by a Trainer, continuing exactly across
 * a checkpoint.
 */

import assert from "node:assert/strict";
import { defaultDevice } from "../mod.ts";
import { SGD } from "../train/sgd.ts";
import { checkpoints } from "../train/checkpoints.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import {
  ConstantLR,
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  type LRScheduler,
  MultiplicativeLR,
  PolynomialLR,
  StepLR,
} from "../train/lr_scheduler.ts";
import { OneCycleLR } from "../train/one_cycle_lr.ts";
import { CyclicLR } from "../train/cyclic_lr.ts";
import { SequentialLR } from "../train/sequential_lr.ts";
import { Trainer } from "../train/trainer.ts";
import { Mlp } from "./_mlp.ts";

/** The rates of group `g` at epochs 0..n−1 (read before each step). */
function rates(o: { paramGroups: { lr: number }[] }, sched: LRScheduler, n: number, g = 0) {
  const out: number[] = [];
  for (let e = 0; e < n; e++) {
    out.push(o.paramGroups[g].lr);
    if (e < n - 1) sched.step();
  }
  return out;
}

function assertClose(got: readonly number[], want: readonly number[], tol = 1e-12): void {
  assert.equal(got.length, want.length, `${got} vs ${want}`);
  got.forEach((g, i) => {
    assert.ok(
      Math.abs(g - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
      `step ${i}: ${g} vs ${want[i]}`,
    );
  });
}

Deno.test("ConstantLR and PolynomialLR give torch's closed forms", () => {
  const a = { paramGroups: [{ lr: 0.3 }] };
  assertClose(rates(a, new ConstantLR(a, { factor: 0.5, totalIters: 2 }), 5), [
    0.15,
    0.15,
    0.3,
    0.3,
    0.3,
  ]);
  const b = { paramGroups: [{ lr: 0.9 }] };
  // Defaults: a third for 5 epochs.
  assertClose(rates(b, new ConstantLR(b), 7), [0.3, 0.3, 0.3, 0.3, 0.3, 0.9, 0.9]);
  const z = { paramGroups: [{ lr: 0.9 }] };
  assertClose(rates(z, new ConstantLR(z, { factor: 0, totalIters: 1 }), 3), [0, 0.9, 0.9]);
  const c = { paramGroups: [{ lr: 1 }] };
  // (1 − min(e, 4)/4)²: 1, 9/16, 1/4, 1/16, 0, 0
  assertClose(rates(c, new PolynomialLR(c, { totalIters: 4, power: 2 }), 6), [
    1,
    0.5625,
    0.25,
    0.0625,
    0,
    0,
  ]);
  const d = { paramGroups: [{ lr: 2 }] };
  const half = rates(d, new PolynomialLR(d, { totalIters: 3, power: 0.5 }), 5);
  assertClose(half, [2, 2 * Math.sqrt(2 / 3), 2 * Math.sqrt(1 / 3), 0, 0]);
  assert.throws(() => new ConstantLR(a, { factor: 1.5 }), /ConstantLR: factor must be in \[0, 1\]/);
  assert.throws(() => new PolynomialLR(a, { totalIters: 0 }), /totalIters must be an integer ≥ 1/);
});

Deno.test("LambdaLR and MultiplicativeLR: one function or one a group; a bad factor is an error", () => {
  const o = { paramGroups: [{ lr: 1 }, { lr: 2 }] };
  const sched = new LambdaLR(o, { lrLambda: [(e) => 0.9 ** e, (e) => 1 / (e + 1)] });
  const got: number[][] = [];
  for (let e = 0; e < 4; e++) {
    got.push(o.paramGroups.map((g) => g.lr));
    sched.step();
  }
  assertClose(got.map((r) => r[0]), [1, 0.9, 0.81, 0.729]);
  assertClose(got.map((r) => r[1]), [2, 1, 2 / 3, 0.5]);
  // The functions are not in the state; a resumed one continues from its epoch.
  const again = { paramGroups: [{ lr: 1 }, { lr: 2 }] };
  const resumed = new LambdaLR(again, { lrLambda: [(e) => 0.9 ** e, (e) => 1 / (e + 1)] });
  const state = JSON.parse(JSON.stringify(sched.stateDict()));
  assert.deepEqual(Object.keys(state).sort(), ["baseLrs", "lastEpoch", "lastLr"]);
  resumed.loadStateDict(state);
  resumed.step();
  sched.step();
  assert.deepEqual(resumed.lastLr, sched.lastLr);

  const m = { paramGroups: [{ lr: 1 }] };
  assertClose(rates(m, new MultiplicativeLR(m, { lrLambda: (e) => 1 - 0.1 * e }), 4), [
    1,
    0.9,
    0.9 * 0.8,
    0.9 * 0.8 * 0.7,
  ]);
  assert.throws(() => new LambdaLR(o, { lrLambda: [() => 1] }), /expected one function or 2/);
  const bad = new MultiplicativeLR(m, { lrLambda: () => NaN });
  assert.throws(() => bad.step(), /MultiplicativeLR: the function gave NaN at epoch 1/);
});

/** torch's cosine annealing from `a` to `b` at `pct`, written out. */
const cos = (a: number, b: number, pct: number) => b + (a - b) / 2 * (Math.cos(Math.PI * pct) + 1);

Deno.test("OneCycleLR: two phases by a cosine, the momentum inverse, stepping past the end fails", () => {
  const o = { paramGroups: [{ lr: 0.5, momentum: 0.9 }] };
  const sched = new OneCycleLR(o, { maxLr: 1, totalSteps: 10 });
  const lrs: number[] = [];
  const momenta: number[] = [];
  for (let s = 0; s <= 10; s++) {
    lrs.push(o.paramGroups[0].lr);
    momenta.push(o.paramGroups[0].momentum);
    if (s < 10) sched.step();
  }
  // Initial 1/25, peak 1 at step 0.3·10 − 1 = 2, final 0.04/1e4 at step 9.
  const [initial, min] = [0.04, 0.04 / 1e4];
  assertClose(lrs.slice(0, 3), [initial, 0.52, 1]);
  assertClose(lrs.slice(3), [3, 4, 5, 6, 7, 8, 9, 10].map((s) => cos(1, min, (s - 2) / 7)));
  assertClose([lrs[9]], [4e-6]);
  assertClose(momenta.slice(0, 3), [0.95, 0.9, 0.85]);
  assertClose([momenta[9]], [0.95]);
  assert.equal(sched.interval, "step");
  assert.throws(() => sched.step(), /OneCycleLR: tried to step 11 times; the cycle has 10 steps/);
});

Deno.test("OneCycleLR: three phases, linear, per-group peaks, and Adam's β1", () => {
  const o = { paramGroups: [{ lr: 0, betas: [0.9, 0.999] as [number, number] }, { lr: 0 }] };
  const sched = new OneCycleLR(o, {
    maxLr: [1, 2],
    epochs: 2,
    stepsPerEpoch: 5,
    threePhase: true,
    annealStrategy: "linear",
    divFactor: 10,
    finalDivFactor: 100,
    cycleMomentum: false,
  });
  // Phases end at 2, 4, 9: up 0.1 → 1, down to 0.1, then to 0.001.
  const want = [0.1, 0.55, 1, 0.55, 0.1, 0.0802, 0.0604, 0.0406, 0.0208, 0.001];
  assertClose(rates(o, sched, 10, 1), want.map((x) => 2 * x));
  assertClose(sched.lastLr, [0.001, 0.002]);

  const adam = { paramGroups: [{ lr: 0, betas: [0.9, 0.999] as [number, number] }] };
  const cycle = new OneCycleLR(adam, { maxLr: 0.1, totalSteps: 10, threePhase: true });
  const beta1: number[] = [];
  for (let s = 0; s < 10; s++) {
    beta1.push(adam.paramGroups[0].betas[0]);
    assert.equal(adam.paramGroups[0].betas[1], 0.999);
    if (s < 9) cycle.step();
  }
  assertClose(beta1.slice(0, 5), [0.95, 0.9, 0.85, 0.9, 0.95]);
  assertClose(beta1.slice(5), [0.95, 0.95, 0.95, 0.95, 0.95]);
  assert.throws(
    () => new OneCycleLR({ paramGroups: [{ lr: 1 }] }, { maxLr: 1, totalSteps: 3 }),
    /group 0 has no momentum or betas to cycle/,
  );
  assert.throws(
    () => new OneCycleLR(o, { maxLr: 1 }),
    /give totalSteps, or epochs and stepsPerEpoch/,
  );
  assert.throws(() => new OneCycleLR(o, { maxLr: [1], totalSteps: 2 }), /expected one value or 2/);
  assert.throws(() => new OneCycleLR(o, { maxLr: 1, totalSteps: 2, pctStart: 2 }), /pctStart/);
});

Deno.test("SequentialLR: warm-up then cosine, torch's milestone restart, and a resume", () => {
  const make = () => {
    const o = { paramGroups: [{ lr: 1 }] };
    const sched = new SequentialLR(o, {
      schedulers: [
        new LinearLR(o, { startFactor: 0.25, totalIters: 3 }),
        new CosineAnnealingLR(o, { tMax: 4 }),
        new StepLR(o, { stepSize: 1, gamma: 0.5 }),
      ],
      milestones: [3, 7],
    });
    return { o, sched };
  };
  const { o, sched } = make();
  const got = rates(o, sched, 10);
  const cosine = [0, 1, 2, 3].map((e) => (1 + Math.cos(Math.PI * e / 4)) / 2);
  // At 3 the cosine starts over from the base rate; at 7 StepLR does (and halves every epoch).
  assertClose(got, [0.25, 0.5, 0.75, ...cosine, 1, 0.5, 0.25]);
  const { o: o2, sched: again } = make();
  const first = make();
  for (let e = 0; e < 5; e++) first.sched.step();
  const state = JSON.parse(JSON.stringify(first.sched.stateDict()));
  assert.equal(state.schedulers.length, 3);
  again.loadStateDict(state);
  o2.paramGroups[0].lr = first.o.paramGroups[0].lr; // the optimiser's state dict carries it
  const rest = [6, 7, 8, 9].map(() => {
    again.step();
    return o2.paramGroups[0].lr;
  });
  assertClose(rest, got.slice(6));
  assert.throws(
    () =>
      new SequentialLR(o, { schedulers: [new ExponentialLR(o, { gamma: 1 })], milestones: [2] }),
    /1 schedulers need 0 milestones, got 1/,
  );
  const other = { paramGroups: [{ lr: 1 }] };
  assert.throws(
    () =>
      new SequentialLR(o, {
        schedulers: [new ExponentialLR(o, { gamma: 1 }), new ExponentialLR(other, { gamma: 1 })],
        milestones: [2],
      }),
    /scheduler 1 belongs to another optimiser/,
  );
});

Deno.test("OneCycleLR steps every optimiser step in a Trainer and resumes exactly", async () => {
  await defaultDevice();
  const { train: trainData } = syntheticSplits({
    trainSize: 32,
    valSize: 8,
    size: 8,
    classes: 4,
    seed: 3,
  });
  const runDir = await Deno.makeTempDir({ prefix: "one_cycle_" });
  const run = async (epochs: number, resume: boolean, dir?: string) => {
    const model = new Mlp(resume ? 99 : 4, 4);
    const optimizer = SGD.forModule(model, { lr: 0.1, formulation: "pytorch", nesterov: true });
    const cycle = new OneCycleLR(optimizer, { maxLr: 0.05, epochs: 4, stepsPerEpoch: 2 });
    const trainer = new Trainer({
      model,
      optimizer,
      trainData,
      epochs,
      batchSize: 16,
      callbacks: [cycle, ...(dir ? [checkpoints({ runDir: dir, resume })] : [])],
    });
    const r = await trainer.run();
    trainer.dispose();
    optimizer.dispose();
    const weights = await Promise.all(
      model.parameters().map(async (p) => Array.from(await p.data())),
    );
    return { lrs: r.rows.map((row) => row.lr), step: cycle.lastEpoch, weights };
  };
  const whole = await run(4, false);
  assert.equal(whole.step, 8);
  // The row's rate is the one after the epoch's last step: steps 2, 4, 6, 8 of 8.
  const [initial, min] = [0.05 / 25, 0.05 / 25 / 1e4];
  const at = (s: number) =>
    s <= 1.4 ? cos(initial, 0.05, s / 1.4) : cos(0.05, min, (s - 1.4) / 5.6);
  assertClose(whole.lrs, [2, 4, 6, 8].map(at));
  await run(2, false, runDir);
  const resumed = await run(4, true, runDir);
  assert.deepEqual(resumed.lrs, whole.lrs);
  assert.deepEqual(resumed.weights, whole.weights);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("CyclicLR: triangular, triangular2, expRange, uneven sides, a function; momentum; resume", () => {
  const o = { paramGroups: [{ lr: 0, momentum: 0.5 }] };
  const tri = new CyclicLR(o, { baseLr: 0.1, maxLr: 0.5, stepSizeUp: 2 });
  const momenta: number[] = [];
  const lrs = [];
  for (let s = 0; s < 6; s++) {
    lrs.push(o.paramGroups[0].lr);
    momenta.push(o.paramGroups[0].momentum);
    tri.step();
  }
  assertClose(lrs, [0.1, 0.3, 0.5, 0.3, 0.1, 0.3]);
  assertClose(momenta, [0.9, 0.85, 0.8, 0.85, 0.9, 0.85]);
  const halves = { paramGroups: [{ lr: 0, momentum: 0 }] };
  const tri2 = new CyclicLR(halves, {
    baseLr: 0.1,
    maxLr: 0.5,
    stepSizeUp: 2,
    mode: "triangular2",
  });
  assertClose(rates(halves, tri2, 9), [0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1]);
  const exp = { paramGroups: [{ lr: 0, momentum: 0 }] };
  const sched = new CyclicLR(exp, {
    baseLr: 0.1,
    maxLr: 0.5,
    stepSizeUp: 2,
    mode: "expRange",
    gamma: 0.5,
  });
  assertClose(rates(exp, sched, 4), [0.1, 0.2, 0.2, 0.125]);
  // Three steps up, one down: the rise's part of the cycle is 3/4.
  const uneven = { paramGroups: [{ lr: 0, betas: [0.9, 0.99] as [number, number] }] };
  const u = new CyclicLR(uneven, { baseLr: 0, maxLr: 3, stepSizeUp: 3, stepSizeDown: 1 });
  assertClose(rates(uneven, u, 6), [0, 1, 2, 3, 0, 1]);
  assertClose([uneven.paramGroups[0].betas[0]], [0.9 - 0.1 / 3]);
  assert.equal(uneven.paramGroups[0].betas[1], 0.99);
  const own = { paramGroups: [{ lr: 0 }] };
  const f = new CyclicLR(own, {
    baseLr: 0,
    maxLr: 1,
    stepSizeUp: 1,
    scaleFn: (x) => 1 / (x + 1),
    scaleMode: "iterations",
    cycleMomentum: false,
  });
  assertClose(rates(own, f, 4), [0, 0.5, 0, 0.25]);
  // A resume from the JSON state continues the cycle.
  const again = { paramGroups: [{ lr: 0, momentum: 0 }] };
  const resumed = new CyclicLR(again, {
    baseLr: 0.1,
    maxLr: 0.5,
    stepSizeUp: 2,
    mode: "triangular2",
  });
  resumed.loadStateDict(JSON.parse(JSON.stringify(tri2.stateDict())));
  resumed.step();
  tri2.step();
  assert.deepEqual(resumed.lastLr, tri2.lastLr);
  assert.throws(
    () => new CyclicLR(own, { baseLr: 0, maxLr: 1 }),
    /group 0 has no momentum or betas/,
  );
  assert.throws(
    () => new CyclicLR(o, { baseLr: 0, maxLr: 1, stepSizeUp: 0 }),
    /stepSizeUp must be a number > 0/,
  );
});
