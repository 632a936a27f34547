/**
 * Training throughput of the paper's AlexNet: `--steps` SGD steps (the paper's update) at
 * `--batch` (default 128) on synthetic 227×227 batches drawn on the GPU, on one device or split
 * over two (`--devices 2`). Prints images/s after `--warmup` steps, reading the loss back only
 * every 50 steps.
 *
 *     deno run -A bench/alexnet_train.ts [--batch 128] [--steps 200] [--devices 1|2] [--out f.json]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { autotune } from "../kernels/autotune.ts";
import { crossEntropy, Device, fromTypedArray, Generator, linkReplicas, tidy } from "../mod.ts";
import { AlexNet } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "128" },
    steps: { type: "string", default: "200" },
    warmup: { type: "string", default: "5" },
    devices: { type: "string", default: "1" },
    out: { type: "string" },
  },
  strict: true,
});
const batch = Number(values.batch), steps = Number(values.steps), warmup = Number(values.warmup);
const count = Number(values.devices);
if (count !== 1 && count !== 2) throw new Error("--devices must be 1 or 2");

const devices = await Device.acquireMany(count);
const model = new AlexNet({ seed: 0 }, count === 1 ? devices[0] : [devices[0], devices[1]]);
model.train();
const optimiser = new SGD({
  params: model.parameters(),
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
});
const data = new Generator(1);
const labelsHost = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % 1000);
const labels = fromTypedArray(labelsHost, [batch], { device: devices[0] });
console.log(`AlexNet on ${devices.map((d) => d.describe()).join(" + ")}, batch ${batch}`);

let start = 0;
const losses: number[] = [];
for (let step = 0; step < warmup + steps; step++) {
  // Where tuning is on (GPUs), the first step's shapes are tuned before the next step, not in
  // the background among the timed steps; the rest of the warm-up compiles the choices.
  if (step === 1) { for (const d of devices) await autotune(d); }
  if (step === warmup) {
    for (const d of devices) await d.sync();
    start = performance.now();
  }
  const loss = await tidy(async () => {
    // The same draw on every device (the stream is counter-based), as a host batch would be
    // written to each: the input never crosses between devices.
    const state = data.state();
    const copies = devices.map((device) => {
      data.setState(state);
      return data.normal([batch, 3, 227, 227], 0, 1, device);
    });
    linkReplicas(copies);
    const logits = await model.forward(copies[0].withRank(4));
    return crossEntropy(logits, labels);
  });
  await loss.backward();
  optimiser.step();
  optimiser.zeroGrad();
  if (step % 50 === 0 || step === warmup + steps - 1) {
    losses.push(await loss.item());
    console.log(`step ${step}: loss ${losses.at(-1)!.toFixed(4)}`);
  }
  loss.dispose();
}
for (const d of devices) await d.sync();
const seconds = (performance.now() - start) / 1000;
const imagesPerSecond = (steps * batch) / seconds;
console.log(
  `${steps} steps in ${seconds.toFixed(1)} s: ${imagesPerSecond.toFixed(1)} images/s ` +
    `(${(seconds / steps * 1000).toFixed(1)} ms/step); peak ${
      (devices[0].memory().peakBytes / 2 ** 30).toFixed(2)
    } GiB on ${devices[0].label}`,
);
if (values.out) {
  await Deno.writeTextFile(
    values.out,
    JSON.stringify({ batch, steps, devices: count, seconds, imagesPerSecond, losses }) + "\n",
  );
}
Deno.exit(0);
