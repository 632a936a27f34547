/**
 * The learning-rate schedulers against the values of torch.optim.lr_scheduler's documented
 * formulas (written out by hand below), their resumption mid-schedule from a JSON state, their
 * composition with each other and with ReduceLROnPlateau, and a schedule that continues
 * exactly across a Trainer checkpoint.
 */

import assert from "node:assert/strict";
import { defaultDevice } from "../mod.ts";
import { AdamW } from "../train/adam.ts";
import { checkpoints } from "../train/checkpoints.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import {
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  StepLR,
} from "../train/lr_scheduler.ts";
import { ReduceLROnPlateau } from "../train/plateau.ts";
import { Trainer } from "../train/trainer.ts";
import { Mlp } from "./_mlp.ts";

/** The rates of the first group at epochs 0..n−1 (read before each step). */
function rates(optimizer: { paramGroups: { lr: number }[] }, sched: LRScheduler, n: number) {
  const out: number[] = [];
  for (let e = 0; e < n; e++) {
    out.push(optimizer.paramGroups[0].lr);
    sched.step();
  }
  return out;
}

function assertClose(got: readonly number[], want: readonly number[], tol = 1e-15): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.ok(
      Math.abs(g - want[i]) <= tol * Math.max(1, Math.abs(want[i])),
      `epoch ${i}: ${g} vs ${want[i]}`,
    );
  });
}

Deno.test("StepLR, MultiStepLR and ExponentialLR give torch's rates", () => {
  const a = { paramGroups: [{ lr: 0.1 }, { lr: 1 }] };
  assertClose(rates(a, new StepLR(a, { stepSize: 3 }), 8), [
    0.1,
    0.1,
    0.1,
    0.01,
    0.01,
    0.01,
    0.001,
    0.001,
  ]);
  assertClose([a.paramGroups[1].lr], [0.01]);
  const b = { paramGroups: [{ lr: 1 }] };
  // A milestone given twice cuts twice (torch counts milestones).
  assertClose(rates(b, new MultiStepLR(b, { milestones: [4, 2, 4], gamma: 0.5 }), 6), [
    1,
    1,
    0.5,
    0.5,
    0.125,
    0.125,
  ]);
  const c = { paramGroups: [{ lr: 2 }] };
  assertClose(rates(c, new ExponentialLR(c, { gamma: 0.9 }), 4), [2, 1.8, 1.62, 1.458]);
});

Deno.test("CosineAnnealingLR follows the documented closed form over three periods", () => {
  const [base, etaMin, tMax] = [0.1, 0.01, 5];
  const o = { paramGroups: [{ lr: base }] };
  const got = rates(o, new CosineAnnealingLR(o, { tMax, etaMin }), 6 * tMax + 1);
  const closed = got.map((_, e) =>
    etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * e / tMax)) / 2
  );
  assertClose(got, closed, 1e-12);
  // Hand-computed: 0.01 + 0.09·(1 + cos(π/5))/2 and the bottom of each period.
  assertClose([got[1], got[5], got[10], got[15]], [0.09140576474687264, 0.01, 0.1, 0.01], 1e-12);
});

Deno.test("LinearLR warms up from startFactor to endFactor over totalIters epochs", () => {
  const o = { paramGroups: [{ lr: 0.05 }] };
  assertClose(
    rates(o, new LinearLR(o), 7),
    [0.05 / 3, 0.05 * 7 / 15, 0.05 * 9 / 15, 0.05 * 11 / 15, 0.05 * 13 / 15, 0.05, 0.05],
    1e-14,
  );
  const d = { paramGroups: [{ lr: 1 }] };
  assertClose(rates(d, new LinearLR(d, { startFactor: 1, endFactor: 0.5, totalIters: 2 }), 4), [
    1,
    0.75,
    0.5,
    0.5,
  ]);
  assert.throws(
    () => new LinearLR(d, { startFactor: 0 }),
    /startFactor must be in \(0, 1\], got 0/,
  );
  assert.throws(() => new StepLR(d, { stepSize: 0 }), /StepLR: stepSize must be an integer ≥ 1/);
});

Deno.test("a scheduler resumes mid-schedule from its JSON state and the group's rate", () => {
  for (
    const make of [
      (o: { paramGroups: { lr: number }[] }) =>
        new CosineAnnealingLR(o, { tMax: 4, etaMin: 0.001 }),
      (o: { paramGroups: { lr: number }[] }) =>
        new LinearLR(o, { startFactor: 0.1, totalIters: 6 }),
      (o: { paramGroups: { lr: number }[] }) => new MultiStepLR(o, { milestones: [3, 9] }),
    ]
  ) {
    const whole = { paramGroups: [{ lr: 0.1 }] };
    const expected = rates(whole, make(whole), 14);
    const first = { paramGroups: [{ lr: 0.1 }] };
    const sched = make(first);
    const head = rates(first, sched, 5);
    const saved = JSON.parse(
      JSON.stringify({ lr: first.paramGroups[0].lr, sched: sched.stateDict() }),
    );
    const second = { paramGroups: [{ lr: 0.1 }] };
    const resumed = make(second);
    second.paramGroups[0].lr = saved.lr; // what the optimiser's state dict restores
    resumed.loadStateDict(saved.sched);
    assert.deepEqual([...head, ...rates(second, resumed, 9)], expected, sched.constructor.name);
  }
  const o = { paramGroups: [{ lr: 0.1 }] };
  assert.throws(
    () => new StepLR(o, { stepSize: 2 }).loadStateDict({ lastEpoch: 1, baseLrs: [], lastLr: [] }),
    /baseLrs must be 1 finite numbers/,
  );
});

Deno.test("schedulers compose as torch's: chained factors, and plateau cuts carry through", () => {
  // Warm-up and decay stepped together multiply, as chaining two torch schedulers does.
  const o = { paramGroups: [{ lr: 1 }] };
  const warm = new LinearLR(o, { startFactor: 0.5, totalIters: 2 });
  const decay = new ExponentialLR(o, { gamma: 0.5 });
  assert.deepEqual(decay.baseLrs, [1], "both take the group's initial lr as base");
  const seen: number[] = [];
  for (let e = 0; e < 4; e++) {
    seen.push(o.paramGroups[0].lr);
    warm.step();
    decay.step();
  }
  assertClose(seen, [0.5, 0.75 * 0.5, 1 * 0.25, 1 * 0.125]);
  // A plateau cut scales the cosine schedule from there on.
  const p = { paramGroups: [{ lr: 1 }] };
  const cosine = new CosineAnnealingLR(p, { tMax: 10 });
  const plateau = new ReduceLROnPlateau(p, { patience: 0, factor: 0.1 });
  plateau.step(1);
  cosine.step();
  plateau.step(1); // no improvement: cut to a tenth
  cosine.step();
  const closed = (e: number) => (1 + Math.cos(Math.PI * e / 10)) / 2;
  assertClose([p.paramGroups[0].lr], [0.1 * closed(2)], 1e-12);
});

Deno.test("as a Trainer callback the schedule steps each epoch and resumes from a checkpoint, AdamW too", async () => {
  await defaultDevice();
  const { train: trainData } = syntheticSplits({
    trainSize: 32,
    valSize: 8,
    size: 8,
    classes: 4,
    seed: 2,
  });
  const runDir = await Deno.makeTempDir({ prefix: "lr_scheduler_" });
  const run = async (epochs: number, resume: boolean, dir?: string) => {
    const model = new Mlp(resume ? 99 : 4, 4); // a resume takes its weights from the checkpoint
    const optimizer = AdamW.forModule(model, { lr: 0.01 });
    const warmUp = new LinearLR(optimizer, { startFactor: 0.25, totalIters: 2 });
    const cosine = new CosineAnnealingLR(optimizer, { tMax: 3 });
    const trainer = new Trainer({
      model,
      optimizer,
      trainData,
      epochs,
      batchSize: 16,
      callbacks: [warmUp, cosine, ...(dir ? [checkpoints({ runDir: dir, resume })] : [])],
    });
    const r = await trainer.run();
    trainer.dispose();
    optimizer.dispose();
    const weights = await Promise.all(
      model.parameters().map(async (p) => Array.from(await p.data())),
    );
    return { lrs: r.rows.map((row) => row.lr), weights };
  };
  const { lrs: whole, weights } = await run(5, false);
  const cos = (e: number) => (1 + Math.cos(Math.PI * e / 3)) / 2;
  const warm = [0.25, 0.625, 1, 1, 1];
  assertClose(whole, warm.map((w, e) => 0.01 * w * cos(e)), 1e-12);
  await run(2, false, runDir);
  const resumed = await run(5, true, runDir);
  assert.deepEqual(resumed.lrs, whole);
  // AdamW's moments and step counts came back too: the same weights to the bit.
  assert.deepEqual(resumed.weights, weights);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("two schedulers under one name in a Trainer with checkpoints are an error", async () => {
  await defaultDevice();
  const { train: trainData } = syntheticSplits({
    trainSize: 16,
    valSize: 8,
    size: 8,
    classes: 4,
    seed: 2,
  });
  const runDir = await Deno.makeTempDir({ prefix: "lr_scheduler_" });
  const model = new Mlp(4, 4);
  const optimizer = AdamW.forModule(model, { lr: 0.01 });
  assert.equal(new StepLR(optimizer, { stepSize: 2 }).name, "StepLR");
  const trainer = new Trainer({
    model,
    optimizer,
    trainData,
    epochs: 1,
    batchSize: 16,
    callbacks: [
      new ExponentialLR(optimizer, { gamma: 0.9 }),
      new ExponentialLR(optimizer, { gamma: 0.5 }),
      checkpoints({ runDir }),
    ],
  });
  await assert.rejects(
    trainer.run(),
    /two callbacks keep their state under the name "ExponentialLR"/,
  );
  trainer.dispose();
  optimizer.dispose();
  await Deno.remove(runDir, { recursive: true });
});
