/**
 * Ctrl-C during a two-device run: the step in flight (with its transfers between the devices)
 * finishes, a checkpoint is written, both devices are released and the process exits with 130;
 * the run resumes on two devices to the end. The run log says how the devices sit on the
 * hardware; `--separate-devices` gives each tower a GPUDevice of its own.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, startCli, tinySynthetic } from "./_cli.ts";
import { listAdapters } from "../kernels/adapters.ts";

Deno.test("Ctrl-C mid-epoch on two devices: clean stop, checkpoint, resume", async () => {
  const root = await Deno.makeTempDir({ prefix: "two_devices_cli_" });
  const runDir = join(root, "run");
  const steps = 128;
  const run = startCli([
    "train",
    ...tinySynthetic(steps * 8, 16, 8),
    ...["--epochs", "1", "--log-every", "100", "--devices", "2", "--run-dir", runDir],
  ]);
  // Signalled at the progress line of step 100 (an event, not a fixed wait): however slow the
  // machine, the signal comes mid-epoch, and the epoch's last 28 steps leave a fast one time to
  // notice it.
  assert.ok(await run.waitFor(/^epoch 1 step 100\/128 /m), "the run trains");
  run.child.kill("SIGINT");
  const r = await run.finish();
  assert.equal(r.code, 130, `${r.stdout}\n${r.stderr}`);
  assert.match(
    r.stdout,
    /^devices: 2 (logical devices sharing one GPUDevice of .+ \(exchange on the GPU\)|GPUDevices on 2 physical adapters .+ \(exchange through the host\));/m,
  );
  // After the readback at step 100 and before the epoch's end: the per-step check stopped it.
  const at = /interrupted at epoch 1, batch (\d+)\/(\d+)/.exec(r.stdout);
  assert.ok(at && Number(at[1]) > 100 && Number(at[1]) < steps, r.stdout);
  assert.equal(r.stderr.trim(), "", "no error, no driver crash at exit");
  const resumed = await cli("train", "--resume", runDir);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`done: 1 epoch, ${steps} steps`));
  await Deno.remove(root, { recursive: true });
});

Deno.test("--separate-devices gives each tower a GPUDevice of its own, and the placement says so", async () => {
  const shared = await cli("summary", "--model", "small", "--devices", "2");
  assert.equal(shared.code, 0, shared.stderr);
  const apart = await cli("summary", "--model", "small", "--devices", "2", "--separate-devices");
  assert.equal(apart.code, 0, apart.stderr);
  const adapters = (await listAdapters()).length;
  if (adapters === 1) {
    assert.match(
      shared.stdout,
      /placement: 2 logical devices sharing one GPUDevice of .+ \(exchange on the GPU\);/,
    );
    assert.match(
      apart.stdout,
      /placement: 2 GPUDevices of one adapter, .+ \(exchange through the host\);/,
    );
  } else {
    assert.match(apart.stdout, /placement: 2 GPUDevices .+ \(exchange through the host\);/);
  }
  assert.match((await cli("summary", "--help")).stdout, /--separate-devices/);
});
