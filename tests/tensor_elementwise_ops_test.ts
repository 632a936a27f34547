/**
 * abs, clamp, maximum/minimum, the comparisons and where against the float64 reference:
 * forward values, gradients by central differences (`_tensor_check.ts`) at odd sizes and across
 * ranks, PyTorch's subgradients at ties and bounds, NaN, i32 operands, and bad input.
 */

import assert from "node:assert/strict";
import {
  abs,
  clamp,
  defaultDevice,
  eq,
  fromTypedArray,
  ge,
  gt,
  le,
  log1p,
  lt,
  maximum,
  minimum,
  ne,
  pow,
  type Shape,
  type Tensor,
  tensor,
  where,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal, type OpCase, uniform } from "./_tensor_check.ts";

/** 0/1 values, as a comparison gives. */
function mask(shape: number[], rng: () => number): ref.F64 {
  return ref.f64(shape, Array.from({ length: ref.numel(shape) }, () => (rng() < 0.5 ? 1 : 0)));
}

Deno.test("elementwise ops: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(77);
  const n = (...shape: number[]) => normal(shape, rng);

  await t.step("abs and clamp", async (t) => {
    const clampCase = (shape: number[], lo: number | null, hi: number | null): OpCase => ({
      name: `clamp [${shape}] to [${lo}, ${hi}]`,
      inputs: [n(...shape)],
      run: ([x]) => x.clamp(lo, hi),
      ref: ([x]) => ref.clamp(x, lo, hi),
    });
    await checkAll(t, device, [
      { name: "abs [7, 33]", inputs: [n(7, 33)], run: ([x]) => abs(x), ref: ([x]) => ref.abs(x) },
      { name: "abs [1]", inputs: [n(1)], run: ([x]) => x.abs(), ref: ([x]) => ref.abs(x) },
      {
        name: "log1p [7, 33] over (−0.9, 3)",
        inputs: [uniform([7, 33], rng, -0.9, 3)],
        run: ([x]) => log1p(x),
        ref: ([x]) => ref.map(x, Math.log1p),
      },
      {
        name: "log1p [33] of small values",
        inputs: [ref.map(n(33), (v) => v * 1e-3)],
        run: ([x]) => x.log1p(),
        ref: ([x]) => ref.map(x, Math.log1p),
      },
      clampCase([7, 33], -0.5, 0.7),
      clampCase([33], null, 0.25),
      clampCase([1, 7], -0.3, null),
      // min > max: every element is max, and no gradient passes (PyTorch's too).
      clampCase([7], 0.5, -0.5),
      {
        name: "clamp to tensor bounds [33] and [7, 1] (gradients to x and both bounds)",
        inputs: [n(7, 33), ref.map(n(33), (v) => v - 0.5), ref.map(n(7, 1), (v) => v + 0.5)],
        run: ([x, lo, hi]) => x.clamp(lo, hi),
        ref: ([x, lo, hi]) => ref.minimum(ref.maximum(x, lo), hi),
      },
      {
        name: "pow of bases (0.2, 3) [7, 33] to exponents [33] (gradients to both)",
        inputs: [uniform([7, 33], rng, 0.2, 3), n(33)],
        run: ([x, p]) => x.pow(p),
        ref: ([x, p]) => ref.binary(x, p, Math.pow),
      },
      {
        name: "clamp to a tensor minimum and a number maximum",
        inputs: [n(7, 5), n(5)],
        run: ([x, lo]) => clamp(x, lo, 0.3),
        ref: ([x, lo]) => ref.minimum(ref.maximum(x, lo), ref.full([], 0.3)),
      },
      {
        name: "clamp (function form) of a transposed view",
        inputs: [n(5, 7)],
        run: ([x]) => clamp(x.transpose(0, 1), -1, 1),
        ref: ([x]) => ref.clamp(ref.transpose(x, 0, 1), -1, 1),
      },
    ], rng);
  });

  await t.step("maximum and minimum with broadcasting", async (t) => {
    const cases: OpCase[] = [];
    const pairs: [number[], number[]][] = [
      [[7, 33], [7, 33]],
      [[4, 1, 5], [3, 1]],
      [[5], [
        3,
        5,
      ]],
      [[1, 7], [33, 1]],
      [[129], []],
    ];
    for (const op of ["maximum", "minimum"] as const) {
      for (const [a, b] of pairs) {
        cases.push({
          name: `${op} [${a}] [${b}]`,
          inputs: [n(...a), n(...b)],
          run: ([x, y]) => op === "maximum" ? maximum(x, y) : y.minimum(x),
          ref: ([x, y]) => op === "maximum" ? ref.maximum(x, y) : ref.minimum(y, x),
        });
      }
    }
    await checkAll(t, device, cases, rng);
  });

  await t.step("where: gradients to both branches, none to the condition", async (t) => {
    const whereCase = (c: number[], a: number[], b: number[]): OpCase => ({
      name: `where [${c}] [${a}] [${b}]`,
      inputs: [mask(c, rng), n(...a), n(...b)],
      run: ([cond, x, y]) => where(cond, x, y),
      ref: ([cond, x, y]) => ref.where(cond, x, y),
      wrt: [1, 2],
    });
    await checkAll(t, device, [
      whereCase([7, 33], [7, 33], [7, 33]),
      whereCase([7, 1], [7, 33], [33]),
      whereCase([33], [], [7, 33]),
      whereCase([2, 1, 5], [3, 1], [1]),
      {
        name: "x.where(cond, y) is where(cond, x, y)",
        inputs: [mask([7], rng), n(7), n(7)],
        run: ([cond, x, y]) => x.where(cond, y),
        ref: ([cond, x, y]) => ref.where(cond, x, y),
        wrt: [1, 2],
      },
      {
        name: "where with a number branch",
        inputs: [mask([33], rng), n(33)],
        run: ([cond, x]) => where(cond, 0.5, x),
        ref: ([cond, x]) => ref.where(cond, ref.full([], 0.5), x),
        wrt: [1],
      },
    ], rng);
  });
});

Deno.test("ties and bounds: PyTorch's subgradients", async () => {
  await defaultDevice();
  // maximum and minimum split a tie evenly.
  const a = tensor([1, 2, 3, 3], { requiresGrad: true });
  const b = tensor([3, 2, 1, 3], { requiresGrad: true });
  await maximum(a, b).sum().backward();
  assert.deepEqual([await a.grad!.toArray(), await b.grad!.toArray()], [[0, 0.5, 1, 0.5], [
    1,
    0.5,
    0,
    0.5,
  ]]);
  a.zeroGrad(), b.zeroGrad();
  await minimum(a, b).mul(tensor([1, 2, 4, 8])).sum().backward();
  assert.deepEqual([await a.grad!.toArray(), await b.grad!.toArray()], [[1, 1, 0, 4], [
    0,
    1,
    4,
    4,
  ]]);
  // A broadcast tie: each of the row's three ties sends half back to the one element of b.
  const row = tensor([[2, 2, 2]], { requiresGrad: true }),
    one = tensor([2], { requiresGrad: true });
  await maximum(row, one).sum().backward();
  assert.deepEqual([await row.grad!.toArray(), await one.grad!.toArray()], [[[0.5, 0.5, 0.5]], [
    1.5,
  ]]);
  // Tensor bounds: a tie passes to x; min > max gives max, and its gradient (PyTorch's).
  const v = tensor([0, 1, 5, 3], { requiresGrad: true });
  const lo = tensor([0, 2, 0, 4], { requiresGrad: true });
  const hi = tensor([1, 3, 4, 2], { requiresGrad: true });
  const clamped = v.clamp(lo, hi);
  assert.deepEqual(await clamped.toArray(), [0, 2, 4, 2]);
  await clamped.sum().backward();
  const grads = await Promise.all([v, lo, hi].map((t) => t.grad!.toArray()));
  assert.deepEqual(grads, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]);
  for (const t of [v, lo, hi, clamped]) t.dispose();
  // clamp passes the gradient at both bounds, none outside; abs has slope 0 at 0.
  const x = tensor([-2, -1, 0, 1, 2], { requiresGrad: true });
  await x.clamp(-1, 1).sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [0, 1, 1, 1, 0]);
  x.zeroGrad();
  await x.abs().sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [-1, -1, 0, 1, 1]);
  for (const t of [a, b, row, one, x]) t.dispose();
});

Deno.test("log1p keeps tiny arguments that 1 + x would round away, within 2 units of f32", async () => {
  await defaultDevice();
  const xs = [
    1e-30,
    1e-10,
    -1e-7,
    1e-4,
    0.01,
    -0.3,
    0.4999,
    0.5,
    0.5001,
    -0.5,
    -0.999999,
    10,
    1e30,
  ];
  const got = await tensor(xs).log1p().data();
  for (const [i, x] of xs.entries()) {
    const want = Math.log1p(Math.fround(x));
    assert.ok(
      Math.abs(got[i] - want) <= 2 ** -22 * Math.abs(want),
      `log1p(${x}) = ${got[i]}, not ${want}`,
    );
  }
  assert.deepEqual(await tensor([-1, -2, Infinity, NaN, -0]).log1p().toArray(), [
    -Infinity,
    NaN,
    Infinity,
    NaN,
    -0,
  ]);
});

Deno.test("NaN: clamp, maximum and minimum keep it; the comparisons are IEEE's", async () => {
  await defaultDevice();
  const x = tensor([NaN, 1, NaN, -1]), y = tensor([0, NaN, NaN, -1]);
  assert.deepEqual(await x.clamp(0, 0.5).toArray(), [NaN, 0.5, NaN, 0]);
  assert.deepEqual(await maximum(x, y).toArray(), [NaN, NaN, NaN, -1]);
  assert.deepEqual(await minimum(x, y).toArray(), [NaN, NaN, NaN, -1]);
  const got = await Promise.all([eq, ne, lt, le, gt, ge].map((f) => f(x, y).toArray()));
  assert.deepEqual(got, [[0, 0, 0, 1], [1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [
    0,
    0,
    0,
    1,
  ]]);
  assert.deepEqual(await x.ne(NaN).toArray(), [1, 1, 1, 1]);
  // A NaN on either side of maximum or minimum sends the whole gradient to both (PyTorch's).
  const [p, q] = [x, y].map((t) => t.detach());
  p.requiresGrad = q.requiresGrad = true;
  await maximum(p, q).add(minimum(p, q)).sum().backward();
  assert.deepEqual([await p.grad!.toArray(), await q.grad!.toArray()], [[2, 2, 2, 1], [
    2,
    2,
    2,
    1,
  ]]);
  assert.deepEqual(await x.le(1).toArray(), [0, 1, 0, 1]);
  // A NaN condition is true (PyTorch's bool(NaN)); its gradient is PyTorch's where's.
  assert.deepEqual(await where(x, tensor([7]), tensor([8])).toArray(), [7, 7, 7, 7]);
});

Deno.test("pow at the edges follows C's pow, as PyTorch's: NaN kept, ±∞ and ±0 bases, ±∞ and NaN exponents", async () => {
  await defaultDevice();
  const bases = [-2, -0.5, -0, 0, 0.5, 2, -Infinity, Infinity, NaN, -1, 1];
  const x = tensor(bases);
  // C's pow where JavaScript's differs: 1^y is 1 for every y (NaN too), (−1)^±∞ is 1.
  const c = (b: number, p: number) =>
    b === 1 || (b === -1 && Math.abs(p) === Infinity) ? 1 : Math.pow(b, p);
  for (const p of [3, -1, -2, 0.5, -0.5, 1.5, 31, Infinity, -Infinity, NaN]) {
    const got = await x.pow(p).data();
    bases.forEach((b, i) => {
      const want = Math.fround(c(b, p));
      const same = Number.isNaN(want)
        ? Number.isNaN(got[i])
        : Object.is(got[i], want) || Math.abs(got[i] - want) <= 1e-6 * Math.abs(want);
      assert.ok(same, `(${b})^${p} = ${got[i]}, expected ${want}`);
    });
  }
  // The same cases with a tensor of exponents, each base against each exponent (broadcast).
  const exponents = [3, -1, -2, 0.5, -0.5, 1.5, 31, Infinity, -Infinity, NaN, 0, 1, 2];
  const table = await x.reshape([bases.length, 1]).pow(tensor(exponents)).data();
  bases.forEach((b, i) =>
    exponents.forEach((p, j) => {
      const want = Math.fround(c(b, p)), got = table[i * exponents.length + j];
      const same = Number.isNaN(want)
        ? Number.isNaN(got)
        : Object.is(got, want) || Math.abs(got - want) <= 1e-6 * Math.abs(want);
      assert.ok(same, `(${b})^tensor(${p}) = ${got}, expected ${want}`);
    })
  );
  // A tensor exponent was read as NaN before ([1, 2]^[2, 3] gave [1, 0]); a string is refused.
  assert.deepEqual(await tensor([1, 2]).pow(tensor([2, 3])).toArray(), [1, 8]);
  assert.throws(
    () => x.pow("2" as unknown as number),
    /pow: the exponent must be a number or a tensor, got string/,
  );
});

Deno.test("pow with a tensor exponent: PyTorch's gradients for base and exponent, broadcast, a number base", async () => {
  await defaultDevice();
  // Positive bases, fractional exponents; a negative base with integer exponents; bases of 0.
  const xs = [0.7, 1.9, 3.2, -1.5, -2, 0, 0];
  const ps = [2.5, -0.6, 1.3, 3, -2, 2, 0];
  const x = tensor(xs, { requiresGrad: true });
  const p = tensor(ps, { requiresGrad: true });
  const up = [1, -2, 0.5, 1.5, -1, 2, 3];
  await x.pow(p).mul(tensor(up)).sum().backward();
  const [gx, gp] = [await x.grad!.data(), await p.grad!.data()];
  const near = (got: number, want: number) => Math.abs(got - want) <= 1e-5 * (1 + Math.abs(want));
  xs.forEach((b, i) => {
    const e = ps[i];
    // d/dx = p · x^(p−1) (0 where p = 0); d/dp = x^p · log x (0 where x = 0 and p ≥ 0).
    const wantX = e === 0 ? 0 : up[i] * e * Math.pow(b, e - 1);
    assert.ok(near(gx[i], wantX), `d/dx at ${b}^${e}: ${gx[i]} vs ${wantX}`);
    const wantP = b === 0 && e >= 0 ? 0 : up[i] * Math.pow(b, e) * Math.log(b);
    // At a negative base log x is NaN, as PyTorch's gradient there.
    const okP = b < 0 ? Number.isNaN(gp[i]) : near(gp[i], wantP);
    assert.ok(okP, `d/dp at ${b}^${e}: ${gp[i]} vs ${wantP}`);
  });
  // Broadcast: the exponent's gradient is summed over the rows it was spread along.
  const rows = [[1.5, 2], [0.5, 3]];
  const base = tensor(rows, { requiresGrad: true });
  const exponent = tensor([2, 0.5], { requiresGrad: true });
  await pow(base, exponent).sum().backward();
  const gotExponent = await exponent.grad!.data();
  [2, 0.5].forEach((e, j) => {
    const want = rows.reduce((s, row) => s + Math.pow(row[j], e) * Math.log(row[j]), 0);
    assert.ok(near(gotExponent[j], want), `${gotExponent[j]} vs ${want}`);
  });
  // A number base, as torch.pow(2, t); two numbers are refused.
  const t = tensor([0, 1, 10], { requiresGrad: true });
  const powers = pow(2, t);
  assert.deepEqual(await powers.toArray(), [1, 2, 1024]);
  await powers.sum().backward();
  const gt = await t.grad!.data();
  [1, 2, 1024].forEach((v, i) => assert.ok(near(gt[i], v * Math.LN2), `${gt[i]}`));
  assert.throws(
    () => pow(2 as unknown as Tensor<Shape, "f32">, 3),
    /pow: give at least one tensor/,
  );
});

Deno.test("comparisons: f32 1/0 against float64, broadcast, with numbers, on i32", async () => {
  await defaultDevice();
  const rng = mulberry32(5);
  // Small integers so that ties occur.
  const ints = (shape: number[]) =>
    ref.f64(shape, Array.from({ length: ref.numel(shape) }, () => Math.floor(rng() * 5) - 2));
  const ops = [eq, ne, lt, le, gt, ge] as const;
  const names = ["eq", "ne", "lt", "le", "gt", "ge"] as const;
  const upload = (x: ref.F64, dtype: "f32" | "i32") =>
    fromTypedArray(dtype === "i32" ? Int32Array.from(x.data) : Float32Array.from(x.data), x.shape);
  const pairs: [number[], number[]][] = [[[7, 33], [7, 33]], [[4, 1, 5], [3, 1]], [[33], []], [
    [1],
    [7, 1],
  ]];
  for (const [sa, sb] of pairs) {
    for (const [da, db] of [["f32", "f32"], ["i32", "i32"], ["i32", "f32"]] as const) {
      const [a, b] = [ints(sa), ints(sb)];
      const [ta, tb] = [upload(a, da), upload(b, db)];
      for (const [k, op] of ops.entries()) {
        const out = op(ta, tb);
        assert.equal(out.dtype, "f32");
        assert.equal(out.requiresGrad, false);
        const want = ref.compare(a, b, names[k]);
        assert.deepEqual([...out.shape], want.shape);
        assert.deepEqual(
          [...await out.data()],
          [...want.data],
          `${names[k]} ${da} [${sa}] ${db} [${sb}]`,
        );
        out.dispose();
      }
      for (const [k, op] of ops.entries()) {
        const out = op(ta, 1);
        const want = ref.compare(a, ref.full([], 1), names[k]);
        assert.deepEqual([...await out.data()], [...want.data], `${names[k]} ${da} with 1`);
        out.dispose();
      }
      ta.dispose(), tb.dispose();
    }
  }
  // Two i32 tensors compare as integers: 2²⁴ + 1 is not 2²⁴ (f32 would say it is).
  const big = tensor([16_777_217], { dtype: "i32" });
  assert.deepEqual(await big.eq(tensor([16_777_216], { dtype: "i32" })).toArray(), [0]);
  assert.deepEqual(await big.eq(16_777_216).toArray(), [0]);
  // Against a fraction both sides are f32, as PyTorch promotes them: 2²⁴ + 1 rounds to 2²⁴.
  assert.deepEqual(await big.gt(16_777_216.5).toArray(), [0]);
  // A comparison's result serves as where's condition, and as a mask to multiply or average.
  const x = tensor([[-1, 2], [3, -4]]);
  assert.deepEqual(await where(x.lt(0), x.neg(), x).toArray(), [[1, 2], [3, 4]]);
  assert.equal(await x.gt(0).mean().item(), 0.5);
});

Deno.test("where on i32, and casts between i32 and f32", async () => {
  await defaultDevice();
  const labels = fromTypedArray(Int32Array.of(3, -1, 7, -2147483648), [4]);
  const kept = where(labels.ge(0), labels, -100);
  assert.equal(kept.dtype, "i32");
  assert.deepEqual(await kept.toArray(), [3, -100, 7, -100]);
  // The bits move whole: the smallest i32 (a NaN's pattern read as f32) survives.
  assert.deepEqual(await where(tensor([1], { dtype: "i32" }), labels, 0).toArray(), [
    3,
    -1,
    7,
    -2147483648,
  ]);
  // An i32 condition of the same shape (the vectorised path), f32 branches.
  const condition = fromTypedArray(Int32Array.of(0, 5, -1, 0), [4]);
  const chosen = where(condition, tensor([1, 2, 3, 4]), tensor([-1, -2, -3, -4]));
  assert.deepEqual(await chosen.toArray(), [-1, 2, 3, -4]);
  assert.deepEqual(await labels.float().toArray(), [3, -1, 7, -2147483648]);
  assert.deepEqual(await tensor([2.7, -2.7, 0.5, -0]).int().toArray(), [2, -2, 0, 0]);
  const f = tensor([1.5]);
  assert.equal(f.float(), f);
});

Deno.test("abs, neg, clamp, maximum and minimum on i32, as integers", async () => {
  await defaultDevice();
  const lowest = -(2 ** 31), highest = 2 ** 31 - 1;
  const x = fromTypedArray(Int32Array.of(-7, -1, 0, 3, 16_777_217, highest, lowest + 1), [7]);
  const rows = fromTypedArray(Int32Array.of(2, -5), [2, 1]);
  const results = [
    x.abs(),
    x.neg(),
    x.clamp(-1, 3),
    x.clamp(null, 16_777_216),
    x.clamp(0, Infinity),
    x.clamp(-1e12, 1e12),
    maximum(x, rows),
    x.minimum(rows),
  ];
  const values = [-7, -1, 0, 3, 16_777_217, highest, lowest + 1];
  const want = [
    values.map(Math.abs),
    values.map((v) => (v === 0 ? 0 : -v)),
    values.map((v) => Math.min(Math.max(v, -1), 3)),
    values.map((v) => Math.min(v, 16_777_216)),
    values.map((v) => Math.max(v, 0)),
    values,
    [2, -5].map((r) => values.map((v) => Math.max(v, r))),
    [2, -5].map((r) => values.map((v) => Math.min(v, r))),
  ];
  for (const [k, result] of results.entries()) {
    assert.equal(result.dtype, "i32", `result ${k}`);
    assert.deepEqual(await result.toArray(), want[k], `result ${k}`);
  }
});

Deno.test("elementwise ops: bad input gets one clear line", async () => {
  await defaultDevice();
  const x = tensor([1, 2, 3]);
  const i = tensor([1, 2, 3], { dtype: "i32" });
  const cases: [() => unknown, RegExp][] = [
    [() => x.clamp(), /clamp: give at least one of min and max$/],
    [() => x.clamp(NaN, 1), /clamp: a bound is NaN/],
    [() => i.log1p(), /log1p: expected an f32 tensor, got i32/],
    [() => i.clamp(0.5), /clamp: bound 0\.5 of an i32 tensor is not an integer; use \.float\(\)/],
    [() => maximum(x, i as unknown as Tensor), /maximum: dtypes f32 and i32 differ/],
    [() => i.minimum(x as unknown as Tensor<Shape, "i32">), /minimum: dtypes i32 and f32 differ/],
    [() => maximum(x, tensor([1, 2])), /maximum: shapes \[3\] and \[2\] do not broadcast/],
    [() => x.gt(tensor([1, 2]) as Tensor), /gt: shapes \[3\] and \[2\] do not broadcast/],
    [() => where(x, x, i as unknown as Tensor), /where: the branches are f32 and i32/],
    [() => where(x, i, 0.5), /where: 0\.5 is not an integer, and the other branch is i32/],
    [() => where(tensor([1, 0]), x, x), /where: shapes \[2\] and \[3\] do not broadcast/],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});
