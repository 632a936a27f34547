/**
 * The Trainer as a library user drives it: any module and loss, no files; callbacks called in
 * order with their events; a stop request from a callback ends the epoch early with the loop
 * state kept; a named callback's state travels through a checkpoint and back.
 */

import assert from "node:assert/strict";
import { crossEntropy, defaultDevice, type Tensor } from "../mod.ts";
import { Flatten } from "../nn/flatten.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { Sequential } from "../nn/sequential.ts";
import { Generator } from "../tensor/random.ts";
import type { TrainerCallback } from "../train/callback.ts";
import { checkpoints } from "../train/checkpoints.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { SGD } from "../train/sgd.ts";
import { Trainer } from "../train/trainer.ts";

await defaultDevice();

class Mlp extends Module {
  readonly net: Sequential;
  constructor(seed: number) {
    super();
    const generator = new Generator(seed);
    this.net = this.registerModule(
      "net",
      new Sequential(
        new Flatten(),
        new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 4, generator }),
      ),
    );
  }
  forward(x: Tensor): Tensor {
    return this.net.forward(x);
  }
}

const { train: trainData, val: valData } = syntheticSplits({
  trainSize: 64,
  valSize: 16,
  size: 8,
  classes: 4,
  seed: 2,
});

async function weights(model: Module): Promise<Float32Array[]> {
  return await Promise.all(model.parameters().map(async (p) => (await p.data()) as Float32Array));
}

Deno.test("the loss function is the user's, in training and in validation", async () => {
  const model = new Mlp(1);
  const before = await weights(model);
  const optimizer = SGD.forModule(model, { lr: 0.1, weightDecay: 0 });
  const zero = (logits: Tensor, labels: Tensor) => crossEntropy(logits, labels).mul(0);
  const trainer = new Trainer({
    model,
    optimizer,
    loss: zero,
    trainData,
    valData,
    epochs: 1,
    batchSize: 16,
  });
  const r = await trainer.run();
  trainer.dispose();
  optimizer.dispose();
  assert.equal(r.step, 4);
  assert.equal(r.rows[0].trainLoss, 0);
  assert.equal(r.rows[0].valLoss, 0);
  assert.deepEqual(await weights(model), before, "a zero loss has zero gradients");
  assert.equal(r.checkpoint, null);
});

Deno.test("callbacks are called in order with their events", async () => {
  const model = new Mlp(2);
  const optimizer = SGD.forModule(model, { lr: 0.05 });
  const seen: string[] = [];
  const recorder = (tag: string): TrainerCallback => ({
    onTrainStart: () => void seen.push(`${tag} start`),
    onEpochStart: (_, e) => void seen.push(`${tag} epoch ${e.epoch} of ${e.steps} steps`),
    onLog: (_, e) => void seen.push(`${tag} log ${e.epoch}.${e.step} ${e.images} images`),
    onEpochEnd: (t, e) =>
      void seen.push(`${tag} end ${e.metrics.epoch} ${e.validation?.count} ${t.history.length}`),
    onTrainEnd: (_, e) => void seen.push(`${tag} done ${e.interrupted}`),
  });
  const trainer = new Trainer({
    model,
    optimizer,
    trainData,
    valData,
    epochs: 2,
    batchSize: 16,
    logEvery: 3,
    callbacks: [recorder("a"), recorder("b")],
  });
  await trainer.run();
  trainer.dispose();
  optimizer.dispose();
  const a = seen.filter((s) => s.startsWith("a "));
  assert.deepEqual(a, [
    "a start",
    "a epoch 1 of 4 steps",
    "a log 1.3 48 images",
    "a log 1.4 16 images",
    "a end 1 16 1",
    "a epoch 2 of 4 steps",
    "a log 2.3 48 images",
    "a log 2.4 16 images",
    "a end 2 16 2",
    "a done false",
  ]);
  assert.deepEqual(seen.slice(0, 2), ["a start", "b start"]);
});

Deno.test("a stop requested by a callback ends the epoch early and keeps its totals", async () => {
  const model = new Mlp(3);
  const optimizer = SGD.forModule(model, { lr: 0.05 });
  const stops: string[] = [];
  const trainer = new Trainer({
    model,
    optimizer,
    trainData,
    valData,
    epochs: 3,
    batchSize: 16,
    logEvery: 1,
    callbacks: [{
      onLog: (t, e) => {
        if (e.epoch === 2 && e.step === 2) t.requestStop();
      },
      onStop: (_, e) => void stops.push(`${e.epoch}.${e.step}/${e.steps}`),
    }],
  });
  const r = await trainer.run();
  assert.equal(r.interrupted, true);
  assert.deepEqual(stops, ["2.3/4"]); // the request is seen after the next step
  assert.equal(r.step, 7);
  assert.equal(r.epochsDone, 1);
  const state = trainer.loopState();
  assert.equal(state.partialEpoch?.steps, 3);
  assert.deepEqual([state.loader.epoch, state.loader.position], [1, 3]);
  trainer.dispose();
  optimizer.dispose();
});

Deno.test("a named callback's state is checkpointed and restored on resume", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "train_callbacks_" });
  const counter = () => {
    let epochs = 0;
    return {
      name: "counter",
      get epochs() {
        return epochs;
      },
      onEpochEnd() {
        epochs++;
      },
      stateDict: () => ({ epochs }),
      loadStateDict(state: unknown) {
        epochs = (state as { epochs: number }).epochs;
      },
    };
  };
  const run = async (epochs: number, resume: boolean) => {
    const model = new Mlp(resume ? 99 : 4);
    const optimizer = SGD.forModule(model, { lr: 0.05 });
    const count = counter();
    const trainer = new Trainer({
      model,
      optimizer,
      trainData,
      epochs,
      batchSize: 16,
      callbacks: [count, checkpoints({ runDir, resume })],
    });
    const r = await trainer.run();
    trainer.dispose();
    optimizer.dispose();
    return { r, count: count.epochs, weights: await weights(model) };
  };
  const first = await run(2, false);
  assert.equal(first.count, 2);
  const resumed = await run(3, true);
  assert.equal(resumed.count, 3, "2 restored + 1 trained");
  assert.equal(resumed.r.rows.length, 3, "the history comes back with the checkpoint");
  assert.deepEqual(resumed.r.rows.slice(0, 2), first.r.rows);
  assert.match(resumed.r.checkpoint!, /epoch-0003-step-0000012$/);
  await Deno.remove(runDir, { recursive: true });
});
