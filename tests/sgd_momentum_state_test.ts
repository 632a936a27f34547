/**
 * When SGD's momentum buffer begins, against torch.optim.SGD in float64 (`sgdReferenceStep`):
 * the buffer begins as the undampened update at a parameter's first applied step, so every
 * path that could begin it early or late is checked with dampening, where it shows: a step the
 * guard skips (PyTorch never takes it, as under a GradScaler), the guarded step as the Trainer
 * drives it (check, settle, step), a parameter without a gradient in some steps, a resume from
 * a state dict (only begun buffers are saved; loading begins exactly those), momentum 0 (no
 * buffer, no dampening) turned on later, a group added later, and `zeroGrad` (freeing the
 * gradients, or zeroing them in place as torch's `set_to_none=False`).
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, keep, StepGuard, type Tensor, tensor } from "../mod.ts";
import { Adam } from "../train/adam.ts";
import { SGD } from "../train/sgd.ts";
import {
  assertClose,
  copyParams,
  hostStateDict,
  randomArray,
  setGrad,
  type SgdConstants,
  type SgdReference,
  sgdReferenceStep,
  snapshot,
} from "./_optim.ts";

const device = await defaultDevice();

const PYTORCH: SgdConstants = {
  formulation: "pytorch",
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 1e-3,
  dampening: 0.5,
  nesterov: false,
};
const PAPER: SgdConstants = { ...PYTORCH, formulation: "paper", lr: 0.02, momentum: 0.8 };
const SIZES = [1, 7, 33];

/** A parameter and its float64 twin. */
interface Pair {
  p: Tensor;
  ref: SgdReference;
  h: SgdConstants;
}

function pairs(h: SgdConstants, seed: number): Pair[] {
  return SIZES.map((n, k) => {
    const w = randomArray(n, seed + k);
    return {
      p: keep(fromTypedArray(w, [n], { device })),
      ref: { w: Float64Array.from(w), buf: null },
      h,
    };
  });
}

/**
 * Gives each pair its gradient for `step` (none where `hasGrad` says so, a NaN in the first
 * pair's where `poisoned`), and steps the reference unless the step is poisoned.
 */
function setGrads(
  all: readonly Pair[],
  step: number,
  hasGrad: (k: number) => boolean,
  poisoned = false,
): void {
  all.forEach(({ p, ref, h }, k) => {
    if (!hasGrad(k)) return setGrad(p, undefined);
    const g = randomArray(p.size, 1000 * step + k, 2);
    if (poisoned && k === 0) g[0] = NaN;
    setGrad(p, g);
    if (!poisoned) sgdReferenceStep(ref, g, h);
  });
}

async function assertMatches(all: readonly Pair[], what: string): Promise<void> {
  for (const [k, { p, ref }] of all.entries()) {
    assertClose(await p.data(), ref.w, 2e-6, `${what}: parameter ${k}`);
  }
}

const loss = keep(tensor([1]));

for (const drive of ["step with a pending guard", "check, settle, step"] as const) {
  Deno.test(
    `a step the guard skips begins no momentum buffer (${drive}), as a step torch never takes`,
    async () => {
      const all = [...pairs(PYTORCH, 10), ...pairs(PAPER, 20)];
      const opt = new SGD([
        { ...PYTORCH, params: all.slice(0, 3).map((a) => a.p) },
        { ...PAPER, params: all.slice(3).map((a) => a.p) },
      ]);
      const guard = new StepGuard(device);
      const step = async () => {
        guard.begin(loss, 1);
        if (drive === "check, settle, step") {
          opt.check(guard);
          await guard.settle();
        }
        opt.step({ guard });
      };
      // Step 0 is skipped for a NaN; step 1 leaves the second parameter of each group without
      // a gradient, so its buffer begins at step 2.
      for (let s = 0; s < 5; s++) {
        setGrads(all, s, (k) => s !== 1 || k % 3 !== 1, s === 0);
        await step();
      }
      await assertMatches(all, drive);
      assert.equal((await guard.read()).skipped, 1);
      guard.dispose();
      opt.dispose();
      for (const { p } of all) p.dispose();
    },
  );
}

Deno.test("a resumed run saves and restores exactly the begun momentum buffers", async () => {
  const all = [...pairs(PYTORCH, 30), ...pairs(PAPER, 40)];
  const groups = (params: Tensor[]) => [
    { ...PYTORCH, params: params.slice(0, 3) },
    { ...PAPER, params: params.slice(3) },
  ];
  const original = new SGD(groups(all.map((a) => a.p)));
  const guard = new StepGuard(device);
  // Step 0 skipped; the last parameter of each group has no gradient before the checkpoint.
  for (let s = 0; s < 3; s++) {
    setGrads(all, s, (k) => k % 3 !== 2, s === 0);
    guard.begin(loss, 1);
    original.step({ guard });
  }
  const host = await hostStateDict(original);
  assert.deepEqual(Object.keys(host.state).sort(), [
    "group0.param0",
    "group0.param1",
    "group1.param0",
    "group1.param1",
  ]);
  const copies = await copyParams(all.map((a) => a.p));
  const resumed = new SGD(groups(copies));
  await resumed.loadStateDict(host);
  for (let s = 3; s < 6; s++) {
    setGrads(all, s, () => true);
    for (const [k, { p }] of all.entries()) {
      setGrad(copies[k], await p.grad!.data() as Float32Array);
    }
    original.step();
    resumed.step();
  }
  await assertMatches(all, "uninterrupted");
  assert.deepEqual(await snapshot(resumed, copies), await snapshot(original, all.map((a) => a.p)));
  guard.dispose();
  for (const o of [original, resumed]) o.dispose();
  for (const p of [...all.map((a) => a.p), ...copies]) p.dispose();
});

Deno.test("momentum 0 keeps no buffer and ignores the dampening; momentum later begins one", async () => {
  const none = { ...PYTORCH, momentum: 0 };
  const all = [...pairs(none, 50), ...pairs({ ...PAPER, momentum: 0 }, 60)];
  const opt = new SGD([
    { ...none, params: all.slice(0, 3).map((a) => a.p) },
    { ...PAPER, momentum: 0, params: all.slice(3).map((a) => a.p) },
  ]);
  for (let s = 0; s < 2; s++) {
    setGrads(all, s, () => true);
    opt.step();
  }
  await assertMatches(all, "momentum 0");
  const state = await opt.stateDict();
  assert.deepEqual(Object.keys(state.state), [], "no buffer with momentum 0, as torch's None");
  // Momentum turned on: each buffer begins as that step's d, not from what the velocity held.
  for (const g of opt.paramGroups) g.momentum = 0.7;
  for (const a of all) a.h = { ...a.h, momentum: 0.7 };
  for (let s = 2; s < 5; s++) {
    setGrads(all, s, () => true);
    opt.step();
  }
  await assertMatches(all, "momentum turned on");
  opt.dispose();
  for (const { p } of all) p.dispose();
});

Deno.test("a group added later begins its own momentum; zeroGrad's missing gradients skip", async () => {
  const first = pairs(PYTORCH, 70), later = pairs(PAPER, 80);
  const opt = new SGD({ ...PYTORCH, params: first.map((a) => a.p) });
  for (let s = 0; s < 2; s++) {
    setGrads(first, s, () => true);
    opt.step();
  }
  opt.addParamGroup({ ...PAPER, params: later.map((a) => a.p), names: ["a", "b", "c"] });
  assert.throws(
    () => opt.addParamGroup({ ...PAPER, params: [later[0].p], names: ["d"] }),
    /SGD.addParamGroup: parameter d is in two groups/,
  );
  const all = [...first, ...later];
  for (let s = 2; s < 5; s++) {
    setGrads(all, s, () => true);
    opt.step();
  }
  opt.zeroGrad();
  assert.equal(opt.step(), 0, "no parameter has a gradient after zeroGrad");
  await assertMatches(all, "added group");
  const state = await opt.stateDict();
  assert.deepEqual(state.paramGroups[1].names, ["a", "b", "c"]);
  assert.equal(Object.keys(state.state).length, 6);
  for (const t of Object.values(state.state)) t.dispose();
  opt.dispose();
  for (const { p } of all) p.dispose();
});

Deno.test("Adam: a group added later counts its own steps from 0", async () => {
  const a = keep(tensor([1, 2], { requiresGrad: true }));
  const b = keep(tensor([3], { requiresGrad: true }));
  const opt = new Adam({ params: [a], lr: 0.1 });
  const step = () => {
    setGrad(a, Float32Array.of(1, -1));
    setGrad(b, Float32Array.of(2));
    opt.step();
  };
  step();
  step();
  opt.addParamGroup({ params: [b], lr: 0.01, names: ["b"] });
  step();
  const state = await opt.stateDict();
  assert.deepEqual(await state.state["group0.param0.step"].toArray(), [3]);
  assert.deepEqual(await state.state["b.step"].toArray(), [1]);
  // Adam's first step moves each weight by lr (m̂ / √v̂ = ±1).
  assertClose(await b.data(), [3 - 0.01], 1e-6, "b after its first step");
  for (const t of Object.values(state.state)) t.dispose();
  opt.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("zeroGrad(false) keeps zero gradients: the next step still decays, as torch's set_to_none=False", async () => {
  const all = pairs(PYTORCH, 90);
  const opt = new SGD({ ...PYTORCH, params: all.map((a) => a.p) });
  setGrads(all, 0, () => true);
  opt.step();
  opt.zeroGrad(false);
  for (const { p } of all) {
    assert.deepEqual(Array.from(await p.grad!.data()), new Array(p.size).fill(0));
  }
  // A step on the zero gradients: momentum and weight decay move every weight.
  assert.equal(opt.step(), 3);
  for (const a of all) sgdReferenceStep(a.ref, new Float32Array(a.p.size), a.h);
  await assertMatches(all, "a step on zeroed gradients");
  opt.zeroGrad();
  assert.equal(opt.step(), 0, "freed gradients: nothing to step");
  opt.dispose();
  for (const { p } of all) p.dispose();
});
