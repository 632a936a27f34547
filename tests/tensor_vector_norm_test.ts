/**
 * The vector norm against float64 for every kind of order (1, 2, 3, ½, −1, ±∞, 0) over all
 * axes, some and with keepdim, on a transposed view, with gradients by central differences;
 * PyTorch's gradient where the norm is 0 (zeros, not NaN) and among tied magnitudes (shared);
 * and the integer reductions: i32 sums and products in i32, exact, wrapping around on overflow.
 */

import assert from "node:assert/strict";
import { defaultDevice, fromTypedArray, prod, sum, tensor, vectorNorm, zeros } from "../mod.ts";
import * as ref from "./_reference.ts";
import { awayFromZero, checkAll, normal, type OpCase } from "./_tensor_check.ts";

/** The float64 vector norm of `x` over `axes` (null: all). */
function norm(x: ref.F64, ord: number, axes: number[] | null, keepdim = false): ref.F64 {
  if (ord === 0) return ref.sum(ref.map(x, (v) => (v !== 0 ? 1 : 0)), axes, keepdim);
  const magnitude = ref.map(x, Math.abs);
  if (ord === Infinity) return ref.max(magnitude, axes, keepdim);
  if (ord === -Infinity) return ref.min(magnitude, axes, keepdim);
  const total = ref.sum(ref.map(magnitude, (v) => v ** ord), axes, keepdim);
  return ref.map(total, (v) => v ** (1 / ord));
}

Deno.test("vectorNorm: every order, over all axes and some, against float64 with gradients", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(31);
  const cases: OpCase[] = [];
  for (const ord of [2, 1, 3, 0.5, -1, Infinity, -Infinity, 0]) {
    for (
      const [shape, dims, keepdim] of [[[7, 33], undefined, false], [[33, 7], 1, true], [
        [3, 5, 7],
        [0, 2],
        false,
      ], [[1], 0, false]] as const
    ) {
      const axes = dims === undefined ? null : typeof dims === "number" ? [dims] : [...dims];
      cases.push({
        name: `norm ${ord} of [${shape}] over ${axes ? `[${axes}]` : "all"}${
          keepdim ? " keepdim" : ""
        }`,
        // Away from 0: the finite differences of |x|^p need no kink inside their step.
        inputs: [awayFromZero([...shape], rng, 0.1)],
        run: ([x]) => vectorNorm(x, ord, dims, keepdim),
        ref: ([x]) => norm(x, ord, axes, keepdim),
        gradTol: 2e-4,
      });
    }
  }
  cases.push({
    name: "norm 2 of a transposed view [33, 7]ᵀ over axis 0",
    inputs: [normal([33, 7], rng)],
    run: ([x]) => x.transpose(0, 1).norm(2, 0),
    ref: ([x]) => norm(ref.transpose(x, 0, 1), 2, [0]),
  });
  await checkAll(t, device, cases, rng);
});

Deno.test("vectorNorm's gradient: 0 where the norm is 0, shared among tied magnitudes for ±∞", async () => {
  await defaultDevice();
  const grads = async (values: number[][], ord: number, dims?: number) => {
    const x = tensor(values, { requiresGrad: true });
    await x.norm(ord, dims).sum().backward();
    return await x.grad!.toArray();
  };
  // A row of zeros: PyTorch's masked gradient, not 0/0.
  assert.deepEqual(await grads([[0, 0], [3, 4]], 2, 1), [[0, 0], [
    0.6000000238418579,
    0.800000011920929,
  ]]);
  assert.deepEqual(await grads([[0, 0]], 3), [[0, 0]]);
  assert.deepEqual(await grads([[0, 2]], 1), [[0, 1]]);
  const [[atZero, elsewhere]] = await grads([[0, 2]], 0.5) as number[][];
  assert.ok(atZero === 0 && Math.abs(elsewhere - 1) < 1e-6, `norm ½ at 0: ${atZero}, ${elsewhere}`);
  assert.deepEqual(await grads([[3, -3, 1]], Infinity), [[0.5, -0.5, 0]]);
  assert.deepEqual(await grads([[2, -1, 1]], -Infinity), [[0, -0.5, 0.5]]);
  assert.deepEqual(await grads([[2, 0, 1]], 0), [[0, 0, 0]]);
  const x = tensor([[1, 2]]);
  assert.throws(() => x.norm(NaN), /norm: the order NaN is not a number/);
  assert.throws(
    () => zeros([2, 0]).norm(Infinity, 1),
    /norm: the Infinity norm of \[2,0\] over axes \[1\] has no elements/,
  );
  assert.equal(await zeros([2, 0]).norm().item(), 0);
  assert.throws(
    () => tensor([1], { dtype: "i32" }).norm(),
    /norm: expected an f32 tensor, got i32/,
  );
});

Deno.test("i32 sums and products are i32, exact, and wrap around on overflow", async () => {
  await defaultDevice();
  const x = tensor([[2 ** 30, 5, -7], [1, 2, 3]], { dtype: "i32" });
  const total = sum(x, 1);
  assert.equal(total.dtype, "i32");
  assert.deepEqual(await total.toArray(), [2 ** 30 - 2, 6]);
  assert.deepEqual(await x.sum(0, true).toArray(), [[2 ** 30 + 1, 7, -4]]);
  assert.deepEqual(await prod(x, 1).toArray(), [-35 * 2 ** 30 | 0, 6]);
  // Past 2³¹ − 1 the sum wraps around, as two's complement does.
  assert.equal(await tensor([2 ** 30, 2 ** 30], { dtype: "i32" }).sum().item(), -(2 ** 31));
  // A row longer than one pass of the reduction (65536) takes two, exactly.
  const ones = fromTypedArray(new Int32Array(70001).fill(3), [70001]);
  assert.equal(await ones.sum().item(), 210003);
  assert.throws(() => x.mean(), /mean: expected an f32 tensor, got i32/);
});
