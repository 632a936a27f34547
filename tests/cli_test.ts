/**
 * The command line, run as a subprocess: `--help` of every command, unknown options and
 * commands, bad values (each an error with a hint and exit status 2), and a tiny train → eval →
 * summary round trip.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, tinySynthetic } from "./_cli.ts";

Deno.test("--help of the program and of every command", async () => {
  const top = await cli("--help");
  assert.equal(top.code, 0);
  for (const c of ["train", "eval", "summary", "prepare", "bench", "experiment"]) {
    assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
  }
  const expected: Record<string, RegExp[]> = {
    train: [
      /--epochs/,
      /--batch-size/,
      /--lr/,
      /--momentum/,
      /--weight-decay/,
      /--devices/,
      /--seed/,
      /--run-dir/,
      /--resume/,
      /--ten-crop/,
      /--log-every/,
      /--data/,
      /--model/,
      /'deno run -A cli\.ts summary' with the same\nswitches/,
    ],
    eval: [/--checkpoint/, /--ten-crop/],
    summary: [/--model/, /--devices/, /the 'changed:' lines above the table/],
    prepare: [/--input/, /--output/, /--size/],
    bench: [/bench\/mod\.ts/],
    experiment: [/--claim/, /--preset/, /--out/],
  };
  for (const [command, patterns] of Object.entries(expected)) {
    const r = await cli(command, "--help");
    assert.equal(r.code, 0, `${command} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: deno run -A cli\\.ts ${command}`));
    for (const p of patterns) assert.match(r.stdout, p, `${command} --help mentions ${p}`);
    // Shared help text does not send the reader to the command they are reading about.
    assert.doesNotMatch(r.stdout, new RegExp(`see '${command}'|'deno run -A cli\\.ts ${command}'`));
  }
});

Deno.test("unknown options and commands are errors with a hint", async () => {
  let r = await cli("train", "--epocs", "3");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --epocs for 'train' \(did you mean --epochs\?\)/);
  assert.match(r.stderr, /hint: run 'deno run -A cli\.ts train --help'/);
  r = await cli("summary", "--frobnicate");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --frobnicate for 'summary'/);
  r = await cli("trian");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'trian' \(did you mean 'train'\?\)/);
  r = await cli("train", "extra");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unexpected argument 'extra'/);
});

Deno.test("bad values are errors with a hint", async () => {
  const cases: [string[], RegExp][] = [
    [["train", "--epochs", "abc"], /--epochs must be an integer, got 'abc'/],
    [["train", "--epochs", "0"], /--epochs must be at least 1/],
    [["train", "--batch-size", "2.5"], /--batch-size must be an integer/],
    [["train", "--lr=-1"], /--lr must be greater than 0, got '-1'/],
    [["train", "--lr", "-1"], /--lr got a value starting with '-': write it as --lr=<value>/],
    [["train", "--ten-crop=yes"], /--ten-crop is a switch and takes no value/],
    [["train", "--formulation", "adam"], /--formulation must be one of paper, pytorch/],
    [["train", "--momentum", "1"], /--momentum must be less than 1/],
    [["train", "--devices", "3"], /--devices must be at most 2/],
    [
      ["train", "--model", "huge"],
      /--model must be one of small, full, figure1, resnet18, .*, vgg19_bn, got 'huge'/,
    ],
    [["train", "--lr"], /--lr needs a value/],
    // A missing folder read "not a folder", as a file does.
    [["train", "--data", "/nonexistent/folder"], /--data \/nonexistent\/folder: does not exist$/m],
    [
      ["train", "--data", "README.md"],
      /--data README\.md: is a file, not a folder: give the folder holding it \(\.\)$/m,
    ],
    [
      ["train", "--data", "tests", "--val-data", "/no/val"],
      /--val-data \/no\/val: does not exist$/m,
    ],
    [["prepare", "--input", "/no/images", "--output", "x"], /--input \/no\/images: does not exist/],
    [["train", "--resume", "/nonexistent/run", "--lr", "0.1"], /only --epochs and --log-every/],
    [["eval"], /--checkpoint is required/],
    [["eval", "--checkpoint", "x", "--val-data", "v"], /--val-data needs --data/],
    [["prepare", "--input", "x"], /--output is required/],
    [["prepare", "--input", "tests", "--output", "tests/out"], /--output .* is inside --input/],
    [
      ["prepare", "--input", "tests", "--output", "README.md"],
      /--output README\.md: .*README\.md is a file, not a folder/,
    ],
    [
      ["prepare", "--input", "tests", "--output", "README.md/x"],
      /--output README\.md\/x: .*README\.md is a file, not a folder/,
    ],
    [["prepare", "--input", "tests/", "--output", "tests"], /--output tests is inside --input/],
    // It set up the device and the data, then failed at the first claim: 'Not a directory
    // (os error 20): mkdir 'README.md/e/relu''.
    [
      ["experiment", "--out", "README.md/e"],
      /--out README\.md\/e: .*README\.md is a file, not a folder/,
    ],
    [["summary", "--image-size", "4"], /--image-size must be at least 8/],
    // It named a 3×3 window deep in the net only, not what input size would do.
    [
      ["summary", "--image-size", "8"],
      /the small model does not fit 8×8 inputs \(a 3×3 window .*\): it takes inputs of at least 15×15$/m,
    ],
    [
      ["summary", "--adapter", "no-such-gpu"],
      /no WebGPU adapter matches --adapter "no-such-gpu"; available: 0: /,
    ],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(" "));
    assert.match(r.stderr, /hint: run 'deno run -A cli\.ts \w+ --help'/);
  }
});

Deno.test("a tiny train, eval of its run folder, resume, and summary", async () => {
  const runDir = join(await Deno.makeTempDir({ prefix: "cli_test_" }), "run");
  const tiny = [...tinySynthetic(64, 32, 32), "--run-dir", runDir];
  let r = await cli("train", ...tiny, "--epochs", "1");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done: 1 epoch, 2 steps/);
  assert.match(r.stdout, /validation top-1 error [\d.]+%, top-5 [\d.]+%/);
  assert.match(r.stdout, /images\/s/);
  const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
  assert.equal(config.model.inputSize, 16);

  r = await cli("eval", "--checkpoint", runDir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /validation: loss [\d.]+, top-1 error [\d.]+%, top-5 error [\d.]+% over 32 images/,
  );

  r = await cli("train", "--resume", runDir, "--epochs", "2");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done: 2 epochs, 4 steps/);

  r = await cli("summary", "--model", "small", "--devices", "2");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /conv1/);
  assert.match(r.stdout, /fc8/);
  assert.match(
    r.stdout,
    /placement: 2 (logical devices sharing one GPUDevice of .+ \(exchange on the GPU\)|GPUDevices on 2 physical adapters .+ \(exchange through the host\));/,
  );
  await Deno.remove(join(runDir, ".."), { recursive: true });
});
