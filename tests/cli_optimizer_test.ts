/**
 * `train --optimizer` and `--schedule`: an AdamW run with a cosine schedule trains, records
 * both in config.json and resumes with them; bad values and SGD-only options are one-line
 * usage errors.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSchedule } from "../cli/_train_options.ts";
import { cli, isOneErrorLine, tinySynthetic } from "./_cli.ts";

Deno.test("--schedule values are checked and made explicit", () => {
  assert.equal(parseSchedule("plateau", 9), "plateau");
  assert.equal(parseSchedule("cosine", 9), "cosine:9");
  assert.equal(parseSchedule("cosine:4", 9), "cosine:4");
  assert.equal(parseSchedule("step:3", 9), "step:3:0.1");
  assert.equal(parseSchedule("step:3:0.5", 9), "step:3:0.5");
  for (const bad of ["cosin", "step", "step:0", "step:2:x", "cosine:1.5", "plateau:2"]) {
    assert.throws(() => parseSchedule(bad, 9), /--schedule must be plateau, cosine\[:<epochs>\]/);
  }
});

Deno.test("train --optimizer adamw --schedule cosine trains, records both, and resumes", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "cli_optimizer_" });
  const tiny = [...tinySynthetic(32, 16, 16), "--run-dir", runDir];
  let r = await cli(
    "train",
    ...tiny,
    "--epochs",
    "1",
    "--optimizer",
    "adamw",
    "--schedule",
    "cosine",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /adamw, weight decay 0\.01, schedule cosine:1/);
  const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
  assert.deepEqual([config.optimizer, config.schedule, config.weightDecay], [
    "adamw",
    "cosine:1",
    0.01,
  ]);
  r = await cli("train", "--resume", runDir, "--epochs", "2");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done: 2 epochs/);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("bad --optimizer or --schedule values, and SGD's options with Adam, are usage errors", async () => {
  for (
    const [args, message] of [
      [
        ["--optimizer", "lion"],
        /--optimizer must be one of sgd, adam, adamw, rmsprop, adagrad, got 'lion'/,
      ],
      [["--schedule", "linear"], /--schedule must be plateau, cosine\[:<epochs>\] or step/],
      [
        ["--optimizer", "adam", "--momentum", "0.5"],
        /--momentum is SGD's; --optimizer adam takes none/,
      ],
    ] as const
  ) {
    const r = await cli("train", ...args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
  }
});
