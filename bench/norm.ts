/**
 * Batch normalisation in training, forward and backward, two ways side by side on the same
 * tensors: the fused op (`batchNorm`: one reduction pass and one normalising pass each way)
 * and the same maths composed from tensor ops (mean, centred square, mean, divide, scale,
 * shift, with the running statistics updated by `assign`), as a user without the op would
 * write it. The two alternate run by run, so a change in the machine's load falls on both;
 * each figure is the median of the runs, with the dispatches a step records.
 *
 *     deno run -A bench/norm.ts [--shapes 8,64,28,28;32,16,16,16] [--runs 9]
 *
 * A shape is N,C,H,W.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  batchNorm,
  defaultDevice,
  noGrad,
  ones,
  randn,
  type Shape,
  type Tensor,
  tidy,
  zeros,
} from "../mod.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    shapes: { type: "string", default: "8,64,28,28;32,16,16,16;2,256,13,13" },
    runs: { type: "string", default: "9" },
  },
  strict: true,
});

const device = await defaultDevice();
console.log(`adapter: ${device.describe()}`);

/** The running statistics and affine parameters of one layer of `c` channels. */
function layer(c: number) {
  const weight = ones([c], { requiresGrad: true }), bias = zeros([c], { requiresGrad: true });
  return { weight, bias, runningMean: zeros([c]), runningVar: ones([c]) };
}

type Layer = ReturnType<typeof layer>;

function fused(x: Tensor, l: Layer): Tensor {
  return batchNorm(x, { ...l, training: true });
}

/** The same function from tensor ops: two-pass variance, then the affine map. */
function composed(x: Tensor, l: Layer): Tensor {
  const c = x.shape[1] as number, m = x.size / c, axes = [0, 2, 3];
  const mean = x.mean(axes, true);
  const centred = x.sub(mean);
  const variance = centred.mul(centred).mean(axes, true);
  const y = centred.div(variance.add(1e-5).sqrt()).mul(l.weight.reshape([1, c, 1, 1]))
    .add(l.bias.reshape([1, c, 1, 1]));
  noGrad(() => {
    const flat = (t: Tensor<Shape, "f32">) => t.detach().reshape([c]);
    l.runningMean.assign(l.runningMean.mul(0.9).add(flat(mean).mul(0.1)));
    l.runningVar.assign(l.runningVar.mul(0.9).add(flat(variance).mul(0.1 * m / (m - 1))));
  });
  return y;
}

async function step(forward: typeof fused, x: Tensor, g: Tensor, l: Layer): Promise<number> {
  const before = device.memory().dispatches;
  await tidy(async () => {
    const y = forward(x, l);
    await y.backward(g);
  });
  for (const p of [l.weight, l.bias]) p.zeroGrad();
  return device.memory().dispatches - before;
}

const rows: (string | number)[][] = [];
for (const spec of values.shapes.split(";")) {
  const shape = spec.split(",").map(Number);
  const x = randn(shape, { requiresGrad: true }), g = randn(shape);
  const ways = { fused, composed };
  const times: Record<string, number[]> = { fused: [], composed: [] };
  const dispatches: Record<string, number> = {};
  const l = layer(shape[1]);
  for (const way of Object.values(ways)) await step(way, x, g, l); // compile
  await device.sync();
  for (let run = 0; run < Number(values.runs); run++) {
    for (const [name, way] of Object.entries(ways)) {
      const start = performance.now();
      dispatches[name] = await step(way, x, g, l);
      x.zeroGrad();
      await device.sync();
      times[name].push(performance.now() - start);
    }
  }
  const [f, c] = [median(times.fused), median(times.composed)];
  rows.push([
    `[${shape}]`,
    f,
    `${dispatches.fused}`,
    c,
    `${dispatches.composed}`,
    `${(c / f).toFixed(2)}x`,
  ]);
}
console.log(table(
  ["shape", "fused ms", "dispatches", "composed ms", "dispatches", "fused speed-up"],
  rows,
));
