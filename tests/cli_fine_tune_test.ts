/**
 * Fine-tuning from the command line: `train --init-from` a saved narrow ResNet-18 run to a new
 * class count (the loaded weights are the file's bit for bit, the head the model's own init),
 * `--train-only` and `--freeze` (frozen parameters unchanged by the steps, left out of the
 * optimiser, still frozen on resume), `eval --model --weights` on a bare file, and the errors.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { entryToFloat32, readSafetensorsFile } from "../nn/safetensors.ts";
import { latestCheckpoint, MODEL_FILE, OPTIMIZER_FILE } from "../train/checkpoint.ts";
import { cli, isOneErrorLine, tinySynthetic } from "./_cli.ts";
import { buildZooModel } from "../cli/_zoo.ts";
import { defaultDevice } from "../mod.ts";

const MODEL = ["--model", "resnet18", "--stem", "cifar"];
const DATA = tinySynthetic(16, 8, 8);

/** A run folder's latest checkpoint's tensors (a model or optimiser file), as host arrays. */
async function tensors(runDir: string, file = MODEL_FILE): Promise<Map<string, Float32Array>> {
  const ckpt = await latestCheckpoint(runDir);
  assert.ok(ckpt, `${runDir} has a checkpoint`);
  const { tensors } = await readSafetensorsFile(join(ckpt, file));
  return new Map(Object.entries(tensors).map(([name, e]) => [name, entryToFloat32(e)]));
}

/** The names of a ResNet's parameters (not its batch norms' running statistics). */
const isParameter = (name: string) => !/running_|num_batches/.test(name);

const root = await Deno.makeTempDir({ prefix: "cli-fine-tune-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const base = join(root, "base");
const made = await cli("train", ...DATA, ...MODEL, "--epochs", "1", "--run-dir", base);
assert.equal(made.code, 0, made.stderr);

Deno.test("train --init-from a run, to 12 classes, training only fc: the rest is the file's, bit for bit", async () => {
  const run = join(root, "head");
  const r = await cli(
    "train",
    ...DATA,
    ...MODEL,
    ...["--epochs", "1", "--run-dir", run, "--init-from", base, "--num-classes", "12"],
    ...["--train-only", "fc"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `init from ${base}: loaded 120 of 122 entries; skipped \\(class count differs\\) ` +
        "fc.weight \\[10,32\\]→\\[12,32\\], fc.bias \\[10\\]→\\[12\\]; re-initialised those " +
        "\\(torchvision init\\)",
    ),
  );
  assert.match(r.stdout, /frozen: all but fc; 396 of 44,688 parameters train/);
  const before = await tensors(base), after = await tensors(run);
  for (const [name, values] of after) {
    if (!isParameter(name) || name.startsWith("fc.")) continue;
    assert.deepEqual(values, before.get(name), `${name}: loaded and frozen`);
  }
  assert.deepEqual([after.get("fc.weight")!.length, after.get("fc.bias")!.length], [12 * 32, 12]);
  // The optimiser holds the trainable parameters only.
  const velocities = [...(await tensors(run, OPTIMIZER_FILE)).keys()];
  assert.ok(
    velocities.length > 0 && velocities.every((n) => /(^|\.)fc\./.test(n)),
    `${velocities}`,
  );
  const config = JSON.parse(await Deno.readTextFile(join(run, "config.json")));
  assert.equal(config.initFrom, base);
  assert.deepEqual(config.trainOnly, ["fc"]);
  assert.equal(config.model.numClasses, 12);

  // A resume keeps them frozen (and loads the run's checkpoint, not the --init-from weights).
  const resumed = await cli("train", "--resume", run, "--epochs", "2");
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stdout, /init from/);
  const later = await tensors(run);
  assert.notDeepEqual(later.get("fc.weight"), after.get("fc.weight"), "fc trains on");
  for (const [name, values] of later) {
    if (isParameter(name) && !name.startsWith("fc.")) assert.deepEqual(values, before.get(name));
  }
});

Deno.test("train --init-from to 12 classes: the new head is the model's own initialisation", async () => {
  const run = join(root, "init");
  // A learning rate of 1e-30 leaves every weight as it started, bit for bit.
  const r = await cli(
    "train",
    ...DATA,
    ...MODEL,
    ...["--epochs", "1", "--run-dir", run, "--init-from", base, "--num-classes", "12"],
    ...["--train-only", "fc", "--lr", "1e-30", "--weight-decay", "0"],
  );
  assert.equal(r.code, 0, r.stderr);
  const own = buildZooModel(
    {
      preset: "resnet18",
      numClasses: 12,
      width: 0.0625,
      inputSize: 16,
      dropout: 0,
      seed: 0,
      stem: "cifar",
    },
    await defaultDevice(),
  );
  const after = await tensors(run);
  for (const [name, p] of own.namedParameters()) {
    if (name.startsWith("fc.")) assert.deepEqual(after.get(name), await p.data(), name);
  }
  own.dispose();
});

Deno.test("train --init-from a model file with --freeze: the frozen stages stay, the others train", async () => {
  const run = join(root, "freeze");
  const file = join((await latestCheckpoint(base))!, MODEL_FILE);
  const r = await cli(
    "train",
    ...DATA,
    ...MODEL,
    ...["--epochs", "1", "--run-dir", run, "--init-from", file, "--freeze", "conv1,bn1,layer1"],
  );
  assert.equal(r.code, 0, r.stderr);
  // The class count is the same: everything loads, nothing is re-initialised.
  assert.match(r.stdout, /: loaded 122 of 122 entries\n/);
  const before = await tensors(base), after = await tensors(run);
  for (const [name, values] of after) {
    if (!isParameter(name)) continue;
    if (/^(conv1|bn1|layer1)\./.test(name)) assert.deepEqual(values, before.get(name), name);
  }
  assert.notDeepEqual(after.get("layer4.1.conv2.weight"), before.get("layer4.1.conv2.weight"));
  assert.notDeepEqual(after.get("fc.weight"), before.get("fc.weight"));
});

Deno.test("eval --model --weights scores a bare file as eval --checkpoint scores its run", async () => {
  const file = join((await latestCheckpoint(base))!, MODEL_FILE);
  const fromRun = await cli("eval", "--checkpoint", base);
  const bare = await cli(
    "eval",
    ...MODEL,
    ...["--width", "0.0625", "--image-size", "16", "--crop", "16"],
    ...["--train-size", "16", "--val-size", "8", "--weights", file],
  );
  assert.equal(fromRun.code, 0, fromRun.stderr);
  assert.equal(bare.code, 0, bare.stderr);
  const score = (out: string) => out.match(/validation: loss \S+, top-1 error \S+/)?.[0];
  assert.ok(score(bare.stdout));
  assert.equal(score(bare.stdout), score(fromRun.stdout));
});

Deno.test("fine-tuning errors are one line naming the problem", async () => {
  const file = join((await latestCheckpoint(base))!, MODEL_FILE);
  const notWeights = join(root, "notes.txt");
  await Deno.writeTextFile(notWeights, "not a checkpoint");
  // Each command runs when its case is checked, one at a time.
  const train = (...args: string[]) => () => cli("train", ...DATA, "--epochs", "1", ...args);
  const run = (...args: string[]) => () => cli(...args);
  const cases: [() => Promise<{ code: number; stderr: string }>, RegExp][] = [
    [
      train(...MODEL, "--init-from", join(root, "none")),
      /--init-from \S+none: no such file or folder/,
    ],
    [
      train(...MODEL, "--init-from", notWeights),
      /notes\.txt: not a checkpoint or \.safetensors file/,
    ],
    [train(...MODEL, "--init-from", root), /--init-from \S+: .*no checkpoint/],
    [
      train("--model", "resnet34", "--stem", "cifar", "--init-from", base),
      /the names do not fit --model resnet34: 122 of the file's 122 tensors match, 80 of the model's 218 entries are missing \(first unmatched: layer1\.2\.conv1\.weight\); they are --model resnet18's names/,
    ],
    [
      train(...MODEL, "--width", "0.125", "--init-from", base),
      /conv1\.weight is \[4,3,3,3\], --model resnet18 has \[8,3,3,3\] \(only the head's class count may differ/,
    ],
    [
      run("train", "--resume", base, "--init-from", file),
      /--init-from starts a new run from weights; --resume continues a run/,
    ],
    [
      train(...MODEL, "--freeze", "head"),
      /--freeze head: no parameter of --model resnet18 is under it \(its top-level names: conv1, bn1, layer1, layer2, layer3, layer4, fc\)/,
    ],
    [
      train(...MODEL, "--freeze", "fc", "--train-only", "fc"),
      /give --freeze or --train-only, not both/,
    ],
    [train(...MODEL, "--num-classes", "4"), /--num-classes 4 is fewer than the data's 10 classes/],
    [
      run("eval", "--model", "resnet34", "--stem", "cifar", "--width", "0.0625", "--weights", file),
      /--weights \S+: the names do not fit --model resnet34.*they are --model resnet18's names/,
    ],
    [run("eval", "--weights", file), /--weights needs --model/],
  ];
  for (const [command, pattern] of cases) {
    const r = await command();
    assert.equal(r.code, 2, r.stderr);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
    assert.match(r.stderr, pattern);
  }
});
