/**
 * Ctrl-C during a two-device run: the step in flight (with its transfers between the devices)
 * finishes, a checkpoint is written, both devices are released and the process exits with 130;
 * the run resumes on two devices to the end. The run log says how the devices sit on the
 * hardware.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, epochCheckpointed, startCli, tinySynthetic } from "./_cli.ts";

Deno.test("Ctrl-C mid-epoch on two devices: clean stop, checkpoint, resume", async () => {
  const root = await Deno.makeTempDir({ prefix: "two_devices_cli_" });
  const runDir = join(root, "run");
  const steps = 32;
  const run = startCli([
    "train",
    ...tinySynthetic(steps * 8, 16, 8),
    ...["--epochs", "2", "--log-every", "100000", "--devices", "2", "--run-dir", runDir],
  ]);
  // Signalled once epoch 1 and its checkpoint are done: the signal lands mid-way through epoch 2.
  assert.ok(await epochCheckpointed(run, runDir, 1), "the run reached epoch 2");
  run.child.kill("SIGINT");
  const r = await run.finish();
  assert.equal(r.code, 130, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^devices: 2 (logical devices of one adapter|physical adapters) \(/m);
  // Mid-way through epoch 2, or (on a slow machine) before its first step ended.
  const at = /interrupted at epoch 2, batch (\d+)\/(\d+)/.exec(r.stdout);
  assert.ok(
    at ? Number(at[1]) < steps : new RegExp(`stopped after ${steps} steps`).test(r.stdout),
    r.stdout,
  );
  assert.equal(r.stderr.trim(), "", "no error, no driver crash at exit");
  const resumed = await cli("train", "--resume", runDir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`done: 2 epochs, ${2 * steps} steps`));
  await Deno.remove(root, { recursive: true });
});
