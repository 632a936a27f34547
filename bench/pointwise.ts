/**
 * GPU time of each pass of a 1×1 convolution (forward, input gradient, weight gradient with the
 * bias gradient), by timestamps, the default algorithm of each pass: on lavapipe the pointwise
 * GEMMs of `kernels/_pointwise.ts`. With `--against DIR` the same passes of another checkout
 * (an older commit's worktree) run in the same process, the two alternating run by run, so a
 * change in the machine's load falls on both alike.
 *
 *     deno run -A bench/pointwise.ts [--shapes 2,64,27,96;2,256,13,384] [--runs 15]
 *       [--bias] [--against /path/to/other/checkout]
 *
 * A shape is batch,inChannels,size,outChannels (square planes).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { median } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    shapes: { type: "string", default: "2,64,27,96;2,256,13,384;8,256,13,384" },
    runs: { type: "string", default: "15" },
    bias: { type: "boolean", default: false },
    against: { type: "string" },
  },
  strict: true,
});

/** The kernels of one checkout, loaded from its own files. */
async function load(root: string) {
  const url = (file: string) => new URL(`file://${resolve(root, file)}`).href;
  const { Device } = await import(url("kernels/device.ts"));
  const { conv2d } = await import(url("kernels/conv2d.ts"));
  const backward = await import(url("kernels/conv2d_backward.ts"));
  const { fillRandom } = await import(url("kernels/random.ts"));
  return { device: await Device.acquire(), conv2d, ...backward, fillRandom };
}

const here = new URL("..", import.meta.url).pathname;
const checkouts: [string, Awaited<ReturnType<typeof load>>][] = [["this", await load(here)]];
if (values.against) checkouts.push([values.against, await load(values.against)]);

const runs = Number(values.runs);
const passes = ["forward", "input grad", "weight grad", "total"];

for (const shape of values.shapes.split(";")) {
  const [batch, channels, size, outChannels] = shape.split(",").map(Number);
  const g = {
    batch,
    inChannels: channels,
    height: size,
    width: size,
    outChannels,
    kernelH: 1,
    kernelW: 1,
    strideH: 1,
    strideW: 1,
    padH: 0,
    padW: 0,
    groups: 1,
  };
  const setups = checkouts.map(([name, k]) => {
    const d = k.device;
    const buffers: unknown[] = [];
    const random = (count: number) => {
      const b = d.alloc(count * 4);
      k.fillRandom(d, b, count, { kind: "normal", mean: 0, std: 1 }, { seed: [1, 2], offset: 0 });
      buffers.push(b);
      return b;
    };
    const nx = batch * channels * size * size, ny = batch * outChannels * size * size;
    const x = random(nx), w = random(outChannels * channels), out = random(ny);
    const gradX = random(nx), gradW = random(outChannels * channels);
    const b = values.bias ? random(outChannels) : undefined;
    const gradB = values.bias ? random(outChannels) : undefined;
    const step = () => {
      k.conv2d(d, g, { x, w, out, bias: b });
      k.conv2dBackwardInput(d, g, { gradOut: out, w, gradX });
      k.conv2dBackwardWeight(d, g, { x, gradOut: out, gradW, gradB });
    };
    return { name, k, step, buffers, ms: passes.map(() => [] as number[]), variants: "" };
  });
  for (const s of setups) {
    s.step();
    await s.k.device.sync();
  }
  for (let i = 0; i < runs; i++) {
    for (const s of setups) {
      s.k.device.startProfile();
      s.step();
      const rows: { ms: number; variant: string }[] = (await s.k.device.stopProfile()).rows;
      // The forward pass and the input gradient are one kernel each; the rest is the weight
      // gradient (with its sums and, where the bias gradient is a pass of its own, that pass).
      const forward = rows[0].ms, input = rows[1].ms;
      const weight = rows.slice(2).reduce((sum, r) => sum + r.ms, 0);
      [forward, input, weight, forward + input + weight].forEach((v, j) => s.ms[j].push(v));
      s.variants = rows.map((r) => r.variant).join("; ");
    }
  }
  const flops = 3 * 2 * batch * outChannels * channels * size * size;
  console.log(
    `\n1×1 ${channels}→${outChannels} ${size}² batch ${batch}${values.bias ? " +bias" : ""}` +
      ` (${(flops / 1e6).toFixed(1)} MFLOP): GPU ms, median (min) of ${runs} alternating runs`,
  );
  for (const s of setups) {
    const cells = passes.map((p, j) =>
      `${p} ${median(s.ms[j]).toFixed(2)} (${Math.min(...s.ms[j]).toFixed(2)})`
    );
    console.log(`  ${s.name}: ${cells.join(", ")}\n    [${s.variants}]`);
  }
  for (const s of setups) for (const b of s.buffers) s.k.device.release(b);
}
for (const [, k] of checkouts) k.device.destroy();
