/**
 * gather, scatter, scatterAdd and indexSelect against the float64 reference: forward values and
 * gradients by central differences (`_tensor_check.ts`) at odd sizes, on transposed views, with
 * duplicated indices, an index larger than the input along the axis and smaller along the
 * others, i32 values, and every refused input: a float index, ranks and sizes, two devices, and
 * an index out of range, reported at the next read.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  Device,
  DeviceAssertionError,
  fromTypedArray,
  gather,
  indexAdd,
  indexSelect,
  maskedFill,
  maskedSelect,
  nonzero,
  scatter,
  scatterAdd,
  scatterReduce,
  searchsorted,
  ShapeError,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../mod.ts";
import * as ix from "./_index_reference.ts";
import * as ref from "./_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

/** The GPU tensor of a reference index. */
function indexTensor(index: ref.I32): Tensor<number[], "i32"> {
  return fromTypedArray(index.data, index.shape, { dtype: "i32" }) as Tensor<number[], "i32">;
}

/**
 * An index of `shape` into `size` positions along `dim` with no position twice among the
 * entries that share the other coordinates (a scatter then has one writer per element, and the
 * finite differences see every written `src`).
 */
function distinctIndex(shape: number[], dim: number, size: number, rng: () => number): ref.I32 {
  const data = new Int32Array(ref.numel(shape));
  const lines = new Map<string, number[]>();
  for (let i = 0; i < data.length; i++) {
    const c = ix.coordsOf(i, shape);
    const key = c.filter((_, a) => a !== dim).join(",");
    if (!lines.has(key)) {
      const order = Array.from({ length: size }, (_, k) => k);
      for (let k = size - 1; k > 0; k--) {
        const j = Math.floor(rng() * (k + 1));
        [order[k], order[j]] = [order[j], order[k]];
      }
      lines.set(key, order);
    }
    data[i] = lines.get(key)![c[dim]];
  }
  return { shape, data };
}

Deno.test("gather, scatter, scatterAdd, indexSelect: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(2024);
  const n = (...shape: number[]) => normal(shape, rng);

  const gatherCase = (xShape: number[], dim: number, indexShape: number[]): OpCase => {
    const axis = dim < 0 ? dim + xShape.length : dim;
    const index = ix.randomIndex(indexShape, xShape[axis], rng);
    return {
      name: `gather [${xShape}] dim ${dim} by [${indexShape}]`,
      inputs: [n(...xShape)],
      run: ([x]) => x.gather(dim, indexTensor(index)),
      ref: ([x]) => ix.gather(x, axis, index),
    };
  };
  await t.step("gather", async (t) => {
    const transposed = ix.randomIndex([7, 129], 33, rng);
    await checkAll(t, device, [
      gatherCase([7, 33], 1, [7, 129]),
      gatherCase([33, 7], 0, [129, 7]),
      gatherCase([3, 5, 7], 1, [2, 9, 4]),
      gatherCase([3, 5, 7], -1, [3, 5, 1]),
      gatherCase([1], 0, [1]),
      gatherCase([129], 0, [33]),
      {
        name: "gather on a transposed view [33, 7]ᵀ dim 1 by [7, 129]",
        inputs: [n(33, 7)],
        run: ([x]) => gather(x.transpose(0, 1), 1, indexTensor(transposed)),
        ref: ([x]) => ix.gather(ref.transpose(x, 0, 1), 1, transposed),
      },
    ], rng);
  });

  await t.step("scatter and scatterAdd", async (t) => {
    const once = distinctIndex([3, 5], 0, 7, rng);
    const wide = distinctIndex([7, 2, 3], 1, 33, rng);
    const dup = ix.randomIndex([7, 129], 33, rng);
    const dup3 = ix.randomIndex([2, 9, 3], 5, rng);
    await checkAll(t, device, [
      {
        name: "scatter [7, 5] dim 0 by [3, 5] from [3, 5]",
        inputs: [n(7, 5), n(3, 5)],
        run: ([x, src]) => x.scatter(0, indexTensor(once), src),
        ref: ([x, src]) => ix.scatter(x, 0, once, src, false),
      },
      {
        name: "scatter [7, 33, 4] dim 1 by [7, 2, 3] from a larger src [7, 3, 4]",
        inputs: [n(7, 33, 4), n(7, 3, 4)],
        run: ([x, src]) => scatter(x, 1, indexTensor(wide), src),
        ref: ([x, src]) => ix.scatter(x, 1, wide, src, false),
      },
      {
        name: "scatter a number [7, 5] dim 0",
        inputs: [n(7, 5)],
        run: ([x]) => x.scatter(0, indexTensor(once), 2.5),
        ref: ([x]) => ix.scatter(x, 0, once, ref.full([3, 5], 2.5), false),
      },
      {
        name: "scatterAdd [7, 33] dim 1 by [7, 129] (duplicates add)",
        inputs: [n(7, 33), n(7, 129)],
        run: ([x, src]) => x.scatterAdd(1, indexTensor(dup), src),
        ref: ([x, src]) => ix.scatter(x, 1, dup, src, true),
      },
      {
        name: "scatterAdd [3, 5, 4] dim -2 by [2, 9, 3] from [2, 9, 4] on a permuted view",
        inputs: [n(4, 3, 5), n(2, 9, 4)],
        run: ([x, src]) => scatterAdd(x.permute([1, 2, 0]), -2, indexTensor(dup3), src),
        ref: ([x, src]) => ix.scatter(ref.permute(x, [1, 2, 0]), 1, dup3, src, true),
      },
      {
        name: "scatterAdd [1] dim 0 by [1]",
        inputs: [n(1), n(1)],
        run: ([x, src]) =>
          x.scatterAdd(0, indexTensor({ shape: [1], data: Int32Array.of(0) }), src),
        ref: ([x, src]) => ref.add(x, src),
      },
    ], rng);
  });

  await t.step("indexSelect", async (t) => {
    const rows = Int32Array.from([4, 0, 4, 6, 1]);
    const columns = ix.randomIndex([129], 33, rng).data;
    const last = Int32Array.from([6, 0, 6]);
    const pick = (x: ref.F64, dim: number, index: Int32Array) => ix.indexSelect(x, dim, index);
    const as1d = (data: Int32Array) => indexTensor({ shape: [data.length], data });
    await checkAll(t, device, [
      {
        name: "indexSelect [7, 33] dim 0 by 5 rows (one twice)",
        inputs: [n(7, 33)],
        run: ([x]) => indexSelect(x, 0, as1d(rows)),
        ref: ([x]) => pick(x, 0, rows),
      },
      {
        name: "indexSelect [7, 33] dim 1 by 129 columns",
        inputs: [n(7, 33)],
        run: ([x]) => x.indexSelect(1, as1d(columns)),
        ref: ([x]) => pick(x, 1, columns),
      },
      {
        name: "indexSelect [3, 5, 7] dim -1 of a transposed view",
        inputs: [n(3, 7, 5)],
        run: ([x]) => x.transpose(1, 2).indexSelect(-1, as1d(last)),
        ref: ([x]) => pick(ref.transpose(x, 1, 2), 2, last),
      },
      {
        name: "indexSelect [7] dim 0 by a 0-d index",
        inputs: [n(7)],
        run: ([x]) => x.indexSelect(0, fromTypedArray(Int32Array.of(3), [])),
        ref: ([x]) => pick(x, 0, Int32Array.of(3)),
      },
    ], rng);
  });
});

Deno.test("gather and scatter move i32 values exactly", async () => {
  await defaultDevice();
  const big = tensor([[2 ** 30, -7, 5], [1, 2, 3]], { dtype: "i32" });
  const index = tensor([[2, 0], [1, 1]], { dtype: "i32" });
  const picked = big.gather(1, index);
  assert.equal(picked.dtype, "i32");
  assert.deepEqual([...await picked.data()], [5, 2 ** 30, 2, 2]);
  const labels = tensor([3, 0, 3, 3], { dtype: "i32" });
  const ones = tensor([1, 1, 1, 2 ** 30], { dtype: "i32" });
  const counts = zeros([4]).int().scatterAdd(0, labels, ones);
  assert.equal(counts.dtype, "i32");
  assert.deepEqual([...await counts.data()], [1, 0, 0, 2 + 2 ** 30]);
  for (const t of [big, index, picked, labels, ones, counts]) t.dispose();
});

Deno.test("indexing errors: dtype, rank, sizes, devices on the host; out-of-range indices at the next read", async () => {
  const device = await defaultDevice();
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  const i32 = (values: number[][] | number[]) => tensor(values, { dtype: "i32" });
  tidy(() => {
    assert.throws(
      () => x.gather(1, tensor([[0]]) as unknown as Tensor<number[], "i32">),
      /gather: the index must be i32, got f32/,
    );
    assert.throws(
      () => x.gather(1, i32([0, 1])),
      (e: Error) => e instanceof ShapeError && /rank of the input/.test(e.message),
    );
    assert.throws(
      () => x.gather(1, i32([[0], [0], [0]])),
      /gather: the index \[3,1\] is larger than the input \[2,3\] along axis 0/,
    );
    assert.throws(() => x.gather(2, i32([[0]])), /gather: axis 2 is out of range/);
    assert.throws(
      () => x.scatter(0, i32([[0, 1]]), tensor([[1]])),
      /scatter: src \[1,1\] must have the index's rank and cover/,
    );
    assert.throws(
      () =>
        x.scatterAdd(
          0,
          i32([[0]]),
          tensor([[1]], { dtype: "i32" }) as unknown as Tensor<number[], "f32">,
        ),
      /scatterAdd: src is i32 and the input f32/,
    );
    assert.throws(() => x.indexSelect(0, i32([[0]])), /indexSelect: the index must be 1-D or 0-d/);
    assert.throws(() => x.int().scatter(0, i32([[0]]), 0.5), /scatter: 0.5 is not an integer/);
  });
  const other = await Device.acquire({ label: "indexing-other" });
  try {
    tidy(() => {
      const remote = tensor([[0]], { dtype: "i32", device: other });
      const [near, far] = [tensor([[0]], { dtype: "i32" }), tensor([[1]], { device: other })];
      const row = tensor([[1, 2, 3]], { device: other });
      for (
        const [name, fn] of [
          ["gather", () => x.gather(0, remote)],
          ["scatter", () => x.scatter(0, remote, 1)],
          ["scatterAdd", () => x.scatterAdd(0, near, far)],
          ["scatterReduce", () => x.scatterReduce(0, near, far, "amax")],
          ["indexSelect", () => x.indexSelect(0, remote.reshape([1]))],
          ["indexAdd", () => x.indexAdd(0, near.reshape([1]), row)],
          ["maskedFill", () => x.maskedFill(row, 0)],
          ["searchsorted", () => searchsorted(row.reshape([3]), x.reshape([6]))],
        ] as const
      ) {
        assert.throws(fn, (e: Error) => {
          assert.match(e.message, new RegExp(`^${name}: tensors are on different devices`));
          assert.ok(e.message.includes(device.label) && e.message.includes(other.label), e.message);
          assert.ok(!e.message.includes("\n"), e.message);
          return true;
        });
      }
    });
  } finally {
    other.destroy();
  }
  for (
    const [name, make, pattern] of [
      [
        "gather",
        () => x.gather(1, i32([[0, 3], [1, 1]])),
        /gather: index 3 is out of bounds for dimension 1 with size 3/,
      ],
      [
        "gather",
        () => x.gather(0, i32([[0, -1, 1]])),
        /gather: index -1 is out of bounds for dimension 0 with size 2/,
      ],
      [
        "scatter",
        () => x.scatter(1, i32([[5]]), 0),
        /scatter: index 5 is out of bounds for dimension 1 with size 3/,
      ],
      [
        "scatterAdd",
        () => x.scatterAdd(0, i32([[2, 0, 0]]), tensor([[1, 1, 1]])),
        /scatterAdd: index 2 is out of bounds for dimension 0 with size 2/,
      ],
      [
        "indexSelect",
        () => x.indexSelect(1, i32([0, 7])),
        /gather: index 7 is out of bounds for dimension 1 with size 3/,
      ],
    ] as const
  ) {
    const out = make();
    await assert.rejects(out.data(), (e: Error) => {
      assert.ok(e instanceof DeviceAssertionError, `${name}: ${e}`);
      assert.match(e.message, pattern);
      return true;
    });
    out.dispose();
  }
  // Reported once: good indices read back normally afterwards.
  const good = x.gather(1, i32([[2], [0]]));
  assert.deepEqual(await good.toArray(), [[3], [4]]);
  good.dispose();
  x.dispose();
});

Deno.test("indexAdd and maskedFill: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(77);
  const n = (...shape: number[]) => normal(shape, rng);
  const rows = Int32Array.of(4, 0, 4, 6, 4);
  const as1d = (data: Int32Array) => indexTensor({ shape: [data.length], data });
  const indexAddRef = (x: ref.F64, dim: number, index: Int32Array, src: ref.F64, alpha: number) => {
    const spread = { shape: src.shape, data: new Int32Array(ref.numel(src.shape)) };
    for (let i = 0; i < spread.data.length; i++) {
      spread.data[i] = index[ix.coordsOf(i, src.shape)[dim]];
    }
    return ix.scatter(x, dim, spread, ref.map(src, (v) => v * alpha), true);
  };
  const mask = ref.f64([7, 1], [1, 0, 0, 1, 1, 0, 1]);
  await checkAll(t, device, [
    {
      name: "indexAdd [7, 33] dim 0 by 5 rows (4 three times), alpha 0.5",
      inputs: [n(7, 33), n(5, 33)],
      run: ([x, src]) => indexAdd(x, 0, as1d(rows), src, 0.5),
      ref: ([x, src]) => indexAddRef(x, 0, rows, src, 0.5),
    },
    {
      name: "indexAdd [3, 7] dim 1 of a transposed view",
      inputs: [n(7, 3), n(3, 5)],
      run: ([x, src]) => x.transpose(0, 1).indexAdd(1, as1d(rows), src),
      ref: ([x, src]) => indexAddRef(ref.transpose(x, 0, 1), 1, rows, src, 1),
    },
    {
      name: "maskedFill [7, 33] by a [7, 1] mask",
      inputs: [n(7, 33)],
      run: ([x]) => maskedFill(x, fromTypedArray(Float32Array.from(mask.data), mask.shape), -2),
      ref: ([x]) => ref.where(mask, ref.full([], -2), x),
    },
  ], rng);
  const x = zeros([2, 3]);
  assert.throws(
    () => x.indexAdd(0, tensor([0], { dtype: "i32" }), zeros([2, 3])),
    /indexAdd: source \[2,3\] must be \[1,3\]/,
  );
  assert.throws(() => x.maskedFill(zeros([3, 3]), 1), /maskedFill/);
  x.dispose();
  // i32: alpha 1 adds exactly; another alpha is refused by name (it failed inside mulScalar).
  const counts = tensor([0, 0], { dtype: "i32" });
  const one = tensor([1], { dtype: "i32" });
  const three = tensor([3], { dtype: "i32" });
  assert.deepEqual(await counts.indexAdd(0, one, three).toArray(), [0, 3]);
  assert.throws(
    () => counts.indexAdd(0, one, three, 2),
    /indexAdd: alpha = 2 on an i32 tensor; only alpha 1 is supported/,
  );
});

Deno.test("scatterReduce: every reduction, with and without the own value, against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(4);
  const n = (...shape: number[]) => normal(shape, rng);
  const index = ix.randomIndex([5, 9], 4, rng);
  // A zero in x and in src, twice in one destination, for the product's exact gradient.
  const withZeros = (x: ref.F64, at: number[]) => {
    const data = x.data.slice();
    for (const p of at) data[p] = 0;
    return { shape: x.shape, data };
  };
  const cases: OpCase[] = [];
  for (const reduce of ["sum", "prod", "mean", "amax", "amin"] as const) {
    for (const includeSelf of [true, false]) {
      cases.push({
        name: `scatterReduce ${reduce} [5, 4] dim 1 by [5, 9]${includeSelf ? "" : " without self"}`,
        inputs: [n(5, 4), n(5, 11)],
        run: ([x, src]) => scatterReduce(x, 1, indexTensor(index), src, reduce, { includeSelf }),
        ref: ([x, src]) => ix.scatterReduce(x, 1, index, src, reduce, includeSelf),
      });
    }
  }
  const rows = { shape: [6], data: Int32Array.of(0, 2, 0, 2, 2, 1) };
  for (const includeSelf of [true, false]) {
    cases.push({
      name: `scatterReduce prod with zeros${includeSelf ? "" : " without self"}`,
      inputs: [withZeros(n(3), [1]), withZeros(n(6), [0, 3, 4])],
      run: ([x, src]) => x.scatterReduce(0, indexTensor(rows), src, "prod", { includeSelf }),
      ref: ([x, src]) => ix.scatterReduce(x, 0, rows, src, "prod", includeSelf),
    });
  }
  await checkAll(t, device, cases, rng);
  // Ties share the gradient of an extremum equally, the own value included.
  const x = tensor([5, 1], { requiresGrad: true });
  const src = tensor([5, 2, 5], { requiresGrad: true });
  const y = x.scatterReduce(0, tensor([0, 1, 0], { dtype: "i32" }), src, "amax");
  await y.sum().backward();
  assert.deepEqual(await y.toArray(), [5, 2]);
  assert.deepEqual(await x.grad!.toArray(), [1 / 3, 0].map(Math.fround));
  assert.deepEqual(await src.grad!.toArray(), [1 / 3, 1, 1 / 3].map(Math.fround));
  assert.throws(
    () => x.scatterReduce(0, tensor([0], { dtype: "i32" }), tensor([1]), "max" as "amax"),
    /scatterReduce: reduce "max" is not one of/,
  );
  assert.throws(
    () =>
      zeros([2]).int().scatterReduce(
        0,
        tensor([0], { dtype: "i32" }),
        tensor([1], { dtype: "i32" }),
        "mean",
      ),
    /scatterReduce: the mean of an i32 tensor/,
  );
});

Deno.test("maskedSelect and nonzero: values, coordinates, gradients, empty results, no leaks", async () => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(21);
  const before = device.memory().liveBytes;
  for (
    const [xShape, maskShape] of [[[7, 33], [7, 33]], [[7, 33], [7, 1]], [[33], [7, 33]], [[1], [
      1,
    ]]] as const
  ) {
    const shape = ref.broadcastShapes([...xShape], [...maskShape]);
    const xs = normal([...xShape], rng);
    const maskValues = ref.f64(
      [...maskShape],
      Array.from({ length: ref.numel([...maskShape]) }, () => (rng() < 0.4 ? 1 : 0)),
    );
    const x = fromTypedArray(Float32Array.from(xs.data), [...xShape], { requiresGrad: true });
    const mask = fromTypedArray(Float32Array.from(maskValues.data), [...maskShape]);
    const picked = await maskedSelect(x, mask);
    // The reference: row-major over the broadcast shape.
    const spreadX = ref.add(xs, ref.zeros(shape)),
      spreadMask = ref.add(maskValues, ref.zeros(shape));
    const want = Array.from(spreadX.data).filter((_, i) => spreadMask.data[i] !== 0);
    assert.deepEqual(
      Array.from(await picked.data()),
      want.map(Math.fround),
      `values [${xShape}] by [${maskShape}]`,
    );
    const weights = fromTypedArray(Float32Array.from(want, (_, k) => k + 1), [want.length]);
    const loss = tidy(() => picked.mul(weights).sum());
    await loss.backward();
    const wantGrad = new Float64Array(shape.reduce((a, b) => a * b, 1));
    let k = 0;
    spreadMask.data.forEach((m, i) => (wantGrad[i] = m !== 0 ? ++k : 0));
    const summed = ref.sum(
      { shape, data: wantGrad },
      shape.length > xShape.length ? [0] : null,
      false,
    );
    const expected = shape.length > xShape.length ? summed.data : ref.sum(
      { shape, data: wantGrad },
      shape.map((d, a) => (d !== xShape[a] ? a : -1)).filter((a) => a >= 0),
      true,
    ).data;
    assert.deepEqual(
      Array.from(await x.grad!.data()),
      Array.from(expected),
      `gradient [${xShape}] by [${maskShape}]`,
    );
    for (const t of [x, mask, picked, weights, loss]) t.dispose();
    x.zeroGrad();
  }
  const values = Float32Array.from({ length: 3 * 5 * 7 }, () => (rng() < 0.2 ? rng() - 2 : 0));
  const sparse = fromTypedArray(values, [3, 5, 7]);
  const coords = await nonzero(sparse);
  const want: number[][] = [];
  values.forEach((v, i) => v !== 0 && want.push(ix.coordsOf(i, [3, 5, 7])));
  assert.equal(coords.dtype, "i32");
  assert.deepEqual(await coords.toArray(), want);
  const [blank, nothing] = [zeros([4, 2]), zeros([0, 3])];
  const none = await nonzero(blank);
  assert.deepEqual([...none.shape], [0, 2]);
  const empty = await maskedSelect(nothing, nothing);
  assert.deepEqual([...empty.shape], [0]);
  for (const t of [sparse, coords, none, empty, blank, nothing]) t.dispose();
  assert.equal(device.memory().liveBytes, before, "nothing left allocated");
});
