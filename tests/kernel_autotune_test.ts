/**
 * The autotuner: off gives the deterministic default; on, a first use records the shape, and
 * autotune() (or a background run, where the adapter has timestamps) times every candidate,
 * keeps the fastest and saves it keyed by adapter, op and shape, where a fresh process finds it.
 */

import assert from "node:assert/strict";
import { Device } from "../kernels/device.ts";
import {
  adapterKey,
  autotune,
  autotuneChoices,
  autotuneEnabled,
  choose,
  setAutotune,
  withScratch,
} from "../kernels/autotune.ts";
import { conv2d, convCandidates } from "../kernels/conv2d.ts";
import { conv2dBackwardInput } from "../kernels/conv2d_backward.ts";
import { resolve } from "../kernels/_conv_geometry.ts";
import { matmul, matmulCandidates } from "../kernels/matmul.ts";
import { geometry } from "./_conv_geometry.ts";

const g = geometry({ batch: 1, inChannels: 4, height: 6, width: 5, padH: 1, padW: 1 });

Deno.test("autotuner", async (t) => {
  const device = await Device.acquire();
  const dir = await Deno.makeTempDir();
  const cache = `${dir}/autotune.json`;
  Deno.env.set("ALEXNET_AUTOTUNE_CACHE", cache);

  await t.step("off: the default, nothing timed or saved", async () => {
    setAutotune(false);
    assert.equal(autotuneEnabled(device), false);
    const x = device.alloc(4 * 120), w = device.alloc(4 * 180), out = device.alloc(4 * 150);
    conv2d(device, g, { x, w, out });
    assert.deepEqual(await autotune(device), []);
    await assert.rejects(() => Deno.stat(cache));
    for (const b of [x, w, out]) device.release(b);
  });

  await t.step("on: times every candidate once per shape and saves the fastest", async () => {
    setAutotune(true);
    const x = device.alloc(4 * 120), w = device.alloc(4 * 180), out = device.alloc(4 * 150);
    conv2d(device, g, { x, w, out });
    const a = device.alloc(4 * 35), b = device.alloc(4 * 35), c = device.alloc(4 * 49);
    matmul(device, { a, b, out: c, m: 7, n: 7, k: 5 });
    const results = await autotune(device, 1);
    // The matmul, and the batched GEMM inside the Winograd candidate: shapes met while timing
    // are tuned in the same call.
    assert.deepEqual(new Set(results.map((r) => r.op)), new Set(["conv2d.forward", "matmul"]));
    const mm = results.find((r) => r.op === "matmul" && r.key.startsWith("1x7x7x5"))!;
    assert.deepEqual(
      mm.times.map((t) => t.name),
      matmulCandidates(device, 7, 7, 5).map((c) => c.name),
    );
    const r = results.find((r) => r.op === "conv2d.forward")!;
    const names = convCandidates(device, "forward", resolve(g, "test")).map((c) => c.name);
    assert.deepEqual(r.times.map((t) => t.name), names);
    assert.ok(r.times.every((t) => t.ms >= 0));
    assert.equal(r.chosen, r.times.reduce((p, q) => (q.ms < p.ms ? q : p)).name);
    const saved = JSON.parse(await Deno.readTextFile(cache));
    assert.equal(saved[adapterKey(device)][`conv2d.forward ${r.key}`], r.chosen);
    assert.equal(autotuneChoices(device)[`conv2d.forward ${r.key}`], r.chosen);
    // Seen once: a second use times nothing.
    conv2d(device, g, { x, w, out });
    assert.deepEqual(await autotune(device), []);
    for (const buf of [x, w, out, a, b, c]) device.release(buf);
  });

  await t.step("on: the timed runs bind scratch only, not a mask released since", async () => {
    // A ReLU mask (an input-gradient epilogue) released after the step records: the timed runs
    // come later, when the pool may hand that buffer out again as their scratch.
    const gm = { ...g, inChannels: 3, outChannels: 6, height: 7 };
    const dy = device.alloc(4 * 210), w = device.alloc(4 * 162), dx = device.alloc(4 * 105);
    const mask = device.alloc(4 * 105);
    conv2dBackwardInput(device, gm, { gradOut: dy, w, gradX: dx, mask });
    const a = device.alloc(4 * 35), b = device.alloc(4 * 35), c = device.alloc(4 * 49);
    const cMask = device.alloc(4 * 49);
    matmul(device, { a, b, out: c, m: 7, n: 7, k: 5, transB: true, mask: cMask });
    device.release(mask);
    device.release(cMask);
    const ops = new Set((await autotune(device)).map((r) => r.op));
    assert.ok(ops.has("conv2d.gradInput") && ops.has("matmul"), [...ops].join(", "));
    for (const buf of [dy, w, dx, a, b, c]) device.release(buf);
  });

  await t.step("on: a first use tunes in the background where timestamps exist", async () => {
    if (!device.hasTimestamps) return;
    const g1 = { ...g, height: 5, width: 7, kernelH: 1, kernelW: 1, padH: 0, padW: 0 };
    const x = device.alloc(4 * 140), w = device.alloc(4 * 20), out = device.alloc(4 * 175);
    conv2d(device, g1, { x, w, out });
    const id = Object.keys(autotuneChoices(device)).length;
    // Nothing awaited tuning: it ran while this test waited on timers.
    for (let i = 0; i < 600 && Object.keys(autotuneChoices(device)).length === id; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(Object.keys(autotuneChoices(device)).length, id + 1);
    const [tuned] = await autotune(device);
    assert.equal(tuned.op, "conv2d.forward");
    for (const b of [x, w, out]) device.release(b);
  });

  setAutotune(undefined);
  Deno.env.delete("ALEXNET_AUTOTUNE_CACHE");
  await Deno.remove(dir, { recursive: true });
  device.destroy();
});

Deno.test("autotuner: ALEXNET_AUTOTUNE is read once; setAutotune outranks it", async () => {
  // A fresh process, so that the variable is set before the first read.
  const script = `
import { autotuneEnabled, setAutotune } from "${new URL(
    "../kernels/autotune.ts",
    import.meta.url,
  )}";
const software = { isSoftware: true } as Parameters<typeof autotuneEnabled>[0];
const seen = [autotuneEnabled(software)];
Deno.env.set("ALEXNET_AUTOTUNE", "0");
seen.push(autotuneEnabled(software));
setAutotune(false);
seen.push(autotuneEnabled(software));
setAutotune(undefined);
seen.push(autotuneEnabled(software));
console.log(JSON.stringify(seen));`;
  const run = async (value: string) => {
    const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env: { ALEXNET_AUTOTUNE: value },
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    return JSON.parse(new TextDecoder().decode(stdout));
  };
  // On a software adapter the default is off; "on" holds after the variable changes.
  assert.deepEqual(await run("on"), [true, true, false, true]);
  assert.deepEqual(await run(""), [false, false, false, false]);
});

/** Runs `body` with the console captured; returns what it printed. */
async function printedBy(body: () => Promise<void>): Promise<string[]> {
  const printed: string[] = [];
  const kept = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const capture = (...args: unknown[]) => void printed.push(args.join(" "));
  Object.assign(console, { log: capture, info: capture, warn: capture, error: capture });
  try {
    await body();
  } finally {
    Object.assign(console, kept);
  }
  return printed;
}

/** Runs of a made-up op's candidates: all of them, and those recorded on a destroyed device. */
interface Runs {
  all: number;
  afterDestroy: number;
}

/** Meets a made-up op of two candidates at `key` (each run writes a scratch buffer). */
function meet(device: Device, key: string, runs: Runs): void {
  const candidates = [{ name: "a", value: 1 }, { name: "b", value: 2 }];
  choose(device, "test.op", key, () => candidates, (value) => {
    runs.all++;
    if (device.destroyed) runs.afterDestroy++;
    withScratch(device, [64], ([b]) => device.write(b, new Float32Array(64).fill(value)));
  });
}

Deno.test("autotuner: a destroyed device's tuning is dropped quietly; a lost device is reported once", async (t) => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ALEXNET_AUTOTUNE_CACHE", `${dir}/autotune.json`);
  setAutotune(true);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  await t.step("destroyed with tuning pending: nothing runs, prints or is saved", async () => {
    const device = await Device.acquire();
    const runs = { all: 0, afterDestroy: 0 };
    const printed = await printedBy(async () => {
      meet(device, "pending", runs);
      device.destroy();
      assert.deepEqual(await autotune(device), []);
      await settle();
    });
    assert.deepEqual(printed, []);
    assert.equal(runs.all, 0);
  });

  await t.step("destroyed while tuning: the run stops at its next step, quietly", async () => {
    const device = await Device.acquire();
    const runs = { all: 0, afterDestroy: 0 };
    const printed = await printedBy(async () => {
      meet(device, "running", runs);
      meet(device, "running too", runs);
      const run = autotune(device);
      while (runs.all === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      device.destroy();
      assert.deepEqual(await run, []);
      // Met again after the destroy: nothing is recorded for it.
      meet(device, "running", runs);
      assert.deepEqual(await autotune(device), []);
      await settle();
    });
    assert.deepEqual(printed, []);
    assert.equal(runs.afterDestroy, 0);
  });

  await t.step("no cache file, whole or partial", async () => {
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });

  await t.step("lost (not destroyed by its user): one warning, then no more tuning", async () => {
    const device = await Device.acquire();
    const runs = { all: 0, afterDestroy: 0 };
    const printed = await printedBy(async () => {
      meet(device, "lost", runs);
      device.gpu.destroy(); // as a driver reset would: the library's device is still open
      await autotune(device);
      meet(device, "lost too", runs);
      await autotune(device);
      await settle();
    });
    assert.equal(printed.length, 1, printed.join("\n"));
    assert.match(printed[0], new RegExp(`^autotune: tuning stops on ${device.label}: .*lost`));
    device.destroy();
  });

  setAutotune(undefined);
  Deno.env.delete("ALEXNET_AUTOTUNE_CACHE");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("autotuner: a shape's candidate list is built once per device, op and key", async () => {
  setAutotune(false);
  const [first, second] = [await Device.acquire(), await Device.acquire()];
  try {
    let built = 0;
    const list = () => (built++, [{ name: "a", value: 1 }, { name: "b", value: 2 }]);
    const chosen = (device: Device, op: string, key: string) =>
      choose(device, op, key, list, () => {}).value;
    for (let i = 0; i < 3; i++) assert.equal(chosen(first, "test.list", "k1"), 1);
    assert.equal(built, 1);
    chosen(first, "test.list", "k2");
    chosen(first, "test.other", "k1");
    chosen(second, "test.list", "k1");
    assert.equal(built, 4);
  } finally {
    setAutotune(undefined);
    first.destroy();
    second.destroy();
  }
});
