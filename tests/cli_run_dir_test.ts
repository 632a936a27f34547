/**
 * The run folder of `train` (cli/_run_dir.ts): proved writable when opened, refused when it
 * already holds a run, its disk checked for room, and removed with the folders made for it when
 * a start fails before any checkpoint.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { RunFolder } from "../cli/_run_dir.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test("run folders", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "cli_run_dir_" });

  await t.step("too little free space is an error before any work; nothing is left", async () => {
    const folder = await RunFolder.open(join(root, "runs", "a"), false, "--run-dir");
    assert.ok(await exists(join(root, "runs", "a")));
    await assert.rejects(
      folder.requireSpace(2 ** 60, "3 checkpoints of 1 EB"),
      /runs\/a: only [\d,]+ MB free on its disk; the run needs about [\d,]+ MB \(3 checkpoints of 1 EB\)/,
    );
    assert.ok(!(await exists(join(root, "runs"))), "the folders made for the run are gone");
  });

  await t.step("room enough passes; a folder with a checkpoint is kept on discard", async () => {
    const dir = join(root, "b");
    const folder = await RunFolder.open(dir, false, "--run-dir");
    await folder.requireSpace(1024, "tiny");
    await Deno.writeTextFile(join(dir, "checkpoint.json"), "{}");
    await folder.discard();
    assert.ok(await exists(join(dir, "checkpoint.json")));
  });

  await t.step("resuming keeps the folder whatever happens", async () => {
    const dir = join(root, "c");
    await Deno.mkdir(dir);
    await Deno.writeTextFile(join(dir, "config.json"), "{}");
    const folder = await RunFolder.open(dir, true, "--resume");
    await folder.discard();
    assert.ok(await exists(join(dir, "config.json")));
  });

  await Deno.remove(root, { recursive: true });
});
