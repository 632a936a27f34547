/**
 * The fused cross-entropy (`kernels/cross_entropy.ts`, rule in `tensor/_rules/loss.ts`): its
 * loss and its gradient against the float64 reference and central differences at edge sizes
 * (1, 7, 33, 129 rows and classes, a row longer than a workgroup, one class, logits of ±1e4);
 * two dispatches forward and one backward, compiled once for every shape; rows split over
 * several bindings give the same bits; an out-of-range label poisons its row's gradient too.
 */

import assert from "node:assert/strict";
import { crossEntropy, defaultDevice, Device, type Tensor, tensor } from "../mod.ts";
import {
  crossEntropy as crossEntropyKernel,
  crossEntropyBackward,
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
  const gradLoss = device.alloc(4);
  device.write(gradLoss, new Float32Array([1.5]));
  const outputs = async (maxBindingBytes?: number) => {
    const stats = device.alloc(rows * 8), loss = device.alloc(4);
    const gradLogits = device.alloc(rows * classes * 4);
    crossEntropyKernel(device, { logits, labels, stats, loss, rows, classes, maxBindingBytes });
    crossEntropyBackward(device, {
      logits,
      labels,
      stats,
      gradLoss,
      gradLogits,
      rows,
      classes,
      maxBindingBytes,
    });
    const read = async (b: typeof stats, bytes: number) =>
      new Float32Array(await device.read(b, 0, bytes));
    return [
      await read(loss, 4),
      await read(stats, rows * 8),
      await read(gradLogits, rows * classes * 4),
    ];
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
