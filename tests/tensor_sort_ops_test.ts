/**
 * sort, argsort, topk and max/min with indices against the float64 reference: orders at
 * lengths that are not powers of two (1, 7, 33, 129, 1000), along every axis of permuted views,
 * both directions, ties (stable), NaN (the largest), i32 keys; values' gradients by central
 * differences, which go back to where each value came from.
 */

import assert from "node:assert/strict";
import {
  argsort,
  bucketize,
  defaultDevice,
  fromTypedArray,
  kthvalue,
  maxWithIndices,
  median,
  minWithIndices,
  searchsorted,
  sort,
  type Tensor,
  tensor,
  topk,
  unique,
} from "../mod.ts";
import * as ix from "./_index_reference.ts";
import * as ref from "./_reference.ts";
import { checkAll, normal } from "./_tensor_check.ts";

Deno.test("argsort matches a stable float64 sort at odd lengths, along every axis, NaN last", async (t) => {
  await defaultDevice();
  const rng = ref.mulberry32(7);
  for (
    const [shape, dim] of [
      [[1], 0],
      [[7], 0],
      [[5, 33], 1],
      [[129, 3], 0],
      [[3, 1000], -1],
      [[2, 7, 3], 1],
    ] as const
  ) {
    await t.step(`[${shape}] dim ${dim}`, async () => {
      const axis = dim < 0 ? dim + shape.length : dim;
      // Few distinct values: many ties, so stability shows; and a NaN now and then.
      const data = Float32Array.from(
        { length: ref.numel([...shape]) },
        () => (rng() < 0.05 ? NaN : Math.floor(rng() * 9) - 4),
      );
      const x = fromTypedArray(data, [...shape]);
      for (const descending of [false, true]) {
        const want = ix.argsort({ shape: [...shape], data }, axis, descending);
        const order = argsort(x, { dim, descending });
        assert.deepEqual([...order.shape], [...shape]);
        assert.deepEqual([...await order.data()], [...want.data], `descending ${descending}`);
        order.dispose();
      }
      // The same order read from a permuted view, and from i32 keys.
      const flipped = x.transpose(0, -1);
      const other = (shape.length - 1) - axis;
      const viaView = flipped.argsort({ dim: shape.length === 1 ? 0 : other });
      const transposed = ref.transpose(ref.f64([...shape], data), 0, -1);
      const wantView = ix.argsort(transposed, shape.length === 1 ? 0 : other, false);
      assert.deepEqual([...await viaView.data()], [...wantView.data], "permuted view");
      const ints = fromTypedArray(Int32Array.from(data, (v) => (Number.isNaN(v) ? 2 ** 30 : v)), [
        ...shape,
      ]);
      const intOrder = ints.argsort({ dim, descending: true });
      const intWant = ix.argsort({ shape: [...shape], data: await ints.data() }, axis, true);
      assert.deepEqual([...await intOrder.data()], [...intWant.data], "i32 keys");
      for (const u of [x, flipped, viaView, ints, intOrder]) u.dispose();
    });
  }
});

Deno.test("sort and topk: values and their gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(11);
  const n = (...shape: number[]) => normal(shape, rng);
  const sorted = (x: ref.F64, dim: number, descending: boolean) =>
    ix.gather(x, dim, ix.argsort(x, dim, descending));
  await checkAll(t, device, [
    {
      name: "sort [7, 33] dim 1",
      inputs: [n(7, 33)],
      run: ([x]) => x.sort().values,
      ref: ([x]) => sorted(x, 1, false),
    },
    {
      name: "sort [129, 7] dim 0 descending, values and indices",
      inputs: [n(129, 7)],
      run: ([x]) => {
        const { values, indices } = sort(x, { dim: 0, descending: true });
        return [values, indices.float()];
      },
      ref: ([x]) => {
        const order = ix.argsort(x, 0, true);
        return [ix.gather(x, 0, order), ref.f64(order.shape, order.data)];
      },
      wrt: [0],
    },
    {
      name: "topk 3 of [5, 33]",
      inputs: [n(5, 33)],
      run: ([x]) => topk(x, 3).values,
      ref: ([x]) => ix.leading(sorted(x, 1, true), 1, 3),
    },
    {
      name: "topk 4 smallest of [129] ",
      inputs: [n(129)],
      run: ([x]) => x.topk(4, { largest: false }).values,
      ref: ([x]) => ix.leading(sorted(x, 0, false), 0, 4),
    },
    {
      name: "topk 2 of [3, 7, 5] dim 1 of a transposed view",
      inputs: [n(3, 5, 7)],
      run: ([x]) => x.transpose(1, 2).topk(2, { dim: 1 }).values,
      ref: ([x]) => ix.leading(sorted(ref.transpose(x, 1, 2), 1, true), 1, 2),
    },
    {
      name: "maxWithIndices [7, 33] dim 1",
      inputs: [n(7, 33)],
      run: ([x]) => x.maxWithIndices(1).values,
      ref: ([x]) => ref.max(x, [1]),
    },
    {
      name: "minWithIndices [33, 7] dim 0 keepdim",
      inputs: [n(33, 7)],
      run: ([x]) => minWithIndices(x, 0, true).values,
      ref: ([x]) => ref.min(x, [0], true),
    },
  ], rng);
});

Deno.test("max/min with indices: the first index on ties, NaN wins, the gradient to that one element", async () => {
  await defaultDevice();
  const x = tensor([[1, 5, 5, 2], [NaN, 3, NaN, 9], [4, 4, 4, 4]], { requiresGrad: true });
  const { values, indices } = maxWithIndices(x, 1);
  assert.deepEqual(await values.toArray(), [5, NaN, 4]);
  assert.deepEqual(await indices.toArray(), [1, 0, 0]);
  assert.equal(indices.dtype, "i32");
  const low = x.minWithIndices(-1);
  assert.deepEqual(await low.indices.toArray(), [0, 0, 0]);
  await values.sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]);
  // A 0-d tensor along axis 0: itself, index 0, as PyTorch.
  const scalar = tensor(3).maxWithIndices(0);
  assert.deepEqual([await scalar.values.item(), await scalar.indices.item()], [3, 0]);
  assert.throws(() => x.topk(5), /topk: k = 5 is out of range for size 4 along axis 1/);
  assert.throws(() => x.topk(1.5), RangeError);
  const ints = tensor([3, -1, 7, 7], { dtype: "i32" }) as Tensor<number[], "i32">;
  const top = ints.topk(2);
  assert.deepEqual([await top.values.toArray(), await top.indices.toArray()], [[7, 7], [2, 3]]);
});

Deno.test("kthvalue and median: values, indices, gradients, NaN", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(12);
  const n = (...shape: number[]) => normal(shape, rng);
  const kth = (x: ref.F64, dim: number, k: number) =>
    ix.leading(ix.gather(x, dim, ix.argsort(x, dim, false)), dim, k);
  const last = (x: ref.F64, dim: number, k: number) => {
    const first = kth(x, dim, k);
    return ix.moved(
      first,
      x.shape.map((d, a) => (a === dim ? 1 : d)),
      (c) => c.map((v, a) => (a === dim ? k - 1 : v)),
    );
  };
  await checkAll(t, device, [
    {
      name: "kthvalue 5 of [7, 33] keepdim",
      inputs: [n(7, 33)],
      run: ([x]) => kthvalue(x, 5, 1, true).values,
      ref: ([x]) => last(x, 1, 5),
    },
    {
      name: "median of [33, 8] dim 0 keepdim (the lower of two middles)",
      inputs: [n(8, 33)],
      run: ([x]) => x.transpose(0, 1).median(1, true).values,
      ref: ([x]) => last(ref.transpose(x, 0, 1), 1, 4),
    },
  ], rng);
  const x = tensor([[3, 1, 2], [NaN, 5, NaN], [7, 7, 1]]);
  const m = median(x, 1);
  assert.deepEqual([await m.values.toArray(), await m.indices.toArray()], [[2, NaN, 7], [2, 0, 0]]);
  assert.equal(await median(tensor([4, 1, 3, 2])).item(), 2);
  const k = x.kthvalue(3);
  assert.deepEqual(await k.indices.toArray(), [0, 2, 1]);
  assert.throws(() => x.kthvalue(4), /kthvalue: k = 4 is out of range \[1, 3\] along axis 1/);
  assert.throws(() => tensor([[]]).median(1), /median: axis 1 of \[1,0\] is empty/);
});

Deno.test("searchsorted and bucketize match counting in float64, 1-D and batched, left and right", async () => {
  await defaultDevice();
  const rng = ref.mulberry32(13);
  const count = (row: ArrayLike<number>, v: number, right: boolean) =>
    Array.from(row).filter((
      s,
    ) => (right ? !(v < s) || Number.isNaN(v) : s < v || (Number.isNaN(v) && !Number.isNaN(s))))
      .length;
  for (const length of [1, 7, 33, 129]) {
    const seq = Float32Array.from({ length }, () => Math.floor(rng() * 20)).sort();
    const values = Float32Array.from({ length: 33 }, () => Math.floor(rng() * 24) - 2);
    values[0] = NaN;
    const [s, v] = [fromTypedArray(seq, [length]), fromTypedArray(values, [3, 11])];
    for (const right of [false, true]) {
      const got = Array.from(await searchsorted(s, v, { right }).data());
      assert.deepEqual(
        got,
        Array.from(values, (x) => count(seq, x, right)),
        `length ${length} right ${right}`,
      );
      const buckets = Array.from(await bucketize(v, s, { right }).data());
      assert.deepEqual(buckets, got, "bucketize is searchsorted with the operands swapped");
    }
  }
  // Batched: each row of values searched in its own row.
  const rows = Int32Array.from([1, 2, 2, 9, -5, 0, 0, 3]);
  const seq2 = fromTypedArray(rows, [2, 4]);
  const vals = fromTypedArray(Int32Array.from([2, 10, 0, -6]), [2, 2]);
  assert.deepEqual(await searchsorted(seq2, vals).toArray(), [[1, 4], [1, 0]]);
  assert.deepEqual(await searchsorted(seq2, vals, { right: true }).toArray(), [[3, 4], [3, 0]]);
  assert.throws(
    () => searchsorted(seq2, fromTypedArray(Int32Array.of(1, 2, 3), [3, 1])),
    /searchsorted: the sorted sequence \[2,4\] and the values \[3,1\] must share/,
  );
  assert.throws(
    () => searchsorted(tensor([1, 2]), vals as unknown as Tensor),
    /searchsorted: the sorted sequence is f32 and the values i32/,
  );
  assert.throws(
    () => bucketize(tensor([1]), tensor([[1]])),
    /bucketize: the boundaries must be 1-D/,
  );
});

Deno.test("searchsorted takes PyTorch's side, sorter and a number for the values", async () => {
  await defaultDevice();
  const seq = tensor([1, 3, 3, 5]);
  // side="right" is right: true (it was ignored: the left positions came back).
  assert.deepEqual(await searchsorted(seq, tensor([3, 0]), { side: "right" }).toArray(), [3, 0]);
  assert.deepEqual(await searchsorted(seq, tensor([3]), { side: "left" }).toArray(), [1]);
  assert.deepEqual(await bucketize(tensor([3, 4]), seq, { side: "right" }).toArray(), [3, 3]);
  assert.throws(
    () => searchsorted(seq, tensor([3]), { side: "left", right: true }),
    /searchsorted: side "left" contradicts right: true/,
  );
  assert.throws(
    () => searchsorted(seq, tensor([3]), { side: "middle" as "left" }),
    /searchsorted: side must be "left" or "right", got "middle"/,
  );
  // A number searches as a 0-d value and gives a 0-d position.
  const one = searchsorted(seq, 4);
  assert.deepEqual(one.shape, []);
  assert.equal(await one.item(), 3);
  assert.equal(await searchsorted(seq, 3, { right: true }).item(), 3);
  // sorter: the sequence's argsort, per row of a batched sequence.
  const shuffled = tensor([[5, 1, 7, 3], [0, -2, 4, 2]]);
  const sorter = shuffled.argsort();
  const values = tensor([[3, 8], [-3, 1]]);
  assert.deepEqual(await searchsorted(shuffled, values, { sorter }).toArray(), [[1, 4], [0, 2]]);
  assert.deepEqual(
    await searchsorted(shuffled, values, { sorter, right: true }).toArray(),
    [[2, 4], [0, 2]],
  );
  assert.throws(
    () => searchsorted(shuffled, values, { sorter: sorter.slice(1, 0, 2) }),
    /searchsorted: the sorter \[2,2\] must be shaped as the sequence \[2,4\]/,
  );
  assert.throws(() => bucketize(values, seq, { sorter }), /bucketize: takes no sorter/);
});

Deno.test("unique: distinct values, inverse and counts against the host, i32 and f32, empty", async () => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(16);
  const before = device.memory().liveBytes;
  for (
    const [shape, dtype] of [[[7, 33], "f32"], [[129], "i32"], [[1], "f32"], [[0], "i32"]] as const
  ) {
    const size = ref.numel([...shape]);
    const values = Array.from({ length: size }, () => Math.floor(rng() * 12) - 4);
    const x = dtype === "i32"
      ? fromTypedArray(Int32Array.from(values), [...shape])
      : fromTypedArray(Float32Array.from(values, (v) => v / 4), [...shape]);
    const host = Array.from(await x.data());
    const distinct = [...new Set(host)].sort((a, b) => a - b);
    const got = await unique(x);
    const label = `[${shape}] ${dtype}`;
    assert.equal(got.values.dtype, dtype, label);
    assert.deepEqual(Array.from(await got.values.data()), distinct, `values ${label}`);
    assert.deepEqual([...got.inverse.shape], [...shape], `inverse shape ${label}`);
    assert.deepEqual(
      Array.from(await got.inverse.data()),
      host.map((v) => distinct.indexOf(v)),
      `inverse ${label}`,
    );
    assert.deepEqual(
      Array.from(await got.counts.data()),
      distinct.map((d) => host.filter((v) => v === d).length),
      `counts ${label}`,
    );
    for (const t of [x, got.values, got.inverse, got.counts]) t.dispose();
  }
  assert.equal(device.memory().liveBytes, before, "nothing left allocated");
});
