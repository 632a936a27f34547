/**
 * What a user sees when the disk fails a run, on a real file system: a small tmpfs that fills
 * up (ENOSPC) or is remounted read-only (EROFS) mid-run, a run folder removed mid-run, and a
 * metrics file that is a link to /dev/full. Each error is one line naming the file and the
 * operating system's cause; the last good checkpoint stays the run's latest and resumes; no
 * temporary file or half-written file is left under any name.
 *
 * The tmpfs cases need to mount (root, or CAP_SYS_ADMIN): where `mount` is refused they are
 * ignored, and the cases without a mount still run. As root, `chmod` does not stop a write, so
 * a read-only mount is the way to refuse one.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultDevice } from "../mod.ts";
import { writeFileAtomic } from "../nn/_atomic.ts";
import { Flatten } from "../nn/flatten.ts";
import { Linear } from "../nn/linear.ts";
import { Sequential } from "../nn/sequential.ts";
import { Generator } from "../tensor/random.ts";
import { CHECKPOINT_POINTER, loadTrainingCheckpoint } from "../train/checkpoint.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { appendEpochMetrics } from "../train/run_log.ts";
import { train } from "../train/train.ts";
import { encode as encodePng } from "npm:fast-png@8.0.0";
import { cli, isOneErrorLine } from "./_cli.ts";

await defaultDevice();

async function run(...cmd: string[]): Promise<boolean> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "null" })
    .output().catch(() => ({ success: false }));
  return out.success;
}

/** Whether this process may mount a tmpfs (tried once). */
const canMount = await (async () => {
  if (Deno.build.os !== "linux") return false;
  const dir = await Deno.makeTempDir();
  const ok = await run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir);
  if (ok) await run("umount", dir);
  await Deno.remove(dir);
  return ok;
})();

/** Runs `fn` in a fresh tmpfs of `kib` KiB, unmounted after. */
async function withDisk(kib: number, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "disk_" });
  assert.ok(await run("mount", "-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir));
  try {
    await fn(dir);
  } finally {
    await run("umount", dir);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Fills the file system of `dir` with `dir/filler`, then frees `leave` bytes of it. */
async function fillDisk(dir: string, leave = 0): Promise<void> {
  const path = join(dir, "filler");
  using file = await Deno.open(path, { write: true, create: true, append: true });
  const chunk = new Uint8Array(16384);
  try {
    for (;;) await file.write(chunk);
  } catch (error) {
    assert.ok(error instanceof Error && /os error 28/.test(error.message), String(error));
  }
  const size = (await file.stat()).size;
  await file.truncate(Math.max(0, size - leave));
}

const remount = (dir: string, mode: "ro" | "rw") => run("mount", "-o", `remount,${mode}`, dir);

/** Every name under `dir`, recursively, relative to it. */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    names.push(prefix + e.name);
    if (e.isDirectory) names.push(...await tree(join(dir, e.name), `${prefix}${e.name}/`));
  }
  return names.sort();
}

/** No temporary file or folder (a dotted name, or one with "tmp" in it) anywhere under `dir`. */
async function assertNoTemporaries(dir: string): Promise<void> {
  const left = (await tree(dir)).filter((n) => /(^|\/)\.|tmp/.test(n));
  assert.deepEqual(left, [], "no temporary file left");
}

/** The message of a rejection of `promise`, checked to be one line. */
async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof Error, "it failed");
  assert.ok(!error.message.includes("\n"), `one line: ${error.message}`);
  return error.message;
}

Deno.test({
  name: "writeFileAtomic on a full disk or a read-only one: the old file stays, no temporary",
  ignore: !canMount,
  fn: () =>
    withDisk(256, async (dir) => {
      const target = join(dir, "state.json");
      await writeFileAtomic(target, "old");
      await fillDisk(dir);
      assert.equal(
        await failure(writeFileAtomic(target, new Uint8Array(100_000))),
        `${target}: No space left on device (os error 28)`,
      );
      assert.equal(await Deno.readTextFile(target), "old");
      assert.deepEqual(await tree(dir), ["filler", "state.json"]);
      await Deno.remove(join(dir, "filler"));
      assert.ok(await remount(dir, "ro"));
      // Deno's own message names the temporary file: "…(os error 30): open '<dir>/.state…tmp'".
      assert.equal(
        await failure(writeFileAtomic(target, "new")),
        `${target}: Read-only file system (os error 30)`,
      );
      assert.equal(await Deno.readTextFile(target), "old");
      assert.deepEqual(await tree(dir), ["state.json"]);
    }),
});

Deno.test({
  name: "a metrics row the disk cuts short is taken back: no half line",
  ignore: !canMount,
  fn: () =>
    withDisk(256, async (dir) => {
      const path = join(dir, "metrics.jsonl");
      // Rows up to 90 bytes before a page's end: the next row starts in the page, then fails.
      const before = new TextEncoder().encode("#".repeat(4005) + "\n");
      await Deno.writeFile(path, before);
      await fillDisk(dir);
      const message = await failure(appendEpochMetrics(dir, ROW));
      assert.equal(message, `${path}: No space left on device (os error 28)`);
      assert.deepEqual(await Deno.readFile(path), before);
    }),
});

Deno.test("a metrics file on /dev/full: the error names the file and the cause", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink("/dev/full", join(dir, "metrics.jsonl"));
    assert.equal(
      await failure(appendEpochMetrics(dir, ROW)),
      `${join(dir, "metrics.jsonl")}: No space left on device (os error 28)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** One epoch's metrics row (some 300 bytes). */
const ROW = {
  epoch: 1,
  step: 10,
  lr: 0.01,
  trainLoss: 2.5,
  trainTop1: 0.9,
  trainTop5: 0.5,
  valLoss: 2.4,
  valTop1: 0.8,
  valTop5: 0.4,
  imagesPerSec: 100,
  seconds: 2.5,
  skippedSteps: 0,
};

/** A run of `epochs` on 64 images (two steps an epoch), with `atEpoch2` at epoch 2's start. */
function trainRun(runDir: string, epochs: number, atEpoch2?: () => Promise<void>, resume = false) {
  const { train: trainData, val: valData } = syntheticSplits({
    trainSize: 64,
    valSize: 16,
    size: 16,
    classes: 10,
  });
  // 7,690 parameters: a checkpoint of some 60 kB, a metrics row of some 300 bytes.
  const model = new Sequential(
    new Flatten(),
    new Linear({ inFeatures: 3 * 16 * 16, outFeatures: 10, generator: new Generator(3) }),
  );
  return train({
    model,
    trainData,
    valData,
    epochs,
    batchSize: 32,
    lr: 0.01,
    runDir,
    resume,
    log: () => {},
    callbacks: [{
      onEpochStart: async (_, { epoch }) => {
        if (epoch === 2) await atEpoch2?.();
      },
    }],
  });
}

/** The run's latest checkpoint is epoch 1's, whole: it loads. */
async function assertLatestIsEpoch1(runDir: string): Promise<void> {
  const pointer = JSON.parse(await Deno.readTextFile(join(runDir, CHECKPOINT_POINTER)));
  assert.equal(pointer.epochsDone, 1);
  const ckpt = await loadTrainingCheckpoint(runDir);
  assert.equal(ckpt.state.epochsDone, 1);
}

Deno.test({
  name: "a disk that fills mid-run: one line naming the checkpoint file, epoch 1's kept, resumable",
  ignore: !canMount,
  fn: () =>
    withDisk(2048, async (dir) => {
      const runDir = join(dir, "run");
      const message = await failure(trainRun(runDir, 3, () => fillDisk(dir, 8192)));
      assert.match(
        message,
        new RegExp(
          `^${runDir}/checkpoints/epoch-0002-step-0000004/model\\.safetensors: ` +
            `No space left on device \\(os error 28\\)$`,
        ),
      );
      await assertLatestIsEpoch1(runDir);
      await assertNoTemporaries(runDir);
      const rows = (await Deno.readTextFile(join(runDir, "metrics.jsonl"))).trim().split("\n");
      for (const row of rows) JSON.parse(row);
      // Space freed, the run resumes from epoch 1 and finishes.
      await Deno.remove(join(dir, "filler"));
      await trainRun(runDir, 3, undefined, true);
      const pointer = JSON.parse(await Deno.readTextFile(join(runDir, CHECKPOINT_POINTER)));
      assert.equal(pointer.epochsDone, 3);
      await assertNoTemporaries(runDir);
    }),
});

Deno.test({
  name: "a disk remounted read-only mid-run: one line naming the file, epoch 1's kept",
  ignore: !canMount,
  fn: () =>
    withDisk(2048, async (dir) => {
      const runDir = join(dir, "run");
      const message = await failure(trainRun(runDir, 3, async () => {
        assert.ok(await remount(dir, "ro"));
      }));
      assert.equal(message, `${runDir}/metrics.jsonl: Read-only file system (os error 30)`);
      await assertLatestIsEpoch1(runDir);
      await assertNoTemporaries(runDir);
    }),
});

Deno.test("a run folder removed mid-run: one line naming it, and nothing written back", async () => {
  const parent = await Deno.makeTempDir();
  const runDir = join(parent, "run");
  try {
    const message = await failure(
      trainRun(runDir, 3, () => Deno.remove(runDir, { recursive: true })),
    );
    assert.equal(
      message,
      `${runDir}/metrics.jsonl: cannot write it: the folder ${runDir} does not exist`,
    );
    assert.deepEqual(await tree(parent), [], "the run folder was not made again");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test({
  name: "prepare on a disk that fills: one error line naming the shard, the output it made removed",
  ignore: !canMount,
  fn: () =>
    withDisk(1024, async (dir) => {
      const input = await Deno.makeTempDir({ prefix: "images_" });
      try {
        // 64 noisy 32×32 images of two classes: some 200 kB of shards at --size 32.
        for (const name of ["a", "b"]) {
          await Deno.mkdir(join(input, name));
          for (let k = 0; k < 32; k++) {
            const data = Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.random() * 256);
            const png = encodePng({ width: 32, height: 32, data, channels: 3 });
            await Deno.writeFile(join(input, name, `${k}.png`), png);
          }
        }
        await fillDisk(dir, 64 * 1024);
        const output = join(dir, "prepared", "train");
        const r = await cli(
          "prepare",
          "--input",
          input,
          "--output",
          output,
          "--size",
          "32",
          "--shard-size",
          "16",
        );
        assert.equal(r.code, 1, r.stderr);
        assert.ok(isOneErrorLine(r.stderr), r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `^error: ${output}/[^ ]+: No space left on device \\(os error 28\\) ` +
              `\\(${output} removed\\)\nhint: free some disk space`,
          ),
        );
        assert.deepEqual(await tree(dir), ["filler"], "no shard, no temporary, no folder left");
      } finally {
        await Deno.remove(input, { recursive: true });
      }
    }),
});
