import assert from "node:assert/strict";
import {
  averageProbabilities,
  meanNegativeLogLikelihood,
  MetricAccumulator,
  topKErrors,
} from "../train/metrics.ts";
import { formatDuration, ProgressReporter } from "../cli/progress.ts";

const f32 = (values: number[]) => new Float32Array(values);
const i32 = (values: number[]) => new Int32Array(values);

Deno.test("topKErrors", async (t) => {
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

Deno.test("averageProbabilities", async (t) => {
  await t.step("softmax per row, averaged over arrays", () => {
    const crops = [f32([0, 0, Math.log(3), 0]), f32([Math.log(3), 0, 0, 0])];
    const p = averageProbabilities(crops, 2);
    const expected = [(0.5 + 0.75) / 2, (0.5 + 0.25) / 2, (0.75 + 0.5) / 2, (0.25 + 0.5) / 2];
    p.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v}`));
  });

  await t.step("stable for huge logits; rows sum to 1", () => {
    const p = averageProbabilities([f32([1000, 999, -1000])], 3);
    assert.ok(p.every(Number.isFinite));
    assert.ok(Math.abs(p[0] + p[1] + p[2] - 1) < 1e-6);
    assert.ok(Math.abs(p[0] - 1 / (1 + Math.exp(-1))) < 1e-6);
  });

  await t.step("feeds topKErrors and the NLL", () => {
    const p = averageProbabilities([f32([2, 0]), f32([0, 1])], 2);
    assert.equal(topKErrors(p, 2, i32([0])).top1, 0);
    const nll = meanNegativeLogLikelihood(p, 2, i32([0]));
    assert.ok(Math.abs(nll + Math.log(p[0])) < 1e-6);
    assert.ok(Number.isFinite(meanNegativeLogLikelihood(f32([1, 0]), 2, i32([1]))));
  });

  await t.step("rejects mismatched input", () => {
    assert.throws(() => averageProbabilities([], 2), RangeError);
    assert.throws(() => averageProbabilities([f32([1, 2]), f32([1])], 2), RangeError);
    assert.throws(() => averageProbabilities([f32([1, 2, 3])], 2), RangeError);
  });
});

Deno.test("MetricAccumulator", async (t) => {
  await t.step("weights loss by batch size; error rates; throughput", () => {
    let now = 1000;
    const acc = new MetricAccumulator({ now: () => now });
    acc.add({ loss: 4, count: 30, top1: 30, top5: 15 });
    acc.add({ loss: 2, count: 10, top1: 2, top5: 1 });
    now = 3000;
    const s = acc.summary();
    assert.equal(s.loss, (4 * 30 + 2 * 10) / 40);
    assert.equal(s.top1, 32 / 40);
    assert.equal(s.top5, 16 / 40);
    assert.deepEqual([s.count, s.steps, s.skippedSteps, s.seconds, s.imagesPerSec], [
      40,
      2,
      0,
      2,
      20,
    ]);
  });

  await t.step("non-finite loss is skipped but its images count for throughput", () => {
    let now = 0;
    const acc = new MetricAccumulator({ now: () => now });
    assert.equal(acc.add({ loss: 1, count: 10, top1: 5 }), true);
    assert.equal(acc.add({ loss: Infinity, count: 10, top1: 0 }), false);
    assert.equal(acc.add({ loss: NaN, count: 10 }), false);
    now = 1000;
    const s = acc.summary();
    assert.deepEqual([s.loss, s.top1, s.count, s.skippedSteps, s.imagesPerSec], [
      1,
      0.5,
      10,
      2,
      30,
    ]);
    assert.ok(Number.isNaN(s.top5));
  });

  await t.step("addLogits and reset", () => {
    let now = 0;
    const acc = new MetricAccumulator({ now: () => now });
    acc.addLogits(0.5, f32([1, 0, 1, 0]), 2, i32([0, 1]));
    assert.deepEqual([acc.summary().top1, acc.summary().top5], [0.5, 0]);
    now = 50;
    acc.reset();
    const s = acc.summary();
    assert.ok(Number.isNaN(s.loss));
    assert.deepEqual([s.count, s.seconds], [0, 0]);
    assert.ok(Number.isNaN(s.imagesPerSec));
  });
});

Deno.test("ProgressReporter", async (t) => {
  await t.step("formatDuration", () => {
    assert.equal(formatDuration(0), "0:00");
    assert.equal(formatDuration(59.6), "1:00");
    assert.equal(formatDuration(3600 * 25 + 61), "25:01:01");
    assert.equal(formatDuration(NaN), "--:--");
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
