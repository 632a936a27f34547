/**
 * The experiment runner without a GPU: a stand-in trainer writes epoch rows, so the set's
 * order, its resume after an interruption, the manifest check, the measures, the verdicts and
 * the report can be checked exactly.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ArmRun,
  CLAIMS,
  compareArms,
  epochsToTarget,
  EXPERIMENT_JSON,
  ExperimentMismatchError,
  FINAL_JSON,
  loadExperiment,
  runExperiment,
} from "../train/experiment/mod.ts";
import { renderClaimSvg, renderReport } from "../cli/_experiment_report.ts";
import { appendEpochMetrics, type EpochMetrics } from "../train/run_log.ts";

function row(epoch: number, trainTop1: number, valTop1: number): EpochMetrics {
  return {
    epoch,
    step: epoch * 10,
    lr: 0.01,
    trainLoss: trainTop1 * 2,
    trainTop1,
    trainTop5: trainTop1 / 4,
    valLoss: valTop1 * 2,
    valTop1,
    valTop5: valTop1 / 4,
    imagesPerSec: 100,
    seconds: 1,
    skippedSteps: 0,
  };
}

/**
 * A stand-in trainer: the tanh arm learns `slowdown` times slower; the training error after
 * epoch e is 0.9·0.5^(e / speed). Optionally stops (interrupts) at one run, leaving a
 * checkpoint pointer behind as the real trainer does.
 */
function fakeTrainer(opts: { slowdown: number; interruptAt?: number; calls: string[] }) {
  let count = 0;
  return async (run: ArmRun) => {
    count++;
    opts.calls.push(`${run.arm.name}/${run.seed}${run.resume ? " resume" : ""}`);
    const speed = (run.arm.name === "tanh" ? opts.slowdown : 1) * (1 + run.seed / 10);
    const start = run.resume ? 2 : 1;
    for (let e = start; e <= run.epochs; e++) {
      const train = 0.9 * 0.5 ** (e / speed);
      await appendEpochMetrics(run.dir, row(e, train, train + 0.05));
      if (count === opts.interruptAt && e === 1) {
        await Deno.writeTextFile(
          join(run.dir, "checkpoint.json"),
          JSON.stringify({ latest: "checkpoints/epoch-1" }),
        );
        return { interrupted: true, trainEval: null };
      }
    }
    return { interrupted: false, trainEval: { top1: 0.01, top5: 0, loss: 0.1 } };
  };
}

const base = {
  claim: CLAIMS.relu,
  seeds: [0, 1, 2],
  epochs: 8,
  target: 0.25,
  classes: 10,
  data: "stand-in data",
  settings: { preset: "test" },
};

Deno.test("experiment runner: a set, its interruption and resume, and its report", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const calls: string[] = [];
    const first = await runExperiment({
      ...base,
      dir,
      train: fakeTrainer({ slowdown: 3, interruptAt: 3, calls }),
    });
    assert.equal(first.result, null);
    assert.deepEqual(calls, ["relu/0", "tanh/0", "relu/1"]);
    await Deno.stat(join(dir, "tanh", "seed-0", FINAL_JSON));

    calls.length = 0;
    const lines: string[] = [];
    const second = await runExperiment({
      ...base,
      dir,
      train: fakeTrainer({ slowdown: 3, calls }),
      log: (l) => lines.push(l),
    });
    assert.deepEqual(calls, ["relu/1 resume", "tanh/1", "relu/2", "tanh/2"]);
    assert.equal(second.kept, 2);
    assert.match(lines[0], /\[3\/6\] relu: ReLU, seed 1 \(resuming\)/);
    const result = second.result!;
    const c = result.comparisons[0];
    // 0.9·0.5^(e/s) = 0.25 at e = s·log2(3.6); the interpolation between epoch ends is close.
    const exact = [0, 1, 2].map((seed) => (1 + seed / 10) * Math.log2(3.6));
    for (const [i, v] of c.arms[0].entries()) assert.ok(Math.abs(v - exact[i]) < 0.1, `${v}`);
    assert.equal(c.censored[1], 0);
    assert.ok(Math.abs(c.ratioOfMeans - 3) < 0.1, `ratio ${c.ratioOfMeans}`);
    assert.equal(c.verdict, "holds");

    const report = renderReport([result]);
    assert.match(
      report,
      /\| ReLU against tanh \(§3.1, Figure 1\) \| epochs to the target/,
    );
    assert.match(report, /ratio ×2\.\d\d|ratio ×3\.\d\d/);
    assert.match(report, /\| holds \|/);
    assert.match(report, /stand-in data; 8 epochs; seeds 0, 1, 2; target training error 25%/);
    const svg = renderClaimSvg(result);
    assert.match(svg, /ReLU \(mean of 3\)/);
    assert.match(svg, /target 25%/);

    // A rerun keeps everything; other settings are refused.
    calls.length = 0;
    const third = await runExperiment({ ...base, dir, train: fakeTrainer({ slowdown: 3, calls }) });
    assert.deepEqual([calls, third.kept, third.trained], [[], 6, 0]);
    await assert.rejects(
      runExperiment({ ...base, epochs: 9, dir, train: fakeTrainer({ slowdown: 3, calls }) }),
      (e) => e instanceof ExperimentMismatchError && /epochs differ/.test(e.message),
    );
    assert.match(await Deno.readTextFile(join(dir, EXPERIMENT_JSON)), /"claim": "relu"/);
    // The finished set, read back from its folder, compares the same.
    const loaded = await loadExperiment(dir, "relu");
    assert.deepEqual(loaded?.comparisons.map((x) => x.effects), [c.effects]);
    assert.deepEqual(loaded?.seeds, [0, 1, 2]);
    assert.equal(await loadExperiment(dir, "lrn"), null);
    // Another target re-measures the same runs.
    const lower = await runExperiment({
      ...base,
      target: 0.2,
      dir,
      train: fakeTrainer({ slowdown: 3, calls }),
    });
    assert.deepEqual([calls, lower.trained], [[], 0]);
    assert.ok(lower.result!.comparisons[0].summaries[0].mean > c.summaries[0].mean);
    assert.match(await Deno.readTextFile(join(dir, EXPERIMENT_JSON)), /"target": 0.2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("experiment runner: an identical finished run is copied, not trained", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const calls: string[] = [];
    const first = { ...base, claim: CLAIMS.lrn, dir: join(dir, "a") };
    await runExperiment({ ...first, train: fakeTrainer({ slowdown: 1, calls }) });
    calls.length = 0;
    const lines: string[] = [];
    const second = await runExperiment({
      ...first,
      dir: join(dir, "b"),
      train: fakeTrainer({ slowdown: 1, calls }),
      // The paper's arm is the same network: the first set's runs serve.
      sameRun: (run) =>
        Promise.resolve(
          run.arm.name === "lrn" ? join(dir, "a", "lrn", `seed-${run.seed}`) : null,
        ),
      log: (l) => lines.push(l),
    });
    assert.deepEqual(calls, ["no-lrn/0", "no-lrn/1", "no-lrn/2"]);
    assert.equal(second.reused, 3);
    assert.match(lines[0], /\[1\/6\] lrn: LRN, seed 0: the same run as .*a\/lrn\/seed-0, reused/);
    await Deno.stat(join(dir, "b", "lrn", "seed-2", FINAL_JSON));
    const again = await loadExperiment(join(dir, "b"), "lrn");
    assert.deepEqual(again?.comparisons[0].arms, second.result?.comparisons[0].arms);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("experiment measures and verdicts", async (t) => {
  await t.step("epochs to target: interpolated, chance before the first epoch", () => {
    const rows = [row(1, 0.5, 0), row(2, 0.3, 0), row(3, 0.2, 0)];
    assert.equal(epochsToTarget(rows, 0.25, 10), 2.5);
    // Chance (0.9) before epoch 1, 0.5 after it: 0.7 is half way.
    assert.ok(Math.abs(epochsToTarget(rows, 0.7, 10) - 0.5) < 1e-12);
    assert.equal(epochsToTarget(rows, 0.1, 10), Infinity);
  });

  await t.step("differences: holds, opposite, not resolved", () => {
    const m = CLAIMS.lrn.measures[0]; // the paper: higher error without LRN
    assert.equal(compareArms(m, [30, 31, 29], [32, 33, 31.5]).verdict, "holds");
    assert.equal(compareArms(m, [32, 33, 31.5], [30, 31, 29]).verdict, "opposite");
    assert.equal(compareArms(m, [30, 31, 29], [31, 30, 29.5]).verdict, "not resolved");
    assert.equal(compareArms(m, [30], [35]).verdict, "not resolved"); // one seed decides nothing
  });

  await t.step("censored runs: a lower bound supports only the direction it pushes", () => {
    const m = CLAIMS.relu.measures[0]; // the paper: tanh needs more epochs
    const holds = compareArms(m, [2, 2.2, 2.5], [Infinity, Infinity, 9], 10);
    assert.deepEqual([holds.verdict, holds.censored], ["holds", [0, 2]]);
    // ReLU never got there in 10 epochs, tanh did: the bound only makes ReLU slower still.
    const slowRelu = compareArms(m, [Infinity, Infinity, Infinity], [3, 3.5, 4], 10);
    assert.equal(slowRelu.verdict, "opposite");
    const neither = compareArms(m, [Infinity, Infinity, 8], [Infinity, Infinity, 9], 10);
    assert.equal(neither.verdict, "not resolved");
  });
});
