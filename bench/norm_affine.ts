/**
 * Layer and group norm's weight and bias, two ways side by side on the same tensors, forward
 * and backward: fused (`layerNorm`/`groupNorm` with `weight` and `bias`: the affine map inside
 * the normalising pass, its gradients in one more reduction) against the normalisation followed
 * by the affine map as two elementwise ops (`x̂.mul(weight).add(bias)`, what the functions did
 * before). The two alternate run by run, so a change in the machine's load falls on both; each
 * figure is the median of the runs: the wall time of a step to its `device.sync()` (about 10 ms
 * of Deno's map wait in both), and, where the adapter has timestamps, the step's GPU time
 * (the sum of its kernels'), with the dispatches a step records.
 *
 *     deno run -A bench/norm_affine.ts [--runs 7] [--cases gn,ln-chw,ln-last]
 *
 * Cases: `gn` GroupNorm(8) of [32, 64, 28, 28]; `ln-chw` LayerNorm over [64, 28, 28] of the
 * same; `ln-last` LayerNorm over the last axis of [512, 768].
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  defaultDevice,
  groupNorm,
  layerNorm,
  randn,
  type Shape,
  type Tensor,
  tidy,
} from "../mod.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "7" },
    cases: { type: "string", default: "gn,ln-chw,ln-last" },
  },
  strict: true,
});

const device = await defaultDevice();
console.log(`adapter: ${device.describe()}`);

type F32 = Tensor<Shape, "f32">;

/** One normalisation: its input shape, the affine map's shape, and the two ways to apply it. */
interface Case {
  label: string;
  shape: number[];
  affine: number[];
  fused: (x: F32, w: F32, b: F32) => Tensor;
  composed: (x: F32, w: F32, b: F32) => Tensor;
}

const cases: Record<string, Case> = {
  gn: {
    label: "GroupNorm(8) [32, 64, 28, 28]",
    shape: [32, 64, 28, 28],
    affine: [64],
    fused: (x, weight, bias) => groupNorm(x, 8, { weight, bias }),
    composed: (x, w, b) => groupNorm(x, 8).mul(w.reshape([64, 1, 1])).add(b.reshape([64, 1, 1])),
  },
  "ln-chw": {
    label: "LayerNorm [64, 28, 28] of [32, 64, 28, 28]",
    shape: [32, 64, 28, 28],
    affine: [64, 28, 28],
    fused: (x, weight, bias) => layerNorm(x, [64, 28, 28], { weight, bias }),
    composed: (x, w, b) => layerNorm(x, [64, 28, 28]).mul(w).add(b),
  },
  "ln-last": {
    label: "LayerNorm [768] of [512, 768]",
    shape: [512, 768],
    affine: [768],
    fused: (x, weight, bias) => layerNorm(x, [768], { weight, bias }),
    composed: (x, w, b) => layerNorm(x, [768]).mul(w).add(b),
  },
};

/** One forward and backward; returns the dispatches and the kernels' GPU ms (or NaN). */
async function step(
  forward: Case["fused"],
  inputs: F32[],
  g: Tensor,
): Promise<{ dispatches: number; gpuMs: number }> {
  const before = device.memory().dispatches;
  if (device.hasTimestamps) device.startProfile();
  await tidy(async () => {
    const [x, w, b] = inputs;
    await forward(x, w, b).backward(g);
  });
  const dispatches = device.memory().dispatches - before;
  const gpuMs = device.hasTimestamps
    ? (await device.stopProfile()).rows.reduce((t, r) => t + r.ms, 0)
    : NaN;
  for (const t of inputs) t.zeroGrad();
  return { dispatches, gpuMs };
}

const rows: (string | number)[][] = [];
for (const name of values.cases.split(",")) {
  const c = cases[name];
  if (!c) throw new Error(`--cases: no case ${name} (${Object.keys(cases).join(", ")})`);
  const inputs = [c.shape, c.affine, c.affine].map((s) => randn(s, { requiresGrad: true }));
  const g = randn(c.shape);
  const ways = { fused: c.fused, composed: c.composed };
  const wall: Record<string, number[]> = { fused: [], composed: [] };
  const gpu: Record<string, number[]> = { fused: [], composed: [] };
  const dispatches: Record<string, number> = {};
  for (const way of Object.values(ways)) await step(way, inputs, g); // compile
  await device.sync();
  for (let run = 0; run < Number(values.runs); run++) {
    for (const [way, forward] of Object.entries(ways)) {
      const start = performance.now();
      const r = await step(forward, inputs, g);
      await device.sync();
      wall[way].push(performance.now() - start);
      gpu[way].push(r.gpuMs);
      dispatches[way] = r.dispatches;
    }
  }
  const speedUp = (t: Record<string, number[]>) =>
    `${(median(t.composed) / median(t.fused)).toFixed(2)}x`;
  rows.push([
    c.label,
    median(wall.fused),
    median(wall.composed),
    median(gpu.fused),
    median(gpu.composed),
    `${dispatches.fused} / ${dispatches.composed}`,
    speedUp(gpu),
    speedUp(wall),
  ]);
}
console.log(table(
  [
    "case",
    "fused wall ms",
    "composed wall ms",
    "fused GPU ms",
    "composed GPU ms",
    "dispatches",
    "GPU speed-up",
    "wall speed-up",
  ],
  rows,
));
console.log(`load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(", ")}`);
