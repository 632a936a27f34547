/**
 * `deno task bench`: matmul sizes, every AlexNet layer, and the conv layers against two peers
 * (TensorFlow.js WebGPU and jax-js) on the same adapter. Prints tables and writes a JSON file
 * under `bench/results/`. Batch: 128 on a hardware GPU; 2 on a software adapter (lavapipe),
 * where the full batch would take hours. `--batch N` overrides, `--no-peers` skips the peers.
 * `--profile` instead times one real training step kernel by kernel (bench/profile.ts; with
 * `--model full|small`, `--no-autotune`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device } from "../kernels/device.ts";
import { table, timeGpu } from "./_timing.ts";
import { profileStep } from "./profile.ts";
import { benchMatmul } from "./matmul.ts";
import { alexnetConvs, benchLayers, convFlops } from "./cnn_layers.ts";
import { benchPeer, jaxRunner, type PeerTiming, tfjsRunner } from "./peers.ts";
import { conv2d, conv2dOutputSize } from "../kernels/conv2d.ts";
import { conv2dBackwardInput, conv2dBackwardWeight } from "../kernels/conv2d_backward.ts";
import { fillRandom } from "../kernels/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string" },
    "no-peers": { type: "boolean", default: false },
    "only": { type: "string" },
    out: { type: "string" },
    profile: { type: "boolean", default: false },
    model: { type: "string" },
    "no-autotune": { type: "boolean", default: false },
  },
  strict: true,
});

if (values.profile) {
  await profileStep({
    model: values.model,
    batch: values.batch === undefined ? undefined : Number(values.batch),
    autotune: values["no-autotune"] ? false : undefined,
    out: values.out,
  });
  Deno.exit(0);
}

const device = await Device.acquire();
const batch = values.batch ? Number(values.batch) : device.isSoftware ? 2 : 128;
if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer`);
const only = values.only?.split(",") ?? ["matmul", "layers", "peers"];
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
  const geometries = alexnetConvs(batch);
  const iterations = device.isSoftware ? 1 : 5;
  const ours = new Map<string, PeerTiming>();
  for (const { name, g } of geometries) {
    const { outH, outW } = conv2dOutputSize(g);
    const n = (count: number) => {
      const b = device.alloc(count * 4);
      fillRandom(device, b, count, { kind: "normal", mean: 0, std: 1 }, {
        seed: [5, 6],
        offset: 0,
      });
      return b;
    };
    const x = n(g.batch * g.inChannels * g.height * g.width);
    const w = n(g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW);
    const out = n(g.batch * g.outChannels * outH * outW);
    const gradX = n(g.batch * g.inChannels * g.height * g.width);
    const gradW = n(g.outChannels * (g.inChannels / g.groups) * g.kernelH * g.kernelW);
    const t = await timeGpu(
      () => {
        conv2d(device, g, { x, w, out });
        conv2dBackwardInput(device, g, { gradOut: out, w, gradX });
        conv2dBackwardWeight(device, g, { x, gradOut: out, gradW });
      },
      () => device.sync(),
      { iterations },
    );
    ours.set(name, { ms: t.ms });
    [x, w, out, gradX, gradW].forEach((b) => device.release(b));
  }
  const tfjs = await benchPeer(tfjsRunner, geometries, iterations);
  const jax = await benchPeer(jaxRunner, geometries, iterations);
  const rows = geometries.map(({ name, g }) => {
    const flops = 3 * convFlops(g);
    const rate = (t?: PeerTiming) => (t?.ms ? flops / t.ms / 1e6 : NaN);
    const o = rate(ours.get(name)), a = rate(tfjs.get(name)), b = rate(jax.get(name));
    return { layer: name, ours: o, tfjs: a, jax: b, vsTfjs: o / a, vsJax: o / b };
  });
  console.log(
    `\nconv forward + both gradients at batch ${batch}, GFLOP/s (same adapter)\n` + table(
      ["layer", "ours", "tfjs", "jax-js", "ours/tfjs", "ours/jax-js"],
      rows.map((r) => [r.layer, r.ours, r.tfjs, r.jax, r.vsTfjs, r.vsJax]),
    ),
  );
  for (const [peer, map] of [["tfjs", tfjs], ["jax-js", jax]] as const) {
    for (const [layer, t] of map) if (t.error) console.log(`${peer} ${layer}: ${t.error}`);
  }
  result.peers = rows;
}

const path = values.out ?? `bench/results/bench-${result.date}.json`.replaceAll(":", "-");
await Deno.mkdir("bench/results", { recursive: true });
await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
console.log(`\nwrote ${path}`);
device.destroy();
Deno.exit(0);
