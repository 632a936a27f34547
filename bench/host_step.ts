/**
 * The host's cost of one training step of the paper's AlexNet: the JavaScript time to record
 * the trainer's step (`train/_batches.ts`: the batch's upload, forward, loss, backward, the
 * guard's checks and the SGD update), per step and per dispatch, apart from the GPU's run of it.
 *
 * The device's queue is held during the step: every `queue.submit` and `queue.writeBuffer` is
 * kept, in order, and made after the step's clock stops (a GPU wait inside the step, such as a
 * map, makes them first and is counted as a sync point, its time left out). On a software
 * adapter `queue.submit` runs the kernels on the calling thread, so this is what keeps the
 * adapter's work out of the host's figure; on a GPU it changes nothing but when the kernels
 * start. The figure is what a GPU would wait on were the host not recording ahead of it.
 *
 *     deno run -A bench/host_step.ts [--model full|small] [--batch 2] [--steps 8] [--out f.json]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Device } from "../kernels/device.ts";
import { AlexNet, alexnetSmall } from "../nn/mod.ts";
import { crossEntropy } from "../tensor/ops_loss.ts";
import { StepGuard } from "../tensor/step_guard.ts";
import { SGD } from "../train/sgd.ts";
import { trainStep } from "../train/_batches.ts";
import { augmentedCrops } from "../train/data/augment.ts";
import type { LoaderBatch } from "../train/data/loader.ts";
import { Rng } from "../train/data/rng.ts";
import { cropImagesOnHost } from "../tensor/images.ts";
import { median } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", default: "full" },
    batch: { type: "string", default: "2" },
    steps: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    out: { type: "string" },
  },
  strict: true,
});
const batch = Number(values.batch), steps = Number(values.steps), warmup = Number(values.warmup);
for (const [name, n] of [["batch", batch], ["steps", steps]] as const) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
}
if (values.model !== "full" && values.model !== "small") {
  throw new Error("--model must be full or small");
}

/**
 * Holds a queue's submits and writes until {@link HeldQueue.release}; a map or a wait for
 * submitted work releases them first and counts as a sync point.
 */
class HeldQueue {
  #held: (() => void)[] = [];
  /** GPU waits met while holding. */
  syncs: string[] = [];
  /** Milliseconds spent releasing inside the held span (left out of the host's time). */
  releasedMs = 0;
  holding = false;
  /** `queue.submit` and `queue.writeBuffer` calls so far. */
  submits = 0;
  writes = 0;

  constructor(gpu: GPUDevice) {
    const queue = gpu.queue;
    const submit = queue.submit.bind(queue);
    const writeBuffer = queue.writeBuffer.bind(queue) as (...a: unknown[]) => void;
    const done = queue.onSubmittedWorkDone.bind(queue);
    queue.submit = (buffers) => {
      this.submits++;
      this.#hold(() => submit(buffers));
    };
    queue.writeBuffer = ((...args: unknown[]) => {
      this.writes++;
      this.#hold(() => writeBuffer(...args));
    }) as never;
    queue.onSubmittedWorkDone = () => {
      this.#wait("onSubmittedWorkDone");
      return done();
    };
    const map = GPUBuffer.prototype.mapAsync;
    const wait = (what: string) => this.#wait(what);
    GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args) {
      wait(`mapAsync ${this.label || "(unlabelled)"}`);
      return map.apply(this, args);
    };
  }

  #hold(run: () => void): void {
    if (this.holding) this.#held.push(run);
    else run();
  }

  #wait(what: string): void {
    if (!this.holding) return;
    this.syncs.push(what);
    const start = performance.now();
    this.release();
    this.releasedMs += performance.now() - start;
  }

  /** Makes the held submits and writes, in order. */
  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const run of held) run();
  }
}

const device = await Device.acquire();
const held = new HeldQueue(device.gpu);
const small = values.model === "small";
const model = small ? alexnetSmall({ seed: 0 }, device) : new AlexNet({ seed: 0 }, device);
model.train();
const optimizer = new SGD({
  params: model.parameters(),
  lr: 0.001,
  momentum: 0.9,
  weightDecay: 5e-4,
});
const size = small ? 32 : 227;
const classes = model.config.numClasses;
// The paper's augmentation of 256² samples (the scaled net: 36² samples), as the loader draws it;
// the step crops, mirrors and offsets them on the device.
const side = small ? 36 : 256;
const pixels = new Uint8Array(side * side * 3).map((_, i) => (i * 2654435761) >>> 24);
const samples = Array.from({ length: batch }, (_, i) => ({ pixels, label: (i * 7919) % classes }));
const augment = {
  crop: size,
  flip: true,
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  pca: {
    eigenvalues: [0.2175, 0.0188, 0.0045],
    eigenvectors: [[-0.58, -0.81, 0.05], [-0.58, 0.04, -0.81], [-0.58, 0.58, 0.58]],
    sigma: 0.1,
  },
};
const drawn = augmentedCrops(samples, augment, new Rng(0, 2, 0, 0));
const input: LoaderBatch = {
  ...drawn,
  get images() {
    return cropImagesOnHost(drawn.crops);
  },
  epoch: 0,
  index: 0,
  indices: Uint32Array.from({ length: batch }, (_, i) => i),
};
const ctx = {
  model,
  optimizer,
  loss: crossEntropy,
  device,
  guard: new StepGuard(device, model.namedParameters().map(([, p]) => p.device)),
  classes,
};
console.log(
  `host time of a training step: ${values.model} AlexNet, batch ${batch}; ${device.describe()}`,
);

const ms: number[] = [], perDispatch: number[] = [];
let dispatches = 0, submits = 0, writes = 0;
for (let step = 0; step < warmup + steps; step++) {
  const before = device.memory();
  const [submitsBefore, writesBefore] = [held.submits, held.writes];
  held.syncs = [];
  held.releasedMs = 0;
  held.holding = true;
  const start = performance.now();
  await trainStep(ctx, input);
  const elapsed = performance.now() - start - held.releasedMs;
  held.holding = false;
  held.release();
  const after = device.memory();
  await device.sync();
  dispatches = after.dispatches - before.dispatches;
  submits = held.submits - submitsBefore;
  writes = held.writes - writesBefore;
  if (step < warmup) continue;
  ms.push(elapsed);
  perDispatch.push((elapsed * 1000) / dispatches);
  if (step === warmup) {
    console.log(
      `sync points inside the step: ${held.syncs.length ? held.syncs.join(", ") : "none"}`,
    );
  }
}
let augmentMs: number | null = null;
if (!small) {
  // The loader's host work for one batch: gathering the samples' bytes and drawing the patches.
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    augmentedCrops(samples, augment, new Rng(0, 2, 0, i));
    times.push(performance.now() - start);
  }
  augmentMs = median(times);
  console.log(`augmenting one batch (the loader, same thread): ${augmentMs.toFixed(2)} ms`);
}
const stats = await ctx.guard.read();
const ms50 = median(ms), us50 = median(perDispatch);
console.log(
  `${dispatches} dispatches, ${submits} submits, ${writes} writes a step; host ${
    ms50.toFixed(2)
  } ms a step, ${us50.toFixed(1)} µs a ` +
    `dispatch (median of ${steps} steps: ${ms.map((m) => m.toFixed(1)).join(" ")} ms); ` +
    `loss ${(stats.lossSum / stats.images).toFixed(4)}, ${stats.totalNonFinite} non-finite`,
);
if (values.out) {
  const record = {
    model: values.model,
    batch,
    steps,
    dispatches,
    hostMs: ms50,
    hostUs: us50,
    augmentMs,
    ms,
  };
  await Deno.writeTextFile(values.out, JSON.stringify(record) + "\n");
}
ctx.guard.dispose();
device.destroy();
Deno.exit(0);
