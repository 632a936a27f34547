/**
 * CosineAnnealingWarmRestarts against a line-by-line transcription of PyTorch's
 * `CosineAnnealingWarmRestarts.step` (integer and fractional epochs, T_mult 1 and more),
 * its resume from a JSON state mid-period, and its restart under SequentialLR.
 */
import assert from "node:assert/strict";
import { CosineAnnealingWarmRestarts } from "../train/cosine_annealing_warm_restarts.ts";
import { LinearLR } from "../train/lr_scheduler.ts";
import { SequentialLR } from "../train/sequential_lr.ts";

/** PyTorch's scheduler, transcribed: `step()` and `step(epoch)`, one group. */
class TorchReference {
  tI: number;
  tCur = -1;
  lastEpoch = -1;
  lr = 0;
  constructor(
    readonly base: number,
    readonly t0: number,
    readonly mult: number,
    readonly etaMin: number,
  ) {
    this.tI = t0;
    this.step(); // _initial_step
  }
  step(epoch?: number): void {
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
      this.tCur = this.tCur + 1;
      if (this.tCur >= this.tI) {
        this.tCur = this.tCur - this.tI;
        this.tI = this.tI * this.mult;
      }
    } else if (epoch >= this.t0) {
      if (this.mult === 1) this.tCur = epoch % this.t0;
      else {
        const n = Math.trunc(Math.log(epoch / this.t0 * (this.mult - 1) + 1) / Math.log(this.mult));
        this.tCur = epoch - this.t0 * (this.mult ** n - 1) / (this.mult - 1);
        this.tI = this.t0 * this.mult ** n;
      }
    } else {
      this.tI = this.t0;
      this.tCur = epoch;
    }
    this.lastEpoch = Math.floor(epoch);
    this.lr = this.etaMin +
      (this.base - this.etaMin) * (1 + Math.cos(Math.PI * this.tCur / this.tI)) / 2;
  }
}

function assertClose(got: number, want: number, what: string): void {
  assert.ok(
    Math.abs(got - want) <= 1e-15 * Math.max(1, Math.abs(want)),
    `${what}: ${got} vs ${want}`,
  );
}

Deno.test("CosineAnnealingWarmRestarts matches PyTorch's steps for 80 epochs", () => {
  for (
    const [t0, tMult, etaMin] of [[1, 1, 0], [3, 1, 0.001], [2, 2, 0], [3, 3, 0.01], [5, 2, 0.002]]
  ) {
    const optimizer = { paramGroups: [{ lr: 0.1 }, { lr: 0.4 }] };
    const sched = new CosineAnnealingWarmRestarts(optimizer, { t0, tMult, etaMin });
    const refs = [
      new TorchReference(0.1, t0, tMult, etaMin),
      new TorchReference(0.4, t0, tMult, etaMin),
    ];
    for (let e = 0; e < 80; e++) {
      refs.forEach((r, g) =>
        assertClose(optimizer.paramGroups[g].lr, r.lr, `T_0 ${t0} T_mult ${tMult} epoch ${e}`)
      );
      assert.equal(sched.tCur, refs[0].tCur);
      assert.equal(sched.tI, refs[0].tI);
      sched.step();
      refs.forEach((r) => r.step());
    }
  }
});

Deno.test("CosineAnnealingWarmRestarts takes fractional epochs as PyTorch's step(epoch)", () => {
  for (const [t0, tMult] of [[4, 1], [2, 2], [3, 3]]) {
    const optimizer = { paramGroups: [{ lr: 1 }] };
    const sched = new CosineAnnealingWarmRestarts(optimizer, { t0, tMult, etaMin: 0.05 });
    const ref = new TorchReference(1, t0, tMult, 0.05);
    // The documented use: step(epoch + i / iters) inside each epoch, then plain steps.
    for (let epoch = 0; epoch < 20; epoch++) {
      for (let i = 0; i < 5; i++) {
        sched.stepTo(epoch + i / 5);
        ref.step(epoch + i / 5);
        assertClose(optimizer.paramGroups[0].lr, ref.lr, `T_0 ${t0} epoch ${epoch + i / 5}`);
        assert.equal(sched.lastEpoch, ref.lastEpoch);
      }
    }
    for (let k = 0; k < 10; k++) {
      sched.step();
      ref.step();
      assertClose(optimizer.paramGroups[0].lr, ref.lr, `step ${k} after stepTo`);
    }
  }
  const sched = new CosineAnnealingWarmRestarts({ paramGroups: [{ lr: 1 }] }, { t0: 2 });
  assert.throws(() => sched.stepTo(-1), /epoch must be a finite number ≥ 0, got -1/);
  assert.throws(
    () => new CosineAnnealingWarmRestarts({ paramGroups: [{ lr: 1 }] }, { t0: 2, tMult: 1.5 }),
    /tMult must be an integer ≥ 1, got 1.5/,
  );
  assert.throws(
    () => new CosineAnnealingWarmRestarts({ paramGroups: [{ lr: 1 }] }, { t0: 0 }),
    /t0 must be an integer ≥ 1, got 0/,
  );
});

Deno.test("CosineAnnealingWarmRestarts resumes mid-period from its JSON state", () => {
  const make = (o: { paramGroups: { lr: number }[] }) =>
    new CosineAnnealingWarmRestarts(o, { t0: 2, tMult: 2, etaMin: 0.001 });
  const a = { paramGroups: [{ lr: 0.1 }] };
  const reference = make(a);
  const want: number[] = [];
  for (let e = 0; e < 20; e++) {
    reference.step();
    want.push(a.paramGroups[0].lr);
  }
  for (const cut of [3, 4, 9]) {
    const b = { paramGroups: [{ lr: 0.1 }] };
    const first = make(b);
    for (let e = 0; e < cut; e++) first.step();
    const saved = JSON.parse(JSON.stringify(first.stateDict()));
    const c = { paramGroups: [{ lr: b.paramGroups[0].lr }] };
    const resumed = make(c);
    resumed.loadStateDict(saved);
    for (let e = cut; e < 20; e++) {
      resumed.step();
      assertClose(c.paramGroups[0].lr, want[e], `cut ${cut} epoch ${e}`);
    }
  }
});

Deno.test("CosineAnnealingWarmRestarts after a warm-up in SequentialLR starts its first period", () => {
  const o = { paramGroups: [{ lr: 1 }] };
  const sched = new SequentialLR(o, {
    schedulers: [
      new LinearLR(o, { startFactor: 0.5, totalIters: 2 }),
      new CosineAnnealingWarmRestarts(o, { t0: 2 }),
    ],
    milestones: [2],
  });
  const lrs: number[] = [];
  for (let e = 0; e < 7; e++) {
    lrs.push(o.paramGroups[0].lr);
    sched.step();
  }
  // PyTorch: 0.5, 0.75, then step(0) of the cosine: 1, 0.5, 1, 0.5, 1.
  lrs.forEach((lr, e) => assertClose(lr, [0.5, 0.75, 1, 0.5, 1, 0.5, 1][e], `epoch ${e}`));
});
