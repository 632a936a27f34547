/**
 * multiMarginLoss / MultiMarginLoss against a float64 transcription of PyTorch's
 * `multi_margin_loss` (p 1 and 2, margins, class weights, every reduction), the gradient by
 * finite differences of that reference, at odd sizes.
 */
import assert from "node:assert/strict";
import {
  defaultDevice,
  multilabelMarginLoss,
  multiMarginLoss,
  type Reduction,
  type Tensor,
  tensor,
} from "../mod.ts";
import { MultiLabelMarginLoss, MultiMarginLoss } from "../nn/mod.ts";
import { mulberry32 } from "./_reference.ts";

await defaultDevice();

/** The per-sample losses of a reference reduced as PyTorch reduces them. */
function reducedReference(perSample: number[], reduction: Reduction): number[] {
  const total = perSample.reduce((a, b) => a + b, 0);
  return reduction === "none"
    ? perSample
    : [reduction === "sum" ? total : total / perSample.length];
}

/**
 * `loss` of `[N, C]` scores `x` against the float64 `reference`, and the gradient of
 * Σ c_i·loss_i against central differences of the reference.
 */
async function checkLoss(
  what: string,
  x: number[][],
  loss: (input: Tensor) => Tensor,
  reference: (x: number[][]) => number[],
): Promise<void> {
  const input = tensor(x, { requiresGrad: true });
  const out = loss(input);
  const got = Array.from(await out.data());
  const want = reference(x);
  got.forEach((g, i) =>
    assert.ok(Math.abs(g - want[i]) < 1e-6 * (1 + Math.abs(want[i])), `${what}: ${g} vs ${want[i]}`)
  );
  const coefficients = got.map((_, i) => 1 + 0.25 * i);
  await (out.rank === 0 ? out : out.mul(tensor(coefficients)).sum()).backward();
  const grad = await input.grad!.data();
  const objective = (v: number[][]) => reference(v).reduce((a, l, i) => a + l * coefficients[i], 0);
  const classes = x[0].length;
  x.forEach((row, n) =>
    row.forEach((_, c) => {
      const [up, down] = [x.map((r) => [...r]), x.map((r) => [...r])];
      up[n][c] += 1e-6;
      down[n][c] -= 1e-6;
      const fd = (objective(up) - objective(down)) / 2e-6;
      const g = grad[n * classes + c];
      assert.ok(Math.abs(g - fd) < 1e-4, `${what} ∂[${n}, ${c}]: ${g} vs ${fd}`);
    })
  );
}

/** PyTorch's loop: Σ_{i ≠ y} w[y]·max(0, margin − x[y] + x[i])^p / C per sample, reduced. */
function reference(
  x: number[][],
  y: number[],
  p: number,
  margin: number,
  weight: number[] | null,
  reduction: Reduction,
): number[] {
  const classes = x[0].length;
  const perSample = x.map((row, n) => {
    let sum = 0;
    for (let i = 0; i < classes; i++) {
      const z = margin - row[y[n]] + row[i];
      if (i !== y[n] && z > 0) sum += (p === 1 ? z : z * z) * (weight ? weight[y[n]] : 1);
    }
    return sum / classes;
  });
  return reducedReference(perSample, reduction);
}

Deno.test("multiMarginLoss matches PyTorch's formula and its gradient, every option", async () => {
  const random = mulberry32(17);
  const [rows, classes] = [5, 7];
  const x = Array.from(
    { length: rows },
    () => Array.from({ length: classes }, () => 3 * random() - 1.5),
  );
  const y = [0, 6, 3, 3, 1];
  const weight = Array.from({ length: classes }, () => 2 * random());
  for (const p of [1, 2]) {
    for (const margin of [1, 0.25, -0.5]) {
      for (const useWeight of [false, true]) {
        for (const reduction of ["mean", "sum", "none"] as const) {
          const what = `p ${p}, margin ${margin}, weight ${useWeight}, ${reduction}`;
          const w = useWeight ? weight : null;
          await checkLoss(
            what,
            x,
            (input) =>
              multiMarginLoss(input, tensor(y, { dtype: "i32" }), {
                p,
                margin,
                reduction,
                weight: useWeight ? tensor(weight) : undefined,
              }),
            (v) => reference(v, y, p, margin, w, reduction),
          );
        }
      }
    }
  }
});

Deno.test("MultiMarginLoss: one unbatched sample, its weight a buffer, bad options and labels", async () => {
  const one = multiMarginLoss(tensor([0.1, 0.2, 0.4, 0.8]), tensor(3, { dtype: "i32" }));
  assert.deepEqual(one.shape, []);
  assert.ok(Math.abs(await one.item() - 0.325) < 1e-7);
  const loss = new MultiMarginLoss({ weight: tensor([1, 3]) });
  assert.deepEqual(loss.namedBuffers().map(([name]) => name), ["weight"]);
  // Sample 0: w 1 · (1 − 0 + 1) / 2; sample 1: w 3 · max(0, 1 − 1 + 0) / 2 = 0; mean 0.5.
  const value = await loss.forward(tensor([[0, 1], [0, 1]]), tensor([0, 1], { dtype: "i32" }))
    .item();
  assert.ok(Math.abs(value - 0.5) < 1e-7);
  const scores = tensor([[0, 1]]);
  const labels = tensor([0], { dtype: "i32" });
  assert.throws(
    () => multiMarginLoss(scores, labels, { p: 3 }),
    /multiMarginLoss: p must be 1 or 2, got 3/,
  );
  assert.throws(
    () => multiMarginLoss(scores, tensor([0, 1], { dtype: "i32" })),
    /input must be \[N, C\] scores and target \[N\]/,
  );
  assert.throws(
    () => multiMarginLoss(scores, labels, { weight: tensor([1]) }),
    /weight must be a \[2\] f32 tensor/,
  );
  await assert.rejects(
    () => multiMarginLoss(scores, tensor([2], { dtype: "i32" })).item(),
    /index 2 is out of bounds/,
  );
});

/** PyTorch's multilabel_margin_loss loop: the targets end at the first −1. */
function multilabelReference(x: number[][], y: number[][], reduction: Reduction): number[] {
  const classes = x[0].length;
  const perSample = x.map((row, n) => {
    const listed: number[] = [];
    for (const t of y[n]) {
      if (t < 0) break;
      listed.push(t);
    }
    let sum = 0;
    for (const j of listed) {
      for (let i = 0; i < classes; i++) {
        const z = 1 - row[j] + row[i];
        if (!listed.includes(i) && z > 0) sum += z;
      }
    }
    return sum / classes;
  });
  return reducedReference(perSample, reduction);
}

Deno.test("multilabelMarginLoss matches PyTorch's loop (−1 ends a row, duplicates count) and its gradient", async () => {
  const random = mulberry32(29);
  const [rows, classes] = [5, 6];
  const x = Array.from(
    { length: rows },
    () => Array.from({ length: classes }, () => 3 * random() - 1.5),
  );
  const y = [[3, 0, -1, 1, 2, 5], [4, 4, 1, 2, 0, 5], [-1, 2, 3, 0, 0, 1], [2, 1, -1, -1, -1, -1], [
    0,
    1,
    2,
    3,
    4,
    5,
  ]];
  for (const reduction of ["mean", "sum", "none"] as const) {
    await checkLoss(
      reduction,
      x,
      (input) => multilabelMarginLoss(input, tensor(y, { dtype: "i32" }), { reduction }),
      (v) => multilabelReference(v, y, reduction),
    );
  }
  const one = await new MultiLabelMarginLoss().forward(
    tensor([0.1, 0.2, 0.4, 0.8]),
    tensor([3, 0, -1, 1], { dtype: "i32" }),
  ).item();
  assert.ok(Math.abs(one - 0.85) < 1e-6);
  assert.throws(
    () => multilabelMarginLoss(tensor([[1, 2]]), tensor([[1]], { dtype: "i32" })),
    /target the same shape/,
  );
});
