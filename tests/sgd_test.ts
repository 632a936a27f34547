/**
 * The fused SGD kernel and the SGD optimiser against the float64 references of
 * `tests/_reference.ts`: both formulations, weight decay and momentum, several steps with a
 * learning-rate change in the middle, the windowed path forced on a small buffer, the step
 * guard that skips an update on a non-finite loss, GPU top-k counting, and state round trips.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, keep, StepGuard, type Tensor, tensor } from "../mod.ts";
import { Device } from "../kernels/device.ts";
import { sgdCheck, sgdUpdate } from "../kernels/sgd.ts";
import {
  countTopKErrors,
  decodeStepStats,
  initialStepStats,
  STEP_STATS_BYTES,
} from "../kernels/step_stats.ts";
import { SGD, type SgdFormulation } from "../train/sgd.ts";
import { type F64, f64, mulberry32, sgdPaperStep, sgdTorchStep, topKErrors } from "./_reference.ts";

const device = await defaultDevice();

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol * (1 + Math.abs(want[i])))) {
      assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]} (error ${err})`);
    }
  }
}

interface Trajectory {
  formulation: SgdFormulation;
  momentum: number;
  weightDecay: number;
  lrs: number[];
}

/** Runs the f64 reference over `grads` with learning rate `lrs[t]` at step t. */
function reference(t: Trajectory, w0: Float32Array, grads: Float32Array[]): { w: F64; v: F64 } {
  let w = f64([w0.length], w0);
  let v: F64 | null = null;
  const step = t.formulation === "paper" ? sgdPaperStep : sgdTorchStep;
  grads.forEach((g, i) => {
    const out = step({
      w,
      v,
      g: f64([g.length], g),
      lr: t.lrs[i],
      momentum: t.momentum,
      weightDecay: t.weightDecay,
    });
    w = out.w;
    v = out.v;
  });
  return { w, v: v! };
}

const CASES: Trajectory[] = [
  { formulation: "paper", momentum: 0.9, weightDecay: 5e-4, lrs: [0.01, 0.01, 0.01, 0.001, 0.001] },
  {
    formulation: "pytorch",
    momentum: 0.9,
    weightDecay: 5e-4,
    lrs: [0.01, 0.01, 0.01, 0.001, 0.001],
  },
  { formulation: "paper", momentum: 0, weightDecay: 0.1, lrs: [0.5, 0.5, 0.05] },
  { formulation: "pytorch", momentum: 0.5, weightDecay: 0, lrs: [0.2, 0.02, 0.02] },
];

for (const c of CASES) {
  Deno.test(`SGD ${c.formulation} μ=${c.momentum} λ=${c.weightDecay} matches float64`, async () => {
    const n = 1027; // not a multiple of 4: the vec4 path's tail
    const w0 = randomArray(n, 1);
    const grads = c.lrs.map((_, i) => randomArray(n, 100 + i, 3));
    const w = keep(fromTypedArray(w0.slice(), [n], { requiresGrad: true }));
    const opt = new SGD({
      params: [w],
      lr: c.lrs[0],
      momentum: c.momentum,
      weightDecay: c.weightDecay,
      formulation: c.formulation,
    });
    for (let i = 0; i < grads.length; i++) {
      opt.setLearningRate(c.lrs[i]);
      w.grad = keep(fromTypedArray(grads[i], [n])) as Tensor<typeof w.shape, "f32">;
      assert.equal(opt.step(), 1);
      opt.zeroGrad();
    }
    const want = reference(c, w0, grads);
    assertClose(await w.data(), want.w.data, 2e-6, "w");
    assertClose(await opt.velocity(w)!.data(), want.v.data, 2e-6, "v");
    opt.dispose();
    w.dispose();
  });
}

Deno.test("the paper's and PyTorch's rules agree at constant lr and differ after a change", async () => {
  const n = 64;
  const w0 = randomArray(n, 7);
  const grads = [0, 1, 2].map((i) => randomArray(n, 200 + i));
  const run = async (formulation: SgdFormulation, lrs: number[]) => {
    const w = keep(fromTypedArray(w0.slice(), [n]));
    const opt = new SGD({ params: [w], lr: lrs[0], weightDecay: 0, formulation });
    for (let i = 0; i < grads.length; i++) {
      opt.setLearningRate(lrs[i]);
      w.grad = keep(fromTypedArray(grads[i], [n])) as Tensor<typeof w.shape, "f32">;
      opt.step();
      opt.zeroGrad();
    }
    const out = await w.data();
    opt.dispose();
    w.dispose();
    return out;
  };
  assertClose(
    await run("paper", [0.1, 0.1, 0.1]),
    await run("pytorch", [0.1, 0.1, 0.1]),
    1e-6,
    "w",
  );
  const a = await run("paper", [0.1, 0.01, 0.01]), b = await run("pytorch", [0.1, 0.01, 0.01]);
  assert.ok(a.some((x, i) => Math.abs(x - b[i]) > 1e-4), "should differ after the lr change");
});

Deno.test("sgdUpdate splits a buffer into binding windows when forced", async () => {
  const align = device.limits.minStorageBufferOffsetAlignment;
  const maxBindingBytes = Math.max(align, 256);
  const n = Math.floor((maxBindingBytes / 4) * 3.5) + 3; // 3 full windows and a ragged tail
  for (const formulation of ["paper", "pytorch"] as const) {
    const w0 = randomArray(n, 11), v0 = randomArray(n, 12), g = randomArray(n, 13);
    const weight = device.alloc(n * 4), velocity = device.alloc(n * 4), grad = device.alloc(n * 4);
    device.write(weight, w0);
    device.write(velocity, v0);
    device.write(grad, g);
    const h = { formulation, lr: 0.05, momentum: 0.9, weightDecay: 0.01 };
    const before = device.memory().submissions;
    sgdUpdate(device, { weight, velocity, grad, n }, h, { maxBindingBytes });
    await device.sync();
    assert.ok(device.memory().submissions > before);
    const step = formulation === "paper" ? sgdPaperStep : sgdTorchStep;
    const want = step({ w: f64([n], w0), v: f64([n], v0), g: f64([n], g), ...h });
    assertClose(new Float32Array(await device.read(weight, 0, n * 4)), want.w.data, 1e-6, "w");
    assertClose(new Float32Array(await device.read(velocity, 0, n * 4)), want.v.data, 1e-6, "v");
    for (const b of [weight, velocity, grad]) device.release(b);
  }
});

Deno.test("a lowered guard flag skips the update; a raised one lets it run", async () => {
  const n = 8;
  const w = keep(fromTypedArray(new Float32Array(n).fill(1), [n]));
  const opt = new SGD({ params: [w], lr: 0.1, momentum: 0.9, weightDecay: 0 });
  const guard = new StepGuard(device);
  for (const value of [NaN, Infinity, 2.5]) {
    const loss = tensor([value]);
    guard.begin(loss, 16);
    w.grad = keep(fromTypedArray(new Float32Array(n).fill(1), [n])) as Tensor<
      typeof w.shape,
      "f32"
    >;
    opt.step({ guard });
    opt.zeroGrad();
    loss.dispose();
  }
  // Only the finite step moved w: 1 − 0.1·1.
  assertClose(await w.data(), new Float32Array(n).fill(0.9), 1e-7, "w");
  const s = await guard.read();
  assert.equal(s.lastOk, true);
  assert.equal(s.consecutiveNonFinite, 0);
  assert.equal(s.totalNonFinite, 2);
  assert.equal(s.skipped, 2);
  assert.equal(s.skippedImages, 32);
  assert.equal(s.steps, 1);
  assert.equal(s.images, 16);
  assert.equal(s.lossSum, 2.5 * 16);
  // A guard whose loss lives on another device needs the loop to settle it: an error, not a skip.
  const other = await Device.acquire();
  const foreign = new StepGuard(other);
  const remoteLoss = tensor([1], { device: other });
  foreign.begin(remoteLoss, 1);
  w.grad = keep(fromTypedArray(new Float32Array(n), [n])) as Tensor<typeof w.shape, "f32">;
  assert.throws(() => opt.step({ guard: foreign }), /live on 2 devices/);
  opt.zeroGrad();
  remoteLoss.dispose();
  foreign.dispose();
  guard.dispose();
  opt.dispose();
  w.dispose();
  other.destroy();
});

/** Runs one guarded step of `opt` on `w` with a finite loss and gradient `g`. */
async function guardedStep(opt: SGD, w: Tensor, g: Float32Array, guard: StepGuard) {
  const loss = tensor([1]);
  guard.begin(loss, 4);
  w.grad = keep(fromTypedArray(g, [g.length]));
  opt.check(guard);
  await guard.settle();
  opt.step({ guard });
  opt.zeroGrad();
  loss.dispose();
}

Deno.test("a non-finite gradient or updated weight skips every update: weights and momentum stay", async () => {
  const w0 = new Float32Array([1, -2, 3, 0.5, 7]); // 5: a ragged vec4 tail
  const a = keep(fromTypedArray(w0.slice(), [5]));
  const b = keep(fromTypedArray(new Float32Array([4, 4, 4]), [3]));
  const opt = new SGD([
    { params: [a], names: ["a"], lr: 0.1, momentum: 0.9, weightDecay: 0 },
    { params: [b], names: ["b"], lr: 0.1, momentum: 0.9, weightDecay: 0 },
  ]);
  const guard = new StepGuard(device);
  // One good step builds momentum in both.
  await guardedStep(opt, a, new Float32Array(5).fill(1), guard);
  b.grad = keep(fromTypedArray(new Float32Array(3).fill(1), [3]));
  opt.step();
  opt.zeroGrad();
  const snapshot = async () => [
    Array.from(await a.data()),
    Array.from(await b.data()),
    Array.from(await opt.velocity(a)!.data()),
    Array.from(await opt.velocity(b)!.data()),
  ];
  const before = await snapshot();
  // A NaN in one parameter's gradient: neither parameter moves.
  const loss = tensor([0.5]);
  guard.begin(loss, 4);
  a.grad = keep(fromTypedArray(new Float32Array([1, 1, NaN, 1, 1]), [5]));
  b.grad = keep(fromTypedArray(new Float32Array(3).fill(1), [3]));
  opt.step({ guard });
  opt.zeroGrad();
  loss.dispose();
  assert.deepEqual(await snapshot(), before, "a NaN gradient changed a weight or a velocity");
  // A learning rate so large that the new weights overflow to ±∞: skipped too.
  opt.setLearningRate(1e38);
  await guardedStep(opt, a, new Float32Array(5).fill(1e10), guard);
  assert.deepEqual(await snapshot(), before, "an overflowing update was applied");
  const s = await guard.read();
  assert.deepEqual([s.steps, s.skipped, s.consecutiveNonFinite], [1, 2, 2]);
  // A finite update afterwards runs and resets the run of skipped steps.
  opt.setLearningRate(0.1);
  await guardedStep(opt, a, new Float32Array(5).fill(1), guard);
  assert.notDeepEqual(Array.from(await a.data()), before[0]);
  assert.equal((await guard.read()).consecutiveNonFinite, 0);
  guard.dispose();
  opt.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("across two devices a bad gradient on one skips the updates on both", async () => {
  const other = await Device.acquire({ label: "second" });
  try {
    const a = keep(fromTypedArray(new Float32Array([1, 2]), [2]));
    const b = keep(fromTypedArray(new Float32Array([3, 4, 5]), [3], { device: other }));
    const opt = new SGD({ params: [a, b], names: ["a", "b"], lr: 0.1, weightDecay: 0 });
    const guard = new StepGuard(device, [other]);
    const step = async (gradB: number[]) => {
      const loss = tensor([1]);
      guard.begin(loss, 2);
      a.grad = keep(fromTypedArray(new Float32Array([1, 1]), [2]));
      b.grad = keep(fromTypedArray(new Float32Array(gradB), [3], { device: other }));
      opt.check(guard);
      await guard.settle(); // the flags cross devices without the host waiting
      opt.step({ guard });
      opt.zeroGrad();
      loss.dispose();
    };
    await step([1, Infinity, 1]);
    assert.deepEqual(Array.from(await a.data()), [1, 2], "a moved although b's gradient was ∞");
    assert.deepEqual(Array.from(await b.data()), [3, 4, 5]);
    await step([1, 1, 1]);
    assertClose(await a.data(), new Float32Array([0.9, 1.9]), 1e-7, "a");
    assertClose(await b.data(), new Float32Array([2.9, 3.9, 4.9]), 1e-7, "b");
    const s = await guard.read();
    assert.deepEqual([s.steps, s.skipped], [1, 1]);
    guard.dispose();
    opt.dispose();
    a.dispose();
    b.dispose();
  } finally {
    other.destroy();
  }
});

Deno.test("sgdCheck ignores padding lanes and checks every binding window", async () => {
  const align = device.limits.minStorageBufferOffsetAlignment;
  const maxBindingBytes = Math.max(align, 256);
  const n = Math.floor((maxBindingBytes / 4) * 2.5) + 1; // windows and a ragged tail
  const h = { formulation: "paper", lr: 0.1, momentum: 0.9, weightDecay: 0 } as const;
  const weight = device.alloc(n * 4), velocity = device.alloc(n * 4), grad = device.alloc(n * 4);
  const flag = device.alloc(16);
  // Garbage past the end of the data must not count.
  const padded = Math.ceil(n / 4) * 4;
  device.write(weight, new Float32Array(padded).fill(NaN).fill(1, 0, n));
  device.write(velocity, new Float32Array(padded));
  const check = async (bad: number | null) => {
    const g = new Float32Array(padded).fill(Infinity).fill(1, 0, n);
    if (bad !== null) g[bad] = NaN;
    device.write(grad, g);
    device.write(flag, new Uint32Array([1, 0, 0, 0]));
    sgdCheck(device, { weight, velocity, grad, n }, h, flag, { maxBindingBytes });
    return new Uint32Array(await device.read(flag, 0, 4))[0];
  };
  assert.equal(await check(null), 1, "padding lanes lowered the flag");
  for (const bad of [0, Math.floor(n / 2), n - 1]) {
    assert.equal(await check(bad), 0, `element ${bad}`);
  }
  for (const b of [weight, velocity, grad, flag]) device.release(b);
});

Deno.test("GPU top-k error counts equal topKErrors on the host", async () => {
  const batch = 37, classes = 12;
  const logits = randomArray(batch * classes, 21);
  logits[5 * classes + 3] = NaN; // a NaN label score is an error at every k
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
  labels[5] = 3;
  const want = topKErrors(logits, classes, labels);
  const stats = device.alloc(STEP_STATS_BYTES), l = device.alloc(logits.byteLength);
  const lb = device.alloc(labels.byteLength);
  device.write(stats, initialStepStats());
  device.write(l, logits);
  device.write(lb, labels);
  countTopKErrors(device, l, lb, stats, batch, classes);
  const s = decodeStepStats(await device.read(stats, 0, STEP_STATS_BYTES));
  assert.deepEqual([s.top1, s.top5], [want.top1, want.top5]);
  for (const b of [stats, l, lb]) device.release(b);
});

Deno.test("SGD state round-trips velocities and hyperparameters; parameters without grad are skipped", async () => {
  const a = keep(fromTypedArray(randomArray(10, 31), [2, 5]));
  const b = keep(fromTypedArray(randomArray(3, 32), [3]));
  const opt = new SGD([
    { params: [a], names: ["a"], lr: 0.1 },
    { params: [b], names: ["b"], lr: 0.2, formulation: "pytorch", weightDecay: 0 },
  ]);
  a.grad = keep(fromTypedArray(randomArray(10, 33), [2, 5])) as Tensor<typeof a.shape, "f32">;
  assert.equal(opt.step(), 1); // b has no gradient
  opt.zeroGrad();
  opt.setLearningRate(0.05, 1);
  const state = await opt.stateDict();
  assert.deepEqual(Object.keys(state.state), ["a"]);
  assert.equal(state.paramGroups[1].lr, 0.05);
  assert.equal(state.steps, 1);
  const json = JSON.parse(JSON.stringify({ ...state, state: {} }));
  const restored = new SGD([
    { params: [a], names: ["a"], lr: 1 },
    { params: [b], names: ["b"], lr: 1 },
  ]);
  await restored.loadStateDict({ ...json, state: state.state });
  assert.deepEqual(restored.paramGroups.map((g) => [g.lr, g.formulation]), [[0.1, "paper"], [
    0.05,
    "pytorch",
  ]]);
  assertClose(await restored.velocity(a)!.data(), await state.state.a.data(), 0, "v");
  assert.equal(restored.velocity(b), undefined);
  await assert.rejects(
    () =>
      restored.loadStateDict({
        ...state,
        state: { a: { shape: [10], data: new Float32Array(10) } },
      }),
    /shape/,
  );
  for (const t of Object.values(state.state)) t.dispose();
  opt.dispose();
  restored.dispose();
  a.dispose();
  b.dispose();
});
