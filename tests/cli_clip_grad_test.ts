/**
 * `train --clip-grad-norm`: a run clips, says so, records the bound in config.json and resumes
 * with it; a bound that is not a number > 0 is a one-line usage error. `--optimizer rmsprop`
 * and `adagrad` train and are recorded.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, isOneErrorLine, tinySynthetic } from "./_cli.ts";

Deno.test("train --clip-grad-norm trains, records the bound, and resumes with it", async () => {
  const runDir = await Deno.makeTempDir({ prefix: "cli_clip_" });
  const tiny = [...tinySynthetic(32, 16, 16), "--run-dir", runDir];
  let r = await cli("train", ...tiny, "--epochs", "1", "--clip-grad-norm", "0.5");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gradient norm clipped to 0\.5/);
  const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
  assert.equal(config.clipGradNorm, 0.5);
  r = await cli("train", "--resume", runDir, "--epochs", "2");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /gradient norm clipped to 0\.5/);
  assert.match(r.stdout, /done: 2 epochs/);
  await Deno.remove(runDir, { recursive: true });
});

Deno.test("train --optimizer rmsprop and adagrad train and are recorded", async () => {
  for (const optimizer of ["rmsprop", "adagrad"]) {
    const runDir = await Deno.makeTempDir({ prefix: "cli_optimizer_" });
    const tiny = [...tinySynthetic(32, 16, 16), "--run-dir", runDir, "--epochs", "1"];
    const r = await cli("train", ...tiny, "--optimizer", optimizer, "--lr", "0.001");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${optimizer}, weight decay 0`));
    const config = JSON.parse(await Deno.readTextFile(join(runDir, "config.json")));
    assert.deepEqual([config.optimizer, config.weightDecay], [optimizer, 0]);
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("--clip-grad-norm must be a number > 0", async () => {
  for (const bad of ["0", "-1", "x"]) {
    const r = await cli("train", `--clip-grad-norm=${bad}`);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--clip-grad-norm must be/);
    assert.ok(isOneErrorLine(r.stderr), r.stderr);
  }
});
