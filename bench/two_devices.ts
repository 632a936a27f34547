/**
 * One device against two, side by side in one run: the same AlexNet (same seed, same batches)
 * trained on one device and split over two as the paper's two GPUs. Blocks of `--steps` SGD
 * steps alternate between the placements, `--repeats` times, and each figure is the median over
 * the blocks; the ratio is the median of neighbouring blocks' ratios (the machine may be loaded). Reports ms/step, images/s, host sync points per step,
 * bytes crossing the host per step, the time maps took (summed over the step's sync points;
 * they overlap the host's recording and each other) and the time the host sat blocked.
 *
 *     deno run -A bench/two_devices.ts [--model small|full] [--batch N] [--steps 2]
 *       [--repeats 15] [--adapter INDEX|NAME] [--trace] [--out f.json]
 *
 * `--trace` adds the timeline of one two-device step: each sync point's cut, when its maps
 * were issued and how long they took.
 *
 * Defaults: the scaled net at batch 32 (the CLI's default) on a software adapter, the paper's
 * net at batch 128 on a hardware GPU.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  crossEntropy,
  Device,
  fromTypedArray,
  replicate,
  resetTransferStats,
  StepGuard,
  type SyncPoint,
  tidy,
  traceSyncPoints,
  transferStats,
} from "../mod.ts";
import { AlexNet, alexnetSmall } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    batch: { type: "string" },
    steps: { type: "string", default: "2" },
    repeats: { type: "string", default: "15" },
    adapter: { type: "string" },
    trace: { type: "boolean", default: false },
    out: { type: "string" },
  },
  strict: true,
});

const devices = await Device.acquireMany(2, { adapter: values.adapter });
const software = devices[0].isSoftware;
const model = values.model ?? (software ? "small" : "full");
if (model !== "small" && model !== "full") throw new Error(`--model must be small or full`);
const batch = Number(values.batch ?? (model === "small" ? 32 : 128));
const steps = Number(values.steps), repeats = Number(values.repeats);
for (const [name, v] of [["batch", batch], ["steps", steps], ["repeats", repeats]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
}
const size = model === "small" ? 32 : 227;
const build = (placement: Device | Device[]): AlexNet =>
  model === "small" ? alexnetSmall({ seed: 0 }, placement) : new AlexNet({ seed: 0 }, placement);
const nets = [build(devices[0]), build(devices)];
const optimisers = nets.map((net) =>
  new SGD({ params: net.parameters(), lr: 0.01, momentum: 0.9, weightDecay: 5e-4 })
);
const guards = nets.map((net) =>
  new StepGuard(net.placement[0], net.parameters().map((p) => p.device))
);
const classes = nets[0].config.numClasses;
const images = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i));
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes);
const sameAdapter = devices[0].adapterInfo.description === devices[1].adapterInfo.description;
console.log(
  `AlexNet (${model}) at batch ${batch}: one device against two (${
    devices.map((d) => d.describe()).join(" + ")
  }${
    sameAdapter ? ", two logical devices of one adapter" : ""
  }); ${repeats} blocks of ${steps} steps`,
);

/**
 * One SGD step as the trainer runs it: the host batch to every device, forward, the step guard,
 * backward, the optimiser's checks, the guard's verdict, the guarded update, the top-k counts.
 */
async function step(index: number): Promise<void> {
  const net = nets[index], optimiser = optimisers[index], guard = guards[index];
  const first = net.placement[0];
  await tidy(async () => {
    const [x] = replicate(images, [batch, 3, size, size], net.placement);
    const y = fromTypedArray(labels, [batch], { device: first, dtype: "i32" });
    const logits = await net.forward(x.withRank(4));
    const loss = crossEntropy(logits, y);
    guard.begin(loss, batch);
    await loss.backward();
    optimiser.check(guard);
    await guard.settle();
    optimiser.step({ guard });
    guard.countTopK(logits, y);
    optimiser.zeroGrad();
  });
}

interface Block {
  ms: number;
  syncs: number;
  mapWaitMs: number;
  blockedMs: number;
  bytes: number;
}

const blocks: Block[][] = [[], []];
for (let index = 0; index < 2; index++) await step(index); // compiles the pipelines
for (let r = 0; r < repeats; r++) {
  for (let index = 0; index < 2; index++) {
    for (const d of devices) await d.sync();
    resetTransferStats();
    const start = performance.now();
    for (let s = 0; s < steps; s++) await step(index);
    for (const d of nets[index].placement) await d.sync();
    const ms = (performance.now() - start) / steps;
    const t = transferStats();
    blocks[index].push({
      ms,
      syncs: t.syncPoints / steps,
      mapWaitMs: t.mapWaitMs / steps,
      blockedMs: t.hostBlockedMs / steps,
      bytes: (t.bytesRead + t.bytesWritten) / steps,
    });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = blocks.map((list, index) => {
  const ms = median(list.map((b) => b.ms));
  return {
    devices: index + 1,
    ms,
    imagesPerSecond: batch / ms * 1000,
    syncPoints: median(list.map((b) => b.syncs)),
    mapWaitMs: median(list.map((b) => b.mapWaitMs)),
    hostBlockedMs: median(list.map((b) => b.blockedMs)),
    megabytes: median(list.map((b) => b.bytes)) / 2 ** 20,
    blocksMs: list.map((b) => b.ms),
  };
});
console.log(
  "\n" + table(
    ["devices", "ms/step", "images/s", "syncs/step", "map waits ms", "host blocked ms", "MiB/step"],
    rows.map((r) => [
      String(r.devices),
      r.ms,
      r.imagesPerSecond,
      r.syncPoints,
      r.mapWaitMs,
      r.hostBlockedMs,
      r.megabytes,
    ]),
  ),
);
// On a loaded machine the load drifts: the ratio of each pair of neighbouring blocks compares
// like with like, and its median is the figure to quote.
const ratios = blocks[1].map((b, r) => b.ms / blocks[0][r].ms);
const ratio = median(ratios);
console.log(
  `\ntwo devices / one: ${ratio.toFixed(2)}x the step time (goal ≤ 1.3x), the median of ` +
    `${repeats} neighbouring-block ratios (${ratios.map((r) => r.toFixed(2)).join(" ")}); ` +
    `load average ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
);
if (values.trace) {
  // The host's recording time of one step on one device, for comparison.
  for (const d of devices) await d.sync();
  const oneStart = performance.now();
  await step(0);
  const oneRecorded = performance.now() - oneStart;
  await devices[0].sync();
  const oneTotal = performance.now() - oneStart;
  console.log(
    `\none one-device step: recorded in ${oneRecorded.toFixed(0)} ms, done after ${
      oneTotal.toFixed(0)
    } ms`,
  );
  // One more two-device step, its sync points on a timeline: what each waited for, and when.
  for (const d of devices) await d.sync();
  const points: SyncPoint[] = [];
  traceSyncPoints((p) => points.push(p));
  const start = performance.now();
  await step(1);
  const recorded = performance.now() - start;
  for (const d of devices) await d.sync();
  const total = performance.now() - start;
  traceSyncPoints(null);
  console.log(
    `one two-device step: recorded in ${recorded.toFixed(0)} ms, done after ${
      total.toFixed(0)
    } ms\n` + table(
      ["sync point", "issued at ms", "wait ms"],
      points.map((p) => [
        [...new Set(p.labels.map((l) => l.replace(/ gpu\d+→gpu\d+$/, "")))].join(", "),
        p.issuedAt - start,
        p.waitMs,
      ]),
    ),
  );
}
if (values.out) {
  await Deno.writeTextFile(
    values.out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        adapters: devices.map((d) => d.describe()),
        logicalDevicesOfOneAdapter: sameAdapter,
        model,
        batch,
        steps,
        repeats,
        rows,
        ratio,
        ratios,
        loadAverage: Deno.loadavg(),
      },
      null,
      2,
    ) + "\n",
  );
}
for (const net of nets) net.dispose();
for (const d of devices) d.destroy();
Deno.exit(0);
