/**
 * The fused activation and loss-term kernels against the compositions of existing ops they
 * replace, side by side in one process (forward and backward of each, alternating run by run,
 * medians), `nllLoss`'s gather and scatter against a one-hot select, and `nllLoss` after
 * `logSoftmax` against the fused `crossEntropy`.
 *
 *     deno run -A bench/activations_losses.ts [--size 262144] [--runs 7]
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  defaultDevice,
  erf,
  gelu,
  logSoftmax,
  nllLoss,
  oneHot,
  randn,
  silu,
  smoothL1Loss,
  type Tensor,
  tensor,
  tidy,
  where,
} from "../mod.ts";
import { median, timeGpu } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { size: { type: "string", default: "262144" }, runs: { type: "string", default: "7" } },
  strict: true,
});
const size = Number(values.size), runs = Number(values.runs);
const device = await defaultDevice();
const x = randn([size], { requiresGrad: true });
const t = randn([size]).sigmoid();
const logits = randn([256, 1000], { requiresGrad: true });
const labels = tensor(Array.from({ length: 256 }, (_, i) => (i * 37) % 1000), { dtype: "i32" });
const logProbabilities = logSoftmax(randn([256, 1000]), 1).detach();
logProbabilities.requiresGrad = true;

type F = Tensor<number[], "f32">;
const variants: [string, () => Tensor, () => Tensor][] = [
  [
    "gelu",
    () => gelu(x as F).sum(),
    () => x.mul(0.5).mul(erf(x.mul(Math.SQRT1_2) as F).add(1)).sum(),
  ],
  ["silu", () => silu(x as F).sum(), () => x.mul(x.sigmoid()).sum()],
  [
    "smoothL1Loss",
    () => smoothL1Loss(x, t),
    () => {
      const d = x.sub(t), a = d.abs();
      return where(a.lt(1), d.mul(d).mul(0.5), a.sub(0.5)).mean();
    },
  ],
  [
    "bceWithLogits",
    () => binaryCrossEntropyWithLogits(x, t),
    () => {
      // (1 − t)·x + max(−x, 0) + log(1 + e^{−|x|})
      const softplus = x.neg().relu().add(x.abs().neg().exp().log1p());
      return t.neg().add(1).mul(x).add(softplus).mean();
    },
  ],
  [
    "nllLoss (vs a one-hot select) [256, 1000]",
    () => nllLoss(logProbabilities, labels),
    () => where(oneHot(labels, 1000), logProbabilities, 0).sum(1).neg().mean(),
  ],
  [
    "nll(logSoftmax) vs crossEntropy [256, 1000]",
    () => crossEntropy(logits, labels),
    () => nllLoss(logSoftmax(logits, 1), labels),
  ],
];

/** Milliseconds of one forward and backward of `loss`. */
async function time(loss: () => Tensor): Promise<number> {
  const step = async () => {
    const l = tidy(loss);
    await l.backward();
    l.dispose();
    x.zeroGrad();
    logits.zeroGrad();
    logProbabilities.zeroGrad();
  };
  return (await timeGpu(step, () => device.sync(), { warmup: 1, iterations: 3 })).ms;
}

console.log(`${device.describe()}, ${size} elements; forward + backward, median of ${runs}`);
for (const [name, fused, composed] of variants) {
  const a: number[] = [], b: number[] = [];
  for (let r = 0; r < runs; r++) {
    a.push(await time(fused));
    b.push(await time(composed));
  }
  const [ma, mb] = [median(a), median(b)];
  console.log(
    `${name.padEnd(44)} fused ${ma.toFixed(2)} ms  composed ${mb.toFixed(2)} ms  (${
      (mb / ma).toFixed(2)
    }×)`,
  );
}
