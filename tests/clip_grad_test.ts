/**
 * Gradient clipping against a float64 evaluation of torch.nn.utils.clip_grad_norm_ and
 * clip_grad_value_: norms of order 2, 1, 3 and ∞ over odd sizes and a gradient of many
 * workgroups, clipping and not; forced binding windows and one segment a dispatch; NaN and ∞
 * gradients (the norm follows, errorIfNonfinite throws and changes nothing); gradients that
 * share their data; parameters on two devices combining into one norm; the value clamp; and a
 * Trainer with `clipGradNorm` bounding each SGD step.
 */

import assert from "node:assert/strict";
import { defaultDevice, keep, tensor } from "../mod.ts";
import { Device } from "../kernels/device.ts";
import { gradNormTotal, scaleGrads } from "../kernels/clip_grad.ts";
import { clipGradNorm, clipGradValue } from "../train/clip_grad.ts";
import { SGD } from "../train/sgd.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { Trainer } from "../train/trainer.ts";
import { assertClose, parametersWithGrads, randomArray, setGrad } from "./_optim.ts";
import { Mlp } from "./_mlp.ts";

const device = await defaultDevice();

/** torch's total norm of order p in float64, and its clip coefficient for `maxNorm`. */
function reference(grads: readonly Float32Array[], p: number, maxNorm: number) {
  let acc = 0;
  for (const g of grads) {
    for (const x of g) acc = p === Infinity ? Math.max(acc, Math.abs(x)) : acc + Math.abs(x) ** p;
  }
  const norm = p === Infinity ? acc : acc ** (1 / p);
  return { norm, coef: Math.min(maxNorm / (norm + 1e-6), 1) };
}

const SIZES = [1, 7, 33, 1030, 300_001];

for (const p of [2, 1, 3, Infinity]) {
  Deno.test(`clipGradNorm of order ${p} matches torch over odd sizes, clipping and not`, async () => {
    const params = parametersWithGrads(device, SIZES, 7);
    const grads = await Promise.all(params.map(async (t) => await t.grad!.data() as Float32Array));
    const want = reference(grads, p, 0.5);
    assert.ok(want.coef < 1, "the bound is below the norm");
    const norm = await clipGradNorm(params, 0.5, { normType: p });
    assert.deepEqual(norm.shape, []);
    assertClose([(await norm.data())[0]], [want.norm], 2e-6, `norm ${p}`);
    for (const [k, t] of params.entries()) {
      const scaled = grads[k].map((x) => x * want.coef);
      assertClose(await t.grad!.data(), scaled, 1e-6, `gradient ${k}`);
    }
    // Above the norm: every gradient is multiplied by 1, so stays as it was.
    const before = await Promise.all(params.map(async (t) => Array.from(await t.grad!.data())));
    (await clipGradNorm(params, 1e6, { normType: p })).dispose();
    const after = await Promise.all(params.map(async (t) => Array.from(await t.grad!.data())));
    assert.deepEqual(after, before);
    norm.dispose();
    for (const t of params) t.dispose();
  });
}

Deno.test("binding windows, 1 and 64 segments a dispatch give the same norm and scaling", async () => {
  const sizes = [5, 1030, 4099];
  const grads = sizes.map((n, k) => randomArray(n, 40 + k));
  const buffers = sizes.map((n) => ({ grad: device.alloc(Math.ceil(n / 4) * 16), n }));
  const want = reference(grads, 2, 0.5).norm;
  const alignment = device.limits.minStorageBufferOffsetAlignment;
  for (
    const options of [
      {},
      { segmentsPerDispatch: 1 },
      { segmentsPerDispatch: 64 },
      { maxBindingBytes: Math.max(alignment, 256) },
    ]
  ) {
    buffers.forEach((b, k) => device.write(b.grad, grads[k]));
    const stats = device.alloc(16), norm = device.alloc(4);
    gradNormTotal(device, buffers, 2, 0.5, stats, norm, options);
    const got = new Float32Array(await device.read(norm, 0, 4))[0];
    assertClose([got], [want], 2e-6, JSON.stringify(options));
    const coef = new Float32Array(await device.read(stats, 0, 8))[1];
    assertClose([coef], [0.5 / (want + 1e-6)], 2e-6, "coefficient");
    scaleGrads(device, buffers, stats, options);
    for (const [k, b] of buffers.entries()) {
      const scaled = new Float32Array(await device.read(b.grad, 0, b.n * 4));
      assert.deepEqual(scaled, grads[k].map((x) => Math.fround(x * coef)), `gradient ${k}`);
    }
  }
});

Deno.test("a NaN or ∞ gradient: the norm follows; errorIfNonfinite throws and clips nothing", async () => {
  for (const [bad, p, want] of [[NaN, 2, NaN], [Infinity, 2, Infinity], [NaN, Infinity, NaN]]) {
    const params = parametersWithGrads(device, [9, 40], 3);
    const g = await params[1].grad!.data() as Float32Array;
    g[17] = bad;
    setGrad(params[1], g);
    const before = await Promise.all(params.map(async (t) => Array.from(await t.grad!.data())));
    await assert.rejects(
      clipGradNorm(params, 1, { normType: p, errorIfNonfinite: true }),
      new RegExp(
        `the total norm of order ${p} of the gradients is ${want}, so they were not clipped`,
      ),
    );
    const after = await Promise.all(params.map(async (t) => Array.from(await t.grad!.data())));
    assert.deepEqual(after, before);
    const norm = await clipGradNorm(params, 1, { normType: p });
    assert.deepEqual(Array.from(await norm.data()), [want]);
    norm.dispose();
    for (const t of params) t.dispose();
  }
});

Deno.test("gradients that share their data, or none at all, are handled", async () => {
  const a = keep(tensor([1, 1], { requiresGrad: true }));
  const b = keep(tensor([1, 1], { requiresGrad: true }));
  const c = keep(tensor([1], { requiresGrad: true }));
  a.grad = keep(tensor([3, 0]));
  b.grad = a.grad; // one handle for two parameters: the norm counts it twice, as torch would
  const norm = await clipGradNorm([a, b, c], 1);
  assertClose(await norm.data(), [Math.sqrt(18)], 1e-6, "norm");
  const coef = 1 / (Math.sqrt(18) + 1e-6);
  assertClose(await a.grad.data(), [3 * coef, 0], 1e-6, "a, scaled once");
  assertClose(await b.grad.data(), [3 * coef, 0], 1e-6, "b, scaled once");
  assert.notEqual(a.grad, b.grad);
  const none = await clipGradNorm([c], 1);
  assert.deepEqual(Array.from(await none.data()), [0]);
  assert.throws(() => clipGradNorm([a], -1), /maxNorm must be a finite number ≥ 0, got -1/);
  assert.throws(() => clipGradNorm([a], 1, { normType: 0 }), /normType must be a number > 0/);
  for (const t of [norm, none, a, b, c]) t.dispose();
});

Deno.test("parameters on two devices combine into one total norm, for 2 and ∞", async () => {
  const [left, right] = await Device.acquireMany(2, { label: "clip", separateDevices: true });
  for (const p of [2, Infinity]) {
    const one = parametersWithGrads(device, [9, 1, 40], 21);
    const two = [
      ...parametersWithGrads(left, [9, 1], 21),
      ...parametersWithGrads(right, [40], 23),
    ];
    const [n1, n2] = [
      await clipGradNorm(one, 0.5, { normType: p }),
      await clipGradNorm(two, 0.5, { normType: p }),
    ];
    assert.equal(n2.device, left);
    assertClose(await n2.data(), await n1.data(), 1e-6, `norm ${p}`);
    for (const k of [0, 1, 2]) {
      assertClose(await two[k].grad!.data(), await one[k].grad!.data(), 1e-6, `gradient ${k}`);
    }
    for (const t of [n1, n2, ...one, ...two]) t.dispose();
  }
  left.destroy();
  right.destroy();
});

Deno.test("clipGradValue clamps every element, keeps NaN, over odd sizes", async () => {
  const params = parametersWithGrads(device, [1, 7, 1030], 5);
  const g = await params[1].grad!.data() as Float32Array;
  g[3] = NaN;
  g[4] = -Infinity;
  setGrad(params[1], g);
  const grads = await Promise.all(params.map(async (t) => await t.grad!.data() as Float32Array));
  clipGradValue(params, 0.25);
  for (const [k, t] of params.entries()) {
    const want = Array.from(
      grads[k],
      (x) => Number.isNaN(x) ? NaN : Math.min(Math.max(x, -0.25), 0.25),
    );
    assert.deepEqual(Array.from(await t.grad!.data()), want.map(Math.fround));
  }
  assert.throws(() => clipGradValue(params, NaN), /clipValue must be a finite number ≥ 0/);
  for (const t of params) t.dispose();
});

Deno.test("a Trainer with clipGradNorm bounds every SGD step by lr · maxNorm", async () => {
  const { train: trainData } = syntheticSplits({
    trainSize: 16,
    valSize: 8,
    size: 8,
    classes: 4,
    seed: 5,
  });
  const model = new Mlp(4, 4);
  const before = await Promise.all(
    model.parameters().map(async (p) => await p.data() as Float32Array),
  );
  const optimizer = SGD.forModule(model, {
    lr: 1,
    momentum: 0,
    weightDecay: 0,
    formulation: "pytorch",
  });
  const trainer = new Trainer({
    model,
    optimizer,
    trainData,
    epochs: 1,
    batchSize: 16,
    clipGradNorm: 0.01,
  });
  const r = await trainer.run();
  assert.equal(r.step, 1);
  let squares = 0;
  for (const [k, p] of model.parameters().entries()) {
    const after = await p.data() as Float32Array;
    after.forEach((x, i) => (squares += (x - before[k][i]) ** 2));
  }
  // One step of lr 1 moves the weights by the clipped gradient: norm 0.01 (1 + ulps).
  assertClose([Math.sqrt(squares)], [0.01], 1e-4, "step norm");
  trainer.dispose();
  optimizer.dispose();
  assert.throws(
    () => new Trainer({ model, optimizer, trainData, epochs: 1, batchSize: 16, clipGradNorm: -1 }),
    /clipGradNorm: maxNorm must be a finite number ≥ 0/,
  );
});
