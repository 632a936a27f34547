/**
 * Training checkpoints are atomic: a save that fails at any point (a model, optimiser, state or
 * pointer write) leaves the previous checkpoint named by the pointer, intact and loadable, and
 * leaves no temporary folder; a failing save at the end of an epoch fails the run the same way.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultDevice, fromTypedArray, keep, type Tensor } from "../mod.ts";
import { Linear } from "../nn/linear.ts";
import { Generator } from "../tensor/random.ts";
import { writeFileAtomic } from "../nn/_atomic.ts";
import { CheckpointError, NonFiniteCheckpointError } from "../nn/checkpoint.ts";
import {
  CHECKPOINT_POINTER,
  CHECKPOINTS_DIR,
  lastGoodCheckpoint,
  latestCheckpoint,
  loadModelWeights,
  loadTrainingCheckpoint,
  saveTrainingCheckpoint,
  type TrainingState,
} from "../train/checkpoint.ts";
import { SGD } from "../train/sgd.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { train } from "../train/train.ts";
import { Trainer } from "../train/trainer.ts";
import { resumeFrom } from "../train/checkpoints.ts";
import { Sequential } from "../nn/sequential.ts";
import { Flatten } from "../nn/flatten.ts";

await defaultDevice();

function state(epochsDone: number, step: number): Omit<
  TrainingState,
  "format" | "version" | "optimizer" | "savedAt"
> {
  return {
    reason: "epoch",
    epochsDone,
    step,
    loader: {
      version: 1,
      seed: 0,
      epoch: epochsDone,
      position: 0,
      datasetLength: 10,
      batchSize: 2,
      shuffle: true,
      dropLast: true,
    },
    generators: { dropout: { seed: 3, offset: step } },
    callbacks: {
      scheduler: { best: null, numBadEpochs: 0, cooldownCounter: 0, lastEpoch: epochsDone },
    },
    partialEpoch: null,
    nonFinite: { consecutive: 0, total: 0 },
    elapsedSeconds: epochsDone,
    history: [],
  };
}

/** One SGD step with every gradient 1. */
function sgdStep(model: Linear, sgd: SGD): void {
  for (const p of model.parameters()) {
    p.grad = keep(fromTypedArray(new Float32Array(p.size).fill(1), p.shape)) as Tensor<
      typeof p.shape,
      "f32"
    >;
  }
  sgd.step();
  sgd.zeroGrad();
}

async function listCheckpoints(runDir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(join(runDir, CHECKPOINTS_DIR))) names.push(e.name);
  return names.sort();
}

Deno.test("a failed save leaves the previous checkpoint in place, whatever step fails", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "train_ckpt_" });
  const model = new Linear({ inFeatures: 3, outFeatures: 2, generator: new Generator(1) });
  const sgd = new SGD({ params: model.parameters(), names: ["weight", "bias"], lr: 0.1 });
  const step = () => sgdStep(model, sgd);
  step();
  const first = await saveTrainingCheckpoint(runDir, {
    model,
    optimizer: await sgd.stateDict(),
    state: state(1, 5),
  });
  const weightsAtFirst = await model.getParameter("weight").data();
  const filesAtFirst = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(first)) {
    filesAtFirst.set(e.name, await Deno.readFile(join(first, e.name)));
  }
  const pointerAtFirst = await Deno.readTextFile(join(runDir, CHECKPOINT_POINTER));
  step();

  for (const failing of ["optimizer.safetensors", "state.json", CHECKPOINT_POINTER]) {
    const writeFile = async (path: string, data: Uint8Array | string) => {
      if (path.endsWith(failing)) {
        // Half a file, then the disk "fills up".
        await Deno.writeFile(`${path}.partial`, new Uint8Array(3));
        throw new Error(`disk full writing ${failing}`);
      }
      await writeFileAtomic(path, data);
    };
    await assert.rejects(
      saveTrainingCheckpoint(
        runDir,
        { model, optimizer: await sgd.stateDict(), state: state(2, 10) },
        { writeFile },
      ),
      /disk full/,
    );
    assert.equal(await Deno.readTextFile(join(runDir, CHECKPOINT_POINTER)), pointerAtFirst);
    assert.equal(await latestCheckpoint(runDir), first);
    for (const [name, bytes] of filesAtFirst) {
      assert.deepEqual(await Deno.readFile(join(first, name)), bytes, `${name} intact`);
    }
    const names = await listCheckpoints(runDir);
    assert.ok(!names.some((n) => n.startsWith(".tmp")), `no temporary folder left: ${names}`);
  }

  // The previous checkpoint loads: weights, velocities and state as saved.
  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.epochsDone, 1);
  assert.deepEqual(ckpt.state.generators.dropout, { seed: 3, offset: 5 });
  const fresh = new Linear({ inFeatures: 3, outFeatures: 2, generator: new Generator(9) });
  await loadModelWeights(ckpt, fresh);
  assert.deepEqual(await fresh.getParameter("weight").data(), weightsAtFirst);
  assert.deepEqual(Object.keys(ckpt.optimizer.state).sort(), ["bias", "weight"]);

  // A successful save moves the pointer and prunes beyond `keep`.
  await saveTrainingCheckpoint(
    runDir,
    { model, optimizer: await sgd.stateDict(), state: state(2, 10) },
    {
      keep: 1,
    },
  );
  assert.match((await latestCheckpoint(runDir))!, /epoch-0002-step-0000010$/);
  assert.deepEqual(
    (await listCheckpoints(runDir)).filter((n) => n.startsWith("epoch-")),
    ["epoch-0002-step-0000010"],
  );
  sgd.dispose();
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("a checkpoint failing at an epoch's end fails the run and keeps the previous one", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "train_ckpt_" });
  const model = new Sequential(
    new Flatten(),
    new Linear({ inFeatures: 3 * 8 * 8, outFeatures: 3, generator: new Generator(2) }),
  );
  const { train: trainData, val: valData } = syntheticSplits({
    trainSize: 32,
    valSize: 16,
    size: 8,
    classes: 3,
  });
  let saves = 0;
  await assert.rejects(
    train({
      model,
      trainData,
      valData,
      epochs: 3,
      batchSize: 16,
      lr: 0.01,
      runDir,
      checkpoint: {
        writeFile: async (path, data) => {
          if (path.endsWith("state.json") && ++saves === 2) throw new Error("no space left");
          await writeFileAtomic(path, data);
        },
      },
    }),
    /no space left/,
  );
  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.epochsDone, 1);
  assert.equal(ckpt.state.step, 2);
  await Deno.remove(runDir, { recursive: true });
});

/** A Linear model with an SGD optimiser whose one step has made velocities. */
function linearWithOptimizer(seed: number): { model: Linear; sgd: SGD } {
  const model = new Linear({ inFeatures: 3, outFeatures: 2, generator: new Generator(seed) });
  const sgd = new SGD({ params: model.parameters(), names: ["weight", "bias"], lr: 0.1 });
  sgdStep(model, sgd);
  return { model, sgd };
}

Deno.test("a checkpoint is never written with non-finite weights or velocities", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "train_ckpt_" });
  const { model, sgd } = linearWithOptimizer(1);
  const first = await saveTrainingCheckpoint(runDir, {
    model,
    optimizer: await sgd.stateDict(),
    state: state(1, 5),
  });
  const pointer = await Deno.readTextFile(join(runDir, CHECKPOINT_POINTER));
  // A velocity of NaN: refused before anything is written.
  const poisoned = await sgd.stateDict();
  const velocity = (await poisoned.state.weight.data()) as Float32Array;
  velocity[4] = NaN;
  poisoned.state.weight.dispose();
  poisoned.state.weight = fromTypedArray(velocity, [2, 3]);
  await assert.rejects(
    saveTrainingCheckpoint(runDir, { model, optimizer: poisoned, state: state(2, 10) }),
    (e: Error) => {
      assert.ok(e instanceof NonFiniteCheckpointError, `${e}`);
      assert.match(
        e.message,
        /not written: non-finite optimizer values .* in 1 of 2 tensors: weight \(1\)/,
      );
      return true;
    },
  );
  // A weight of +∞.
  await model.loadStateDict({
    weight: { shape: [2, 3], data: new Float32Array([1, 2, Infinity, 4, 5, 6]) },
    bias: { shape: [2], data: new Float32Array(2) },
  });
  await assert.rejects(
    saveTrainingCheckpoint(runDir, {
      model,
      optimizer: await sgd.stateDict(),
      state: state(2, 10),
    }),
    /model\.safetensors: not written: non-finite model values .* weight \(1\)/,
  );
  assert.equal(await Deno.readTextFile(join(runDir, CHECKPOINT_POINTER)), pointer);
  assert.deepEqual(await listCheckpoints(runDir), ["epoch-0001-step-0000005"]);
  assert.equal(await lastGoodCheckpoint(runDir), first);
  sgd.dispose();
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("a damaged latest checkpoint falls back to the previous one; a damaged pointer or state is an error naming it", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "train_ckpt_" });
  const { model, sgd } = linearWithOptimizer(2);
  const first = await saveTrainingCheckpoint(runDir, {
    model,
    optimizer: await sgd.stateDict(),
    state: state(1, 5),
  });
  const second = await saveTrainingCheckpoint(runDir, {
    model,
    optimizer: await sgd.stateDict(),
    state: state(2, 10),
  });
  const modelFile = join(second, "model.safetensors");
  const bytes = await Deno.readFile(modelFile);
  await Deno.writeFile(modelFile, bytes.subarray(0, bytes.length - 5)); // torn write
  const warnings: string[] = [];
  const ckpt = await loadTrainingCheckpoint(runDir, { warn: (m) => warnings.push(m) });
  assert.equal(ckpt.dir, first);
  assert.equal(ckpt.state.epochsDone, 1);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^warning: the latest checkpoint is damaged \(.*epoch-0002-step-0000010\/model\.safetensors: corrupt: .*\); falling back to the previous one kept, .*epoch-0001-step-0000005$/,
  );
  assert.equal(await lastGoodCheckpoint(runDir), first);
  await Deno.writeFile(modelFile, bytes);

  // A damaged state.json: fallback from the run folder, an error naming it when given directly.
  const stateFile = join(second, "state.json");
  await Deno.writeTextFile(stateFile, '{"format": "alexnet-webgpu-tra');
  assert.equal((await loadTrainingCheckpoint(runDir, { warn: () => {} })).dir, first);
  await assert.rejects(
    loadTrainingCheckpoint(second),
    (e: Error) => e instanceof CheckpointError && e.message.startsWith(`${stateFile}: corrupt: `),
  );
  // Nothing usable at all.
  await Deno.writeTextFile(join(first, "state.json"), "{}");
  await assert.rejects(
    loadTrainingCheckpoint(runDir),
    /no usable checkpoint: .*state\.json: corrupt/,
  );

  // A damaged pointer is an error naming it.
  const pointerFile = join(runDir, CHECKPOINT_POINTER);
  await Deno.writeTextFile(pointerFile, '{"latest": "checkp');
  await assert.rejects(
    loadTrainingCheckpoint(runDir),
    (e: Error) =>
      e instanceof CheckpointError &&
      e.message.startsWith(`${pointerFile}: corrupt checkpoint pointer`),
  );
  sgd.dispose();
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("a version-1 run (from before the state format's version 2) resumes; a newer version is refused by name", async () => {
  // Written by the library at 2a98af0: a Linear 48→2 after two epochs of 8-image steps on
  // synthetic 8×8 shapes cropped to 4×4, its learning rate cut once (plateau patience 0).
  const runDir = await Deno.makeTempDir({ prefix: "train_ckpt_v1_" });
  const fixture = new URL("./fixtures/checkpoint_v1/", import.meta.url).pathname;
  for (const file of ["checkpoint.json", "metrics.jsonl"]) {
    await Deno.copyFile(join(fixture, file), join(runDir, file));
  }
  const ckptName = "checkpoints/epoch-0002-step-0000004";
  await Deno.mkdir(join(runDir, ckptName), { recursive: true });
  for (const file of ["state.json", "model.safetensors", "optimizer.safetensors"]) {
    await Deno.copyFile(join(fixture, ckptName, file), join(runDir, ckptName, file));
  }
  const v1 = JSON.parse(await Deno.readTextFile(join(runDir, ckptName, "state.json")));
  assert.equal(v1.version, 1);

  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.version, 2);
  assert.deepEqual(ckpt.state.callbacks, { scheduler: v1.scheduler });
  assert.deepEqual(ckpt.optimizer.paramGroups, v1.optimizer.groups);
  assert.deepEqual(ckpt.state.history.map((r) => [r.epoch, r.valTop1]), [[1, 0.5], [2, 0.5]]);

  // The run continues from it: weights, velocities, learning rate, scheduler, loader, history.
  const net = () =>
    new Sequential(
      new Flatten(),
      new Linear({ inFeatures: 48, outFeatures: 2, generator: new Generator(1) }),
    );
  const { train: trainData, val: valData } = syntheticSplits({
    trainSize: 16,
    valSize: 8,
    size: 8,
    classes: 2,
    seed: 3,
  });
  const lines: string[] = [];
  const result = await train({
    model: net(),
    trainData,
    valData,
    epochs: 3,
    batchSize: 8,
    lr: 0.05,
    augment: { crop: 4 },
    plateau: { patience: 0 },
    runDir,
    resume: true,
    log: (line) => lines.push(line),
  });
  assert.match(lines[0], /^resumed from .*epoch-0002-step-0000004: 2 epochs done, step 4$/);
  assert.equal(result.epochsDone, 3);
  assert.equal(result.step, 6);
  assert.deepEqual(result.rows.map((r) => r.epoch), [1, 2, 3]);
  assert.equal(result.rows[2].lr, v1.optimizer.groups[0].lr);
  assert.equal((await loadTrainingCheckpoint(runDir)).state.version, 2);

  // An optimiser whose parameters are named otherwise: the error names the checkpoint.
  const other = net();
  const renamed = new SGD({ params: other.parameters(), names: ["w", "b"], lr: 0.05 });
  const trainer = new Trainer({
    model: other,
    optimizer: renamed,
    trainData,
    epochs: 4,
    batchSize: 8,
  });
  const again = await loadTrainingCheckpoint(runDir);
  await assert.rejects(
    resumeFrom(trainer, again),
    (e: Error) =>
      e instanceof CheckpointError &&
      e.message === `${again.dir}: SGD.loadStateDict: group 0 has different parameters`,
  );
  trainer.dispose();
  renamed.dispose();

  // A version this library does not know: one error naming the file; no fallback.
  const latest = join(runDir, ckptName);
  await Deno.writeTextFile(join(latest, "state.json"), JSON.stringify({ ...v1, version: 3 }));
  await Deno.writeTextFile(
    join(runDir, CHECKPOINT_POINTER),
    JSON.stringify({ latest: ckptName, epochsDone: 2, step: 4, reason: "epoch" }),
  );
  const message = `${join(latest, "state.json")}: training state version 3; this library ` +
    "reads versions 1 and 2 (written by a newer version?)";
  for (const dir of [runDir, latest]) {
    await assert.rejects(
      loadTrainingCheckpoint(dir, { warn: () => assert.fail("no fallback") }),
      (e: Error) => e instanceof CheckpointError && e.message === message,
    );
  }
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("temporary files a crash left beside the pointer and plot are removed", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "train_ckpt_" });
  const { model, sgd } = linearWithOptimizer(3);
  const stale = [".checkpoint.json.999999.0a1b2c3d.tmp", ".curves.svg.999999.deadbeef.tmp"];
  for (const name of stale) await Deno.writeTextFile(join(runDir, name), "half");
  await Deno.writeTextFile(join(runDir, "notes.tmp"), "not ours");
  await saveTrainingCheckpoint(runDir, {
    model,
    optimizer: await sgd.stateDict(),
    state: state(1, 5),
  });
  const left: string[] = [];
  for await (const e of Deno.readDir(runDir)) left.push(e.name);
  assert.deepEqual(left.sort(), [CHECKPOINT_POINTER, CHECKPOINTS_DIR, "notes.tmp"].sort());
  sgd.dispose();
  await Deno.remove(runDir, { recursive: true });
});
