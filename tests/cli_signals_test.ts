/**
 * Real signals to a training subprocess, mid-epoch: SIGINT, SIGTERM and SIGHUP each finish the
 * step, write a checkpoint and exit with 128 + the signal's number; a second signal quits at
 * once and leaves the last checkpoint intact; every stopped run resumes to the end.
 *
 * The runs read no loss back during an epoch (`--log-every` larger than the epoch), so the stop
 * is noticed through the per-step check, not at a readback. The signal goes out once an epoch
 * has ended and its checkpoint is written, so it lands mid-way through the next one.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { checkpointPointer, cli, epochCheckpointed, startCli, tinySynthetic } from "./_cli.ts";

const STEPS = 64;
/** A tiny run of `epochs` epochs of `STEPS` steps that reads no loss back mid-epoch. */
const run = (epochs: number) => [
  ...tinySynthetic(STEPS * 8, 16, 8),
  ...["--epochs", String(epochs), "--log-every", "100000"],
];
const STATUS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

const root = await Deno.makeTempDir({ prefix: "cli_signals_" });

/** The checkpoint the pointer names, and its state. */
async function latest(runDir: string): Promise<{ dir: string; reason: string; step: number }> {
  const dir = join(runDir, (await checkpointPointer(runDir))!.latest);
  const state = JSON.parse(await Deno.readTextFile(join(dir, "state.json")));
  return { dir, reason: state.reason, step: state.step };
}

/**
 * Starts a run (or resumes one) in `runDir`, waits until epoch `after` has ended and its
 * checkpoint is written (the pointer names it), and sends `signal`, so it lands in the next
 * epoch; with `twice`, sends it again as soon as the run reports the first (while it finishes
 * the step and checkpoints).
 */
async function interrupt(
  args: string[],
  runDir: string,
  signal: Deno.Signal,
  after: number,
  twice = false,
) {
  const run = startCli(args);
  if (!await epochCheckpointed(run, runDir, after)) {
    const r = await run.finish();
    assert.fail(`the run ended before epoch ${after + 1} began:\n${r.stdout}\n${r.stderr}`);
  }
  run.child.kill(signal);
  if (twice && await run.waitFor(/finishing this step and writing a checkpoint/)) {
    run.child.kill(signal);
  }
  return await run.finish();
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.test(`${signal} mid-epoch: the step ends, a checkpoint is written, --resume finishes`, async () => {
    const runDir = join(root, signal);
    const r = await interrupt(["train", ...run(2), "--run-dir", runDir], runDir, signal, 1);
    assert.equal(r.code, STATUS[signal], `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`${signal}: finishing this step and writing a checkpoint`));
    const at = /interrupted at epoch 2, batch (\d+)\/(\d+)/.exec(r.stdout);
    assert.ok(at, r.stdout);
    assert.equal(Number(at[2]), STEPS);
    assert.ok(Number(at[1]) < STEPS, `mid-epoch: ${at[0]}`);
    const ckpt = await latest(runDir);
    assert.equal(ckpt.reason, "interrupt");
    assert.equal(ckpt.step, STEPS + Number(at[1]));
    const resumed = await cli("train", "--resume", runDir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`mid-epoch at batch ${at[1]}`));
    assert.match(resumed.stdout, new RegExp(`done: 2 epochs, ${2 * STEPS} steps`));
  });
}

Deno.test("a second signal quits at once; the last checkpoint stays intact and resumes", async () => {
  const runDir = join(root, "twice");
  // A first interrupt, in epoch 2 of 3, gives the run a checkpoint to keep; the resumed run is
  // stopped in epoch 3.
  let r = await interrupt(["train", ...run(3), "--run-dir", runDir], runDir, "SIGINT", 1);
  assert.equal(r.code, 130, r.stderr);
  const before = await latest(runDir);
  r = await interrupt(["train", "--resume", runDir], runDir, "SIGTERM", 2, true);
  assert.equal(r.code, 143, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /SIGTERM again: quitting now; the last checkpoint is intact/);
  // The pointer names a complete checkpoint: the one before, or one finished before the exit.
  const after = await latest(runDir);
  assert.ok(after.step >= before.step);
  for (const file of ["model.safetensors", "optimizer.safetensors", "state.json"]) {
    assert.ok((await Deno.stat(join(after.dir, file))).size > 0, file);
  }
  r = await cli("train", "--resume", runDir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`done: 3 epochs, ${3 * STEPS} steps`));
});

Deno.test("cleanup", async () => {
  await Deno.remove(root, { recursive: true });
});
