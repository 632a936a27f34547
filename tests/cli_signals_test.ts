/**
 * Real signals to a training subprocess, mid-epoch: SIGINT, SIGTERM and SIGHUP each finish the
 * step, write a checkpoint and exit with 128 + the signal's number; a second signal quits at
 * once and leaves the last checkpoint intact; every stopped run resumes to the end. A signal
 * during the setup (after the run folder is made, before training) stops cleanly: one line,
 * the same status, no run folder left. A signal during an epoch's validation abandons it; the
 * resumed run validates again and ends exactly where an uninterrupted run does.
 *
 * The signal goes out when the run prints its progress line at step `LOG` of an epoch of
 * `STEPS` (an event, not a fixed wait, so it lands mid-epoch on any hardware; the end of an
 * epoch is no such event: a signal landing while the epoch's checkpoint is written stops the
 * run between epochs). The line comes from the loss readback at that step and the epoch reads
 * nothing back after it, so a stop before the epoch's end was noticed by the per-step check.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeSafetensors } from "../nn/safetensors.ts";
import { cli, startCli, tinySynthetic } from "./_cli.ts";

const STEPS = 200;
const LOG = 100;
/** A tiny run of `epochs` epochs of `STEPS` steps that reads its loss back at step `LOG` only. */
const run = (epochs: number) => [
  ...tinySynthetic(STEPS * 8, 16, 8),
  ...["--epochs", String(epochs), "--log-every", String(LOG)],
];
const STATUS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

const root = await Deno.makeTempDir({ prefix: "cli_signals_" });

/** The checkpoint the pointer names, and its state. */
async function latest(runDir: string): Promise<{ dir: string; reason: string; step: number }> {
  const pointer = JSON.parse(await Deno.readTextFile(join(runDir, "checkpoint.json")));
  const dir = join(runDir, pointer.latest);
  const state = JSON.parse(await Deno.readTextFile(join(dir, "state.json")));
  return { dir, reason: state.reason, step: state.step };
}

/**
 * Starts a run (or resumes one), waits for its progress line at step `LOG` of epoch `epoch`,
 * and sends `signal`; with `twice`, sends it again as soon as the run reports the first (while
 * it finishes the step and checkpoints).
 */
async function interrupt(args: string[], signal: Deno.Signal, epoch: number, twice = false) {
  const run = startCli(args);
  if (!await run.waitFor(new RegExp(`^epoch ${epoch} step ${LOG}/${STEPS} `, "m"))) {
    const r = await run.finish();
    assert.fail(`no progress line at step ${LOG} of epoch ${epoch}:\n${r.stdout}\n${r.stderr}`);
  }
  run.child.kill(signal);
  if (twice && await run.waitFor(/finishing this step and writing a checkpoint/)) {
    run.child.kill(signal);
  }
  return await run.finish();
}

/** The batch a run was interrupted at, checked to lie after the readback and before the end. */
function interruptedAt(stdout: string, epoch: number): number {
  const at = new RegExp(`interrupted at epoch ${epoch}, batch (\\d+)/(\\d+)`).exec(stdout);
  assert.ok(at, stdout);
  assert.equal(Number(at[2]), STEPS);
  const batch = Number(at[1]);
  assert.ok(batch > LOG && batch < STEPS, `mid-epoch, after the readback: ${at[0]}`);
  return batch;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.test(`${signal} mid-epoch: the step ends, a checkpoint is written, --resume finishes`, async () => {
    const runDir = join(root, signal);
    const r = await interrupt(["train", ...run(1), "--run-dir", runDir], signal, 1);
    assert.equal(r.code, STATUS[signal], `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`${signal}: finishing this step and writing a checkpoint`));
    assert.doesNotMatch(r.stdout, /\n\n/, "a log (not a terminal) gets no blank lines");
    const batch = interruptedAt(r.stdout, 1);
    const ckpt = await latest(runDir);
    assert.equal(ckpt.reason, "interrupt");
    assert.equal(ckpt.step, batch);
    const resumed = await cli("train", "--resume", runDir);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`mid-epoch at batch ${batch}`));
    assert.match(resumed.stdout, new RegExp(`done: 1 epoch, ${STEPS} steps`));
  });
}

Deno.test("a second signal quits at once; the last checkpoint stays intact and resumes", async () => {
  const runDir = join(root, "twice");
  // A first interrupt, in epoch 1 of 2, gives the run a checkpoint to keep; the resumed run is
  // signalled twice in epoch 2.
  let r = await interrupt(["train", ...run(2), "--run-dir", runDir], "SIGINT", 1);
  assert.equal(r.code, 130, r.stderr);
  interruptedAt(r.stdout, 1);
  const before = await latest(runDir);
  r = await interrupt(["train", "--resume", runDir], "SIGTERM", 2, true);
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
  assert.match(r.stdout, new RegExp(`done: 2 epochs, ${2 * STEPS} steps`));
});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.test(`${signal} during setup: one line, status 128 + n, no run folder left`, async () => {
    const runDir = join(root, `setup-${signal}`, "run");
    // 40,000 synthetic images: about a second of setup after the run folder appears.
    const run = startCli(["train", ...tinySynthetic(40_000, 16, 8), "--run-dir", runDir]);
    while (!(await Deno.stat(runDir).then(() => true, () => false))) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    run.child.kill(signal);
    const r = await run.finish();
    assert.equal(r.code, STATUS[signal], `${r.stdout}\n${r.stderr}`);
    assert.equal(
      r.stdout,
      `${signal} before training started: stopped; nothing trained, no run folder kept\n`,
    );
    assert.equal(r.stderr, "");
    await assert.rejects(Deno.stat(join(root, `setup-${signal}`)), Deno.errors.NotFound);
  });
}

/** The metrics files without the columns of time, which no two runs share. */
async function metricsWithoutTimes(runDir: string): Promise<{ jsonl: unknown[]; csv: string[] }> {
  const jsonl = (await Deno.readTextFile(join(runDir, "metrics.jsonl"))).trim().split("\n")
    .map((line) => {
      const { images_per_sec: _, seconds: __, ...row } = JSON.parse(line);
      return row;
    });
  const [header, ...rows] = (await Deno.readTextFile(join(runDir, "metrics.csv"))).trim()
    .split("\n").map((line) => line.split(","));
  const timed = new Set(["images_per_sec", "seconds"].map((c) => header.indexOf(c)));
  assert.ok(!timed.has(-1), header.join(","));
  const untimed = (cells: string[]) => cells.filter((_, i) => !timed.has(i)).join(",");
  return { jsonl, csv: [header, ...rows].map(untimed) };
}

/** The tensors of a run's latest checkpoint: the model's and the optimiser's, as bytes. */
async function checkpointTensors(runDir: string): Promise<Record<string, Uint8Array>> {
  const { dir } = await latest(runDir);
  const out: Record<string, Uint8Array> = {};
  for (const file of ["model.safetensors", "optimizer.safetensors"]) {
    const { tensors } = decodeSafetensors(await Deno.readFile(join(dir, file)));
    for (const [name, entry] of Object.entries(tensors)) out[`${file}:${name}`] = entry.data;
  }
  return out;
}

Deno.test("a signal during validation abandons it; --resume ends as an uninterrupted run", async () => {
  // 8 steps an epoch, then 4,000 validation images in 500 batches: the signal goes out at the
  // epoch's last progress line, which the run prints before it validates.
  const args = [...tinySynthetic(64, 4000, 8), "--epochs", "2"];
  const straightDir = join(root, "validation-straight");
  const straight = await cli("train", ...args, "--run-dir", straightDir);
  assert.equal(straight.code, 0, straight.stderr);

  const runDir = join(root, "validation");
  const run = startCli(["train", ...args, "--run-dir", runDir]);
  if (!await run.waitFor(/^epoch 1 step 8\/8 /m)) {
    const r = await run.finish();
    assert.fail(`no progress line at the end of epoch 1:\n${r.stdout}\n${r.stderr}`);
  }
  run.child.kill("SIGTERM");
  const r = await run.finish();
  assert.equal(r.code, 143, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /\ninterrupted in epoch 1's validation \(a resume validates again\)/);
  assert.doesNotMatch(r.stdout, /^epoch 1: /m, "no epoch row: its validation was abandoned");
  const ckpt = await latest(runDir);
  assert.deepEqual([ckpt.reason, ckpt.step], ["interrupt", 8]);
  await assert.rejects(Deno.stat(join(runDir, "metrics.jsonl")), Deno.errors.NotFound);

  const resumed = await cli("train", "--resume", runDir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /step 8, epoch 1's validation to run again\n/);
  assert.match(resumed.stdout, /done: 2 epochs, 16 steps/);
  assert.deepEqual(await metricsWithoutTimes(runDir), await metricsWithoutTimes(straightDir));
  assert.deepEqual(await checkpointTensors(runDir), await checkpointTensors(straightDir));
});

Deno.test("a signal stops eval at once: one line, status 128 + n", async () => {
  // A run with many validation images, so eval is still at work when the signal comes.
  const runDir = join(root, "eval");
  const trained = await cli(
    "train",
    ...tinySynthetic(16, 3000, 8),
    "--epochs",
    "1",
    "--run-dir",
    runDir,
  );
  assert.equal(trained.code, 0, trained.stderr);
  const run = startCli(["eval", "--checkpoint", runDir]);
  assert.ok(await run.waitFor(/^evaluating /m));
  run.child.kill("SIGTERM");
  const r = await run.finish();
  assert.equal(r.code, 143, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /\nSIGTERM: eval stopped \(it writes nothing\)\n$/);
  assert.doesNotMatch(r.stdout, /validation:/);
  assert.equal(r.stderr, "");
});

Deno.test("cleanup", async () => {
  await Deno.remove(root, { recursive: true });
});
