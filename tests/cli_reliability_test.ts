/**
 * What a user hits running `train`, `eval` and `prepare` on real folders, as subprocesses on
 * tiny files the tests write: labels and classes checked when data loads, errors as one
 * `error:` line (exit 1) naming the file or option, run folders checked before any heavy work
 * and not left behind by a failed start, resume with moved data, subsets of real data, and the
 * defaults a user expects.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { encode as encodePng } from "npm:fast-png@8.0.0";
import { encodeSafetensors, entryFromTypedArray } from "../nn/safetensors.ts";
import { prepareImageFolder } from "../train/data/prepare.ts";
import { loadTrainingCheckpoint } from "../train/checkpoint.ts";
import {
  cli,
  cliCommand,
  type CliResult,
  isOneErrorLine,
  startCli,
  tinySynthetic,
} from "./_cli.ts";

const TINY_MODEL = ["--crop", "16", "--width", "0.0625", "--batch-size", "8"];

/** IDX image and label files (16×16 images whose brightness follows the label). */
async function writeIdx(dir: string, trainLabels: number[], testLabels: number[]) {
  await Deno.mkdir(dir, { recursive: true });
  const idx = (dims: number[], body: Uint8Array) => {
    const out = new Uint8Array(4 + 4 * dims.length + body.length);
    const view = new DataView(out.buffer);
    out[2] = 0x08;
    out[3] = dims.length;
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
    out.set(body, 4 + 4 * dims.length);
    return out;
  };
  for (const [prefix, labels] of [["train", trainLabels], ["t10k", testLabels]] as const) {
    const pixels = Uint8Array.from(
      { length: labels.length * 256 },
      (_, i) => (labels[Math.floor(i / 256)] * 25 + (i % 7) * 3) & 255,
    );
    await Deno.writeFile(
      `${dir}/${prefix}-images-idx3-ubyte`,
      idx([labels.length, 16, 16], pixels),
    );
    await Deno.writeFile(
      `${dir}/${prefix}-labels-idx1-ubyte`,
      idx([labels.length], Uint8Array.from(labels)),
    );
  }
}

/** Labels 0…9 repeated `n` times in all. */
const cycle = (n: number) => Array.from({ length: n }, (_, i) => i % 10);

/** An image folder with the given classes, `per` small PNGs each. */
async function writeImageFolder(dir: string, classes: string[], per = 2) {
  for (const [c, name] of classes.entries()) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    for (let k = 0; k < per; k++) {
      const data = Uint8Array.from({ length: 12 * 12 * 3 }, (_, i) => (c * 60 + k * 9 + i) & 255);
      await Deno.writeFile(
        `${dir}/${name}/${k}.png`,
        encodePng({ width: 12, height: 12, data, channels: 3 }),
      );
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** `train --data <dir>` with the tiny model into a scratch run folder, plus `extra`. */
function trainOn(dir: string, ...extra: string[]): Promise<CliResult> {
  return cli("train", "--data", dir, ...TINY_MODEL, "--run-dir", `${root}/r`, ...extra);
}

function assertError(r: CliResult, pattern: RegExp, code = 1) {
  assert.equal(r.code, code, `exit ${r.code}: ${r.stdout}\n${r.stderr}`);
  assert.ok(isOneErrorLine(r.stderr), `one error line, no stack trace:\n${r.stderr}`);
  assert.match(r.stderr, pattern);
}

const root = await Deno.makeTempDir({ prefix: "cli_reliability_" });

Deno.test("labels and classes are checked when data loads", async (t) => {
  await t.step(
    "a stray IDX training label names file, record and label; no run folder",
    async () => {
      const labels = cycle(40);
      labels[17] = 200;
      await writeIdx(`${root}/stray`, labels, cycle(20));
      const runDir = `${root}/runs/stray`;
      const r = await cli("train", "--data", `${root}/stray`, ...TINY_MODEL, "--run-dir", runDir);
      assertError(
        r,
        /train-labels-idx1-ubyte: record 17 has label 200, but labels 10–199 never occur/,
      );
      assert.ok(!(await exists(runDir)), "a failed start leaves no run folder");
      assert.ok(!(await exists(`${root}/runs`)), "nor the folder made for it");
    },
  );

  await t.step("an IDX test label outside the training classes", async () => {
    const test = cycle(20);
    test[5] = 12;
    await writeIdx(`${root}/test12`, cycle(40), test);
    const r = await trainOn(`${root}/test12`);
    assertError(
      r,
      /t10k-labels-idx1-ubyte: record 5 has label 12, outside the 10 classes \[0, 10\)/,
    );
  });

  await t.step("validation classes other than the training classes are listed", async () => {
    await writeImageFolder(`${root}/img/train`, ["a", "b", "c"]);
    await writeImageFolder(`${root}/img/val`, ["a", "c", "d"]);
    for (const split of ["train", "val"]) {
      await prepareImageFolder({
        input: `${root}/img/${split}`,
        output: `${root}/shards/${split}`,
        size: 16,
      });
    }
    const r = await trainOn(`${root}/shards`);
    assertError(
      r,
      /error: the classes of .*shards\/val differ from those of .*shards\/train: missing b; extra d/,
    );
  });

  await t.step(
    "an empty class folder: an error, or a warning with --allow-empty-classes",
    async () => {
      await writeImageFolder(`${root}/withempty`, ["a", "b"]);
      await Deno.mkdir(`${root}/withempty/empty`);
      const prepare = ["prepare", "--input", `${root}/withempty`, "--output", `${root}/we`];
      let r = await cli(...prepare, "--size", "16");
      assertError(r, /withempty\/empty: empty class folder \(class 2\)/);
      r = await cli(...prepare, "--size", "16", "--allow-empty-classes");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: .*withempty\/empty: empty class folder, kept as class 2/);
    },
  );

  await t.step("an image folder given to --data: the error says to prepare it", async () => {
    await writeImageFolder(`${root}/raw-images`, ["a", "b"]);
    const r = await cli("train", "--data", `${root}/raw-images`);
    assertError(
      r,
      /^error: --data .*raw-images: found none of .*; it looks like an image folder \(one subfolder per class\): prepare it first, with 'deno run -A cli\.ts prepare --input .*raw-images --output <folder>'$/m,
      2,
    );
    // ImageNet's layout, train/ and val/ image folders under one: no hint before.
    await writeImageFolder(`${root}/imagenet/train`, ["a", "b"]);
    await writeImageFolder(`${root}/imagenet/val`, ["a", "b"]);
    assertError(
      await cli("train", "--data", `${root}/imagenet`),
      /^error: --data .*imagenet: found none of .*; its train\/ and val\/ look like image folders \(one subfolder per class\): prepare each first, with 'deno run -A cli\.ts prepare --input .*imagenet\/train --output <folder>\/train', the same for val\/ with --no-stats, then --data <folder>$/m,
      2,
    );
  });

  await t.step("an image that does not decode: named, with a hint to --skip-bad", async () => {
    await writeImageFolder(`${root}/withbad`, ["a", "b"]);
    const png = await Deno.readFile(`${root}/withbad/a/0.png`);
    await Deno.writeFile(`${root}/withbad/a/torn.png`, png.subarray(0, png.length - 20));
    const prepare = ["prepare", "--input", `${root}/withbad`, "--output", `${root}/wb`];
    let r = await cli(...prepare, "--size", "16");
    assertError(r, /^error: .*withbad\/a\/torn\.png: cannot decode PNG: .*[^:\s]\n/);
    assert.match(r.stderr, /hint: prepare --skip-bad skips the files that do not decode/);
    r = await cli(...prepare, "--size", "16", "--skip-bad");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote 4 images \(2 classes\) .*; skipped 1/);
  });
});

Deno.test("errors are messages: one line naming the file or option, exit 1", async (t) => {
  await t.step("a bad run configuration in a checkpoint's metadata names the file", async () => {
    const file = `${root}/bad-config.safetensors`;
    const tensors = { w: entryFromTypedArray("F32", [1], new Float32Array([1])) };
    await Deno.writeFile(file, encodeSafetensors(tensors, { config: "{not json" }));
    const r = await cli("eval", "--checkpoint", file);
    assertError(
      r,
      /bad-config\.safetensors \(metadata "config"\): the run configuration is not valid JSON/,
    );
    // --debug adds the stack trace.
    const debug = await cli("eval", "--checkpoint", file, "--debug");
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^error: .*\n[\s\S]*\n\s+at /);
  });

  await t.step("a run folder that cannot be written is found before any heavy work", async () => {
    await Deno.writeTextFile(`${root}/a-file`, "");
    const r = await cli("train", "--run-dir", `${root}/a-file/run`, ...TINY_MODEL);
    assertError(r, /error: --run-dir .*a-file\/run: cannot create the run folder/);
    // Named: it read the system's 'Not a directory (os error 20): mkdir …'.
    assert.match(r.stderr, /cannot create the run folder: .*a-file is a file, not a folder$/m);
    assert.doesNotMatch(r.stdout, /device:|data:/, "no device or data set up");
  });

  await t.step("a folder that already holds a run is not overwritten", async () => {
    await Deno.mkdir(`${root}/taken`);
    await Deno.writeTextFile(`${root}/taken/config.json`, "{}");
    const r = await cli("train", "--run-dir", `${root}/taken`);
    assertError(r, /--run-dir .*taken already holds a run: continue it with --resume/, 2);
    assert.equal(await Deno.readTextFile(`${root}/taken/config.json`), "{}");
    // The command to copy is quoted for the shell where the path needs it.
    await Deno.mkdir(`${root}/it's taken`);
    await Deno.writeTextFile(`${root}/it's taken/config.json`, "{}");
    const quoted = await cli("train", "--run-dir", `${root}/it's taken`);
    assert.ok(
      quoted.stderr.includes(`continue it with --resume '${root}/it'\\''s taken', `),
      quoted.stderr,
    );
  });
});

Deno.test("runs on real data: subsets, moved data, checkpoint folders, defaults", async (t) => {
  await writeIdx(`${root}/idx`, cycle(60), cycle(30));
  const runDir = `${root}/runs/idx`;

  await t.step("--train-size and --val-size take a balanced seeded subset, recorded", async () => {
    const r = await cli(
      "train",
      "--data",
      `${root}/idx`,
      ...TINY_MODEL,
      "--train-size",
      "20",
      "--val-size",
      "10",
      "--epochs",
      "1",
      "--run-dir",
      runDir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /data: IDX .*; using 20 of 60 training and 10 of 30 validation images, balanced across classes \(seed 0\)/,
    );
    assert.match(r.stdout, /training: 1 epoch, /);
    assert.match(r.stdout, /done: 1 epoch, 2 steps/);
    const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
    assert.deepEqual(config.data.subset, { train: 20, val: 10, seed: 0 });
    assert.equal(config.dataFingerprint.train.count, 20);
  });

  await t.step("the default crop grows to what the model takes, within the images", async () => {
    // 16-pixel images were cropped to 14 by default, which the small net does not fit (it
    // takes 15): 'the model does not fit', with no crop given.
    const dir = `${root}/runs/crop`;
    const args = ["--width", "0.0625", "--batch-size", "4", "--train-size", "8", "--val-size", "4"];
    const r = await cli(
      "train",
      "--data",
      `${root}/idx`,
      ...args,
      "--epochs",
      "1",
      "--run-dir",
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /model: AlexNet small \(width 0\.0625, 15×15 input, 10 classes/);
    assert.equal(JSON.parse(await Deno.readTextFile(join(dir, "config.json"))).crop, 15);
    // A crop given is kept, and too small for the model is an error naming the least.
    const small = await cli("train", "--data", `${root}/idx`, ...args, "--crop", "14");
    assertError(
      small,
      /the small model does not fit 14×14 inputs .*: it takes inputs of at least 15×15$/m,
      2,
    );
  });

  await t.step("eval accepts one checkpoint folder as well as the run folder", async () => {
    const pointer = JSON.parse(await Deno.readTextFile(join(runDir, "checkpoint.json")));
    for (const path of [runDir, join(runDir, pointer.latest)]) {
      const r = await cli("eval", "--checkpoint", path);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /validation: loss [\d.]+, top-1 error [\d.]+%, top-5 error [\d.]+% over 10 images/,
      );
    }
  });

  await t.step("moved data: --resume explains, and accepts --data at the new place", async () => {
    await Deno.rename(`${root}/idx`, `${root}/idx-moved`);
    let r = await cli("train", "--resume", runDir, "--epochs", "2");
    assertError(r, /if the run's data moved, give its new folder: --resume .* --data <dir>/);
    r = await cli("train", "--resume", runDir, "--epochs", "2", "--data", `${root}/idx-moved`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /data moved: .*\/idx → .*\/idx-moved; same data set, resuming/);
    assert.match(r.stdout, /done: 2 epochs, 4 steps/);
    const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
    assert.match(config.data.dir, /idx-moved$/);
    // Other data is refused, the differences named.
    const other = cycle(60);
    other[3] = 4;
    await writeIdx(`${root}/idx-other`, other, cycle(30));
    r = await cli("train", "--resume", runDir, "--epochs", "3", "--data", `${root}/idx-other`);
    assertError(
      r,
      /--data .*idx-other is not the data this run was trained on: training images or labels differ/,
    );
    await writeIdx(`${root}/idx-fewer`, cycle(50), cycle(30));
    r = await cli("train", "--resume", runDir, "--epochs", "3", "--data", `${root}/idx-fewer`);
    assertError(r, /not the data this run was trained on: /);
  });

  await t.step("--resume --epochs is kept: a later plain --resume continues to it", async () => {
    let r = await cli("train", "--resume", runDir, "--epochs", "3");
    assert.equal(r.code, 0, r.stderr);
    // The run's epochs and steps; the time is this session's, and says so.
    assert.match(r.stdout, /done: 3 epochs, 6 steps; this session \d+:\d\d \(/);
    const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
    assert.equal(config.epochs, 3);
    r = await cli("train", "--resume", runDir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /training: 3 epochs, /);
    assert.match(r.stdout, /nothing to train: the run has 3 of 3 epochs done/);
  });

  await t.step(
    "a corrupt pointer is an error naming it; a damaged latest checkpoint falls back",
    async () => {
      const pointerFile = join(runDir, "checkpoint.json");
      const pointer = await Deno.readTextFile(pointerFile);
      await Deno.writeTextFile(pointerFile, "{");
      let r = await cli("train", "--resume", runDir, "--epochs", "3");
      assertError(r, /checkpoint\.json: corrupt checkpoint pointer/);
      await Deno.writeTextFile(pointerFile, pointer);
      const latest = join(runDir, JSON.parse(pointer).latest);
      await Deno.writeTextFile(join(latest, "model.safetensors"), "torn");
      r = await cli("eval", "--checkpoint", runDir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /warning: the latest checkpoint is damaged .*model\.safetensors.*; falling back to the previous one kept/,
      );
    },
  );

  await t.step(
    "--resume of a checkpoint from a newer version: one error line naming it",
    async () => {
      const pointer = JSON.parse(await Deno.readTextFile(join(runDir, "checkpoint.json")));
      const stateFile = join(runDir, pointer.latest, "state.json");
      const state = await Deno.readTextFile(stateFile);
      await Deno.writeTextFile(stateFile, JSON.stringify({ ...JSON.parse(state), version: 3 }));
      const r = await cli("train", "--resume", runDir, "--epochs", "4");
      assertError(
        r,
        /^error: .*state\.json: training state version 3; this library reads versions 1 and 2/,
      );
      await Deno.writeTextFile(stateFile, state);
    },
  );

  await t.step(
    "small prepared images: a net sized to them; no top-5 with 5 classes; lr",
    async () => {
      const classes = ["a", "b", "c", "d", "e"];
      for (const split of ["train", "val"]) {
        await writeImageFolder(`${root}/five/${split}`, classes);
        await prepareImageFolder({
          input: `${root}/five/${split}`,
          output: `${root}/five-shards/${split}`,
          size: 24,
        });
      }
      const r = await cli(
        "train",
        "--data",
        `${root}/five-shards`,
        "--width",
        "0.0625",
        "--batch-size",
        "5",
        "--epochs",
        "4",
        "--lr",
        "1.5e-6",
        "--patience",
        "0",
        "--run-dir",
        `${root}/runs/five`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /model: AlexNet small \(width 0\.0625, 21×21 input, 5 classes/);
      assert.doesNotMatch(r.stdout, /top-5/);
      // 1.5e-6 / 10 / 10 is 1.5000000000000002e-8 in floating point.
      assert.match(r.stdout, /lr 1\.5e-7 -> 1\.5e-8/);
      assert.match(r.stdout, /epoch 4: .* lr 1\.5e-8$/m);
      const csv = await Deno.readTextFile(`${root}/runs/five/metrics.csv`);
      assert.deepEqual(
        csv.trim().split("\n").slice(1).map((line) => line.split(",")[2]),
        ["0.0000015", "0.0000015", "1.5e-7", "1.5e-8"],
      );
    },
  );

  await t.step("eval on data with other classes than the model's: one error line", async () => {
    // The 10-class IDX model on the 5-class shards scored outputs of other classes (top-1
    // printed as if meaningful); the 5-class model on the 10-class IDX data failed at the first
    // label past its outputs, in the loss, on the GPU.
    let r = await cli("eval", "--checkpoint", runDir, "--data", `${root}/five-shards`);
    // (A step above damaged this run's latest checkpoint: a warning line comes first.)
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /^error: --data .*five-shards has 5 classes; the checkpoint's model has 10 outputs, one per class it was trained on$/m,
    );
    r = await cli("eval", "--checkpoint", `${root}/runs/five`, "--data", `${root}/idx-moved`);
    assertError(r, /--data .*idx-moved has 10 classes; the checkpoint's model has 5 outputs/, 2);
    // The same count under other names evaluates, with a warning naming both.
    for (const split of ["train", "val"]) {
      await writeImageFolder(`${root}/renamed/${split}`, ["a", "b", "c", "d", "z"]);
      await prepareImageFolder({
        input: `${root}/renamed/${split}`,
        output: `${root}/renamed-shards/${split}`,
        size: 24,
      });
    }
    r = await cli("eval", "--checkpoint", `${root}/runs/five`, "--data", `${root}/renamed-shards`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^warning: --data .* names its classes a, b, c, d, z; the model was trained on a, b, c, d, e$/m,
    );
    assert.match(r.stdout, /validation: loss [\d.]+, top-1 error [\d.]+% over 10 images/);
    // Images smaller than the model's input failed in the loader, naming neither the data nor
    // the model: 'augment: crop 21 does not fit in 16×16 images'.
    for (const split of ["train", "val"]) {
      await prepareImageFolder({
        input: `${root}/five/${split}`,
        output: `${root}/small-shards/${split}`,
        size: 16,
      });
    }
    r = await cli("eval", "--checkpoint", `${root}/runs/five`, "--data", `${root}/small-shards`);
    assertError(
      r,
      /^error: --data .*small-shards has 16×16 images; the checkpoint's model takes 21×21 crops of them$/m,
      2,
    );
  });
});

Deno.test("a run stopped before its first checkpoint resumes from its beginning", async () => {
  // Killed (or out of memory) before its first checkpoint, a run folder holds only config.json:
  // --resume said "the run has no checkpoint yet" and a new run in that folder said "already
  // holds a run: continue it with --resume", so neither way went on.
  const whole = `${root}/runs/whole`;
  const args = [...tinySynthetic(32, 16, 8), "--epochs", "2", "--log-every", "2"];
  let r = await cli("train", ...args, "--run-dir", whole);
  assert.equal(r.code, 0, r.stderr);
  const early = `${root}/runs/killed-early`;
  await Deno.mkdir(early, { recursive: true });
  await Deno.copyFile(join(whole, "config.json"), join(early, "config.json"));
  r = await cli("train", "--resume", early);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /killed-early has no checkpoint yet: starting the run from its beginning/);
  assert.match(r.stdout, /done: 2 epochs, 8 steps in /);
  // The same run: every figure but the timings as the run that was never stopped.
  const figures = async (dir: string) =>
    (await Deno.readTextFile(join(dir, "metrics.csv"))).trim().split("\n")
      .map((line) => line.split(",").slice(0, 9).join(","));
  assert.deepEqual(await figures(early), await figures(whole));
});

Deno.test("train goes on when nobody reads its output any more (train | head)", async () => {
  // The first write after the reader closed threw "Broken pipe (os error 32)": the run
  // stopped there (and a run stopped before its first checkpoint lost its folder).
  const runDir = `${root}/runs/unread`;
  const args = [...tinySynthetic(32, 16, 8), "--epochs", "2", "--log-every", "1"];
  const child = cliCommand(["train", ...args, "--run-dir", runDir]).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // the first line(s), then the reader goes away
  await reader.cancel();
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
  ]);
  assert.equal(status.code, 0, stderr);
  assert.equal(stderr, "");
  const rows = (await Deno.readTextFile(join(runDir, "metrics.csv"))).trim().split("\n");
  assert.equal(rows.length, 3, "a header and both epochs");
  const pointer = JSON.parse(await Deno.readTextFile(join(runDir, "checkpoint.json")));
  assert.match(pointer.latest, /epoch-0002-step-0000008$/);
});

Deno.test("summary and train show the same model by default", async () => {
  const summary = await cli("summary");
  assert.equal(summary.code, 0, summary.stderr);
  const params = /total\D*([\d,]+)/i.exec(summary.stdout)?.[1];
  assert.ok(params, summary.stdout);
  const train = await cli(
    "train",
    "--epochs",
    "1",
    "--train-size",
    "8",
    "--val-size",
    "8",
    "--run-dir",
    `${root}/runs/default`,
  );
  assert.equal(train.code, 0, train.stderr);
  assert.match(train.stdout, new RegExp(`model: AlexNet small .* ${params} parameters`));
});

Deno.test("a learning rate that diverges: no checkpoint holds NaN, skipped steps are reported", async () => {
  for (const lr of ["3", "1e6"]) {
    const runDir = `${root}/runs/lr-${lr}`;
    const r = await cli(
      "train",
      ...tinySynthetic(256, 32, 16),
      "--epochs",
      "2",
      "--log-every",
      "4",
      "--lr",
      lr,
      "--run-dir",
      runDir,
    );
    const out = r.stdout + r.stderr;
    assert.match(out, /skipped/, `--lr ${lr}: skipped steps reported:\n${out}`);
    if (r.code !== 0) {
      assertError(r, /non-finite/);
      assert.match(r.stderr, /(The last good checkpoint is |No good checkpoint was written yet)/);
    }
    // Every checkpoint kept loads: finite weights and velocities.
    const kept: string[] = [];
    if (await exists(join(runDir, "checkpoints"))) {
      for await (const e of Deno.readDir(join(runDir, "checkpoints"))) {
        if (e.name.startsWith("epoch-")) kept.push(e.name);
      }
    }
    for (const name of kept) {
      const ckpt = await loadTrainingCheckpoint(join(runDir, "checkpoints", name));
      assert.equal(ckpt.dir, join(runDir, "checkpoints", name), `--lr ${lr}: ${name} is finite`);
    }
  }
});

Deno.test("SIGINT during prepare: one line, status 130, the output folder it made removed", async () => {
  await writeImageFolder(`${root}/many`, ["a", "b"], 300);
  const output = `${root}/many-prepared/train`;
  const run = startCli(["prepare", "--input", `${root}/many`, "--output", output]);
  // The output folder appears once the input is listed, before the first image is read.
  while (!(await exists(output))) await new Promise((resolve) => setTimeout(resolve, 5));
  run.child.kill("SIGINT");
  const r = await run.finish();
  assert.equal(r.code, 130, `${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout, `SIGINT: prepare stopped; ${output} removed\n`);
  assert.equal(r.stderr, "");
  assert.ok(!(await exists(`${root}/many-prepared`)), "no partial output");
});

Deno.test("cleanup", async () => {
  await Deno.remove(root, { recursive: true });
});
