/**
 * `train --model resnet18|…|vgg19_bn` and `summary --model …`: a narrow ResNet trains, records
 * its architecture in config.json, resumes to the same weights as a run that never stopped, and
 * evaluates; a VGG trains; the layer table of resnet18 is torchvision's at its parameter count;
 * AlexNet's options that do not apply, and two devices, are one-line usage errors.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { latestCheckpoint } from "../train/checkpoint.ts";
import { readSafetensorsFile } from "../nn/safetensors.ts";
import { cli, isOneErrorLine, tinySynthetic } from "./_cli.ts";

/** The tensors of a run's latest checkpoint, by name (their bytes). */
async function latestWeights(runDir: string): Promise<Record<string, Uint8Array>> {
  const dir = await latestCheckpoint(runDir);
  const file = await readSafetensorsFile(join(dir!, "model.safetensors"));
  return Object.fromEntries(
    Object.entries(file.tensors).map(([name, t]) => [name, new Uint8Array(t.data)]),
  );
}

Deno.test("train --model resnet18 trains, records the architecture, resumes exactly and evaluates", async () => {
  const straight = await Deno.makeTempDir({ prefix: "cli_zoo_" });
  const stopped = await Deno.makeTempDir({ prefix: "cli_zoo_" });
  const args = [...tinySynthetic(32, 16, 16), "--model", "resnet18", "--stem", "cifar"];
  let r = await cli("train", ...args, "--epochs", "2", "--run-dir", straight);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /model: resnet18 \(width 0\.0625, 16×16 input, 10 classes, torchvision init\), 44,622 parameters/,
  );
  const config = JSON.parse(await Deno.readTextFile(join(straight, "config.json")));
  assert.deepEqual(config.model, {
    preset: "resnet18",
    width: 0.0625,
    inputSize: 16,
    numClasses: 10,
    dropout: 0,
    seed: 0,
    stem: "cifar",
  });
  assert.equal(config.init, "torchvision");
  const weights = await latestWeights(straight);
  assert.ok("layer4.1.bn2.num_batches_tracked" in weights && "fc.weight" in weights);

  r = await cli("train", ...args, "--epochs", "1", "--run-dir", stopped);
  assert.equal(r.code, 0, r.stderr);
  r = await cli("train", "--resume", stopped, "--epochs", "2");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await latestWeights(stopped), weights, "the resumed run's weights");

  r = await cli("eval", "--checkpoint", straight);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /validation: loss \d+\.\d+, top-1 error/);
  for (const d of [straight, stopped]) await Deno.remove(d, { recursive: true });
});

Deno.test("train --model vgg11_bn trains on inputs its five pools take", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "cli_zoo_" });
  const r = await cli(
    "train",
    ...["--image-size", "32", "--crop", "32", "--width", "0.0625"],
    ...["--train-size", "16", "--val-size", "16", "--batch-size", "8", "--epochs", "1"],
    ...["--model", "vgg11_bn", "--dropout", "0.2", "--run-dir", runDir],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /model: vgg11_bn \(width 0\.0625, 32×32 input/);
  const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
  assert.equal(config.model.dropout, 0.2);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("summary --model resnet18 prints torchvision's layers and parameter count", async () => {
  const r = await cli("summary", "--model", "resnet18");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /input \[1, 3, 224, 224\]/);
  assert.match(
    r.stdout,
    /\nlayer2\.0 +\[1, 128, 28, 28\] +230,144 +gpu0 +3×3 s2 → 3×3, projection\n/,
  );
  assert.match(r.stdout, /\nfc +\[1, 1000\] +513,000 +gpu0 +linear\n/);
  assert.match(r.stdout, /\nmaxpool +\[1, 64, 56, 56\] +0 +- +max pool 3×3 s2 p1\n/);
  assert.match(r.stdout, /Total parameters: 11,689,512/);
});

Deno.test("options that do not apply to torchvision's architectures are one-line usage errors", async () => {
  const cases: [string[], RegExp][] = [
    [["--model", "resnet18", "--lrn", "off"], /--lrn does not apply to resnet18/],
    [["--model", "resnet50", "--dropout", "0.2"], /a ResNet has no dropout/],
    [["--model", "vgg16", "--devices", "2"], /vgg16 has no towers: it runs on one device/],
    [["--model", "vgg11", "--stem", "cifar"], /--stem applies to the ResNets/],
    [["--model", "resnet18", "--init", "paper"], /--init paper is AlexNet's/],
    [["--init", "torchvision"], /--init torchvision is for torchvision's architectures/],
    [["--model", "vgg11"], /vgg11 model does not fit 24×24 inputs .* at least 32×32/],
    [["--model", "resnet18", "--width", "0.001"], /64 × width must be a positive whole number/],
  ];
  for (const [args, message] of cases) {
    const r = await cli("train", ...args, "--run-dir", "/nonexistent/never");
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
    assert.match(r.stderr, message);
  }
  const r = await cli("summary", "--model", "resnet18", "--towers", "1");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--towers does not apply to resnet18/);
});
