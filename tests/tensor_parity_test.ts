/**
 * Behaviour a PyTorch user relies on, where the library once differed: division by a scalar 0
 * (IEEE, as `torch.div`), Python-style slices (clamped bounds, possibly empty, a step),
 * `torch.matmul`'s ranks (1-D operands, broadcast batch dimensions) and `F.linear`'s `[*, in]`. Each against the float64
 * reference, with gradients by central differences (see `_tensor_check.ts`), at odd sizes.
 */

import assert from "node:assert/strict";
import { defaultDevice, div, linear, matmul, slice, type Tensor, tensor, zeros } from "../mod.ts";
import { logDispatches } from "./_dispatch_log.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal } from "./_tensor_check.ts";

/** The values as float32 words, −0 apart from +0 (any NaN is "NaN": its sign means nothing). */
const bits = (values: ArrayLike<number>) =>
  [...Float32Array.from(values)].map((v) => Object.is(v, -0) ? "-0" : String(v));

Deno.test("division by a scalar 0 is IEEE's, as PyTorch: ±x/0 = ±∞, 0/0 = NaN, signs of zero kept", async () => {
  await defaultDevice();
  // Five elements: the vec4 kernel's tail too.
  const values = [3, -2.5, 0, -0, Number.NaN];
  const x = tensor(values, { requiresGrad: true });
  const quotient = (by: number) => values.map((v) => Math.fround(v / by));
  for (const by of [0, -0, 4, -3, Infinity, 1e-45]) {
    assert.deepEqual(bits(await x.div(by).data()), bits(quotient(by)), `x / ${by}`);
    assert.deepEqual(bits(await div(x, by).data()), bits(quotient(by)), `div(x, ${by})`);
  }
  // The slope of x/0 is 1/0 = ∞ wherever the upstream gradient is positive, as PyTorch's.
  await x.div(0).sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [Infinity, Infinity, Infinity, Infinity, Infinity]);
  x.zeroGrad();
  const g = tensor([1, -1, 0, 2, 1]);
  await x.div(-0).backward(g);
  assert.deepEqual(
    bits(await x.grad!.data()),
    bits([-Infinity, Infinity, NaN, -Infinity, -Infinity]),
  );
  x.dispose();
  g.dispose();
});

Deno.test("infinite and NaN scalar operands give IEEE's results, as PyTorch", async () => {
  await defaultDevice();
  const x = tensor([1, -2, 0]);
  assert.deepEqual(await x.add(Infinity).toArray(), [Infinity, Infinity, Infinity]);
  assert.deepEqual(await x.sub(Infinity).toArray(), [-Infinity, -Infinity, -Infinity]);
  assert.deepEqual(bits(await x.div(-Infinity).data()), ["-0", "0", "-0"]);
  assert.deepEqual(bits(await x.add(NaN).data()), ["NaN", "NaN", "NaN"]);
  x.dispose();
});

Deno.test("division by a scalar against the reference, forward and backward", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(5);
  await checkAll(t, device, [
    {
      name: "[7, 5] / −3",
      inputs: [normal([7, 5], rng)],
      run: ([a]) => a.div(-3),
      ref: ([a]) => ref.map(a, (v) => v / -3),
    },
  ], rng);
});

Deno.test("slice as Python's x[start:end:step]: bounds clamped to the axis, empty when end ≤ start, positive steps", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(11);
  const x = () => normal([5, 7, 3], rng);
  const cases: [axis: number, start: number, end: number, step?: number][] = [
    [1, -100, 100], // the whole axis
    [1, 2, 100], // past the end
    [1, -3, 7], // from the end
    [0, -9, 2], // before the start
    [-1, 1, -5], // an end before the start: empty
    [1, 7, 9], // starting at the end: empty
    [0, 4, 2], // empty
    [1, 1, 100, 2], // every other element, clamped: 1, 3, 5
    [0, -4, 5, 3], // 1, 4
    [1, 0, 7, 7], // one element
    [2, 2, 0, 2], // empty
  ];
  await checkAll(
    t,
    device,
    cases.map(([axis, start, end, step]) => {
      const a = (axis + 3) % 3;
      const starts = [0, 0, 0], ends = [5, 7, 3], steps = [1, 1, 1];
      [starts[a], ends[a], steps[a]] = [start, end, step ?? 1];
      return {
        name: `[5, 7, 3] axis ${axis} [${start}, ${end})${step ? ` step ${step}` : ""}`,
        inputs: [x()],
        run: ([t]) => t.slice(axis, start, end, step),
        ref: ([t]) => ref.slice(t, starts, ends, steps),
      };
    }),
    rng,
  );
  await t.step("shapes, and the function form", async () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(await slice(t, 1, -2, 100).toArray(), [[2, 3], [5, 6]]);
    assert.deepEqual([...slice(t, 0, 5, 9).shape], [0, 3]);
    assert.deepEqual([...t.slice(1, 2, 1).shape], [2, 0]);
    assert.deepEqual(await t.slice(0, -5, 1).toArray(), [[1, 2, 3]]);
    assert.throws(() => t.slice(2, 0, 1), /slice: axis 2 is out of range/);
    assert.deepEqual(await slice(t, 1, -1, 0).toArray(), [[], []]);
    assert.deepEqual(await t.slice(1, 0, 3, 2).toArray(), [[1, 3], [4, 6]]);
    for (const step of [0, -1, 1.5]) {
      assert.throws(() => t.slice(1, 0, 3, step), /slice: step must be a positive integer/);
    }
    t.dispose();
  });
});

Deno.test("matmul as torch.matmul: 1-D operands, broadcast batch axes, forward and backward", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(17);
  const n = (...shape: number[]) => normal(shape, rng);
  const T = (x: ref.F64) => ref.transpose(x, -1, -2);
  await checkAll(
    t,
    device,
    [
      { name: "[5] · [5] (a dot product, 0-d)", inputs: [n(5), n(5)] },
      { name: "[5] · [5, 3]", inputs: [n(5), n(5, 3)] },
      { name: "[3, 5] · [5]", inputs: [n(3, 5), n(5)] },
      { name: "[5] · [2, 5, 3]", inputs: [n(5), n(2, 5, 3)] },
      { name: "[2, 3, 5] · [5]", inputs: [n(2, 3, 5), n(5)] },
      { name: "[2, 3, 4, 5] · [5, 3] (rows folded)", inputs: [n(2, 3, 4, 5), n(5, 3)] },
      {
        name: "[3, 5] · [2, 3, 5, 3] (one matrix for every batch)",
        inputs: [n(3, 5), n(2, 3, 5, 3)],
      },
      { name: "[2, 3, 4, 5] · [2, 3, 5, 2]", inputs: [n(2, 3, 4, 5), n(2, 3, 5, 2)] },
      { name: "[2, 1, 3, 4, 5] · [7, 1, 5, 6]", inputs: [n(2, 1, 3, 4, 5), n(7, 1, 5, 6)] },
      { name: "[3, 1, 2, 5] · [1, 4, 5, 3]", inputs: [n(3, 1, 2, 5), n(1, 4, 5, 3)] },
    ].map((c) => ({
      ...c,
      run: ([a, b]) => matmul(a, b),
      ref: ([a, b]) => ref.matmul(a, b),
    })),
    rng,
  );
  await checkAll(t, device, [
    {
      name: "one tensor on both sides: [5] · [5], [3, 3] · [3, 3]",
      inputs: [n(5), n(3, 3)],
      run: ([v, m]) => [matmul(v, v), matmul(m, m)],
      ref: ([v, m]) => [ref.matmul(v, v), ref.matmul(m, m)],
    },
    {
      name: "a gradient for one side only: [3, 1, 2, 5] · [4, 5, 3]",
      inputs: [n(3, 1, 2, 5), n(4, 5, 3)],
      run: ([a, b]) => matmul(a, b),
      ref: ([a, b]) => ref.matmul(a, b),
      wrt: [1],
    },
    {
      name: "transposed operands read in place: [2, 5, 4]ᵀ · [3, 5]ᵀ, [5]·[3, 5]ᵀ",
      inputs: [n(2, 5, 4), n(3, 5), n(5)],
      run: (
        [a, b, v],
      ) => [matmul(a.transpose(1, 2), b.transpose(0, 1)), matmul(v, b.transpose(0, 1))],
      ref: ([a, b, v]) => [ref.matmul(T(a), T(b)), ref.matmul(v, T(b))],
    },
  ], rng);
});

Deno.test("matmul as torch.matmul: empty batches, and errors that name both shapes", async () => {
  await defaultDevice();
  assert.deepEqual([...matmul(zeros([0, 3, 4]), zeros([4, 2])).shape], [0, 3, 2]);
  assert.deepEqual([...matmul(zeros([1, 3, 4]), zeros([0, 4, 2])).shape], [0, 3, 2]);
  assert.deepEqual([...matmul(zeros([2, 0, 4]), zeros([4])).shape], [2, 0]);
  assert.deepEqual(await matmul(zeros([2, 3, 0]), zeros([0])).toArray(), [[0, 0, 0], [0, 0, 0]]);
  const d = (shape: number[]) => zeros(shape) as Tensor;
  assert.throws(
    () => matmul(d([2, 3, 4]), d([5, 6])),
    /^ShapeError: matmul: inner dimensions differ: \[2,3,4\] × \[5,6\] \(4 ≠ 5\)$/,
  );
  assert.throws(() => matmul(d([3]), d([4])), /inner dimensions differ: \[3\] × \[4\]/);
  assert.throws(
    () => matmul(d([2, 3, 4]), d([3, 4, 5])),
    /^ShapeError: matmul: the batch axes of \[2,3,4\] × \[3,4,5\] do not broadcast$/,
  );
  assert.throws(() => matmul(d([]), d([3])), /matmul: both operands need at least one axis/);
});

Deno.test("matmul as torch.matmul reads 1-D, folded and shared operands, transposed ones too, with no copy", async () => {
  const device = await defaultDevice();
  const [v, w, u, x, y] = [[5], [3, 5], [5, 3], [2, 3, 4, 5], [2, 3, 5, 3]].map((s) =>
    zeros(s) as Tensor
  );
  const dispatches = logDispatches(device);
  try {
    for (
      const [name, product] of [
        ["[5] · [3, 5]ᵀ", () => matmul(v, w.transpose(0, 1))],
        ["[2, 3, 4, 5] · [3, 5]ᵀ", () => matmul(x, w.transpose(0, 1))],
        ["[5, 3]ᵀ · [2, 3, 5, 3]", () => matmul(u.transpose(0, 1), y)],
      ] as const
    ) {
      dispatches.length = 0;
      const out = product();
      await out.data();
      out.dispose();
      assert.equal(dispatches.length, 1, `${name}: ${dispatches.join("; ")}`);
    }
  } finally {
    device.dispatch = Object.getPrototypeOf(device).dispatch;
    for (const t of [v, w, u, x, y]) t.dispose();
  }
});

Deno.test("linear takes F.linear's [*, in]: one row, or leading axes folded into rows", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(23);
  const n = (...shape: number[]) => normal(shape, rng);
  const relu = (x: ref.F64) => ref.relu(x);
  await checkAll(t, device, [
    {
      name: "[5] · [3, 5]ᵀ + [3]",
      inputs: [n(5), n(3, 5), n(3)],
      run: ([x, w, b]) => linear(x, w, b),
      ref: ([x, w, b]) => ref.linear(x, w, b),
    },
    {
      name: "[2, 3, 5] · [7, 5]ᵀ + [7], ReLU",
      inputs: [n(2, 3, 5), n(7, 5), n(7)],
      run: ([x, w, b]) => linear(x, w, b, { relu: true }),
      ref: ([x, w, b]) => relu(ref.linear(x, w, b)),
    },
    {
      name: "[5, 3]ᵀ viewed as [3, 1, 5] · [4, 5]ᵀ, no bias",
      inputs: [n(5, 3), n(4, 5)],
      run: ([x, w]) => linear(x.transpose(0, 1).reshape([3, 1, 5]), w, null),
      ref: ([x, w]) => ref.linear(ref.reshape(ref.transpose(x, 0, 1), [3, 1, 5]), w, null),
    },
  ], rng);
  await t.step("errors name both shapes", () => {
    const x = zeros([2, 3, 4]) as Tensor, w = zeros([5, 3]) as Tensor;
    assert.throws(
      () => linear(x, w, null),
      /^ShapeError: linear: input \[2,3,4\] does not match weight \[5,3\] \(\[\*, in\] × \[out, in\]\)$/,
    );
    assert.throws(() => linear(zeros([]) as Tensor, w, null), /linear: input \[\] does not match/);
    x.dispose();
    w.dispose();
  });
});
