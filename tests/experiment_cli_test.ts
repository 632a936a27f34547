/**
 * The `experiment` command end to end at a tiny size: the quick preset's built-in data, two
 * claims (the Figure 1 net and the scaled AlexNet), the table and the curves, a rerun that
 * keeps every finished run, and the switches on `train` and `summary`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, startCli } from "./_cli.ts";

const TINY = [
  "--preset",
  "quick",
  "--seeds",
  "2",
  "--train-size",
  "48",
  "--val-size",
  "16",
  "--epochs",
  "2",
  "--batch-size",
  "16",
  "--width",
  "0.25",
];

Deno.test("experiment: the quick preset end to end at a tiny size, and its resume", async () => {
  const out = await Deno.makeTempDir();
  try {
    const relu = await cli("experiment", "--claim", "relu", "--out", out, ...TINY);
    assert.equal(relu.code, 0, relu.stderr);
    assert.match(relu.stdout, /\[4\/4\] relu: tanh, seed 1/);
    const lrn = await cli("experiment", "--claim", "lrn", "--out", out, ...TINY);
    assert.equal(lrn.code, 0, lrn.stderr);
    // The paper's arm is the same network in every AlexNet claim: trained once per seed.
    const pooling = await cli("experiment", "--claim", "pooling", "--out", out, ...TINY);
    assert.equal(pooling.code, 0, pooling.stderr);
    assert.match(
      pooling.stdout,
      /\[1\/4\] pooling: 3×3 s2 \(overlapping\), seed 0: the same run as .*lrn\/lrn\/seed-0, reused/,
    );
    assert.match(pooling.stdout, /\[2\/4\] pooling: 2×2 s2, seed 0\n/);

    const report = await Deno.readTextFile(join(out, "RESULTS.md"));
    assert.match(report, /\| Claim \(paper\) \| Measure \| Paper \| Measured here/);
    const table = report.slice(report.indexOf("| Claim (paper)")).split("\n\n")[0];
    const rows = table.split("\n").slice(2);
    // ReLU/tanh: epochs to target; LRN: top-1, top-5; pooling: top-1, top-5, overfitting.
    assert.equal(rows.length, 6, report);
    assert.match(rows[5], /^\| ″ \| overfitting: validation − training top-1 error/);
    assert.match(
      rows[0],
      /ReLU against tanh \(§3.1, Figure 1\).*epochs to the target training error/,
    );
    assert.match(rows[0], /ReLU (≥ )?\d+\.\d\d ± \d+\.\d\d, tanh (≥ )?\d+\.\d\d ± \d+\.\d\d/);
    assert.match(rows[0], /ratio (≥ )?×\d+\.\d\d/);
    assert.match(rows[0], /synthetic shapes, 48 train \/ 16 val.*2 epochs; seeds 0, 1/);
    assert.match(rows[1], /Local response normalisation.*validation top-1 error.*\+1\.4 points/);
    assert.match(rows[1], /LRN \d+\.\d ± \d+\.\d, no LRN \d+\.\d ± \d+\.\d; effect [+−]\d/);
    assert.match(rows[1], /\| (holds|\*\*opposite\*\* of the paper|not resolved at this scale) \|/);
    assert.match(report, /!\[ReLU against tanh\]\(relu\.svg\)/);
    for (const svg of ["relu.svg", "lrn.svg"]) {
      assert.match(await Deno.readTextFile(join(out, svg)), /^<svg[^]*mean of 2[^]*<\/svg>\n$/);
    }
    const metrics = await Deno.readTextFile(join(out, "lrn", "no-lrn", "seed-1", "metrics.csv"));
    assert.equal(metrics.trim().split("\n").length, 3);
    const config = JSON.parse(
      await Deno.readTextFile(join(out, "lrn", "no-lrn", "seed-1", "config.json")),
    );
    assert.deepEqual([config.model.lrn, config.model.seed, config.seed], [false, 1, 1]);

    // A rerun trains nothing; other settings in the same folder are refused.
    const again = await cli("experiment", "--claim", "relu", "--out", out, ...TINY);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /\[\d\/4\]/);
    const other = await cli("experiment", "--claim", "relu", "--out", out, ...TINY, "--lr", "0.1");
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /other settings \(settings differ/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("experiment: SIGTERM stops the set with a checkpoint, and a rerun resumes it", async () => {
  const out = await Deno.makeTempDir();
  try {
    const args = ["experiment", "--claim", "relu", "--out", out, ...TINY, "--epochs", "6"];
    const running = startCli(args);
    assert.ok(await running.waitFor(/\[1\/4\][^]*epoch 2:/), "the first run trains");
    running.child.kill("SIGTERM");
    const stopped = await running.finish();
    assert.equal(stopped.code, 143, stopped.stderr);
    assert.match(
      stopped.stdout,
      /\nSIGTERM: finishing this step and writing a checkpoint \(again to quit at once\)\n/,
    );
    assert.match(stopped.stdout, /interrupted; rerun the same command to resume\n$/);
    const resumed = await cli(...args);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /\[1\/4\] relu: ReLU, seed 0 \(resuming\)/);
    assert.match(resumed.stdout, /\[4\/4\] relu: tanh, seed 1\n/);
    const rows = await Deno.readTextFile(join(out, "relu", "relu", "seed-0", "metrics.jsonl"));
    assert.deepEqual(rows.trim().split("\n").map((l) => JSON.parse(l).epoch), [1, 2, 3, 4, 5, 6]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("the switches: usage errors, summary, and the figure1 model through train and eval", async () => {
  for (
    const [args, message] of [
      [["experiment", "--claim", "relus"], /--claim must be one of relu, towers/],
      [["experiment", "--preset", "full"], /--preset full needs --data/],
      [["experiment", "--seeds", "0,0"], /lists a seed twice/],
      [["train", "--pooling", "3x2"], /--pooling must be <window>\/<stride>/],
      [["train", "--towers", "1", "--devices", "2"], /--towers 1 .* --devices 1/],
      [["summary", "--model", "figure1", "--dropout", "0.2"], /does not apply to the figure1/],
    ] as const
  ) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // train and eval the Figure 1 net with a switch: the run folder rebuilds it.
  const dir = await Deno.makeTempDir();
  try {
    const run = join(dir, "run");
    const t = await cli(
      "train",
      ...["--model", "figure1", "--activation", "tanh", "--lrn", "on", "--width", "0.25"],
      ...["--train-size", "32", "--val-size", "16", "--epochs", "1", "--run-dir", run],
    );
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /model: the Figure 1 net \(width 0\.25/);
    const config = JSON.parse(await Deno.readTextFile(join(run, "config.json")));
    assert.deepEqual([config.model.preset, config.model.activation, config.model.lrn], [
      "figure1",
      "tanh",
      true,
    ]);
    const e = await cli("eval", "--checkpoint", run);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /top-1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const s = await cli("summary", "--model", "small", "--pooling", "2/2", "--activation", "tanh");
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /changed: max pooling 2×2 s2/);
  assert.match(s.stdout, /pool5 .* max pool 2×2 s2/);
});
