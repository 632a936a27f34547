/**
 * Classification metrics: the top-k rule (the host reference, then the GPU counter the trainer
 * and `evaluate` use, on the same cases), the ten-crop validation against a host computation,
 * and the progress line.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray } from "../mod.ts";
import { Dropout } from "../nn/dropout.ts";
import { Flatten } from "../nn/flatten.ts";
import { Linear } from "../nn/linear.ts";
import { Sequential } from "../nn/sequential.ts";
import { Generator } from "../tensor/random.ts";
import { ArrayDataset } from "../train/data/array_dataset.ts";
import { tenCrop } from "../train/data/augment.ts";
import { evaluate } from "../train/evaluate.ts";
import { StepGuard } from "../tensor/step_guard.ts";
import { formatDuration, ProgressReporter } from "../cli/progress.ts";
import { formatLoss } from "../train/_format.ts";
import { mulberry32, topKErrors } from "./_reference.ts";

const device = await defaultDevice();

const f32 = (values: number[]) => new Float32Array(values);
const i32 = (values: number[]) => new Int32Array(values);

Deno.test("topKErrors (the host reference)", async (t) => {
  await t.step("counts top-1 and top-5 errors by rank", () => {
    // 7 classes; the label's score is ranked 0, 1, 4, 5 and 6 (0 = best).
    const row = [6, 5, 4, 3, 2, 1, 0];
    const logits = f32([...row, ...row, ...row, ...row, ...row]);
    const r = topKErrors(logits, 7, i32([0, 1, 4, 5, 6]));
    assert.deepEqual(r, { top1: 4, top5: 2, count: 5, errors: [4, 2] });
  });

  await t.step("custom ks", () => {
    const logits = f32([1, 3, 2, 0]);
    const r = topKErrors(logits, 4, i32([0]), [1, 2, 3, 4]);
    assert.deepEqual(r.errors, [1, 1, 0, 0]);
  });

  await t.step("ties count in the label's favour", () => {
    // All scores equal: nothing scores strictly higher, so never an error.
    assert.deepEqual(topKErrors(f32([1, 1, 1]), 3, i32([2])).errors, [0, 0]);
    // One class strictly higher, one tie: rank 1 -> top-1 error, top-2 fine.
    assert.deepEqual(topKErrors(f32([5, 3, 3]), 3, i32([2]), [1, 2]).errors, [1, 0]);
    // Five classes strictly higher is a top-5 error, whatever ties below.
    const r = topKErrors(f32([9, 9, 9, 9, 9, 1, 1]), 7, i32([5]));
    assert.deepEqual([r.top1, r.top5], [1, 1]);
  });

  await t.step("k larger than the number of classes never errs", () => {
    const r = topKErrors(f32([3, 2, 1, 1, 2, 3]), 3, i32([2, 0]), [1, 3, 10]);
    assert.deepEqual(r.errors, [2, 0, 0]);
    assert.equal(r.top5, 0); // 3 classes: everything is in the top 5
  });

  await t.step("NaN for the label is an error, NaN elsewhere is ignored", () => {
    assert.deepEqual(topKErrors(f32([NaN, NaN]), 2, i32([0])).errors, [1, 1]);
    assert.deepEqual(topKErrors(f32([NaN, 1]), 2, i32([1])).errors, [0, 0]);
  });

  await t.step("empty batch and invalid input", () => {
    assert.deepEqual(topKErrors(f32([]), 10, i32([])), {
      top1: 0,
      top5: 0,
      count: 0,
      errors: [0, 0],
    });
    assert.throws(() => topKErrors(f32([1, 2, 3]), 2, i32([0])), RangeError);
    assert.throws(() => topKErrors(f32([1, 2]), 2, i32([2])), RangeError);
    assert.throws(() => topKErrors(f32([1, 2]), 2, i32([-1])), RangeError);
    assert.throws(() => topKErrors(f32([1, 2]), 2, i32([0]), [0]), RangeError);
  });
});

/** Top-1 and top-5 error counts of a batch, counted on the GPU as training counts them. */
async function gpuTopK(logits: number[], classes: number, labels: number[]): Promise<number[]> {
  const stats = new StepGuard(device);
  const n = labels.length;
  const scores = fromTypedArray(f32(logits), [n, classes]);
  const y = fromTypedArray(i32(labels), [n], { dtype: "i32" });
  const loss = fromTypedArray(f32([0]), [1]);
  stats.record(loss, scores, y);
  const s = await stats.drain();
  for (const t of [scores, y, loss]) t.dispose();
  stats.dispose();
  return [s.top1, s.top5];
}

Deno.test("top-k errors on the GPU follow the same rule", async (t) => {
  await t.step("by rank", async () => {
    const row = [6, 5, 4, 3, 2, 1, 0];
    const logits = [...row, ...row, ...row, ...row, ...row];
    assert.deepEqual(await gpuTopK(logits, 7, [0, 1, 4, 5, 6]), [4, 2]);
  });

  await t.step("ties count in the label's favour", async () => {
    assert.deepEqual(await gpuTopK([1, 1, 1], 3, [2]), [0, 0]);
    assert.deepEqual(await gpuTopK([5, 3, 3], 3, [2]), [1, 0]);
    assert.deepEqual(await gpuTopK([9, 9, 9, 9, 9, 1, 1], 7, [5]), [1, 1]);
  });

  await t.step("fewer classes than k never err at k", async () => {
    assert.deepEqual(await gpuTopK([3, 2, 1, 1, 2, 3], 3, [2, 0]), [2, 0]);
  });

  await t.step("NaN for the label is an error, NaN elsewhere is ignored", async () => {
    assert.deepEqual(await gpuTopK([NaN, NaN], 2, [0]), [1, 1]);
    assert.deepEqual(await gpuTopK([NaN, 1], 2, [1]), [0, 0]);
  });
});

Deno.test("ten-crop validation: softmax averaged over the crops, then loss and top-k", async () => {
  const size = 8, crop = 6, classes = 7, count = 5;
  const rng = mulberry32(11);
  const pixels = Uint8Array.from(
    { length: count * size * size * 3 },
    () => Math.floor(rng() * 256),
  );
  const labels = Int32Array.from({ length: count }, (_, i) => (i * 3) % classes);
  const data = new ArrayDataset({
    pixels,
    labels,
    height: size,
    width: size,
    classNames: Array.from({ length: classes }, (_, i) => `c${i}`),
  });
  const model = new Sequential(
    new Flatten(),
    new Linear({ inFeatures: 3 * crop * crop, outFeatures: classes, generator: new Generator(5) }),
  );
  const augment = { crop, scale: 1 / 255 };
  const r = await evaluate(model, data, { tenCrop: true, augment, batchSize: 2 });

  // The same on the host, in float64.
  const weight = await model.namedParameters()[0][1].data();
  const bias = await model.namedParameters()[1][1].data();
  const inputs = 3 * crop * crop;
  const averaged: number[] = [];
  let nll = 0;
  for (let i = 0; i < count; i++) {
    const batch = tenCrop([data.get(i)], augment);
    const mean = new Array<number>(classes).fill(0);
    for (let c = 0; c < 10; c++) {
      const x = batch.images.subarray(c * inputs, (c + 1) * inputs);
      const z = Array.from({ length: classes }, (_, k) => {
        let s = bias[k];
        for (let j = 0; j < inputs; j++) s += weight[k * inputs + j] * x[j];
        return s;
      });
      const top = Math.max(...z);
      const e = z.map((v) => Math.exp(v - top));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => (mean[k] += v / sum / 10));
    }
    averaged.push(...mean);
    nll -= Math.log(mean[labels[i]] + 1e-12) / count;
  }
  const want = topKErrors(Float32Array.from(averaged), classes, labels);
  assert.equal(r.count, count);
  assert.equal(r.top1, want.top1 / count);
  assert.equal(r.top5, want.top5 / count);
  assert.ok(Math.abs(r.loss - nll) < 1e-5, `loss ${r.loss} vs ${nll}`);

  // An empty dataset is named as such (it read "DataLoader: batchSize must be a positive
  // integer, got 0", the batch size being capped at the dataset's length).
  const empty = new ArrayDataset({
    pixels: new Uint8Array(0),
    labels: new Int32Array(0),
    height: size,
    width: size,
    classNames: ["a", "b"],
  });
  await assert.rejects(
    evaluate(model, empty, { augment, batchSize: 2 }),
    /^RangeError: evaluate: the dataset is empty \(0 samples\)$/,
  );
});

Deno.test("evaluate gives every submodule back the mode it had, also when it fails", async () => {
  // It left the model in evaluation mode: a user's loop that validated and went on training
  // trained without dropout, as the Trainer did not (it switched back itself).
  const size = 4, classes = 3;
  const data = new ArrayDataset({
    pixels: new Uint8Array(5 * size * size * 3).fill(100),
    labels: Int32Array.from([0, 1, 2, 0, 1]),
    height: size,
    width: size,
    classNames: ["a", "b", "c"],
  });
  const frozen = new Dropout({ p: 0.5 }).eval(); // a submodule the user keeps in eval mode
  const model = new Sequential(
    new Flatten(),
    new Dropout({ p: 0.5 }),
    frozen,
    new Linear({ inFeatures: 3 * size * size, outFeatures: classes }),
  );
  const modes = () => model.namedModules().map(([name, m]) => `${name}:${m.training}`);
  const before = modes();
  assert.deepEqual(before, [":true", "0:true", "1:true", "2:false", "3:true"]);
  await evaluate(model, data, { batchSize: 2 });
  assert.deepEqual(modes(), before);
  model.eval();
  await evaluate(model, data, { batchSize: 2 });
  assert.ok(model.namedModules().every(([, m]) => !m.training), "an eval model stays in eval");
  model.train();
  const wrongSize = { crop: 2, scale: 1 / 255 }; // 3·2·2 inputs into the 48-input Linear
  await assert.rejects(evaluate(model, data, { augment: wrongSize }), /Linear: expected/);
  assert.ok(model.namedModules().every(([, m]) => m.training), "restored after a failure");
});

Deno.test("ProgressReporter", async (t) => {
  await t.step("formatDuration", () => {
    assert.equal(formatDuration(0), "0:00");
    assert.equal(formatDuration(59.6), "1:00");
    assert.equal(formatDuration(3600 * 25 + 61), "25:01:01");
    assert.equal(formatDuration(NaN), "--:--");
  });

  await t.step("formatLoss: four decimals, a diverging loss without float noise", () => {
    assert.equal(formatLoss(2.302585), "2.3026");
    assert.equal(formatLoss(6.557666484056119e34), "6.558e+34");
    assert.equal(formatLoss(-3e7), "-3.000e+7");
    assert.equal(formatLoss(NaN), "NaN");
    assert.equal(formatLoss(Infinity), "Infinity");
  });

  await t.step("not a terminal: plain lines every N steps, every S seconds, and at the end", () => {
    const out: string[] = [];
    let now = 0;
    const p = new ProgressReporter({
      write: (s) => out.push(s),
      now: () => now,
      isTerminal: false,
      everySteps: 4,
      everySeconds: 10,
    });
    p.startEpoch(2, 10);
    for (let step = 1; step <= 10; step++) {
      now += step === 6 ? 20_000 : 1000; // a slow step 6 triggers the time-based line
      p.update({ step, loss: 1.23461, lr: 0.001, images: 100 });
    }
    p.endEpoch("done");
    const steps = out.filter((l) => l.startsWith("epoch")).map((l) =>
      Number(/step +(\d+)/.exec(l)![1])
    );
    assert.deepEqual(steps, [4, 6, 8, 10]);
    assert.ok(out.every((l) => l.endsWith("\n") && !l.includes("\r")));
    assert.equal(out.at(-1), "done\n");
    assert.equal(out[0], "epoch 2 step  4/10 loss 1.2346 100.0 img/s ETA 0:06 lr 0.001\n");
  });

  await t.step("terminal: one live line rewritten with \\r, throttled, finished with \\n", () => {
    const out: string[] = [];
    let now = 0;
    const p = new ProgressReporter({
      write: (s) => out.push(s),
      now: () => now,
      isTerminal: true,
      columns: 200,
      redrawMs: 100,
    });
    p.startEpoch(1, 5);
    for (let step = 1; step <= 5; step++) {
      now += 60; // redraw at most every 100 ms: steps 2 and 4, plus the last
      p.update({ step, loss: 2, lr: 0.01, images: 128 });
    }
    assert.equal(out.length, 3);
    assert.ok(out.every((l) => l.startsWith("\r") && !l.includes("\n")));
    p.log("lr reduced");
    assert.ok(out.at(-1)!.startsWith("\r\x1b[Klr reduced\nepoch 1 step 5/5"));
    p.endEpoch();
    assert.ok(out.at(-1)!.endsWith("\n"));
    assert.match(out.at(-1)!, /ETA 0:00/);
  });

  await t.step("terminal: the live line is cut to the width", () => {
    const out: string[] = [];
    const p = new ProgressReporter({
      write: (s) => out.push(s),
      now: () => 0,
      isTerminal: true,
      columns: 20,
    });
    p.startEpoch(1, 1);
    p.update({ step: 1, loss: 2, lr: 0.01, images: 1 });
    assert.equal(out[0], "\repoch 1 step 1/1 lo\x1b[K");
  });
});
