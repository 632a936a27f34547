import assert from "node:assert/strict";
import { type PlateauOptions, ReduceLROnPlateau } from "../train/plateau.ts";

/** An optimiser as the scheduler sees it: learning rates only. */
function groups(lr = 0.1) {
  return { paramGroups: [{ lr }] };
}

/** Runs a metric sequence; returns the lr after each step and the steps that reduced. */
function run(options: PlateauOptions, metrics: number[], lr0 = 0.1) {
  const optimizer = { paramGroups: [{ lr: lr0 }] };
  const sched = new ReduceLROnPlateau(optimizer, options);
  const lrs: number[] = [];
  const reducedAt: number[] = [];
  metrics.forEach((m, i) => {
    const d = sched.step(m);
    assert.equal(d.lr, optimizer.paramGroups[0].lr);
    lrs.push(d.lr);
    if (d.reduced) reducedAt.push(i + 1);
  });
  return { lrs, reducedAt, sched };
}

Deno.test("ReduceLROnPlateau", async (t) => {
  await t.step("defaults match PyTorch", () => {
    const s = new ReduceLROnPlateau(groups(), { patience: 10 });
    assert.deepEqual(
      [s.mode, s.factor, s.threshold, s.thresholdMode, s.cooldown, s.minLr, s.eps],
      ["min", 0.1, 1e-4, "rel", 0, 0, 1e-8],
    );
    assert.deepEqual(s.stateDict(), {
      best: null,
      numBadEpochs: 0,
      cooldownCounter: 0,
      lastEpoch: 0,
    });
  });

  await t.step("reduces on the (patience + 1)-th bad epoch, then restarts counting", () => {
    // Epoch 1 sets best; epochs 2, 3, 4 are bad: the third bad one exceeds patience 2.
    const { reducedAt, lrs } = run({ patience: 2 }, [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(reducedAt, [4, 7]);
    assert.ok(Math.abs(lrs[3] - 0.01) < 1e-15);
    assert.ok(Math.abs(lrs[6] - 0.001) < 1e-15);
  });

  await t.step("patience 0 reduces on every bad epoch", () => {
    assert.deepEqual(run({ patience: 0 }, [1, 2, 0.5, 0.5]).reducedAt, [2, 4]);
  });

  await t.step("an improvement resets the bad-epoch count", () => {
    const { reducedAt, sched } = run({ patience: 1 }, [1, 1, 0.9, 0.95, 0.8, 0.85]);
    assert.deepEqual(reducedAt, []);
    assert.equal(sched.stateDict().numBadEpochs, 1);
    assert.equal(sched.stateDict().best, 0.8);
  });

  await t.step("relative threshold: must beat best * (1 - threshold)", () => {
    // best 1, threshold 0.1: 0.91 is not better, 0.89 is.
    const rel = { patience: 0, threshold: 0.1, thresholdMode: "rel" } as const;
    assert.deepEqual(run(rel, [1, 0.91]).reducedAt, [2]);
    assert.deepEqual(run(rel, [1, 0.89]).reducedAt, []);
    // Exactly on the boundary is not strictly better.
    const s = new ReduceLROnPlateau(groups(), rel);
    assert.equal(s.isBetter(0.9, 1), false);
    assert.equal(s.isBetter(0.8999, 1), true);
  });

  await t.step("absolute threshold: must beat best - threshold", () => {
    const abs = { patience: 0, threshold: 0.05, thresholdMode: "abs" } as const;
    // best 10: abs needs < 9.95, so 9.96 is bad and 9.94 good.
    assert.deepEqual(run(abs, [10, 9.96]).reducedAt, [2]);
    assert.deepEqual(run(abs, [10, 9.94]).reducedAt, []);
    // The same 9.94 under rel 0.05 (needs < 9.5) is bad.
    assert.deepEqual(run({ ...abs, thresholdMode: "rel" }, [10, 9.94]).reducedAt, [2]);
  });

  await t.step("max mode", () => {
    const s = new ReduceLROnPlateau(groups(), { patience: 0, mode: "max", threshold: 0.1 });
    assert.equal(s.isBetter(1.11, 1), true);
    assert.equal(s.isBetter(1.09, 1), false);
    assert.deepEqual(run({ patience: 0, mode: "max" }, [1, 2, 1.5]).reducedAt, [3]);
  });

  await t.step("cooldown: bad epochs during cooldown are ignored", () => {
    // patience 1, cooldown 2. Reduction at epoch 3; epochs 4, 5 are cooldown (bad epochs
    // reset to 0); epochs 6, 7 bad -> reduction at 7.
    const { reducedAt, sched } = run({ patience: 1, cooldown: 2 }, [1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(reducedAt, [3, 7]);
    assert.equal(sched.stateDict().cooldownCounter, 2);
    // Without cooldown the second reduction comes two epochs earlier.
    assert.deepEqual(run({ patience: 1 }, [1, 1, 1, 1, 1, 1, 1]).reducedAt, [3, 5, 7]);
  });

  await t.step("cooldown: improvements during cooldown still update best", () => {
    const { sched } = run({ patience: 0, cooldown: 3 }, [1, 1, 0.5]);
    assert.equal(sched.stateDict().best, 0.5);
    assert.equal(sched.inCooldown, true);
  });

  await t.step("min lr: clamps, then stops reducing (old - new <= eps)", () => {
    const { lrs, reducedAt } = run({ patience: 0, minLr: 0.005 }, [1, 1, 1, 1], 0.1);
    assert.deepEqual(reducedAt, [2, 3]);
    assert.ok(Math.abs(lrs[1] - 0.01) < 1e-15);
    assert.equal(lrs[2], 0.005);
    assert.equal(lrs[3], 0.005);
  });

  await t.step("eps: a reduction smaller than eps is skipped and explained", () => {
    const s = new ReduceLROnPlateau(groups(1e-8), { patience: 0, eps: 1e-8 });
    s.step(1);
    const d = s.step(1); // 1e-8 -> 1e-9 is a change of 9e-9 <= eps
    assert.equal(d.reduced, false);
    assert.equal(d.lr, 1e-8);
    assert.match(d.reason ?? "", /kept/);
    // PyTorch still resets the bad epochs and starts the cooldown.
    assert.equal(s.stateDict().numBadEpochs, 0);
  });

  await t.step("NaN metric counts as a bad epoch", () => {
    const { reducedAt, sched } = run({ patience: 1 }, [1, NaN, NaN]);
    assert.deepEqual(reducedAt, [3]);
    assert.equal(sched.stateDict().best, 1);
  });

  await t.step("reason names the metric, the values and the new lr", () => {
    const s = new ReduceLROnPlateau(groups(0.01), { patience: 1, metricName: "val top-1 error" });
    s.step(0.5);
    assert.equal(s.step(0.6).reason, undefined);
    const d = s.step(0.55);
    assert.equal(d.reduced, true);
    assert.equal(
      d.reason,
      "epoch 3: val top-1 error 0.55 has not improved on best 0.5 (relative threshold 0.0001) " +
        "for 2 epochs (patience 1); lr 0.01 -> 0.001",
    );
  });

  await t.step("state save/restore mid-way gives identical decisions", () => {
    const options: PlateauOptions = { patience: 2, cooldown: 1, threshold: 0.01, minLr: 1e-4 };
    const metrics = [0.9, 0.8, 0.8, 0.81, 0.79, 0.795, 0.8, 0.8, 0.7, 0.71, 0.72, 0.73, 0.73, 0.74];
    const reference = new ReduceLROnPlateau(groups(0.01), options);
    const refDecisions = [];
    for (const m of metrics) refDecisions.push(reference.step(m));
    assert.ok(refDecisions.some((d) => d.reduced), "sequence should exercise a reduction");

    for (let cut = 0; cut <= metrics.length; cut++) {
      const optimizer = groups(0.01);
      const first = new ReduceLROnPlateau(optimizer, options);
      const decisions = [];
      for (const m of metrics.slice(0, cut)) decisions.push(first.step(m));
      // A checkpoint holds the optimiser's learning rate and the scheduler's state.
      const saved = JSON.parse(JSON.stringify(first.stateDict()));
      const resumed = new ReduceLROnPlateau(groups(optimizer.paramGroups[0].lr), options);
      resumed.loadStateDict(saved);
      for (const m of metrics.slice(cut)) decisions.push(resumed.step(m));
      assert.deepEqual(decisions, refDecisions, `cut at ${cut}`);
      assert.deepEqual(resumed.stateDict(), reference.stateDict());
    }
  });

  await t.step("every parameter group is reduced, each clamped to minLr on its own", () => {
    const optimizer = { paramGroups: [{ lr: 0.1 }, { lr: 0.002 }] };
    const s = new ReduceLROnPlateau(optimizer, { patience: 0, minLr: 0.001 });
    s.step(1);
    assert.equal(s.step(1).reduced, true);
    assert.deepEqual(optimizer.paramGroups.map((g) => g.lr), [0.010000000000000002, 0.001]);
  });

  await t.step("minLr one a group bounds each group by its own (PyTorch's min_lr list)", () => {
    const optimizer = { paramGroups: [{ lr: 0.1 }, { lr: 0.1 }, { lr: 0.1 }] };
    const s = new ReduceLROnPlateau(optimizer, { patience: 0, minLr: [0, 0.05, 0.2] });
    assert.deepEqual(s.minLrs, [0, 0.05, 0.2]);
    s.step(1);
    assert.equal(s.step(1).reduced, true);
    // max(lr · factor, min_lrs[i]); a rise to a minimum above the rate is no reduction (PyTorch).
    assert.deepEqual(optimizer.paramGroups.map((g) => g.lr), [0.010000000000000002, 0.05, 0.1]);
    s.step(1);
    assert.deepEqual(optimizer.paramGroups.map((g) => g.lr), [0.0010000000000000002, 0.05, 0.1]);
    assert.throws(
      () => new ReduceLROnPlateau(optimizer, { patience: 0, minLr: [0, 0] }),
      /minLr: expected one value or 3 \(one a group\), got 2/,
    );
    assert.throws(() => new ReduceLROnPlateau(optimizer, { patience: 0, minLr: -1 }), RangeError);
  });

  await t.step("reset forgets best, bad epochs and cooldown", () => {
    const s = new ReduceLROnPlateau(groups(), { patience: 0, cooldown: 2 });
    s.step(1);
    s.step(1);
    s.reset();
    assert.deepEqual(s.stateDict(), {
      best: null,
      numBadEpochs: 0,
      cooldownCounter: 0,
      lastEpoch: 2,
    });
  });

  await t.step("rejects invalid options and state", () => {
    assert.throws(() => new ReduceLROnPlateau(groups(), { patience: 1, factor: 1 }), RangeError);
    assert.throws(() => new ReduceLROnPlateau(groups(), { patience: -1 }), RangeError);
    assert.throws(() => new ReduceLROnPlateau(groups(), { patience: 1.5 }), RangeError);
    const s = new ReduceLROnPlateau(groups(), { patience: 1 });
    assert.throws(
      () => s.loadStateDict({ best: 1, numBadEpochs: -1, cooldownCounter: 0, lastEpoch: 0 }),
      TypeError,
    );
  });
});
