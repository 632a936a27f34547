/**
 * `deno task bench`: matmul sizes, every AlexNet layer, and the conv layers against two peers
 * (TensorFlow.js WebGPU and jax-js) on the same adapter, by latency (one run awaited at a time)
 * and pipelined (runs started back to back, reads awaited together; see `bench/peers.ts`). Prints tables and writes a JSON file
 * under `bench/results/`. Batch: 128 on a hardware GPU; 2 on a software adapter (lavapipe),
 * where the full batch would take hours. `--batch N` overrides, `--no-peers` skips the peers.
 * `--ops a,b` keeps the peer ops whose names contain one of the words (`bench/breakdown.ts` splits
 * their runs into recording, kernels and the map wait). `--profile` instead times one real
 * training step kernel by kernel (bench/profile.ts; with `--model full|small`, `--no-autotune`).
 * `--only matmul,layers,peers,augment` keeps those parts (default: all); `augment` times the
 * paper's augmentation of one batch of 128, host and device (bench/augment.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device } from "../kernels/device.ts";
import { table } from "./_timing.ts";
import { profileOptions, profileStep } from "./profile.ts";
import { benchMatmul } from "./matmul.ts";
import { benchLayers } from "./cnn_layers.ts";
import { benchAugment, formatAugment } from "./augment.ts";
import {
  benchPeers,
  jaxRunner,
  opFlops,
  oursRunner,
  peerOps,
  type PeerTiming,
  tfjsRunner,
} from "./peers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string" },
    "no-peers": { type: "boolean", default: false },
    "only": { type: "string" },
    ops: { type: "string" },
    out: { type: "string" },
    profile: { type: "boolean", default: false },
    model: { type: "string" },
    "no-autotune": { type: "boolean", default: false },
  },
  strict: true,
});

if (values.profile) {
  await profileStep(profileOptions(values));
  Deno.exit(0);
}

const device = await Device.acquire();
const batch = values.batch ? Number(values.batch) : device.isSoftware ? 2 : 128;
if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer`);
const only = values.only?.split(",") ?? ["matmul", "layers", "peers", "augment"];
console.log(`adapter: ${device.describe()}; batch ${batch}`);

const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  adapter: device.adapterInfo.description || device.adapterInfo.vendor,
  software: device.isSoftware,
  batch,
};

if (only.includes("matmul")) {
  const rows = await benchMatmul(device);
  console.log(
    "\nmatmul (f32)\n" + table(
      ["case", "M", "N", "K", "ms", "GFLOP/s"],
      rows.map((r) => [r.name, String(r.m), String(r.n), String(r.k), r.ms, r.gflops]),
    ),
  );
  result.matmul = rows;
}

if (only.includes("layers")) {
  const rows = await benchLayers(device, batch);
  console.log(
    `\nAlexNet layers at batch ${batch}\n` + table(
      ["layer", "pass", "ms", "rate", "unit"],
      rows.map((r) => [r.layer, r.pass, r.ms, r.rate, r.unit]),
    ),
  );
  const total = rows.reduce((s, r) => s + r.ms, 0);
  console.log(
    `sum of all layer passes (≈ one training step without elementwise ops): ${total.toFixed(1)} ms`,
  );
  result.layers = rows;
  result.stepEstimateMs = total;
}

if (only.includes("peers") && !values["no-peers"]) {
  const ops = peerOps(batch, values.ops);
  const runs = 3;
  const timings = await benchPeers(
    { ours: oursRunner(device), tfjs: tfjsRunner, jax: jaxRunner },
    ops,
    runs,
  );
  const rows = ops.map((op) => {
    const flops = opFlops(op);
    const [ours, tfjs, jax] = [timings.ours, timings.tfjs, timings.jax].map((m) => m.get(op.name));
    // GFLOP/s of a run's median ms under one measure, and ours / the better peer's.
    const measure = (ms: (t: PeerTiming) => number | null | undefined) => {
      const rate = (t?: PeerTiming) => (t && ms(t) ? flops / ms(t)! / 1e6 : NaN);
      const [o, a, b] = [ours, tfjs, jax].map(rate);
      return { ours: o, tfjs: a, jax: b, vsBest: o / Math.max(a || 0, b || 0) };
    };
    return {
      op: op.name,
      ...measure((t) => t.ms),
      pipelined: { depth: ours?.depth ?? NaN, ...measure((t) => t.pipelinedMs) },
      msOurs: ours?.ms ?? NaN,
      pipelinedMsOurs: ours?.pipelinedMs ?? NaN,
      coldOurs: ours?.coldMs ?? NaN,
      coldTfjs: tfjs?.coldMs ?? NaN,
      coldJax: jax?.coldMs ?? NaN,
    };
  });
  console.log(
    `\nvalue + both gradients, read back, batch ${batch}, same adapter. Latency: median of ${runs} ` +
      `runs, each awaited; GFLOP/s, and first call (compile) in ms\n` + table(
        ["op", "ours", "tfjs", "jax-js", "ours/best", "cold ours", "cold tfjs", "cold jax-js"],
        rows.map((r) => [
          r.op,
          r.ours,
          r.tfjs,
          r.jax,
          r.vsBest,
          r.coldOurs,
          r.coldTfjs,
          r.coldJax,
        ]),
      ),
  );
  console.log(
    `\npipelined: R runs started back to back, each read back, the reads awaited together; ` +
      `median of ${runs} batches, GFLOP/s from ms per run\n` + table(
        ["op", "R", "ours", "tfjs", "jax-js", "ours/best", "ours ms: latency", "pipelined"],
        rows.map((r) => [
          r.op,
          String(r.pipelined.depth),
          r.pipelined.ours,
          r.pipelined.tfjs,
          r.pipelined.jax,
          r.pipelined.vsBest,
          r.msOurs,
          r.pipelinedMsOurs,
        ]),
      ),
  );
  for (const [peer, map] of Object.entries(timings)) {
    for (const [op, t] of map) if (t.error) console.log(`${peer} ${op}: ${t.error}`);
  }
  result.peers = rows;
}

if (only.includes("augment")) {
  // The paper's batch whatever the layers' batch: 128 samples of 256², crop 224.
  const augment = await benchAugment(device, { repeats: 5 });
  console.log(`\n${formatAugment(augment)}`);
  result.augment = augment;
}

const path = values.out ?? `bench/results/bench-${result.date}.json`.replaceAll(":", "-");
await Deno.mkdir("bench/results", { recursive: true });
await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
console.log(`\nwrote ${path}`);
device.destroy();
Deno.exit(0);
