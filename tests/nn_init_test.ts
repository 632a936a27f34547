/**
 * nn.init: the statistics of every initialiser (bounds, mean and standard deviation within
 * sampling error), fans for linear and convolution weights as PyTorch computes them, gains,
 * in-place writes that keep the tensor (an optimiser built before still trains it), seeded
 * generators, and bad input.
 */

import assert from "node:assert/strict";
import { defaultDevice, Generator, manualSeed, randn, type Tensor, tensor, zeros } from "../mod.ts";
import { init, Linear } from "../nn/mod.ts";
import { SGD } from "../train/mod.ts";

/** Mean, standard deviation, minimum and maximum of a tensor's values, in float64. */
async function stats(t: Tensor) {
  const data = Array.from(await t.data());
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  const variance = data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length;
  return { mean, std: Math.sqrt(variance), min: Math.min(...data), max: Math.max(...data) };
}

/** Asserts `value` is within `sigmas` standard errors of `expected`. */
function near(label: string, value: number, expected: number, standardError: number, sigmas = 5) {
  assert.ok(
    Math.abs(value - expected) <= sigmas * standardError,
    `${label}: ${value}, expected ${expected} ± ${sigmas}·${standardError}`,
  );
}

/** Checks a uniform draw in ±bound: bounds, mean 0 and standard deviation bound/√3. */
async function assertUniform(label: string, t: Tensor, bound: number) {
  const n = t.size;
  const s = await stats(t);
  assert.ok(s.min >= -bound && s.max <= bound, `${label}: [${s.min}, ${s.max}] ⊄ ±${bound}`);
  near(`${label} mean`, s.mean, 0, bound / Math.sqrt(3 * n));
  near(
    `${label} std`,
    s.std,
    bound / Math.sqrt(3),
    bound / Math.sqrt(3) * Math.sqrt(0.8 / n) * 1.2,
  );
}

/** Checks a normal draw: mean `mean` and standard deviation `std`. */
async function assertNormal(label: string, t: Tensor, mean: number, std: number) {
  const n = t.size;
  const s = await stats(t);
  near(`${label} mean`, s.mean, mean, std / Math.sqrt(n));
  near(`${label} std`, s.std, std, std / Math.sqrt(2 * n));
}

Deno.test("init: fans and gains as PyTorch computes them", () => {
  assert.deepEqual(init.calculateFans([20, 30]), { fanIn: 30, fanOut: 20 });
  // Conv2d(16 → 32, 3×3): [32, 16, 3, 3]; grouped (groups 4): [32, 4, 3, 3], fans per group.
  assert.deepEqual(init.calculateFans([32, 16, 3, 3]), { fanIn: 144, fanOut: 288 });
  assert.deepEqual(init.calculateFans([32, 4, 3, 3]), { fanIn: 36, fanOut: 288 });
  assert.deepEqual(init.calculateFans([8, 2, 5]), { fanIn: 10, fanOut: 40 });
  assert.throws(() => init.calculateFans([5]), /fewer than 2 dimensions/);
  const gains: [init.Nonlinearity, number | undefined, number][] = [
    ["linear", undefined, 1],
    ["conv2d", undefined, 1],
    ["sigmoid", undefined, 1],
    ["tanh", undefined, 5 / 3],
    ["relu", undefined, Math.SQRT2],
    ["leaky_relu", undefined, Math.sqrt(2 / (1 + 0.01 ** 2))],
    ["leakyRelu", 0.2, Math.sqrt(2 / 1.04)],
    ["leaky_relu", Math.sqrt(5), Math.sqrt(1 / 3)],
    ["selu", undefined, 0.75],
  ];
  for (const [name, param, gain] of gains) {
    assert.equal(init.calculateGain(name, param), gain, name);
  }
  assert.throws(
    () => init.calculateGain("gelu" as "relu"),
    /calculateGain: unknown nonlinearity "gelu" \(known: linear, /,
  );
});

Deno.test("init: uniform, normal, constants, Glorot and He, within sampling error", async () => {
  await defaultDevice();
  const g = new Generator(11);
  await assertUniform("uniform", init.uniform(zeros([4001]), -0.3, 0.3, g), 0.3);
  await assertNormal("normal", init.normal(zeros([4001]), 0.5, 2, g), 0.5, 2);
  assert.deepEqual(Array.from(await init.constant(zeros([3]), -2.5).data()), [-2.5, -2.5, -2.5]);
  assert.deepEqual(Array.from(await init.ones(zeros([2])).data()), [1, 1]);
  assert.deepEqual(Array.from(await init.zeros(randn([2])).data()), [0, 0]);

  // Linear [out 60, in 70] and Conv2d [out 32, in 16, 3, 3].
  const linear = () => zeros([60, 70]);
  const conv = () => zeros([32, 16, 3, 3]);
  await assertUniform(
    "xavierUniform linear",
    init.xavierUniform(linear(), 1, g),
    Math.sqrt(6 / 130),
  );
  await assertUniform(
    "xavierUniform conv gain 2",
    init.xavierUniform(conv(), 2, g),
    2 * Math.sqrt(6 / (144 + 288)),
  );
  await assertNormal("xavierNormal conv", init.xavierNormal(conv(), 1, g), 0, Math.sqrt(2 / 432));
  await assertUniform(
    "kaimingUniform relu fanIn",
    init.kaimingUniform(conv(), { nonlinearity: "relu", generator: g }),
    Math.sqrt(3) * Math.SQRT2 / Math.sqrt(144),
  );
  await assertNormal(
    "kaimingNormal relu fanOut",
    init.kaimingNormal(conv(), { mode: "fanOut", nonlinearity: "relu", generator: g }),
    0,
    Math.SQRT2 / Math.sqrt(288),
  );
  // The default (leaky_relu, a = 0) is ReLU's gain; a = √5 is PyTorch's Linear default, 1/√fanIn.
  await assertNormal(
    "kaimingNormal default",
    init.kaimingNormal(linear(), { generator: g }),
    0,
    Math.SQRT2 / Math.sqrt(70),
  );
  await assertUniform(
    "kaimingUniform a = √5",
    init.kaimingUniform(linear(), { a: Math.sqrt(5), generator: g }),
    1 / Math.sqrt(70),
  );
  // PyTorch's spelling of the mode is taken too.
  await assertNormal(
    "kaimingNormal fan_out",
    init.kaimingNormal(conv(), { mode: "fan_out", nonlinearity: "relu", generator: g }),
    0,
    Math.SQRT2 / Math.sqrt(288),
  );
  const empty = zeros([0, 4]);
  assert.equal(init.kaimingUniform(empty), empty, "an empty tensor is left as it is");
});

Deno.test("init: truncNormal stays in [a, b] with the truncated normal's mean and spread", async () => {
  await defaultDevice();
  const g = new Generator(3);
  // Standard normal truncated to [−1, 2]: mean (φ(α) − φ(β))/Z, variance 1 + (αφ(α) − βφ(β))/Z − mean².
  const phi = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  const [alpha, beta, z] = [-1, 2, 0.8185946141203637];
  const mean = (phi(alpha) - phi(beta)) / z;
  const std = Math.sqrt(1 + (alpha * phi(alpha) - beta * phi(beta)) / z - mean * mean);
  const n = 8000;
  const drawn = init.truncNormal(zeros([n]), {
    mean: 0.5,
    std: 2,
    a: 0.5 - 2,
    b: 0.5 + 4,
    generator: g,
  });
  const s = await stats(drawn);
  assert.ok(s.min >= -1.5 && s.max <= 4.5, `[${s.min}, ${s.max}] ⊄ [−1.5, 4.5]`);
  near("mean", s.mean, 0.5 + 2 * mean, 2 * std / Math.sqrt(n));
  near("std", s.std, 2 * std, 2 * std / Math.sqrt(2 * n));
  // The usual ViT form: std 0.02 within ±2 (effectively untruncated).
  await assertNormal(
    "std 0.02",
    init.truncNormal(zeros([n]), { std: 0.02, generator: g }),
    0,
    0.02,
  );
  // A narrow window far in a tail: every draw lands inside it.
  const tail = await stats(init.truncNormal(zeros([500]), { a: 3, b: 3.5, generator: g }));
  assert.ok(tail.min >= 3 && tail.max <= 3.5, `tail [${tail.min}, ${tail.max}]`);
});

Deno.test("init: in place, seeded, and a trained layer keeps training", async () => {
  await defaultDevice();
  const layer = new Linear({ inFeatures: 5, outFeatures: 3 });
  const [weight, bias] = layer.parameters();
  const optimizer = new SGD({ params: layer.parameters(), lr: 0.1, momentum: 0, weightDecay: 0 });
  assert.equal(init.xavierNormal(weight, 1, new Generator(7)), weight, "the same tensor");
  init.zeros(bias);
  assert.ok(weight.requiresGrad && layer.parameters()[0] === weight);
  const again = await init.xavierNormal(zeros([3, 5]), 1, new Generator(7)).data();
  assert.deepEqual(Array.from(await weight.data()), Array.from(again), "a seed gives its draw");
  // The optimiser, built before the init, updates the initialised tensor.
  const before = Array.from(await weight.data());
  const loss = layer.forward(randn([4, 5])).sum();
  await loss.backward();
  optimizer.step();
  assert.notDeepEqual(Array.from(await weight.data()), before);
  // Without a generator, the global one is drawn from and advanced.
  manualSeed(5);
  const first = await init.normal(zeros([4])).data();
  const second = await init.normal(zeros([4])).data();
  manualSeed(5);
  assert.deepEqual(Array.from(await init.normal(zeros([4])).data()), Array.from(first));
  assert.notDeepEqual(Array.from(second), Array.from(first));
});

Deno.test("init: bad input is a one-line error", async () => {
  await defaultDevice();
  const w = zeros([3, 4]);
  const bad: [() => unknown, RegExp][] = [
    [() => init.uniform(w, 1, 0), /uniform: a \(1\) must not exceed b \(0\)/],
    [() => init.normal(w, 0, -1), /normal: std must be ≥ 0, got -1/],
    [() => init.normal(w, NaN), /normal: mean must be a finite number, got NaN/],
    [
      () => init.xavierUniform(zeros([4])),
      /fan in and fan out cannot be computed for a tensor of shape \[4\]/,
    ],
    [
      () => init.kaimingNormal(w, { mode: "in" as "fanIn" }),
      /kaimingNormal: mode must be "fanIn" or "fanOut", got "in"/,
    ],
    [() => init.truncNormal(w, { a: 2, b: 1 }), /truncNormal: a \(2\) must be below b \(1\)/],
    [() => init.ones(tensor([1, 2], { dtype: "i32" })), /init: expected an f32 tensor, got i32/],
  ];
  for (const [call, message] of bad) {
    assert.throws(call, (e: Error) => message.test(e.message) && !e.message.includes("\n"));
  }
});

Deno.test("init: orthogonal gives orthonormal rows or columns, scaled by the gain", async () => {
  await defaultDevice();
  const g = new Generator(17);
  for (const shape of [[6, 4], [4, 6], [5, 5], [4, 2, 3]]) {
    const w = await init.orthogonal(zeros(shape), 2, g);
    const [rows] = shape;
    const cols = w.size / rows;
    const m = w.reshape([rows, cols]);
    // QᵀQ (tall) or QQᵀ (wide) is gain² times the identity.
    const gram = await (rows >= cols ? m.T().matmul(m) : m.matmul(m.T())).data();
    const k = Math.min(rows, cols);
    gram.forEach((v, i) =>
      assert.ok(Math.abs(v - (i % (k + 1) === 0 ? 4 : 0)) < 1e-4, `[${shape}] gram ${i}: ${v}`)
    );
  }
  const same = async () =>
    Array.from(await (await init.orthogonal(zeros([3, 3]), 1, new Generator(2))).data());
  assert.deepEqual(await same(), await same(), "a seed gives its matrix");
  await assert.rejects(
    () => init.orthogonal(zeros([3])),
    /orthogonal: only tensors with 2 or more dimensions/,
  );
});

Deno.test("init: eye and dirac, as PyTorch lays them out", async () => {
  await defaultDevice();
  assert.deepEqual(await init.eye(randn([3, 2])).toArray(), [[1, 0], [0, 1], [0, 0]]);
  // dirac_ with groups 2 on [4, 1, 3]: per group, output channel 0 copies input channel 0.
  assert.deepEqual(await init.dirac(randn([4, 1, 3]), 2).toArray(), [
    [[0, 1, 0]],
    [[0, 0, 0]],
    [[0, 1, 0]],
    [[0, 0, 0]],
  ]);
  // A 3×3 conv of 2 → 2 channels starts as the identity: the input comes back unchanged.
  const w = init.dirac(randn([2, 2, 3, 3]));
  const x = randn([1, 2, 5, 5]);
  const { conv2d } = await import("../mod.ts");
  const y = conv2d(x.withRank(4), w.withRank(4), null, { padding: 1 });
  const [a, b] = [await y.data(), await x.data()];
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `dirac conv ${i}: ${v} vs ${b[i]}`));
  assert.throws(() => init.eye(zeros([2, 2, 2])), /eye: only 2-D tensors are supported/);
  assert.throws(
    () => init.dirac(zeros([3, 2, 3]), 2),
    /dirac: dim 0 \(3\) must be divisible by groups \(2\)/,
  );
});

Deno.test("init.sparse zeroes ⌈sparsity · rows⌉ random entries of each column, the rest N(0, std²)", async () => {
  await defaultDevice();
  const [rows, cols, sparsity, std] = [50, 400, 0.13, 0.5];
  const w = init.sparse(zeros([rows, cols]), sparsity, std, new Generator(4));
  const data = await w.data();
  const zeroed = Math.ceil(sparsity * rows); // 7, as PyTorch's math.ceil
  const hits = new Array(rows).fill(0);
  let [sum, squares, count] = [0, 0, 0];
  for (let c = 0; c < cols; c++) {
    let inColumn = 0;
    for (let r = 0; r < rows; r++) {
      const v = data[r * cols + c];
      if (v === 0) {
        inColumn++;
        hits[r]++;
      } else {
        [sum, squares, count] = [sum + v, squares + v * v, count + 1];
      }
    }
    assert.equal(inColumn, zeroed, `column ${c}`);
  }
  // Zeroed rows spread uniformly: each row is hit 400 · 7/50 = 56 times on average.
  assert.ok(hits.every((h) => h > 56 - 5 * Math.sqrt(56) && h < 56 + 5 * Math.sqrt(56)), `${hits}`);
  const variance = squares / count - (sum / count) ** 2;
  assert.ok(Math.abs(sum / count) < 5 * std / Math.sqrt(count));
  assert.ok(Math.abs(Math.sqrt(variance) - std) < 0.02 * std + 5 * std / Math.sqrt(2 * count));
  assert.equal((await init.sparse(zeros([4, 2]), 0).data()).filter((v) => v === 0).length, 0);
  assert.throws(
    () => init.sparse(zeros([4]), 0.5),
    /sparse: only 2-D tensors are supported, got \[4\]/,
  );
  assert.throws(() => init.sparse(zeros([4, 2]), 1.5), /sparsity must be in \[0, 1\], got 1.5/);
});
