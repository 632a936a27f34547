/**
 * One device against two, side by side in one run: the same AlexNet (same seed, same batches)
 * trained on one device and split over two as the paper's two GPUs, in both placements of two
 * logical devices of one adapter: sharing one GPUDevice (the default; a cut is a copy on the
 * GPU) and two GPUDevices (`separateDevices`; a cut crosses through the host). On a machine
 * with two adapters the pair is one device per adapter (through the host) and the shared row is
 * left out. Blocks of `--steps` SGD steps cycle through the placements, `--repeats` times, and
 * each figure is the median over the blocks; a ratio is the median of neighbouring blocks'
 * ratios (the machine may be loaded). Reports ms/step, images/s, host sync points per step,
 * bytes crossing the host and copied on the GPU per step, the time maps took (summed over the
 * step's sync points; they overlap the host's recording and each other), the time the host sat
 * blocked and the dispatches per step.
 *
 *     deno run -A bench/two_devices.ts [--model small|full] [--batch N] [--steps 2]
 *       [--repeats 15] [--adapter INDEX|NAME] [--trace] [--out f.json]
 *
 * `--trace` adds the timeline of one step of each two-device placement: each sync point's cut,
 * when its maps were issued and how long they took.
 *
 * Defaults: the scaled net at batch 32 (the CLI's default) on a software adapter, the paper's
 * net at batch 128 on a hardware GPU.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { autotune } from "../kernels/autotune.ts";
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

const pair = await Device.acquireMany(2, { adapter: values.adapter });
/** The placements compared: one device, then each way of placing two. */
const placements: { name: string; devices: Device[] }[] = [
  { name: "one device", devices: [pair[0]] },
  { name: Device.placementNote(pair), devices: pair },
];
if (pair[0].sharesGpuWith(pair[1])) {
  const apart = await Device.acquireMany(2, { adapter: values.adapter, separateDevices: true });
  placements.push({ name: Device.placementNote(apart), devices: apart });
}
const devices = [...new Set(placements.flatMap((p) => p.devices))];
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
const nets = placements.map((p) => build(p.devices.length === 1 ? p.devices[0] : p.devices));
const optimisers = nets.map((net) =>
  new SGD({ params: net.parameters(), lr: 0.01, momentum: 0.9, weightDecay: 5e-4 })
);
const guards = nets.map((net) =>
  new StepGuard(net.placement[0], net.parameters().map((p) => p.device))
);
const classes = nets[0].config.numClasses;
const images = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i));
const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes);
console.log(
  `AlexNet (${model}) at batch ${batch}, ${repeats} blocks of ${steps} steps of each:\n` +
    placements.map((p, i) => `  ${String.fromCharCode(65 + i)}: ${p.name}`).join("\n"),
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
  hostBytes: number;
  gpuBytes: number;
  dispatches: number;
}

const dispatched = (index: number): number =>
  placements[index].devices.reduce((n, d) => n + d.memory().dispatches, 0);
const blocks: Block[][] = placements.map(() => []);
for (let index = 0; index < nets.length; index++) await step(index); // compiles the pipelines
// Where tuning is on (GPUs), the shapes just met are tuned now, not in the background among the
// timed blocks; one more step of each compiles the choices.
for (const d of devices) await autotune(d);
for (let index = 0; index < nets.length; index++) await step(index);
for (let r = 0; r < repeats; r++) {
  for (let index = 0; index < nets.length; index++) {
    for (const d of devices) await d.sync();
    resetTransferStats();
    const dispatchesBefore = dispatched(index);
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
      hostBytes: (t.bytesRead + t.bytesWritten) / steps,
      gpuBytes: t.bytesCopied / steps,
      dispatches: (dispatched(index) - dispatchesBefore) / steps,
    });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = blocks.map((list, index) => {
  const ms = median(list.map((b) => b.ms));
  // On a loaded machine the load drifts: the ratio of each block to its neighbouring one-device
  // block compares like with like, and its median is the figure to quote.
  const ratios = list.map((b, r) => b.ms / blocks[0][r].ms);
  return {
    placement: placements[index].name,
    ms,
    imagesPerSecond: batch / ms * 1000,
    ratio: median(ratios),
    ratios,
    syncPoints: median(list.map((b) => b.syncs)),
    mapWaitMs: median(list.map((b) => b.mapWaitMs)),
    hostBlockedMs: median(list.map((b) => b.blockedMs)),
    hostMegabytes: median(list.map((b) => b.hostBytes)) / 2 ** 20,
    gpuMegabytes: median(list.map((b) => b.gpuBytes)) / 2 ** 20,
    dispatches: median(list.map((b) => b.dispatches)),
    blocksMs: list.map((b) => b.ms),
  };
});
console.log(
  "\n" + table(
    [
      "placement",
      "ms/step",
      "images/s",
      "× one",
      "syncs/step",
      "map waits ms",
      "host blocked ms",
      "MiB host/step",
      "MiB GPU copy/step",
      "dispatches/step",
    ],
    rows.map((r, i) => [
      String.fromCharCode(65 + i),
      r.ms,
      r.imagesPerSecond,
      r.ratio,
      r.syncPoints,
      r.mapWaitMs,
      r.hostBlockedMs,
      r.hostMegabytes,
      r.gpuMegabytes,
      r.dispatches,
    ]),
  ),
);
for (const [i, r] of rows.entries()) {
  if (i === 0) continue;
  console.log(
    `${String.fromCharCode(65 + i)} / A: ${r.ratio.toFixed(2)}x the step time (goal ≤ 1.3x), the ` +
      `median of ${repeats} neighbouring-block ratios (${
        r.ratios.map((x) => x.toFixed(2)).join(" ")
      })`,
  );
}
console.log(`load average ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
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
  // One more step of each two-device placement, its sync points on a timeline: what each
  // waited for, and when.
  for (let index = 1; index < nets.length; index++) {
    for (const d of devices) await d.sync();
    const points: SyncPoint[] = [];
    traceSyncPoints((p) => points.push(p));
    const start = performance.now();
    await step(index);
    const recorded = performance.now() - start;
    for (const d of devices) await d.sync();
    const total = performance.now() - start;
    traceSyncPoints(null);
    console.log(
      `one step of ${String.fromCharCode(65 + index)}: recorded in ${recorded.toFixed(0)} ms, ` +
        `done after ${total.toFixed(0)} ms\n` + (points.length === 0 ? "no host sync point" : table(
          ["sync point", "issued at ms", "wait ms"],
          points.map((p) => [
            [...new Set(p.labels.map((l) => l.replace(/ gpu\d+→gpu\d+$/, "")))].join(", "),
            p.issuedAt - start,
            p.waitMs,
          ]),
        )),
    );
  }
}
if (values.out) {
  await Deno.writeTextFile(
    values.out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        placements: placements.map((p) => p.name),
        model,
        batch,
        steps,
        repeats,
        rows,
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
