/**
 * pairwiseDistance and cosineSimilarity against float64 transcriptions of PyTorch's
 * `pairwise_distance` and (2.x) `cosine_similarity`, gradients by finite differences; the
 * triplet losses on them (a custom distance, swap, the gradient where a distance is 0).
 */
import assert from "node:assert/strict";
import {
  cosineSimilarity,
  defaultDevice,
  pairwiseDistance,
  type Tensor,
  tensor,
  tripletMarginLoss,
  tripletMarginWithDistanceLoss,
} from "../mod.ts";
import { CosineSimilarity, PairwiseDistance, TripletMarginWithDistanceLoss } from "../nn/mod.ts";
import { mulberry32 } from "./_reference.ts";

await defaultDevice();

type Rows = number[][];

function pairwise(a: Rows, b: Rows, p: number, eps: number): number[] {
  return a.map((row, i) => {
    const d = row.map((v, j) => Math.abs(v - b[i][j] + eps));
    return p === Infinity ? Math.max(...d) : d.reduce((s, v) => s + v ** p, 0) ** (1 / p);
  });
}

function cosine(a: Rows, b: Rows, eps: number): number[] {
  return a.map((row, i) => {
    const [n1, n2] = [Math.max(Math.hypot(...row), eps), Math.max(Math.hypot(...b[i]), eps)];
    return row.reduce((s, v, j) => s + (v / n1) * (b[i][j] / n2), 0);
  });
}

/** Forward against `reference`, and both inputs' gradients of Σ c_i·out_i by differences. */
async function check(
  what: string,
  op: (x: Tensor, y: Tensor) => Tensor,
  reference: (a: Rows, b: Rows) => number[],
  a: Rows,
  b: Rows,
) {
  const [x, y] = [tensor(a, { requiresGrad: true }), tensor(b, { requiresGrad: true })];
  const out = op(x, y);
  const want = reference(a, b);
  (await out.data()).forEach((g, i) =>
    assert.ok(Math.abs(g - want[i]) < 1e-6 * (1 + Math.abs(want[i])), `${what}: ${g} vs ${want[i]}`)
  );
  const c = want.map((_, i) => 1 + i / 2);
  await out.mul(tensor(c)).sum().backward();
  for (
    const [rows, grad, which] of [[a, await x.grad!.data(), 0], [
      b,
      await y.grad!.data(),
      1,
    ]] as const
  ) {
    rows.forEach((row, i) =>
      row.forEach((_, j) => {
        const shifted = (h: number) => {
          const m = rows.map((r) => [...r]);
          m[i][j] += h;
          const value = which === 0 ? reference(m, b) : reference(a, m);
          return value.reduce((s, v, k) => s + v * c[k], 0);
        };
        const fd = (shifted(1e-6) - shifted(-1e-6)) / 2e-6;
        const g = grad[i * row.length + j];
        assert.ok(
          Math.abs(g - fd) < 2e-4 * (1 + Math.abs(fd)),
          `${what} ∂${which}[${i}, ${j}]: ${g} vs ${fd}`,
        );
      })
    );
  }
}

Deno.test("pairwiseDistance and cosineSimilarity match PyTorch's formulas and gradients", async () => {
  const random = mulberry32(23);
  const rows = (n: number, d: number) =>
    Array.from({ length: n }, () => Array.from({ length: d }, () => random() - 0.5));
  const [a, b] = [rows(4, 7), rows(4, 7)];
  for (const [p, eps] of [[2, 1e-6], [1, 1e-6], [3, 0.1], [Infinity, 1e-6], [0.5, 0]]) {
    await check(
      `p ${p}`,
      (x, y) => pairwiseDistance(x, y, { p, eps }),
      (u, v) => pairwise(u, v, p, eps),
      a,
      b,
    );
  }
  await check("cosine", (x, y) => cosineSimilarity(x, y), (u, v) => cosine(u, v, 1e-8), a, b);
  // Broadcasting, keepdim, a zero vector (norm clamped at eps: similarity 0), dim −1 of 1-D.
  const d = pairwiseDistance(tensor([1, 2]), tensor([[1, 2], [4, 6]]), { eps: 0, keepdim: true });
  assert.deepEqual([d.shape, await d.toArray()], [[2, 1], [[0], [5]]]);
  assert.deepEqual(await cosineSimilarity(tensor([[0, 0]]), tensor([[1, 0]])).toArray(), [0]);
  assert.deepEqual(
    await cosineSimilarity(tensor([1, 0]), tensor([[0, 1], [2, 0]]), { dim: -1 }).toArray(),
    [0, 1],
  );
  assert.throws(
    () => cosineSimilarity(tensor([[1]]), tensor([[1]]), { dim: 2 }),
    /cosineSimilarity: dim 2 is out of range for 2-D inputs/,
  );
});

Deno.test("tripletMarginWithDistanceLoss: the default is tripletMarginLoss; a custom distance; swap", async () => {
  const random = mulberry32(5);
  const make = () =>
    tensor(Array.from({ length: 6 }, () => Array.from({ length: 3 }, () => random() - 0.5)));
  const [a, p, n] = [make(), make(), make()];
  for (const swap of [false, true]) {
    const withDistance = await tripletMarginWithDistanceLoss(a, p, n, { swap, reduction: "none" })
      .data();
    const plain = await tripletMarginLoss(a, p, n, { swap, reduction: "none" }).data();
    withDistance.forEach((v, i) =>
      assert.ok(Math.abs(v - plain[i]) < 1e-6, `swap ${swap}: ${v} vs ${plain[i]}`)
    );
  }
  const distanceFunction = (x: Tensor, y: Tensor) => cosineSimilarity(x, y).neg().add(1);
  const loss = tripletMarginWithDistanceLoss(tensor([[1, 0]]), tensor([[1, 1]]), tensor([[0, 1]]), {
    distanceFunction,
    margin: 1.5,
  });
  assert.ok(Math.abs(await loss.item() - (1.5 + 1 - Math.SQRT1_2 - 1)) < 1e-6);
  assert.throws(
    () => tripletMarginWithDistanceLoss(a, p, n, { margin: 0 }),
    /margin must be a finite number > 0, got 0/,
  );
  assert.throws(() => tripletMarginWithDistanceLoss(a, p, tensor([1, 2, 3])), /must have one rank/);
});

Deno.test("tripletMarginLoss at a zero distance has PyTorch's gradient (the norm's 0), not NaN", async () => {
  const anchor = tensor([[1, 2]], { requiresGrad: true });
  await tripletMarginLoss(anchor, tensor([[1, 2]]), tensor([[5, 5]]), { eps: 0, margin: 10 })
    .backward();
  // Only d(a, n) = 5 moves: −(a − n)/5.
  const grad = await anchor.grad!.data();
  assert.ok(Math.abs(grad[0] - 0.8) < 1e-6 && Math.abs(grad[1] - 0.6) < 1e-6, `${grad}`);
});

Deno.test("the modules PairwiseDistance, CosineSimilarity and TripletMarginWithDistanceLoss", async () => {
  const [a, b] = [tensor([[0, 0], [1, 1]]), tensor([[3, -4], [1, 2]])];
  assert.deepEqual(await new PairwiseDistance({ p: 1, eps: 0 }).forward(a, b).toArray(), [7, 1]);
  assert.deepEqual(
    await new CosineSimilarity({ dim: -1 }).forward(tensor([[1, 0]]), tensor([[-2, 0]])).toArray(),
    [-1],
  );
  const l1 = (x: Tensor, y: Tensor) => x.sub(y).abs().sum(-1);
  const loss = new TripletMarginWithDistanceLoss({
    distanceFunction: l1,
    margin: 2,
    reduction: "sum",
  });
  // Sample 0: 2 + |0−3|+|0+4| − (|0−1|+|0−1|) = 7; sample 1: 2 + 1 − 0 = 3.
  assert.equal(await loss.forward(a, b, tensor([[1, 1], [1, 1]])).item(), 10);
});
