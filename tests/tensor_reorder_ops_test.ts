/**
 * cumsum, cumprod, flip, roll, repeat, tile, tril and triu against the float64 reference:
 * forward values and gradients by central differences (`_tensor_check.ts`) at odd sizes, on
 * permuted views; cumprod's gradient with one zero and with several in a row (PyTorch's exact
 * formula, no division by zero); i32 values; and the refused arguments.
 */

import assert from "node:assert/strict";
import {
  cummax,
  cummin,
  cumprod,
  cumsum,
  defaultDevice,
  diagonal,
  diff,
  flip,
  fromTypedArray,
  logcumsumexp,
  roll,
  ShapeError,
  type Tensor,
  tensor,
  tile,
  trace,
  tril,
  triu,
} from "../mod.ts";
import * as ix from "./_index_reference.ts";
import * as ref from "./_reference.ts";
import { checkAll, normal, type OpCase, uniform } from "./_tensor_check.ts";

/** `x` with the given flat positions set to 0. */
function zeroed(x: ref.F64, positions: number[]): ref.F64 {
  const data = x.data.slice();
  for (const p of positions) data[p] = 0;
  return { shape: x.shape, data };
}

Deno.test("cumsum and cumprod: forward and gradients against float64, zeros included", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(5);
  const n = (...shape: number[]) => normal(shape, rng);
  // Factors near 1 keep a running product of 33 in range.
  const near1 = (...shape: number[]) => uniform(shape, rng, 0.7, 1.3);
  const sumCase = (shape: number[], dim: number): OpCase => ({
    name: `cumsum [${shape}] dim ${dim}`,
    inputs: [n(...shape)],
    run: ([x]) => x.cumsum(dim),
    ref: ([x]) => ix.cumulative(x, dim < 0 ? dim + shape.length : dim, false),
  });
  const prodCase = (name: string, x: ref.F64, dim: number): OpCase => ({
    name: `cumprod ${name} dim ${dim}`,
    inputs: [x],
    run: ([t]) => cumprod(t, dim),
    ref: ([t]) => ix.cumulative(t, dim < 0 ? dim + x.shape.length : dim, true),
  });
  await checkAll(t, device, [
    sumCase([1], 0),
    sumCase([7, 33], 1),
    sumCase([129, 3], 0),
    sumCase([3, 7, 5], -2),
    sumCase([2, 1000], 1),
    {
      name: "cumsum of a transposed view [33, 7]ᵀ dim 1",
      inputs: [n(33, 7)],
      run: ([x]) => cumsum(x.transpose(0, 1), 1),
      ref: ([x]) => ix.cumulative(ref.transpose(x, 0, 1), 1, false),
    },
    prodCase("[7, 33]", near1(7, 33), 1),
    prodCase("[129] near 1", uniform([129], rng, 0.9, 1.1), 0),
    prodCase("[7, 9] with one zero per row", zeroed(near1(7, 9), [3, 9, 26, 62]), 1),
    prodCase("[9, 5] with zeros in a row", zeroed(near1(9, 5), [5, 10, 15, 11, 36, 41]), 0),
    prodCase("[1] zero", ref.f64([1], [0]), 0),
    {
      name: "cumprod of a permuted view with zeros",
      inputs: [zeroed(near1(5, 3, 7), [2, 8, 30, 31])],
      run: ([x]) => x.permute([2, 0, 1]).cumprod(0),
      ref: ([x]) => ix.cumulative(ref.permute(x, [2, 0, 1]), 0, true),
    },
  ], rng);
});

Deno.test("flip, roll, repeat, tile, tril, triu: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(6);
  const n = (...shape: number[]) => normal(shape, rng);
  const mod = (a: number, m: number) => ((a % m) + m) % m;
  const repeatRef = (x: ref.F64, sizes: number[]) => {
    const full = [...sizes.slice(x.shape.length).map(() => 1), ...x.shape];
    const shape = full.map((d, a) => d * sizes[a]);
    const lead = sizes.length - x.shape.length;
    return ix.moved(x, shape, (c) => c.slice(lead).map((v, a) => v % x.shape[a]));
  };
  const triangleRef = (x: ref.F64, upper: boolean, k: number) =>
    ix.moved(x, x.shape, (c) => {
      const [r, col] = c.slice(-2);
      return (upper ? col - r >= k : col - r <= k) ? c : null;
    });
  await checkAll(t, device, [
    {
      name: "flip [7, 33] dims [0, 1]",
      inputs: [n(7, 33)],
      run: ([x]) => flip(x, [0, 1]),
      ref: ([x]) => ix.moved(x, x.shape, ([r, c]) => [6 - r, 32 - c]),
    },
    {
      name: "flip [3, 5, 7] dim -1 of a transposed view",
      inputs: [n(3, 7, 5)],
      run: ([x]) => x.transpose(1, 2).flip(-1),
      ref: ([x]) => ix.moved(x, [3, 5, 7], ([a, b, c]) => [a, 6 - c, b]),
    },
    {
      name: "flip [1] dim 0",
      inputs: [n(1)],
      run: ([x]) => x.flip(0),
      ref: ([x]) => x,
    },
    {
      name: "roll [7, 33] by (2, −40) along (0, 1)",
      inputs: [n(7, 33)],
      run: ([x]) => roll(x, [2, -40], [0, 1]),
      ref: ([x]) => ix.moved(x, x.shape, ([r, c]) => [mod(r - 2, 7), mod(c + 40, 33)]),
    },
    {
      name: "roll [129] flattened by 130",
      inputs: [n(129)],
      run: ([x]) => x.roll(130),
      ref: ([x]) => ix.moved(x, x.shape, ([i]) => [mod(i - 130, 129)]),
    },
    {
      name: "roll [3, 5] flattened by 4 (the shape kept)",
      inputs: [n(3, 5)],
      run: ([x]) => x.roll(4),
      ref: ([x]) => ix.moved(x, x.shape, ([r, c]) => ix.coordsOf(mod(r * 5 + c - 4, 15), [3, 5])),
    },
    {
      name: "repeat [7, 3] by [2, 1, 3]",
      inputs: [n(7, 3)],
      run: ([x]) => x.repeat([2, 1, 3]),
      ref: ([x]) => repeatRef(x, [2, 1, 3]),
    },
    {
      name: "repeat a transposed view [3, 5]ᵀ by [2, 2]",
      inputs: [n(3, 5)],
      run: ([x]) => x.transpose(0, 1).repeat([2, 2]),
      ref: ([x]) => repeatRef(ref.transpose(x, 0, 1), [2, 2]),
    },
    {
      name: "tile [2, 3, 4] by [2] (the last axis)",
      inputs: [n(2, 3, 4)],
      run: ([x]) => tile(x, [2]),
      ref: ([x]) => repeatRef(x, [1, 1, 2]),
    },
    {
      name: "tril [7, 33]",
      inputs: [n(7, 33)],
      run: ([x]) => tril(x),
      ref: ([x]) => triangleRef(x, false, 0),
    },
    {
      name: "tril [2, 9, 7] diagonal −2",
      inputs: [n(2, 9, 7)],
      run: ([x]) => x.tril(-2),
      ref: ([x]) => triangleRef(x, false, -2),
    },
    {
      name: "triu [33, 7] diagonal 3 of a transposed view",
      inputs: [n(7, 33)],
      run: ([x]) => triu(x.transpose(0, 1), 3),
      ref: ([x]) => triangleRef(ref.transpose(x, 0, 1), true, 3),
    },
    {
      name: "triu [1, 1]",
      inputs: [n(1, 1)],
      run: ([x]) => x.triu(),
      ref: ([x]) => x,
    },
  ], rng);
});

Deno.test("reorder ops keep i32 values exact and refuse bad arguments", async () => {
  await defaultDevice();
  const ints = tensor([[2 ** 30, 1, -5], [3, 2 ** 30, 7]], { dtype: "i32" });
  const checks: [string, () => { dtype: string; toArray(): Promise<unknown> }, unknown][] = [
    ["cumsum", () => ints.cumsum(1), [[2 ** 30, 2 ** 30 + 1, 2 ** 30 - 4], [
      3,
      2 ** 30 + 3,
      2 ** 30 + 10,
    ]]],
    ["cumprod", () => tensor([3, -2, 5], { dtype: "i32" }).cumprod(0), [3, -6, -30]],
    ["flip", () => ints.flip(1), [[-5, 1, 2 ** 30], [7, 2 ** 30, 3]]],
    ["roll", () => ints.roll(1, 0), [[3, 2 ** 30, 7], [2 ** 30, 1, -5]]],
    ["tril", () => ints.tril(), [[2 ** 30, 0, 0], [3, 2 ** 30, 0]]],
    ["repeat", () => ints.slice(1, 0, 1).repeat([1, 2]), [[2 ** 30, 2 ** 30], [3, 3]]],
  ];
  for (const [name, make, want] of checks) {
    const out = make();
    assert.equal(out.dtype, "i32", name);
    assert.deepEqual(await out.toArray(), want, name);
  }
  const x = tensor([1, 2, 3]);
  assert.throws(
    () => x.tril(),
    (e: Error) =>
      e instanceof ShapeError && /tril: the input \[3\] needs at least two axes/.test(e.message),
  );
  assert.throws(() => tensor([[1]]).triu(0.5), /triu: the diagonal 0.5 is not an integer/);
  assert.throws(() => x.roll([1, 2], 0), /roll: shifts \[1,2\] and dims \[0\]/);
  assert.throws(() => x.repeat([]), /repeat: 0 repeats for a tensor of rank 1/);
  assert.throws(() => x.flip(1), /flip: axis 1 is out of range/);
  assert.throws(() => x.cumsum(2), /cumsum: axis 2 is out of range/);
  // Empty repeats and empty tensors give empty results.
  assert.deepEqual([...x.repeat([0]).shape], [0]);
  assert.deepEqual([...tensor([]).cumsum(0).shape], [0]);
});

Deno.test("diagonal and trace: views and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(8);
  const n = (...shape: number[]) => normal(shape, rng);
  const diagRef = (x: ref.F64, offset: number, d1: number, d2: number) => {
    const kept = x.shape.map((_, a) => a).filter((a) => a !== d1 && a !== d2);
    const [rows, cols] = [x.shape[d1], x.shape[d2]];
    const length = Math.max(0, Math.min(rows + Math.min(offset, 0), cols - Math.max(offset, 0)));
    return ix.moved(x, [...kept.map((a) => x.shape[a]), length], (c) => {
      const k = c[c.length - 1];
      const out = new Array<number>(x.shape.length);
      kept.forEach((a, i) => (out[a] = c[i]));
      out[d1] = k + Math.max(-offset, 0);
      out[d2] = k + Math.max(offset, 0);
      return out;
    });
  };
  await checkAll(t, device, [
    {
      name: "diagonal [7, 33]",
      inputs: [n(7, 33)],
      run: ([x]) => diagonal(x),
      ref: ([x]) => diagRef(x, 0, 0, 1),
    },
    {
      name: "diagonal [7, 33] offset 5",
      inputs: [n(7, 33)],
      run: ([x]) => x.diagonal(5),
      ref: ([x]) => diagRef(x, 5, 0, 1),
    },
    {
      name: "diagonal [33, 7] offset −3",
      inputs: [n(33, 7)],
      run: ([x]) => x.diagonal(-3),
      ref: ([x]) => diagRef(x, -3, 0, 1),
    },
    {
      name: "diagonal [3, 5, 7] dims (2, 0) offset 1 of a permuted view",
      inputs: [n(5, 7, 3)],
      run: ([x]) => x.permute([2, 0, 1]).diagonal(1, 2, 0),
      ref: ([x]) => diagRef(ref.permute(x, [2, 0, 1]), 1, 2, 0),
    },
    {
      name: "trace [7, 7]",
      inputs: [n(7, 7)],
      run: ([x]) => trace(x),
      ref: ([x]) => ref.sum(diagRef(x, 0, 0, 1), null),
    },
  ], rng);
  const x = tensor([[1, 2], [3, 4]]);
  assert.deepEqual([...x.diagonal(5).shape], [0]);
  assert.throws(() => x.diagonal(0, 1, -1), /diagonal: dims 1 and -1 must differ/);
  assert.throws(() => tensor([1, 2]).trace(), /trace: expected a matrix, got shape \[2\]/);
});

Deno.test("cummax and cummin: PyTorch's indices (ties to the later, NaN wins) and gradients", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(10);
  for (
    const [shape, dim] of [[[1], 0], [[7, 33], 1], [[129, 3], 0], [[2, 1000], 1], [
      [3, 5, 7],
      1,
    ]] as const
  ) {
    const data = Float32Array.from(
      { length: ref.numel([...shape]) },
      () => (rng() < 0.03 ? NaN : Math.floor(rng() * 7)),
    );
    const x = fromTypedArray(data, [...shape]);
    for (const max of [true, false]) {
      const want = ix.cumulativeExtremum({ shape: [...shape], data }, dim, max);
      const got = max ? cummax(x, dim) : cummin(x, dim);
      const label = `${max ? "cummax" : "cummin"} [${shape}] dim ${dim}`;
      assert.deepEqual(Array.from(await got.indices.data()), Array.from(want.indices.data), label);
      assert.deepEqual(
        Array.from(await got.values.data()),
        Array.from(Float32Array.from(want.values.data)),
        label,
      );
    }
    const ints = fromTypedArray(Int32Array.from(data, (v) => (Number.isNaN(v) ? -3 : v)), [
      ...shape,
    ]);
    const wantInts = ix.cumulativeExtremum(
      { shape: [...shape], data: await ints.data() },
      dim,
      true,
    );
    assert.deepEqual(
      Array.from(await ints.cummax(dim).indices.data()),
      Array.from(wantInts.indices.data),
      "i32",
    );
  }
  await checkAll(t, device, [
    {
      name: "cummax [7, 33] dim 1 values",
      inputs: [normal([7, 33], rng)],
      run: ([x]) => x.cummax(1).values,
      ref: ([x]) => ix.cumulativeExtremum(x, 1, true).values,
    },
    {
      name: "cummin of a transposed view [33, 7]ᵀ dim 1 values",
      inputs: [normal([33, 7], rng)],
      run: ([x]) => x.transpose(0, 1).cummin(1).values,
      ref: ([x]) => ix.cumulativeExtremum(ref.transpose(x, 0, 1), 1, false).values,
    },
  ], rng);
});

Deno.test("logcumsumexp: against float64, without overflow, −∞ kept; gradients", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(14);
  const lcse = (x: ref.F64, dim: number) => {
    const out = ix.cumulative(ref.map(x, () => 0), dim, false);
    const step = ref.stridesOf(x.shape)[dim];
    for (let i = 0; i < x.data.length; i++) {
      if (ix.coordsOf(i, x.shape)[dim] !== 0) continue;
      let acc = -Infinity;
      for (let k = 0; k < x.shape[dim]; k++) {
        const v = x.data[i + k * step];
        const m = Math.max(acc, v);
        acc = m === -Infinity ? m : m + Math.log(Math.exp(acc - m) + Math.exp(v - m));
        out.data[i + k * step] = acc;
      }
    }
    return out;
  };
  await checkAll(t, device, [
    {
      name: "logcumsumexp [7, 33] dim 1",
      inputs: [normal([7, 33], rng, 3)],
      run: ([x]) => x.logcumsumexp(1),
      ref: ([x]) => lcse(x, 1),
    },
    {
      name: "logcumsumexp [129] dim 0",
      inputs: [normal([129], rng)],
      run: ([x]) => logcumsumexp(x as Tensor<number[], "f32">, 0),
      ref: ([x]) => lcse(x, 0),
    },
    {
      name: "logcumsumexp of a transposed view [33, 7]ᵀ dim 0",
      inputs: [normal([33, 7], rng)],
      run: ([x]) => x.transpose(0, 1).logcumsumexp(0),
      ref: ([x]) => lcse(ref.transpose(x, 0, 1), 0),
    },
  ], rng);
  const big = await logcumsumexp(tensor([1000, 1000, -1000, -Infinity]), 0).toArray() as number[];
  const want = [1000, 1000 + Math.LN2, 1000 + Math.LN2, 1000 + Math.LN2];
  assert.ok(big.every((v, k) => Math.abs(v - want[k]) < 1e-4), `no overflow: ${big}`);
  assert.deepEqual(await tensor([-Infinity, -Infinity, 0]).logcumsumexp(0).toArray(), [
    -Infinity,
    -Infinity,
    0,
  ]);
  assert.throws(
    () => tensor([1], { dtype: "i32" }).logcumsumexp(0),
    /logcumsumexp: expected an f32 tensor/,
  );
});

Deno.test("diff: n-th differences with prepend and append, gradients to all three", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(15);
  const diffRef = (x: ref.F64, n: number, dim: number) => {
    let y = x;
    for (let k = 0; k < n; k++) {
      const length = y.shape[dim];
      const along = (from: number, to: number) =>
        ref.slice(
          y,
          y.shape.map((_, a) => (a === dim ? from : 0)),
          y.shape.map((d, a) => (a === dim ? to : d)),
        );
      y = ref.sub(along(1, length), along(0, length - 1));
    }
    return y;
  };
  await checkAll(t, device, [
    {
      name: "diff [7, 33] n 1 dim −1",
      inputs: [normal([7, 33], rng)],
      run: ([x]) => diff(x as Tensor<number[], "f32">),
      ref: ([x]) => diffRef(x, 1, 1),
    },
    {
      name: "diff [7, 5] n 2 dim 0 with prepend [1, 5] and append [2, 5]",
      inputs: [normal([7, 5], rng), normal([1, 5], rng), normal([2, 5], rng)],
      run: ([x, p, a]) =>
        diff(x as Tensor<number[], "f32">, 2, 0, {
          prepend: p as Tensor<number[], "f32">,
          append: a as Tensor<number[], "f32">,
        }),
      ref: ([x, p, a]) => diffRef(ref.concat([p, x, a], 0), 2, 0),
    },
  ], rng);
  assert.deepEqual([...diff(tensor([1, 2]), 3).shape], [0]);
  assert.throws(() => diff(tensor([1, 2]), -1), /diff: n = -1 is not an integer ≥ 0/);
});
