/**
 * The training loop end to end on a tiny model and tiny synthetic data: the loss falls and the
 * metrics, plot and checkpoint files appear; non-finite losses are skipped on the GPU (weights
 * stay finite, the skipped steps are counted) and too many in a row stop the run with an
 * error that leaves the last good checkpoint in place, its weights untouched since.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { crossEntropy, defaultDevice, type Tensor } from "../mod.ts";
import { AdaptiveAvgPool2d, Conv2d, Flatten, Linear, Sequential } from "../nn/mod.ts";
import { evaluate } from "../train/evaluate.ts";
import { alexnetSmall } from "../nn/alexnet.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { ArrayDataset } from "../train/data/array_dataset.ts";
import { mulberry32 } from "./_reference.ts";
import { TinyNet } from "./_tiny_net.ts";
import { CHECKPOINT_POINTER, latestCheckpoint } from "../train/checkpoint.ts";
import { NonFiniteLossError } from "../train/trainer.ts";
import { train } from "../train/train.ts";
import { METRICS_CSV, METRICS_JSONL, readMetrics } from "../train/run_log.ts";
import { CURVES_SVG, curvesPlot } from "../cli/plot_svg.ts";

await defaultDevice();

function data(trainSize = 96, valSize = 32) {
  return syntheticSplits({ trainSize, valSize, size: 8, classes: 4, seed: 3 });
}

/** Noise with one brighter quadrant per class: a perceptron learns it in a few epochs. */
function quadrants(count: number, seed: number, size = 8): ArrayDataset {
  const rng = mulberry32(seed);
  const pixels = new Uint8Array(count * size * size * 3);
  const labels = new Int32Array(count);
  const half = size / 2;
  for (let i = 0; i < count; i++) {
    const label = i % 4;
    labels[i] = label;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const bright = (y < half) === (label < 2) && (x < half) === (label % 2 === 0);
        for (let c = 0; c < 3; c++) {
          pixels[((i * size + y) * size + x) * 3 + c] = Math.floor(rng() * 120) +
            (bright ? 100 : 0);
        }
      }
    }
  }
  return new ArrayDataset({
    pixels,
    labels,
    height: size,
    width: size,
    classNames: ["top-left", "top-right", "bottom-left", "bottom-right"],
  });
}

async function tempRun(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "train_loop_" });
}

Deno.test("a short run lowers the loss and writes metrics, curves and checkpoints", async () => {
  const runDir = await tempRun();
  const model = new TinyNet(1);
  const trainData = quadrants(128, 1), valData = quadrants(64, 2);
  const result = await train({
    model,
    trainData,
    valData,
    epochs: 4,
    batchSize: 16,
    lr: 0.05,
    augment: { flip: true },
    runDir,
    logEvery: 3,
    generators: { dropout: model.generator },
    callbacks: [curvesPlot(runDir)],
  });
  assert.equal(result.epochsDone, 4);
  assert.equal(result.step, 4 * 8);
  assert.equal(result.interrupted, false);
  const rows = await readMetrics(runDir);
  assert.equal(rows.length, 4);
  assert.ok(
    rows[3].trainLoss < rows[0].trainLoss * 0.9,
    `train loss should fall: ${rows.map((r) => r.trainLoss)}`,
  );
  assert.ok(rows[3].valLoss < rows[0].valLoss, `val loss: ${rows.map((r) => r.valLoss)}`);
  assert.ok(rows[3].valTop1 < 0.5, `val top-1 error far below chance (0.75): ${rows[3].valTop1}`);
  for (const r of rows) {
    assert.ok(r.trainTop1 >= 0 && r.trainTop1 <= 1 && r.valTop1 >= 0 && r.valTop1 <= 1);
    assert.equal(r.valTop5, 0); // 4 classes: the label is always within the top 5
    assert.equal(r.skippedSteps, 0);
    assert.ok(r.imagesPerSec > 0);
  }
  for (const f of [METRICS_JSONL, METRICS_CSV, CURVES_SVG, CHECKPOINT_POINTER, "checkpoints"]) {
    await Deno.stat(join(runDir, f));
  }
  const latest = await latestCheckpoint(runDir);
  assert.match(latest!, /epoch-0004-step-0000032$/);
  assert.ok(result.lastEval && result.lastEval.count === 64);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("the scaled AlexNet trains end to end (one epoch, loss finite, error counted)", async () => {
  const runDir = await tempRun();
  const model = alexnetSmall({ inputSize: 16, width: 1 / 16, seed: 2, numClasses: 4 });
  const { train: trainData, val: valData } = syntheticSplits({
    trainSize: 64,
    valSize: 32,
    size: 18,
    classes: 4,
    seed: 1,
  });
  const result = await train({
    model,
    trainData,
    valData,
    epochs: 1,
    batchSize: 32,
    lr: 0.01,
    augment: { crop: 16, flip: true },
    runDir,
    generators: { dropout: model.dropoutGenerator! },
    tenCrop: true,
  });
  const [row] = result.rows;
  assert.ok(Number.isFinite(row.trainLoss) && Number.isFinite(row.valLoss));
  assert.ok(row.valTop1 >= 0 && row.valTop1 <= 1);
  assert.equal(result.step, 2);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("one device and two devices train the same network to the same weights", async () => {
  const { Device } = await import("../kernels/device.ts");
  const { train: trainData, val: valData } = syntheticSplits({
    trainSize: 64,
    valSize: 16,
    size: 16,
    classes: 4,
    seed: 5,
  });
  const pair = await Device.acquireMany(2);
  const results: Record<string, Float32Array>[] = [];
  for (const devices of [[pair[0]], pair]) {
    const runDir = await tempRun();
    const config = { inputSize: 16, width: 1 / 16, seed: 3, numClasses: 4 };
    const model = alexnetSmall(config, devices.length === 1 ? devices[0] : devices);
    const result = await train({
      model,
      trainData,
      valData,
      epochs: 1,
      batchSize: 32,
      lr: 0.01,
      augment: { flip: true },
      runDir,
      generators: { dropout: model.dropoutGenerator! },
    });
    assert.equal(result.step, 2);
    const dict = await model.stateDict();
    const host: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(dict)) {
      host[name] = (await t.data()) as Float32Array;
      t.dispose();
    }
    results.push(host);
    model.dispose();
    await Deno.remove(runDir, { recursive: true });
  }
  for (const [name, a] of Object.entries(results[0])) {
    const b = results[1][name];
    const worst = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    assert.ok(worst < 1e-5, `${name}: one vs two devices differ by ${worst}`);
  }
  // Two live logical devices of one lavapipe adapter can crash the driver at exit.
  for (const d of pair) await d.sync();
  for (const d of pair) d.destroy();
});

Deno.test("non-finite losses are skipped on the GPU and counted", async () => {
  const runDir = await tempRun();
  const model = new TinyNet(4);
  model.poison = (call) => call === 2 || call === 7 || call === 8;
  const { train: trainData, val: valData } = data();
  const result = await train({
    model,
    trainData,
    valData,
    epochs: 2,
    batchSize: 16,
    lr: 0.05,
    runDir,
    logEvery: 4,
    generators: { dropout: model.generator },
  });
  const rows = result.rows;
  assert.deepEqual(rows.map((r) => r.skippedSteps), [1, 2]); // 6 steps per epoch
  for (const r of rows) assert.ok(Number.isFinite(r.trainLoss) && Number.isFinite(r.valLoss));
  for (const p of model.parameters()) {
    assert.ok((await p.data()).every(Number.isFinite), "weights stay finite");
  }
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("too many non-finite losses in a row stop the run; the last good checkpoint stays", async () => {
  const runDir = await tempRun();
  const model = new TinyNet(5);
  const { train: trainData, val: valData } = data();
  model.poison = (call) => call >= 6; // the second epoch diverges from its first step
  await assert.rejects(
    train({
      model,
      trainData,
      valData,
      epochs: 3,
      batchSize: 16,
      lr: 0.05,
      runDir,
      logEvery: 2,
      maxConsecutiveNonFinite: 3,
      generators: { dropout: model.generator },
    }),
    (error: Error) => {
      assert.ok(error instanceof NonFiniteLossError);
      assert.match(error.message, /non-finite losses in a row/);
      assert.match(error.message, /epoch-0001/);
      return true;
    },
  );
  const latest = await latestCheckpoint(runDir);
  assert.match(latest!, /epoch-0001-step-0000006$/);
  // Every update after the checkpoint was skipped: the weights equal the checkpoint's.
  const fresh = new TinyNet(99);
  const { loadCheckpoint } = await import("../nn/checkpoint.ts");
  await loadCheckpoint(join(latest!, "model.safetensors"), fresh);
  const a = model.parameters(), b = fresh.parameters();
  for (let i = 0; i < a.length; i++) assert.deepEqual(await a[i].data(), await b[i].data());
  assert.equal((await readMetrics(runDir)).length, 1);
  await Deno.remove(runDir, { recursive: true });
});

/** One epoch of two batches of 4 on 8×8 synthetic images of `classes` classes (4 to validate). */
function tinyRun(classes: number) {
  const { train, val } = syntheticSplits({ trainSize: 8, valSize: 4, size: 8, classes });
  return { trainData: train, valData: val, epochs: 1, batchSize: 4, lr: 0.01 };
}

Deno.test("a model without logits [batch, classes] is one error naming its output", async () => {
  // A net of convolutions and pooling with no Flatten returned [N, C, 1, 1]: the loss read
  // 'labels [4] do not match logits [4,3,1,1] (need [4,1,1] class indices …)'.
  const options = tinyRun(3);
  const valData = options.valData;
  const convOnly = () =>
    new Sequential(
      new Conv2d({ inChannels: 3, outChannels: 3, kernelSize: 3 }),
      new AdaptiveAvgPool2d(1),
    );
  const message =
    /^ShapeError: the model returned \[4,3,1,1\] for a batch of 4; training and evaluation take logits \[batch, classes\] \(a Flatten after the last pooling makes \[4, 3\]\)$/;
  await assert.rejects(train({ model: convOnly(), ...options }), message);
  await assert.rejects(evaluate(convOnly(), valData, { batchSize: 4 }), message);
  // A loss of the user's that takes them still trains: the counts read [N, C, 1, 1] as [N, C].
  const loss = (logits: Tensor, labels: Tensor) => crossEntropy(logits.flatten(1), labels);
  const r = await train({ model: convOnly(), ...options, loss });
  assert.equal(r.step, 2);
  assert.equal(r.lastEval?.count, 4);
});

Deno.test("a model with fewer outputs than the data's classes is one error naming both", async () => {
  // It failed as a device fault at the first label past them, naming neither: 'crossEntropy:
  // label 4 of sample 0 is outside the 3 classes [0, 3)'.
  const options = tinyRun(5);
  const valData = options.valData;
  const narrow = () =>
    new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 3 }));
  const message =
    /^ShapeError: the model returned \[4,3\] for data of 5 classes: its last layer needs 5 outputs, one per class \(it has 3\)$/;
  await assert.rejects(train({ model: narrow(), ...options }), message);
  await assert.rejects(evaluate(narrow(), valData, { batchSize: 4 }), message);
  // More outputs than classes train, as in PyTorch (labels index the first ones).
  const wide = new Sequential(new Flatten(), new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 7 }));
  assert.equal((await train({ model: wide, ...options })).step, 2);
});
