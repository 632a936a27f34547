/**
 * Exact resume: two epochs in one go equal one epoch + resume + one epoch, and equal a run
 * interrupted mid-epoch or during an epoch's validation (as Ctrl-C does) and resumed — bit for
 * bit in the weights, the velocities and the dropout generator, with the same metrics.
 */

import assert from "node:assert/strict";
import { defaultDevice } from "../mod.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { loadTrainingCheckpoint } from "../train/checkpoint.ts";
import type { Trainer } from "../train/trainer.ts";
import { createTrainer, type TrainOptions } from "../train/train.ts";
import type { SGD } from "../train/sgd.ts";
import type { EpochMetrics } from "../train/run_log.ts";
import { TinyNet } from "./_tiny_net.ts";

await defaultDevice();

/** The resume tests' net: 8×8 crops of 10×10 images, 24 hidden units, dropout 0.5. */
const tinyNet = (seed: number) => new TinyNet(seed, { hidden: 24, dropout: 0.5 });

const { train: trainData, val: valData } = syntheticSplits({
  trainSize: 80,
  valSize: 24,
  size: 10,
  classes: 4,
  seed: 9,
});

function options(model: TinyNet, runDir: string, epochs: number): TrainOptions {
  return {
    model,
    trainData,
    valData,
    epochs,
    batchSize: 16,
    lr: 0.05,
    seed: 7,
    augment: { crop: 8, flip: true },
    runDir,
    logEvery: 2,
    // Patience 0 reduces the learning rate after any epoch that does not improve, so the
    // scheduler state matters to the result.
    plateau: { patience: 0 },
    generators: { dropout: model.generator },
  };
}

interface Outcome {
  weights: Float32Array[];
  velocities: Float32Array[];
  generator: { seed: number; offset: number };
  rows: EpochMetrics[];
  lr: number;
}

async function outcome(
  trainer: Trainer<SGD>,
  model: TinyNet,
  rows: EpochMetrics[],
): Promise<Outcome> {
  const weights: Float32Array[] = [], velocities: Float32Array[] = [];
  for (const p of model.parameters()) {
    weights.push((await p.data()) as Float32Array);
    velocities.push((await trainer.optimizer.velocity(p)!.data()) as Float32Array);
  }
  return {
    weights,
    velocities,
    generator: model.generator.state(),
    rows,
    lr: trainer.optimizer.lr,
  };
}

async function runFresh(epochs: number, runDir: string): Promise<Outcome> {
  const model = tinyNet(1);
  const trainer = createTrainer(options(model, runDir, epochs));
  const r = await trainer.run();
  const out = await outcome(trainer, model, r.rows);
  trainer.dispose();
  trainer.optimizer.dispose();
  return out;
}

/** Resumes a run folder into a model built with another seed (the checkpoint must win). */
async function runResumed(epochs: number, runDir: string): Promise<Outcome> {
  const model = tinyNet(12345);
  const trainer = createTrainer({ ...options(model, runDir, epochs), resume: true });
  const r = await trainer.run();
  const out = await outcome(trainer, model, r.rows);
  trainer.dispose();
  trainer.optimizer.dispose();
  return out;
}

function assertSame(a: Outcome, b: Outcome): void {
  a.weights.forEach((w, i) => assert.deepEqual(b.weights[i], w, `weights ${i}`));
  a.velocities.forEach((v, i) => assert.deepEqual(b.velocities[i], v, `velocity ${i}`));
  assert.deepEqual(b.generator, a.generator);
  assert.equal(b.lr, a.lr);
  assert.equal(b.rows.length, a.rows.length);
  a.rows.forEach((r, i) => {
    const s = b.rows[i];
    for (const key of ["trainLoss", "trainTop1", "valLoss", "valTop1", "lr"] as const) {
      assert.ok(
        Math.abs(r[key] - s[key]) <= 1e-6 * Math.max(1, Math.abs(r[key])),
        `epoch ${r.epoch} ${key}: ${r[key]} vs ${s[key]}`,
      );
    }
    assert.equal(s.step, r.step);
  });
}

const dirs: string[] = [];
async function temp(): Promise<string> {
  const d = await Deno.makeTempDir({ prefix: "train_resume_" });
  dirs.push(d);
  return d;
}

const straight = await runFresh(3, await temp());

Deno.test("3 epochs in one go == 1 epoch + resume + 2 epochs, bit for bit", async () => {
  const runDir = await temp();
  await runFresh(1, runDir);
  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.epochsDone, 1);
  assert.equal(ckpt.state.reason, "epoch");
  assert.equal(ckpt.state.partialEpoch, null);
  assertSame(straight, await runResumed(3, runDir));
});

Deno.test("an interrupt mid-epoch checkpoints; resuming it ends where the straight run did", async () => {
  const runDir = await temp();
  const model = tinyNet(1);
  const controller = new AbortController();
  model.onForward = (call) => {
    if (call === 7) controller.abort(); // epoch 2 (5 steps per epoch), its third step
  };
  const trainer = createTrainer({ ...options(model, runDir, 3), signal: controller.signal });
  const r = await trainer.run();
  trainer.dispose();
  trainer.optimizer.dispose();
  assert.equal(r.interrupted, true);
  assert.equal(r.step, 8);
  assert.equal(r.epochsDone, 1);
  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.reason, "interrupt");
  assert.deepEqual([ckpt.state.loader.epoch, ckpt.state.loader.position], [1, 3]);
  assert.equal(ckpt.state.partialEpoch?.steps, 3);
  assertSame(straight, await runResumed(3, runDir));
});

Deno.test("an interrupt during validation abandons it; the resumed run validates again", async () => {
  const runDir = await temp();
  const model = tinyNet(1);
  const controller = new AbortController();
  // Validation: 24 images in batches of 16, two forwards an epoch. The first forward of epoch
  // 2's validation stops the run; the validation notices before its second batch.
  model.onEvalForward = (call) => {
    if (call === 2) controller.abort();
  };
  const logs: string[] = [];
  const trainer = createTrainer({
    ...options(model, runDir, 3),
    signal: controller.signal,
    log: (m) => void logs.push(m),
  });
  const r = await trainer.run();
  trainer.dispose();
  trainer.optimizer.dispose();
  assert.equal(r.interrupted, true);
  assert.deepEqual([r.epochsDone, r.step, r.rows.length], [1, 10, 1]);
  assert.equal(model.evalCalls, 3, "validation stopped before its second batch");
  assert.match(logs.at(-1)!, /^interrupted in epoch 2's validation \(a resume validates again\)/);
  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.reason, "interrupt");
  assert.deepEqual([ckpt.state.epochsDone, ckpt.state.step], [1, 10]);
  assert.deepEqual([ckpt.state.loader.epoch, ckpt.state.loader.position], [2, 0]);
  assert.equal(ckpt.state.partialEpoch?.steps, 5);
  assert.equal(ckpt.state.history.length, 1);
  // The metrics files have epoch 1's row only; the resumed run writes epoch 2's once.
  const jsonl = await Deno.readTextFile(`${runDir}/metrics.jsonl`);
  assert.equal(jsonl.trim().split("\n").length, 1);
  const resumeLogs: string[] = [];
  const resumed = tinyNet(12345);
  const again = createTrainer({
    ...options(resumed, runDir, 3),
    resume: true,
    log: (m) => void resumeLogs.push(m),
  });
  const rr = await again.run();
  const out = await outcome(again, resumed, rr.rows);
  again.dispose();
  again.optimizer.dispose();
  assert.match(resumeLogs[0], /step 10, epoch 2's validation to run again$/);
  assert.equal(resumed.calls, 5, "epoch 3's steps only: epoch 2's were not trained again");
  assertSame(straight, out);
  const rows = (await Deno.readTextFile(`${runDir}/metrics.jsonl`)).trim().split("\n");
  assert.deepEqual(rows.map((line) => JSON.parse(line).epoch), [1, 2, 3]);
});

Deno.test("cleanup", async () => {
  for (const d of dirs) await Deno.remove(d, { recursive: true });
});
