/**
 * The fused cross-entropy (`kernels/cross_entropy.ts`, rule in `tensor/_rules/loss.ts`): its
 * loss and its gradient against the float64 reference and central differences at edge sizes
 * (1, 7, 33, 129 rows and classes, a row longer than a workgroup, one class, logits of ±1e4);
 * two dispatches forward and one backward, compiled once for every shape; rows split over
 * several bindings give the same bits; an out-of-range label poisons its row's gradient too.
 * PyTorch's options (reduction, ignoreIndex, labelSmoothing, weight), alone and combined,
 * against a float64 transcription of PyTorch's definition, the pipelines they share, and their
 * errors.
 */

import assert from "node:assert/strict";
import {
  crossEntropy,
  type CrossEntropyOptions,
  defaultDevice,
  Device,
  logSoftmax,
  ShapeError,
  type Tensor,
  tensor,
} from "../mod.ts";
import {
  crossEntropy as crossEntropyKernel,
  crossEntropyBackward,
  type CrossEntropyOptions as CrossEntropyKernelOptions,
} from "../kernels/cross_entropy.ts";
import * as ref from "./_reference.ts";
import { logDispatches } from "./_dispatch_log.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal, uniform } from "./_tensor_check.ts";

Deno.test("crossEntropy against the float64 reference and finite differences", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(11);
  const labels = (rows: number, classes: number) =>
    Int32Array.from({ length: rows }, () => Math.floor(rng() * classes));
  const ce = (rows: number, classes: number, logits = normal([rows, classes], rng), note = "") => {
    const y = labels(rows, classes);
    return {
      name: `logits [${rows}, ${classes}]${note}`,
      inputs: [logits],
      run: ([x]: Tensor[]) => crossEntropy(x, tensor(y, { dtype: "i32" })),
      ref: ([x]: ref.F64[]) => ref.crossEntropy(x, y),
    };
  };
  await checkAll(t, device, [
    ce(1, 1),
    ce(1, 7),
    ce(7, 1),
    ce(7, 33),
    ce(33, 7),
    ce(33, 129),
    ce(129, 33),
    // Rows that share a workgroup: 128 rows of one lane, 64 of two (the last workgroups part full).
    ce(129, 1),
    ce(300, 5),
    // Rows longer than the workgroup of 128, and not a multiple of it.
    ce(3, 1000),
    ce(5, 300),
    {
      ...ce(7, 33, uniform([7, 33], rng, -1e4, 1e4), " in ±1e4 (stable)"),
      // The loss is ~1e4: one f32 ulp there is ~1e-3.
      forwardTol: 1e-6,
    },
    {
      // A transposed view: the logits are packed before the kernels read them.
      ...ce(5, 4),
      inputs: [normal([4, 5], rng)],
      run: ([x]: Tensor[]) =>
        crossEntropy(x.withRank(2).T(), tensor([3, 0, 1, 3, 2], { dtype: "i32" })),
      ref: ([x]: ref.F64[]) =>
        ref.crossEntropy(ref.transpose(x, 0, 1), new Int32Array([3, 0, 1, 3, 2])),
    },
  ], rng);
});

Deno.test("crossEntropy: two dispatches forward, one backward, one pipeline set for all shapes", async () => {
  const device = await Device.acquire();
  const names = logDispatches(device);
  const run = async (rows: number, classes: number) => {
    const data = Float32Array.from({ length: rows * classes }, (_, i) => Math.sin(i));
    const x = tensor(data, { device, requiresGrad: true }).reshape([rows, classes]);
    const y = tensor(Array.from({ length: rows }, (_, i) => i % classes), { dtype: "i32", device });
    names.length = 0;
    const loss = crossEntropy(x, y);
    const forward = [...names];
    names.length = 0;
    await loss.backward();
    const backward = [...names];
    const value = await loss.item();
    for (const t of [x, y, loss]) t.dispose();
    return { forward, backward, value };
  };
  const first = await run(6, 10);
  assert.deepEqual(first.forward, ["crossEntropy rows [6, 10]", "crossEntropy mean [6]"]);
  // The seed dloss/dloss = 1, then the one pass.
  assert.deepEqual(first.backward, ["fill (1)", "crossEntropy backward [6, 10]"]);
  const pipelines = device.memory().pipelines;
  const other = await run(33, 129);
  assert.equal(device.memory().pipelines, pipelines, "a new shape compiles nothing");
  assert.ok(Number.isFinite(first.value) && Number.isFinite(other.value));
  device.destroy();
});

Deno.test("crossEntropy kernels: rows split over several bindings give the same bits", async () => {
  const device = await Device.acquire();
  const rows = 9, classes = 129;
  const rng = mulberry32(3);
  const logits = device.alloc(rows * classes * 4), labels = device.alloc(rows * 4);
  device.write(logits, Float32Array.from({ length: rows * classes }, () => 8 * rng() - 4));
  device.write(labels, Int32Array.from({ length: rows }, (_, i) => (i * 37) % classes));
  // One gradient per row, for the reduction none; the others read the first.
  const gradLoss = device.alloc(rows * 4);
  device.write(gradLoss, Float32Array.from({ length: rows }, (_, i) => 1.5 - i / 4));
  const weight = device.alloc(classes * 4);
  device.write(weight, Float32Array.from({ length: classes }, (_, i) => (i % 5) / 2));
  const outputs = async (maxBindingBytes?: number, options: CrossEntropyKernelOptions = {}) => {
    const stats = device.alloc(rows * 16), loss = device.alloc(rows * 4);
    const gradLogits = device.alloc(rows * classes * 4);
    const sizes = { rows, classes, maxBindingBytes, ...options };
    crossEntropyKernel(device, { logits, labels, stats, loss, ...sizes });
    crossEntropyBackward(device, { logits, labels, stats, gradLoss, gradLogits, ...sizes });
    const read = async (b: typeof stats, bytes: number) =>
      new Float32Array(await device.read(b, 0, bytes));
    const out = [
      await read(loss, options.reduction === "none" ? rows * 4 : 4),
      await read(stats, rows * 16),
      await read(gradLogits, rows * classes * 4),
    ];
    [stats, loss, gradLogits].forEach((b) => device.release(b));
    return out;
  };
  const names = logDispatches(device);
  const whole = await outputs();
  // 516-byte rows under a 1,300-byte limit: runs of two rows, most starting unaligned.
  const split = await outputs(1300);
  const runs = (pass: string) =>
    [2, 2, 2, 2, 1].map((n) => `crossEntropy ${pass} [${n}, ${classes}]`);
  assert.deepEqual(names.slice(3), [
    ...runs("rows"),
    `crossEntropy mean [${rows}]`,
    ...runs("backward"),
  ]);
  assert.deepEqual(split, whole);
  assert.ok(whole[0][0] > 0 && Number.isFinite(whole[0][0]));
  // The options too (the weights bound whole beside each run's logits); row 1's label is 37.
  for (const reduction of ["mean", "none"] as const) {
    const options = { weight, labelSmoothing: 0.1, ignoreIndex: 37, reduction };
    const [wholeWith, splitWith] = [
      await outputs(undefined, options),
      await outputs(1300, options),
    ];
    assert.deepEqual(splitWith, wholeWith, reduction);
    assert.ok(wholeWith.every((out) => out.every(Number.isFinite)), reduction);
    assert.ok(wholeWith[2].slice(classes, 2 * classes).every((g) => g === 0), "row 1 is ignored");
  }
  device.destroy();
});

Deno.test("crossEntropy: an out-of-range label makes the loss and its row's gradient NaN", async () => {
  await defaultDevice();
  const x = tensor([[1, 2, 3], [0, 0, 0]], { requiresGrad: true });
  const loss = crossEntropy(x, tensor([1, 5], { dtype: "i32" }));
  await loss.backward();
  await assert.rejects(loss.item(), /crossEntropy: label 5 of sample 1 is outside the 3 classes/);
  assert.ok(Number.isNaN(await loss.item()), "the loss is NaN, and the fault was reported once");
  const grad = await x.grad!.data();
  assert.ok(grad.slice(0, 3).every(Number.isFinite), "the good row's gradient is finite");
  assert.ok(grad.slice(3).every(Number.isNaN), "the bad row's gradient is NaN");
  for (const t of [x, loss]) t.dispose();
});

Deno.test("crossEntropy of no rows is NaN; logits of no classes are an error", async () => {
  await defaultDevice();
  const loss = crossEntropy(
    tensor(new Float32Array(0)).reshape([0, 4]),
    tensor(new Int32Array(0), { dtype: "i32" }),
  );
  assert.ok(Number.isNaN(await loss.item()));
  assert.throws(
    () =>
      crossEntropy(tensor(new Float32Array(0)).reshape([2, 0]), tensor([0, 0], { dtype: "i32" })),
    /crossEntropy: logits \[2,0\] have no classes/,
  );
  loss.dispose();
});

Deno.test("crossEntropy's PyTorch options against the float64 reference and finite differences", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(29);
  /** Labels with about `ignored` of them `ignoreIndex`, the first row kept (a finite mean). */
  const labelsFor = (rows: number, classes: number, ignored: number, ignoreIndex: number) =>
    Int32Array.from(
      { length: rows },
      (_, i) => i > 0 && rng() < ignored ? ignoreIndex : i === 0 ? 0 : Math.floor(rng() * classes),
    );
  /** Class weights in [0, 2), every third one 0 (class 0 keeps a weight). */
  const weightsFor = (classes: number) =>
    uniform([classes], rng, 0, 2).data.map((v, k) => k % 3 === 1 ? 0 : v);
  const ce = (
    rows: number,
    classes: number,
    options: Omit<ref.CrossEntropyOptions, "weight"> & { weighted?: boolean; ignored?: number },
  ) => {
    const { weighted = false, ignored = 0, ...torch } = options;
    const y = labelsFor(rows, classes, ignored, torch.ignoreIndex ?? -100);
    const inputs = [normal([rows, classes], rng)];
    if (weighted) inputs.push(ref.f64([classes], weightsFor(classes)));
    return {
      name: `[${rows}, ${classes}] ${JSON.stringify(options)}`,
      inputs,
      wrt: [0],
      run: ([x, weight]: Tensor[]) =>
        crossEntropy(x, tensor(y, { dtype: "i32" }), { ...torch, weight }),
      ref: ([x, weight]: ref.F64[]) => ref.torchCrossEntropy(x, y, { ...torch, weight }),
    };
  };
  await checkAll(t, device, [
    // Each option alone.
    ce(1, 1, { reduction: "sum" }),
    ce(7, 33, { reduction: "sum" }),
    ce(33, 7, { reduction: "none" }),
    ce(1, 7, { reduction: "none" }),
    ce(5, 300, { reduction: "none" }),
    ce(7, 33, { ignored: 0.4 }),
    ce(33, 7, { ignored: 0.4, ignoreIndex: 3 }),
    ce(33, 300, { ignored: 0.3, ignoreIndex: 300 }),
    ce(1, 1, { labelSmoothing: 0.3 }),
    ce(7, 33, { labelSmoothing: 0.1 }),
    ce(33, 7, { labelSmoothing: 1 }),
    ce(5, 300, { labelSmoothing: 0.25 }),
    ce(1, 7, { weighted: true }),
    ce(7, 33, { weighted: true }),
    ce(33, 7, { weighted: true }),
    ce(5, 300, { weighted: true }),
    // Combined.
    ce(7, 33, { weighted: true, ignored: 0.3, labelSmoothing: 0.2 }),
    ce(33, 7, { weighted: true, ignored: 0.3, labelSmoothing: 0.2, reduction: "sum" }),
    ce(33, 7, { weighted: true, ignored: 0.3, labelSmoothing: 0.2, reduction: "none" }),
    ce(33, 300, { weighted: true, ignored: 0.3, ignoreIndex: 0, labelSmoothing: 0.05 }),
    ce(7, 33, { ignored: 0.5, ignoreIndex: -1, labelSmoothing: 0.1, reduction: "none" }),
    ce(1, 7, { weighted: true, labelSmoothing: 0.5, reduction: "sum" }),
  ], rng);
});

Deno.test("crossEntropy: every row ignored gives a NaN mean, a zero sum, and zero gradients", async () => {
  await defaultDevice();
  const labels = tensor([-100, -100, -100], { dtype: "i32" });
  const weight = tensor([1, 0, 2, 3]);
  for (
    const [options, expected] of [
      [{}, [NaN]],
      [{ reduction: "sum" }, [0]],
      [{ reduction: "none" }, [0, 0, 0]],
      [{ weight, labelSmoothing: 0.3 }, [NaN]],
      [{ weight, labelSmoothing: 0.3, reduction: "sum" }, [0]],
    ] as const
  ) {
    const x = tensor([[1, 2, 3, 4], [0, 0, 0, 0], [5, -1, 2, 0]], { requiresGrad: true });
    const loss = crossEntropy(x, labels, options);
    assert.deepEqual([...await loss.data()], expected, JSON.stringify(options));
    await loss.sum().backward();
    assert.deepEqual([...await x.grad!.data()], new Array(12).fill(0));
    for (const t of [x, loss]) t.dispose();
  }
  // A weight of 0 on every present label: the mean is 0 / 0, as in PyTorch.
  const zeroWeighted = crossEntropy(tensor([[1, 2, 3, 4]]), tensor([1], { dtype: "i32" }), {
    weight,
  });
  assert.ok(Number.isNaN(await zeroWeighted.item()));
  for (const t of [labels, weight, zeroWeighted]) t.dispose();
});

Deno.test("crossEntropy options share the default pipelines; weight adds one per pass; none skips the mean", async () => {
  const device = await Device.acquire();
  const names = logDispatches(device);
  const rows = Array.from(
    { length: 6 },
    (_, r) => Array.from({ length: 10 }, (_, c) => Math.sin(10 * r + c)),
  );
  const x = tensor(rows, { device, requiresGrad: true });
  const y = tensor([0, 9, 3, -1, 5, 4], { dtype: "i32", device });
  const weight = tensor(Float32Array.from({ length: 10 }, (_, i) => i / 4), { device });
  const run = async (options: CrossEntropyOptions) => {
    names.length = 0;
    const loss = crossEntropy(x, y, options);
    await loss.sum().backward();
    const value = await loss.data();
    loss.dispose();
    x.zeroGrad();
    return { dispatches: names.filter((n) => n.startsWith("crossEntropy")), value };
  };
  // The defaults, and the reduction none (whose upstream sum is a kernel of its own).
  await run({ ignoreIndex: -1 });
  await run({ ignoreIndex: -1, reduction: "none" });
  const pipelines = device.memory().pipelines;
  const sum = await run({ ignoreIndex: -1, reduction: "sum", labelSmoothing: 0.1 });
  assert.deepEqual(sum.dispatches, [
    "crossEntropy rows [6, 10]",
    "crossEntropy sum [6]",
    "crossEntropy backward [6, 10]",
  ]);
  const none = await run({ ignoreIndex: -1, reduction: "none", labelSmoothing: 0.5 });
  assert.deepEqual(none.dispatches, ["crossEntropy rows [6, 10]", "crossEntropy backward [6, 10]"]);
  assert.equal(device.memory().pipelines, pipelines, "no option but weight compiles anything");
  await run({ ignoreIndex: -1, weight });
  assert.equal(device.memory().pipelines, pipelines + 2, "weight: a row pass and a backward");
  await run({ ignoreIndex: -1, weight, reduction: "none", labelSmoothing: 0.2 });
  assert.equal(device.memory().pipelines, pipelines + 2);
  assert.ok(sum.value.every(Number.isFinite) && none.value.every(Number.isFinite));
  assert.equal(none.value[3], 0, "the ignored row's loss");
  device.destroy();
});

Deno.test("crossEntropy: bad options are one-line errors naming the option", async () => {
  await defaultDevice();
  const x = tensor([[0, 1, 2], [3, 4, 5]]), y = tensor([0, 2], { dtype: "i32" });
  const bad: [unknown, RegExp][] = [
    [{ reduction: "avg" }, /^crossEntropy: reduction must be "mean", "sum" or "none", got "avg"$/],
    [{ labelSmoothing: 1.5 }, /^crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5$/],
    [{ labelSmoothing: -0.1 }, /labelSmoothing must be in \[0, 1\], got -0.1/],
    [{ labelSmoothing: NaN }, /labelSmoothing must be in \[0, 1\], got NaN/],
    [{ ignoreIndex: 0.5 }, /^crossEntropy: ignoreIndex must be a 32-bit integer, got 0.5$/],
    [{ ignoreIndex: 2 ** 31 }, /ignoreIndex must be a 32-bit integer/],
    [
      { weight: tensor([1, 2]) },
      /^crossEntropy: weight must be a \[3\] f32 tensor .*got f32 \[2\]$/,
    ],
    [{ weight: tensor([[1, 2, 3]]) }, /weight must be a \[3\] f32 tensor .*got f32 \[1,3\]/],
    [{ weight: tensor([1, 2, 3], { dtype: "i32" }) }, /weight must be a \[3\] f32 tensor .*i32/],
    [{ weight: [1, 2, 3] }, /^crossEntropy: weight must be a \[3\] f32 tensor$/],
    [
      { label_smoothing: 0.1 },
      /^crossEntropy: unknown option "label_smoothing" \(did you mean "labelSmoothing"\?\)$/,
    ],
    [{ smoothing: 0.1 }, /^crossEntropy: unknown option "smoothing" \(known: reduction, /],
  ];
  for (const [options, pattern] of bad) {
    assert.throws(
      () => crossEntropy(x, y, options as CrossEntropyOptions),
      (error: Error) => pattern.test(error.message),
      `${pattern}`,
    );
  }
  const other = await Device.acquire();
  const far = tensor([1, 1, 1], { device: other });
  assert.throws(
    () => crossEntropy(x, y, { weight: far }),
    (error: Error) =>
      /^crossEntropy: weight is on .*, the logits on .*; move it with `await weight.to\(device\)`$/
        .test(error.message),
  );
  far.dispose();
  other.destroy();
});

Deno.test("crossEntropy of [N, C, d1, …] logits and of class probabilities, against PyTorch's definition in float64 and finite differences", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(47);
  const weightsFor = (classes: number) =>
    uniform([classes], rng, 0, 2).data.map((v, k) => k % 3 === 1 && classes > 1 ? 0 : v);
  type Case = Omit<ref.CrossEntropyOptions, "weight"> & { weighted?: boolean; ignored?: number };
  /** Class indices `[N, ...d]`, about `ignored` of them `ignoreIndex` (the first kept). */
  const indices = (n: number, c: number, d: number[], ignored: number, ignoreIndex: number) =>
    Int32Array.from(
      { length: n * d.reduce((a, b) => a * b, 1) },
      (_, i) => i > 0 && rng() < ignored ? ignoreIndex : Math.floor(rng() * c),
    );
  const spatial = (n: number, c: number, d: number[], options: Case = {}) => {
    const { weighted = false, ignored = 0, ...torch } = options;
    const y = indices(n, c, d, ignored, torch.ignoreIndex ?? -100);
    const inputs = [normal([n, c, ...d], rng)];
    if (weighted) inputs.push(ref.f64([c], weightsFor(c)));
    return {
      name: `indices [${n}, ${c}, ${d}] ${JSON.stringify(options)}`,
      inputs,
      wrt: [0],
      run: ([x, weight]: Tensor[]) =>
        crossEntropy(x, tensor(y, { dtype: "i32" }).reshape([n, ...d]), { ...torch, weight }),
      ref: ([x, weight]: ref.F64[]) => ref.torchCrossEntropyNd(x, y, { ...torch, weight }),
    };
  };
  /** Probabilities (each position's sum 1, or any non-negative values with `raw`). */
  const soft = (n: number, c: number, d: number[], options: Case & { raw?: boolean } = {}) => {
    const { weighted = false, raw = false, ...torch } = options;
    const shape = [n, c, ...d];
    const targets = uniform(shape, rng, 0, 1);
    if (!raw) {
      const s = targets.data.length / (n * c);
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < s; p++) {
          let total = 0;
          for (let k = 0; k < c; k++) total += targets.data[(i * c + k) * s + p];
          for (let k = 0; k < c; k++) targets.data[(i * c + k) * s + p] /= total;
        }
      }
    }
    const inputs = [normal(shape, rng), targets];
    if (weighted) inputs.push(ref.f64([c], weightsFor(c)));
    return {
      name: `probabilities [${shape}] ${JSON.stringify(options)}`,
      inputs,
      // The probabilities get a gradient too, as in PyTorch.
      wrt: [0, 1],
      run: ([x, p, weight]: Tensor[]) => crossEntropy(x, p, { ...torch, weight }),
      ref: ([x, p, weight]: ref.F64[]) => ref.torchCrossEntropyNd(x, p, { ...torch, weight }),
    };
  };
  await checkAll(t, device, [
    spatial(1, 1, [1, 1]),
    spatial(3, 7, [2, 3]),
    spatial(1, 7, [5], { reduction: "none" }),
    spatial(3, 300, [5], { reduction: "sum" }),
    spatial(3, 7, [2, 3], { ignored: 0.4 }),
    spatial(3, 7, [5], { weighted: true }),
    spatial(1, 300, [2, 3], { labelSmoothing: 0.2 }),
    // One class: a zero gradient, exactly so with an ε whose 1 − ε + ε is exact in f32.
    spatial(3, 1, [2, 3], { reduction: "none", labelSmoothing: 0.25 }),
    spatial(3, 7, [2, 3], { weighted: true, ignored: 0.3, ignoreIndex: 2, labelSmoothing: 0.1 }),
    spatial(3, 7, [5], { weighted: true, ignored: 0.3, labelSmoothing: 0.3, reduction: "none" }),
    spatial(3, 300, [1, 1], { weighted: true, ignored: 0.3, reduction: "sum" }),
    soft(1, 1, []),
    soft(3, 7, []),
    soft(3, 300, [], { reduction: "none" }),
    soft(1, 7, [2, 3], { reduction: "sum" }),
    soft(3, 7, [5], { labelSmoothing: 0.3 }),
    soft(3, 7, [1, 1], { weighted: true }),
    soft(3, 1, [5], { weighted: true, labelSmoothing: 0.1 }),
    soft(3, 7, [2, 3], { raw: true, weighted: true, labelSmoothing: 0.2, reduction: "none" }),
    soft(1, 300, [5], { weighted: true, labelSmoothing: 0.05, reduction: "sum" }),
    soft(3, 7, [], { ignoreIndex: -1, raw: true }),
  ], rng);
});

Deno.test("crossEntropy: [N, C, d1, …] logits and probabilities: pipelines, an unbatched sample, labels out of range", async () => {
  const device = await Device.acquire();
  const names = logDispatches(device);
  const run = async (shape: number[], labels: Tensor, options: CrossEntropyOptions = {}) => {
    const data = Float32Array.from(
      { length: shape.reduce((a, b) => a * b) },
      (_, i) => Math.sin(i),
    );
    const x = tensor(data, { device, requiresGrad: true }).reshape(shape);
    names.length = 0;
    const loss = crossEntropy(x, labels, options);
    await loss.sum().backward();
    const out = { dispatches: names.filter((n) => n.startsWith("crossEntropy")), loss };
    x.dispose();
    return out;
  };
  const i32 = (values: number[], shape: number[]) =>
    tensor(values, { dtype: "i32", device }).reshape(shape);
  (await run([2, 3], i32([0, 2], [2]))).loss.dispose();
  const pipelines = device.memory().pipelines;
  // [2, 3, 2, 2]: 8 positions, S = 4 a uniform: one more pipeline of each pass, for every S > 1.
  const image = await run([2, 3, 2, 2], i32([0, 1, 2, 0, 1, 1, 2, 2], [2, 2, 2]));
  assert.equal(device.memory().pipelines, pipelines + 2, "a row pass and a backward for S > 1");
  (await run([3, 2, 5], i32([0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1], [3, 5]))).loss
    .dispose();
  assert.equal(device.memory().pipelines, pipelines + 2, "another spatial shape compiles nothing");
  assert.deepEqual(image.dispatches, [
    "crossEntropy rows [8, 3]",
    "crossEntropy mean [8]",
    "crossEntropy backward [8, 3]",
  ]);
  const perPixel = await run([2, 3, 2, 2], i32([0, 1, 2, 0, 1, 1, 2, 2], [2, 2, 2]), {
    reduction: "none",
  });
  assert.deepEqual(perPixel.loss.shape, [2, 2, 2]);
  // Probabilities: a row pass and a backward of their own, a third backward with their gradient.
  const withoutProbabilities = device.memory().pipelines;
  const probabilities = tensor([[0.5, 0.5, 0], [0, 0, 1]], { device });
  (await run([2, 3], probabilities)).loss.dispose();
  assert.equal(device.memory().pipelines, withoutProbabilities + 2);
  const soft = tensor([[0.5, 0.5, 0], [0, 0, 1]], { device, requiresGrad: true });
  (await run([2, 3], soft)).loss.dispose();
  assert.equal(device.memory().pipelines, withoutProbabilities + 3);
  // −(1 − ε)·log p times the loss's gradient (1 per row: the upstream sum).
  const logits = tensor([[0, 1, 2], [3, 4, 5]].map((r) => r.map(Math.sin)), { device });
  const logP = logSoftmax(logits, 1);
  const expected = [...await logP.data()].map((v) => -v / 2); // the mean divides by 2 rows
  const got = [...await soft.grad!.data()];
  assert.ok(got.every((g, i) => Math.abs(g - expected[i]) < 1e-6), `${got} vs ${expected}`);
  for (const t of [logits, logP]) t.dispose();
  // One unbatched sample: logits [C] and a 0-d label, or probabilities [C]; the loss is 0-d.
  const one = await run([3], i32([2], []), { reduction: "none" });
  assert.deepEqual(one.loss.shape, []);
  const oneSoft = await run([3], tensor([0, 0, 1], { device }), { reduction: "none" });
  assert.deepEqual([...await oneSoft.loss.data()], [...await one.loss.data()]);
  // A label out of range names its sample and position.
  const bad = await run([2, 3, 5], i32([0, 1, 2, 0, 1, 1, 2, 2, 9, 0], [2, 5]));
  await assert.rejects(
    bad.loss.item(),
    /crossEntropy: label 9 of sample 1 at position 3 is outside the 3 classes \[0, 3\)/,
  );
  for (const t of [image.loss, perPixel.loss, one.loss, oneSoft.loss, bad.loss, soft]) t.dispose();
  device.destroy();
});

Deno.test("crossEntropy: labels that fit neither form, and ignoreIndex with probabilities, are one-line errors", async () => {
  await defaultDevice();
  const x = tensor([[[0, 1], [2, 3], [4, 5]]]); // [1, 3, 2]
  const bad: [Tensor, unknown, RegExp, new (...args: never[]) => Error][] = [
    [
      tensor([[0, 1, 2]], { dtype: "i32" }),
      {},
      /^crossEntropy: labels \[1,3\] do not match logits \[1,3,2\] \(need \[1,2\] class indices or \[1,3,2\] probabilities\)$/,
      ShapeError,
    ],
    [
      tensor([[[0, 1], [0, 0], [1, 0]]], { dtype: "i32" }),
      {},
      /^crossEntropy: labels shaped as the logits \[1,3,2\] are class probabilities and must be f32, got i32$/,
      TypeError,
    ],
    [
      tensor([[0, 1]]),
      {},
      /^crossEntropy: labels must be i32 class indices, got f32 \(probabilities are shaped as the logits, \[1,3,2\]\)$/,
      TypeError,
    ],
    [
      tensor([[[0, 1], [0, 0], [1, 0]]]),
      { ignoreIndex: 0 },
      /^crossEntropy: ignoreIndex \(0\) is not supported for class probabilities$/,
      RangeError,
    ],
  ];
  for (const [labels, options, pattern, type] of bad) {
    assert.throws(
      () => crossEntropy(x, labels, options as CrossEntropyOptions),
      (error: Error) => error instanceof type && pattern.test(error.message),
      `${pattern}`,
    );
    labels.dispose();
  }
  assert.throws(
    () => crossEntropy(tensor([1, 2, 3]), tensor([1, 2], { dtype: "i32" })),
    (error: Error) =>
      error instanceof ShapeError &&
      /^crossEntropy: labels \[2\] do not match logits \[3\] \(need \[\] class indices or \[3\] probabilities\)$/
        .test(error.message),
  );
  x.dispose();
});

Deno.test("crossEntropy kernels: [N, C, S] samples split over several bindings give the same bits", async () => {
  const device = await Device.acquire();
  // 9 samples of 43 classes at 3 positions: 516 bytes a sample, runs of two under 1,300 bytes.
  const rows = 9, classes = 43, spatial = 3, elements = rows * classes * spatial;
  const rng = mulberry32(5);
  const buffer = (data: Float32Array | Int32Array) => {
    const b = device.alloc(data.byteLength);
    device.write(b, data);
    return b;
  };
  const logits = buffer(Float32Array.from({ length: elements }, () => 8 * rng() - 4));
  const indices = buffer(Int32Array.from({ length: rows * spatial }, (_, i) => (i * 5) % classes));
  const probabilities = buffer(Float32Array.from({ length: elements }, () => rng()));
  const weight = buffer(Float32Array.from({ length: classes }, (_, i) => (i % 5) / 2));
  const gradLoss = buffer(Float32Array.from({ length: rows * spatial }, (_, i) => 1.5 - i / 8));
  const outputs = async (maxBindingBytes: number | undefined, soft: boolean) => {
    const stats = device.alloc(rows * spatial * 16), loss = device.alloc(rows * spatial * 4);
    const gradLogits = device.alloc(elements * 4), gradTargets = device.alloc(elements * 4);
    const labels = soft ? probabilities : indices;
    const sizes = {
      rows,
      classes,
      spatial,
      maxBindingBytes,
      probabilities: soft,
      weight,
      labelSmoothing: 0.1,
      reduction: "none" as const,
      ...(soft ? {} : { ignoreIndex: 5 }),
    };
    crossEntropyKernel(device, { logits, labels, stats, loss, ...sizes });
    crossEntropyBackward(device, {
      logits,
      labels,
      stats,
      gradLoss,
      gradLogits,
      ...(soft ? { gradTargets } : {}),
      ...sizes,
    });
    const out = await Promise.all(
      [[loss, rows * spatial], [gradLogits, elements], [gradTargets, soft ? elements : 0]].map(
        async ([b, n]) => new Float32Array(await device.read(b as typeof loss, 0, 4 * +n)),
      ),
    );
    [stats, loss, gradLogits, gradTargets].forEach((b) => device.release(b));
    return out;
  };
  const names = logDispatches(device);
  for (const soft of [false, true]) {
    const whole = await outputs(undefined, soft);
    names.length = 0;
    const split = await outputs(1300, soft);
    assert.deepEqual(names.filter((n) => n.includes("rows")).length, 5, "five runs");
    assert.deepEqual(split, whole);
    assert.ok(whole.every((out) => out.every(Number.isFinite)) && whole[0][0] > 0);
  }
  device.destroy();
});

Deno.test("crossEntropy: a logit of −∞ (a masked class) leaves the loss finite without smoothing, as PyTorch's", async () => {
  await defaultDevice();
  const x = tensor([[-Infinity, 0, 1], [2, -Infinity, 0]], { requiresGrad: true });
  const labels = tensor([1, 2], { dtype: "i32" });
  const loss = crossEntropy(x, labels);
  // −log softmax: log(1 + e) and log(e² + 1) − 0.
  const want = [Math.log(1 + Math.E), Math.log(Math.E ** 2 + 1)];
  assert.ok(Math.abs((await loss.item()) - (want[0] + want[1]) / 2) < 1e-6);
  await loss.backward();
  const grad = await x.grad!.data();
  assert.deepEqual([grad[0], grad[4]], [0, 0]);
  // With smoothing the masked class's −log p is +∞, so the loss is too (PyTorch's as well).
  assert.equal(await crossEntropy(x, labels, { labelSmoothing: 0.1 }).item(), Infinity);
  for (const t of [x, labels, loss]) t.dispose();
});
