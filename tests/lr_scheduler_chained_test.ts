/** ChainedScheduler: PyTorch's product of its schedulers' factors, stepped together, resumed. */
import assert from "node:assert/strict";
import { ChainedScheduler } from "../train/chained_scheduler.ts";
import {
  ConstantLR,
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  StepLR,
} from "../train/lr_scheduler.ts";
import { ReduceLROnPlateau } from "../train/plateau.ts";
import type { LRScheduler } from "../train/lr_scheduler.ts";

type Groups = { paramGroups: { lr: number }[] };

function assertClose(got: number, want: number, what: string, tol = 1e-12): void {
  assert.ok(
    Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)),
    `${what}: ${got} vs ${want}`,
  );
}

Deno.test("ChainedScheduler multiplies its schedulers' factors for 60 epochs, as PyTorch", () => {
  const o: Groups = { paramGroups: [{ lr: 1 }, { lr: 0.5 }] };
  const chain = new ChainedScheduler([
    new ConstantLR(o, { factor: 0.1, totalIters: 2 }),
    new ExponentialLR(o, { gamma: 0.9 }),
  ]);
  for (let e = 0; e < 60; e++) {
    // PyTorch's sequence: 0.1, 0.09, 0.81, 0.729, ... (its docs' comment is one epoch ahead).
    const want = (e < 2 ? 0.1 : 1) * 0.9 ** e;
    assertClose(o.paramGroups[0].lr, want, `epoch ${e}`);
    assertClose(o.paramGroups[1].lr, 0.5 * want, `group 1 epoch ${e}`);
    assert.equal(chain.lastEpoch, e);
    chain.step();
  }
  // Warm-up times a cosine (eta_min 0, inside its first half period): the closed forms' product.
  const c: Groups = { paramGroups: [{ lr: 0.2 }] };
  const warmCos = new ChainedScheduler([
    new LinearLR(c, { startFactor: 0.25, totalIters: 8 }),
    new CosineAnnealingLR(c, { tMax: 100 }),
    new StepLR(c, { stepSize: 20, gamma: 0.5 }),
  ], c);
  for (let e = 0; e < 60; e++) {
    const linear = 0.25 + 0.75 * Math.min(e, 8) / 8;
    const cosine = (1 + Math.cos(Math.PI * e / 100)) / 2;
    assertClose(c.paramGroups[0].lr, 0.2 * linear * cosine * 0.5 ** Math.floor(e / 20), `e ${e}`);
    warmCos.step();
  }
});

Deno.test("ChainedScheduler resumes from its JSON state; foreign schedulers are errors", () => {
  const make = (o: Groups) =>
    new ChainedScheduler([
      new LinearLR(o, { startFactor: 0.5, totalIters: 4 }),
      new ExponentialLR(o, { gamma: 0.8 }),
    ]);
  const a: Groups = { paramGroups: [{ lr: 0.1 }] };
  const reference = make(a);
  const want: number[] = [];
  for (let e = 0; e < 12; e++) {
    reference.step();
    want.push(a.paramGroups[0].lr);
  }
  const b: Groups = { paramGroups: [{ lr: 0.1 }] };
  const first = make(b);
  for (let e = 0; e < 3; e++) first.step();
  const saved = JSON.parse(JSON.stringify(first.stateDict()));
  const c: Groups = { paramGroups: [{ lr: 0.1 }] };
  const resumed = make(c);
  c.paramGroups[0].lr = b.paramGroups[0].lr; // the optimiser's state dict brings the rate back
  resumed.loadStateDict(saved);
  for (let e = 3; e < 12; e++) {
    resumed.step();
    assertClose(c.paramGroups[0].lr, want[e], `epoch ${e}`, 1e-15);
  }
  const other: Groups = { paramGroups: [{ lr: 1 }] };
  assert.throws(
    () =>
      new ChainedScheduler([
        new ExponentialLR(a, { gamma: 0.5 }),
        new ExponentialLR(other, { gamma: 0.5 }),
      ]),
    /ChainedScheduler: scheduler 1 belongs to another optimiser/,
  );
  const plateau = new ReduceLROnPlateau(a, { patience: 1 }) as unknown as LRScheduler;
  assert.throws(() => new ChainedScheduler([plateau], a), /scheduler 0 is not an LRScheduler/);
  assert.throws(() => new ChainedScheduler([]), /ChainedScheduler: no schedulers/);
});
