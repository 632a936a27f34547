/**
 * min, argmax/argmin, var/std and logsumexp against the float64 reference: forward values,
 * gradients by central differences (`_tensor_check.ts`) over axis sets with negative axes and
 * size-1 axes, ties, NaN, long rows (the workgroup path), i32 inputs and bad input.
 */

import assert from "node:assert/strict";
import {
  argmax,
  argmin,
  defaultDevice,
  fromTypedArray,
  logsumexp,
  min,
  prod,
  type Shape,
  std,
  type Tensor,
  tensor,
  variance,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

const AXIS_SETS: [number[] | undefined, boolean][] = [
  [undefined, false],
  [[0], false],
  [[-1], true],
  [[0, 2], false],
  [[1], true],
  [[-3, -1], true],
];

Deno.test("reductions: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(4321);
  const n = (...shape: number[]) => normal(shape, rng);
  const label = (axes: number[] | undefined, keepdim: boolean) =>
    `axes ${axes ? `[${axes}]` : "all"}${keepdim ? " keepdim" : ""}`;

  await t.step("min, var, std and logsumexp over axes", async (t) => {
    const cases: OpCase[] = [];
    for (const [axes, keepdim] of AXIS_SETS) {
      cases.push(
        {
          name: `min [3, 7, 5] ${label(axes, keepdim)}`,
          inputs: [n(3, 7, 5)],
          run: ([x]) => min(x, axes, keepdim),
          ref: ([x]) => ref.min(x, axes ?? null, keepdim),
        },
        {
          name: `var [2, 33, 3] ${label(axes, keepdim)}`,
          inputs: [n(2, 33, 3)],
          run: ([x]) => x.var(axes, { keepdim }),
          ref: ([x]) => ref.variance(x, axes ?? null, 1, keepdim),
        },
        {
          name: `std [3, 7, 5] ${label(axes, keepdim)}`,
          inputs: [n(3, 7, 5)],
          run: ([x]) => std(x, axes, { keepdim }),
          ref: ([x]) => ref.map(ref.variance(x, axes ?? null, 1, keepdim), Math.sqrt),
        },
        {
          name: `prod [3, 7, 5] ${label(axes, keepdim)}`,
          // Values near ±1, so that a product of 105 stays in range.
          inputs: [ref.map(n(3, 7, 5), (v) => Math.sign(v) * (0.8 + 0.1 * Math.abs(v)))],
          run: ([x]) => prod(x, axes, keepdim),
          ref: ([x]) => ref.prod(x, axes ?? null, keepdim),
        },
        {
          name: `logsumexp [2, 7, 3] ${label(axes, keepdim)}`,
          inputs: [n(2, 7, 3)],
          run: ([x]) => logsumexp(x, axes, keepdim),
          ref: ([x]) => ref.logsumexp(x, axes ?? null, keepdim),
        },
      );
    }
    cases.push(
      {
        name: "var with correction 0 (the population variance), [33]",
        inputs: [n(33)],
        run: ([x]) => variance(x, 0, { correction: 0 }),
        ref: ([x]) => ref.variance(x, [0], 0),
      },
      {
        name: "var with correction 2 over a size-7 axis of a permuted view",
        inputs: [n(7, 4)],
        run: ([x]) => x.transpose(0, 1).var(-1, { correction: 2 }),
        ref: ([x]) => ref.variance(ref.transpose(x, 0, 1), [-1], 2),
      },
      {
        name: "var of values with a large mean (two passes keep the precision)",
        inputs: [ref.map(n(129), (v) => 1000 + v)],
        run: ([x]) => x.var(),
        ref: ([x]) => ref.variance(x, null),
        forwardTol: 1e-4,
        gradTol: 1e-3,
        eps: 1e-3,
      },
      {
        name: "logsumexp of large logits, [7, 33]",
        inputs: [ref.map(n(7, 33), (v) => 500 + 30 * v)],
        run: ([x]) => x.logsumexp(1),
        ref: ([x]) => ref.logsumexp(x, [1]),
        eps: 1e-3,
      },
      {
        name: "prod with zeros: none, one and two in a row (the gradient is exact at them)",
        inputs: [ref.f64([3, 4], [1.5, -2, 0.5, 3, 0, -2, 0.5, 3, 0, 2, 0, 3])],
        run: ([x]) => x.prod(1),
        ref: ([x]) => ref.prod(x, [1]),
      },
      {
        name: "prod over a size-1 axis of a permuted view, [1, 7] → [7, 1]",
        inputs: [n(1, 7)],
        run: ([x]) => x.transpose(0, 1).prod(-1, true),
        ref: ([x]) => ref.prod(ref.transpose(x, 0, 1), [-1], true),
      },
      {
        name: "min over a size-1 axis, [1, 7]",
        inputs: [n(1, 7)],
        run: ([x]) => x.min(0),
        ref: ([x]) => ref.min(x, [0]),
      },
    );
    await checkAll(t, device, cases, rng);
  });
});

Deno.test("min splits the gradient among tied minima; var, std and logsumexp edge values", async () => {
  await defaultDevice();
  const x = tensor([[1, 0, 0], [2, 5, 2]], { requiresGrad: true });
  await x.min(1).sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [[0, 0.5, 0.5], [0.5, 0, 0.5]]);
  // One element: N − 1 = 0, so 0/0 (PyTorch too); the population variance is 0.
  assert.ok(Number.isNaN(await tensor([3]).var().item()));
  assert.equal(await tensor([3]).var(undefined, { correction: 0 }).item(), 0);
  // PyTorch's older unbiased flag: false is the population variance (it was ignored: Bessel's).
  const spread = tensor([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(await spread.var(0, { unbiased: false }).item(), 4);
  assert.equal(await spread.std(undefined, { unbiased: false }).item(), 2);
  assert.equal(await spread.var(0, { unbiased: true }).item(), Math.fround(32 / 7));
  assert.throws(
    () => spread.var(0, { unbiased: false, correction: 0 }),
    /var: give correction or unbiased, not both/,
  );
  // An i32 tensor is refused by var's own name (the message named mean, called inside).
  const counts = tensor([1, 2], { dtype: "i32" });
  assert.throws(() => counts.var(), /^TypeError: var: expected an f32 tensor, got i32/);
  assert.throws(() => counts.std(), /^TypeError: var: expected an f32 tensor, got i32/);
  // A row of −∞ gives −∞ (the shift is taken as 0); +∞ gives +∞; NaN stays.
  const edge = tensor([[-Infinity, -Infinity], [Infinity, 1], [NaN, 1], [1000, 1000]]);
  const lse = await edge.logsumexp(1).data();
  assert.deepEqual([...lse.slice(0, 3)], [-Infinity, Infinity, NaN]);
  assert.ok(Math.abs(lse[3] - (1000 + Math.LN2)) < 1e-3, `${lse[3]}`);
  // min propagates NaN, as max does.
  assert.deepEqual(await tensor([[1, NaN, 0]]).min(1).toArray(), [NaN]);
  x.dispose();
});

Deno.test("std of constant values has a zero gradient, as PyTorch's (not 0 · ∞ = NaN)", async () => {
  await defaultDevice();
  // torch.std's backward masks the 1 / (2 · std) factor where std is 0.
  const x = tensor([[2, 2, 2], [1, 2, 4]], { requiresGrad: true });
  const s = x.std(1);
  assert.deepEqual([...await s.data()].map((v) => Math.round(v * 1e4) / 1e4), [0, 1.5275]);
  await s.sum().backward();
  const grad = await x.grad!.data();
  assert.deepEqual([...grad.slice(0, 3)], [0, 0, 0]);
  // The other row keeps (x − mean) / ((N − 1) · std).
  const want = [1, 2, 4].map((v) => (v - 7 / 3) / (2 * Math.sqrt(7 / 3)));
  want.forEach((w, i) => assert.ok(Math.abs(grad[3 + i] - w) < 1e-5, `${grad[3 + i]} vs ${w}`));
  // All elements, and with correction 0: still 0.
  const y = tensor([5, 5, 5, 5], { requiresGrad: true });
  await y.std(undefined, { correction: 0 }).backward();
  assert.deepEqual(await y.grad!.toArray(), [0, 0, 0, 0]);
});

Deno.test("a 0-d tensor reduces over dim 0 or −1 as PyTorch's (its one element), gradients too", async () => {
  await defaultDevice();
  const x = tensor(2.5, { requiresGrad: true });
  const results: [string, Tensor<Shape, "f32">, number][] = [
    ["sum(0)", x.sum(0), 2.5],
    ["sum(-1, keepdim)", x.sum(-1, true), 2.5],
    ["mean([0])", x.mean([0]), 2.5],
    ["prod(0)", x.prod(0), 2.5],
    ["max(0)", x.max(0), 2.5],
    ["min(-1)", x.min(-1), 2.5],
    ["norm(2, 0)", x.norm(2, 0), 2.5],
    ["logsumexp(0)", x.logsumexp(0), 2.5],
    ["var(0, correction 0)", x.var(0, { correction: 0 }), 0],
    ["softmax(0)", x.softmax(0), 1],
    ["logSoftmax(-1)", x.logSoftmax(-1), 0],
    ["flip([0])", x.flip([0]), 2.5],
  ];
  for (const [name, y, want] of results) {
    assert.deepEqual(y.shape, [], `${name}: shape [${y.shape}]`);
    assert.equal(await y.item(), want, name);
  }
  // d/dx of sum twice, mean, prod, max, min, norm, logsumexp and flip: 9.
  let total: Tensor<Shape, "f32"> = tensor(0);
  for (const [, y] of [...results.slice(0, 8), results[11]]) total = total.add(y);
  await total.backward();
  assert.equal(await x.grad!.item(), 9);
  assert.throws(() => x.sum(1), /sum: axis 1 is out of range for a tensor of rank 0/);
  assert.throws(() => x.max([0, -1]), /max: axis 0 is named twice/);
  assert.throws(
    () => x.indexSelect(0, tensor([0, 0], { dtype: "i32" })),
    /indexSelect: the index into a 0-d tensor must hold 1 value, got 2/,
  );
});

Deno.test("argmax and argmin: first index on ties, NaN first, i32 indices, against float64", async () => {
  await defaultDevice();
  const rng = mulberry32(8);
  // Few distinct values so that ties are common; NaNs in some rows.
  const values = (shape: number[], nans: number) => {
    const x = ref.f64(
      shape,
      Array.from({ length: ref.numel(shape) }, () => Math.floor(rng() * 4)),
    );
    for (let k = 0; k < nans; k++) x.data[Math.floor(rng() * x.data.length)] = NaN;
    return x;
  };
  const cases: [number[], number | undefined, boolean, number][] = [
    [[7, 33], 1, false, 0],
    [[7, 33], 0, true, 3],
    [[3, 7, 5], -2, false, 2],
    [[3, 7, 5], undefined, false, 0],
    [[3, 7, 5], undefined, true, 1],
    [[1, 7], 0, false, 0],
    [[33, 1], -1, true, 0],
    [[2, 300], 1, false, 1], // one invocation per row
    [[3, 1031], -1, false, 2], // a workgroup per row
    [[2, 70_001], 1, true, 0], // a row longer than one pass of the sum
    [[], undefined, false, 0],
  ];
  for (const [shape, axis, keepdim, nans] of cases) {
    const x = values(shape, nans);
    for (const dtype of ["f32", "i32"] as const) {
      if (dtype === "i32" && nans > 0) continue;
      const data = dtype === "f32" ? Float32Array.from(x.data) : Int32Array.from(x.data);
      const t = fromTypedArray(data, shape);
      for (const op of ["argmax", "argmin"] as const) {
        const got = op === "argmax" ? argmax(t, axis, keepdim) : argmin(t, axis, keepdim);
        const want = ref.argExtremum(x, axis ?? null, op, keepdim);
        const name = `${op} ${dtype} [${shape}] axis ${axis} keepdim ${keepdim}`;
        assert.equal(got.dtype, "i32", name);
        assert.equal(got.requiresGrad, false, name);
        assert.deepEqual([...got.shape], want.shape, `${name}: shape`);
        assert.deepEqual([...await got.data()], [...want.data], name);
        got.dispose();
      }
      t.dispose();
    }
  }
  // A 0-d tensor takes axis 0 or −1, as PyTorch's.
  assert.deepEqual(await tensor(5).argmax(0).toArray(), 0);
  assert.deepEqual(await tensor(5).argmin(-1, true).toArray(), 0);
  // A tensor that requires a gradient gives indices that do not.
  const w = tensor([[0.5, 2, -1]], { requiresGrad: true });
  assert.deepEqual(await w.argmax(-1).toArray(), [1]);
  assert.equal(w.argmin(1).requiresGrad, false);
});

Deno.test("max and min of i32 tensors, as integers, short rows and long", async () => {
  await defaultDevice();
  const rng = mulberry32(3);
  for (const cols of [5, 300, 70_001]) {
    const values = Array.from({ length: 3 * cols }, () => Math.floor((rng() - 0.5) * 2 ** 32));
    values[cols + 7] = 2 ** 31 - 1;
    values[2 * cols + 1] = -(2 ** 31);
    const x = fromTypedArray(Int32Array.from(values), [3, cols]);
    const [top, bottom] = [x.max(1), min(x, -1, true)];
    assert.equal(top.dtype, "i32");
    const rows = [0, 1, 2].map((r) => values.slice(r * cols, (r + 1) * cols));
    assert.deepEqual(await top.toArray(), rows.map((row) => Math.max(...row)), `max of ${cols}`);
    assert.deepEqual(
      await bottom.toArray(),
      rows.map((row) => [Math.min(...row)]),
      `min of ${cols}`,
    );
  }
  // The number of classes from i32 labels, as a PyTorch loop would find it.
  assert.equal(await tensor([3, 9, 0], { dtype: "i32" }).max().item(), 9);
});

Deno.test("reductions: bad input gets one clear line", async () => {
  await defaultDevice();
  const x = tensor([[1, 2], [3, 4]]);
  const cases: [() => unknown, RegExp][] = [
    [() => x.argmax(2), /argmax: axis 2 is out of range for a tensor of rank 2/],
    [() => x.argmin(-3), /argmin: axis -3 is out of range for a tensor of rank 2/],
    [() => tensor([]).argmax(), /argmax: no elements to choose from along \[0\] of \[0\]/],
    [() => fromTypedArray(new Float32Array(0), [2, 0]).min(1), /min: axis 1 of \[2,0\] is empty/],
    [() => x.var([0, 0]), /var: axis 0 is named twice/],
    [() => x.logsumexp(5), /logsumexp: axis 5 is out of range/],
    [() => tensor([1], { dtype: "i32" }).logsumexp(), /logsumexp: expected an f32 tensor, got i32/],
    [() => tensor([1], { dtype: "i32" }).mean(), /mean: expected an f32 tensor, got i32/],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});
