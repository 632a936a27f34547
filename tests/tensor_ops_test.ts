/**
 * Elementwise ops and reductions of the public `Tensor` API against the float64 reference:
 * forward values and the gradients of `backward()` (see `_tensor_check.ts`), on seeded random
 * inputs with odd sizes (1, 7, 33, 129) and broadcasting.
 */

import assert from "node:assert/strict";
import {
  concat,
  conv2d,
  defaultDevice,
  fromTypedArray,
  linear,
  lrn,
  matmul,
  maxPool2d,
  noGrad,
  ones,
  sum,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { awayFromZero, checkAll, normal, type OpCase, uniform } from "./_tensor_check.ts";

Deno.test("tensor ops: elementwise and reductions", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(1234);
  const n = (...shape: number[]) => normal(shape, rng);

  const binary = (
    name: string,
    op: "add" | "sub" | "mul" | "div",
    a: number[],
    b: number[],
  ): OpCase => ({
    name: `${op} [${a}] [${b}]`.replace("  ", " ") + (name ? ` (${name})` : ""),
    inputs: [n(...a), op === "div" ? awayFromZero(b, rng) : n(...b)],
    run: ([x, y]) => x[op](y),
    ref: ([x, y]) => ref[op](x, y),
  });

  await t.step("binary ops with broadcasting", async (t) => {
    await checkAll(t, device, [
      binary("same shape", "add", [7, 33], [7, 33]),
      binary("row vector", "add", [7, 33], [33]),
      binary("both broadcast", "add", [4, 1, 5], [3, 1]),
      binary("scalar tensor", "add", [129], []),
      binary("same shape", "sub", [33], [33]),
      binary("column", "sub", [7, 5], [7, 1]),
      binary("lower rank on the left", "sub", [5], [3, 5]),
      binary("same shape", "mul", [2, 3, 4], [2, 3, 4]),
      binary("middle axis", "mul", [2, 3, 4], [3, 1]),
      binary("ones", "mul", [1, 7], [129, 1]),
      binary("same shape", "div", [7, 7], [7, 7]),
      binary("row vector", "div", [3, 33], [33]),
      binary("column, left broadcast", "div", [1, 5], [4, 1]),
    ], rng);
  });

  await t.step("tensor–scalar ops", async (t) => {
    const x = () => n(7, 5);
    await checkAll(t, device, [
      { name: "add 2.5", inputs: [x()], run: ([a]) => a.add(2.5), ref: ([a]) => addS(a, 2.5) },
      { name: "sub 1.5", inputs: [x()], run: ([a]) => a.sub(1.5), ref: ([a]) => addS(a, -1.5) },
      { name: "mul −3", inputs: [x()], run: ([a]) => a.mul(-3), ref: ([a]) => mulS(a, -3) },
      { name: "div 4", inputs: [x()], run: ([a]) => a.div(4), ref: ([a]) => mulS(a, 0.25) },
      {
        name: "chain (x + 1) · 2 / 3 − 0.5",
        inputs: [n(129)],
        run: ([a]) => a.add(1).mul(2).div(3).sub(0.5),
        ref: ([a]) => addS(mulS(addS(a, 1), 2 / 3), -0.5),
      },
    ], rng);
  });

  await t.step("unary ops", async (t) => {
    const positive = (...shape: number[]) => uniform(shape, rng, 0.25, 3);
    const unary = (
      name: string,
      x: ref.F64,
      run: (a: Tensor) => Tensor,
      reference: (a: ref.F64) => ref.F64,
      forwardTol?: number,
    ): OpCase => ({
      name,
      inputs: [x],
      run: ([a]) => run(a),
      ref: ([a]) => reference(a),
      forwardTol,
    });
    await checkAll(t, device, [
      unary("neg [7, 33]", n(7, 33), (a) => a.neg(), ref.neg),
      unary("exp [129]", n(129), (a) => a.exp(), ref.exp),
      unary("log [33]", positive(33), (a) => a.log(), ref.log),
      unary("sqrt [7, 7]", positive(7, 7), (a) => a.sqrt(), ref.sqrt),
      unary("relu [129]", n(129), (a) => a.relu(), ref.relu),
      unary("tanh [33]", mulS(n(33), 2), (a) => a.tanh(), ref.tanh),
      unary("sigmoid [7, 5]", mulS(n(7, 5), 3), (a) => a.sigmoid(), ref.sigmoid),
      unary("pow 2 [33] (negative bases)", n(33), (a) => a.pow(2), (a) => ref.powScalar(a, 2)),
      unary("pow 3 [33] (negative bases)", n(33), (a) => a.pow(3), (a) => ref.powScalar(a, 3)),
      unary(
        "pow −2 [7] (negative bases)",
        awayFromZero([7], rng),
        (a) => a.pow(-2),
        (a) => ref.powScalar(a, -2),
      ),
      unary("pow 0 [7]", n(7), (a) => a.pow(0), (a) => ref.powScalar(a, 0)),
      unary("pow 1 [7]", n(7), (a) => a.pow(1), (a) => ref.powScalar(a, 1)),
      unary("pow 0.5 [33]", positive(33), (a) => a.pow(0.5), (a) => ref.powScalar(a, 0.5)),
      unary("pow 1.5 [33]", positive(33), (a) => a.pow(1.5), (a) => ref.powScalar(a, 1.5)),
      unary("pow −0.5 [7]", positive(7), (a) => a.pow(-0.5), (a) => ref.powScalar(a, -0.5)),
      unary(
        "composite: sigmoid(x)·tanh(x) + exp(−x²)",
        n(1, 7),
        (a) => a.sigmoid().mul(a.tanh()).add(a.pow(2).neg().exp()),
        (a) => ref.add(ref.mul(ref.sigmoid(a), ref.tanh(a)), ref.exp(ref.neg(ref.powScalar(a, 2)))),
      ),
    ], rng);
  });

  await t.step("reductions over axes", async (t) => {
    const cases: OpCase[] = [];
    const axisSets: [number[] | undefined, boolean][] = [
      [undefined, false],
      [[0], false],
      [[-1], true],
      [[0, 2], false],
      [[1], true],
      [[-3, -1], true],
    ];
    for (const op of ["sum", "mean", "max"] as const) {
      for (const [axes, keepdim] of axisSets) {
        const shape = op === "max" ? [3, 7, 5] : [2, 33, 3];
        cases.push({
          name: `${op} [${shape}] axes ${axes ? `[${axes}]` : "all"}${keepdim ? " keepdim" : ""}`,
          inputs: [n(...shape)],
          run: ([x]) => x[op](axes, keepdim),
          ref: ([x]) => ref[op](x, axes ?? null, keepdim),
        });
      }
    }
    cases.push(
      {
        name: "sum [129] single axis as a number",
        inputs: [n(129)],
        run: ([x]) => x.sum(0),
        ref: ([x]) => ref.sum(x, [0]),
      },
      {
        name: "max [1, 7] over the size-1 axis",
        inputs: [n(1, 7)],
        run: ([x]) => x.max(0, true),
        ref: ([x]) => ref.max(x, [0], true),
      },
      {
        name: "mean of a permuted view",
        inputs: [n(3, 4, 5)],
        run: ([x]) => x.permute([2, 0, 1]).mean([1, 2]),
        ref: ([x]) => ref.mean(ref.permute(x, [2, 0, 1]), [1, 2]),
      },
    );
    await checkAll(t, device, cases, rng);
  });

  await t.step("max splits the gradient among tied maxima", async () => {
    const before = device.memory().liveBytes;
    const x = tensor([[1, 3, 3], [2, 0, 2]], { requiresGrad: true });
    const loss = tidy(() => x.max(1).sum());
    await loss.backward();
    assert.deepEqual(await x.grad!.toArray(), [[0, 0.5, 0.5], [0.5, 0, 0.5]]);
    loss.dispose();
    x.zeroGrad();
    x.dispose();
    assert.equal(device.memory().liveBytes, before);
  });
});

function addS(x: ref.F64, c: number): ref.F64 {
  return ref.map(x, (v) => v + c);
}

function mulS(x: ref.F64, c: number): ref.F64 {
  return ref.map(x, (v) => v * c);
}

Deno.test("add and sub pass the gradient on without copying it, and no two inputs share one", async () => {
  const device = await defaultDevice();
  const a = tensor([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
  const b = tensor([[6, 5, 4], [3, 2, 1]], { requiresGrad: true });
  const row = tensor([1, 1, 1], { requiresGrad: true });
  const seed = tensor([[1, 2, 3], [4, 5, 6]]);
  const before = device.memory().dispatches;
  // g = seed; d/da = g, d/db = g - g = 0, d/drow = -Σ_rows g.
  await a.add(b).sub(b).sub(row).mul(seed).sum().backward();
  const used = device.memory().dispatches - before;
  assert.deepEqual(await a.grad!.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await b.grad!.toArray(), [[0, 0, 0], [0, 0, 0]]);
  assert.deepEqual(await row.grad!.toArray(), [-5, -7, -9]);
  // Each input's gradient is its own tensor: writing one in place leaves the others as they were.
  const c = tensor([1, 2], { requiresGrad: true }), d = tensor([3, 4], { requiresGrad: true });
  await c.add(d).sum().backward();
  noGrad(() => c.grad!.assign(new Float32Array([7, 7])));
  assert.deepEqual(await d.grad!.toArray(), [1, 1]);
  // 15 dispatches: 19 when add and sub copied the gradient they pass on (a's, b's, and b's
  // before its negation).
  assert.ok(used <= 15, `${used} dispatches`);
  for (const t of [a, b, row, seed, c, d]) t.dispose();
});

Deno.test("edge inputs: empty tensors are made, mapped, reduced and differentiated", async () => {
  await defaultDevice();
  // A 0-byte binding is invalid in WebGPU: a kernel over no elements must not dispatch.
  const empty = zeros([0, 3]);
  assert.deepEqual(await empty.toArray(), []);
  assert.deepEqual(await empty.relu().add(ones([3])).toArray(), []);
  assert.deepEqual(await sum(empty, 0).toArray(), [0, 0, 0]);
  const x = fromTypedArray(new Float32Array(0), [0, 3], { requiresGrad: true });
  await x.tanh().sum().backward();
  assert.deepEqual([...x.grad!.shape], [0, 3]);
  assert.deepEqual(await concat([empty, ones([1, 3])], 0).toArray(), [[1, 1, 1]]);
  for (const axis of [0, 1]) {
    assert.deepEqual([...empty.softmax(axis).shape], [0, 3]);
    assert.deepEqual([...empty.logSoftmax(axis).shape], [0, 3]);
  }
  // The device still works.
  assert.deepEqual(await ones([2]).toArray(), [1, 1]);
});

Deno.test("pow at a zero base, as C's pow and PyTorch: 0^-½ = +∞, and x⁰'s slope is 0 at 0", async () => {
  await defaultDevice();
  const x = tensor([0, -0, 4], { requiresGrad: true });
  const values = await Promise.all([-0.5, -1.5, 0.5, 1.5].map((p) => x.pow(p).toArray()));
  assert.deepEqual(values, [[Infinity, Infinity, 0.5], [Infinity, Infinity, 0.125], [0, 0, 2], [
    0,
    0,
    8,
  ]]);
  await x.pow(0).sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [0, 0, 0]);
  x.zeroGrad();
  await x.pow(0.5).sum().backward();
  assert.deepEqual(await x.grad!.toArray(), [Infinity, Infinity, 0.25]);
  x.dispose();
});

Deno.test("tensors larger than one storage binding: strided copies, broadcast maps and reductions run in windows", async () => {
  const device = await defaultDevice();
  // [3, S] f32 is 138 MB, more than lavapipe's 128 MiB binding (and than WebGPU's default).
  const S = 11_500_000, n = 3 * S;
  assert.ok(n * 4 > device.limits.maxStorageBufferBindingSize, "the test needs a larger tensor");
  const data = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1001) / 1000 - 0.5);
  const x = fromTypedArray(data, [3, S]);
  const bias = tensor([[1], [2], [3]]);
  // A sliced copy (read in windows of whole rows from an unaligned start), a broadcast add
  // (written in windows), row sums longer than one pass and of 3, a maximum over everything.
  const sliced = x.slice(1, 1, S).contiguous();
  const shifted = x.add(bias);
  const [rowSums, peak] = [x.sum(1), shifted.max()];
  // Rows of 3: one invocation each, in windows of rows.
  const tripleSums = x.reshape([S, 3]).sum(1);
  const got = {
    tripleSums: await tripleSums.data(),
    sliced: await sliced.data(),
    shifted: await shifted.data(),
    rowSums: await rowSums.data(),
    peak: await peak.item(),
  };
  for (let i = 0; i < n; i++) {
    const [r, c] = [Math.floor(i / S), i % S];
    if (c > 0 && got.sliced[r * (S - 1) + c - 1] !== data[i]) assert.fail(`sliced [${r}, ${c}]`);
    if (got.shifted[i] !== Math.fround(data[i] + r + 1)) assert.fail(`shifted [${r}, ${c}]`);
  }
  for (let r = 0; r < 3; r++) {
    let want = 0, magnitude = 0;
    for (let c = 0; c < S; c++) [want, magnitude] = [want + data[r * S + c], magnitude + 0.5];
    // A tree of float32 sums: an error far below √S·u of the sum of magnitudes.
    assert.ok(Math.abs(got.rowSums[r] - want) < 1e-4 * magnitude, `row ${r}: ${got.rowSums[r]}`);
  }
  assert.equal(got.peak, Math.fround(0.5 + 3));
  for (let r = 0; r < S; r++) {
    const [a, b, c] = data.subarray(3 * r, 3 * r + 3);
    // Two f32 additions: within 2 units of rounding of the terms' magnitude.
    const bound = 2 ** -22 * (Math.abs(a) + Math.abs(b) + Math.abs(c));
    if (!(Math.abs(got.tripleSums[r] - (a + b + c)) <= bound)) {
      assert.fail(`sum of row ${r} of 3: ${got.tripleSums[r]}, want ${a + b + c}`);
    }
  }
  for (const z of [x, bias, sliced, shifted, rowSums, tripleSums, peak]) z.dispose();
});

Deno.test("max propagates NaN, as PyTorch, in short rows and long (the test is on the bits)", async () => {
  await defaultDevice();
  for (const n of [4, 300, 70_000]) {
    const data = Float32Array.from({ length: n }, (_, i) => i % 7);
    data[n >> 1] = Number.NaN;
    const x = fromTypedArray(data, [1, n]);
    const [all, row] = [x.max(), x.max(1)];
    assert.ok(Number.isNaN(await all.item()), `max of ${n} with a NaN`);
    assert.ok(Number.isNaN((await row.data())[0]), `row max of ${n} with a NaN`);
    for (const t of [x, all, row]) t.dispose();
  }
});

Deno.test("ReLU keeps a NaN, as PyTorch, alone and fused into convolutions and linear layers", async () => {
  await defaultDevice();
  const nanAt = (shape: number[], at: number) => {
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i % 3);
    data[at] = Number.NaN;
    return fromTypedArray(data, shape);
  };
  const x = nanAt([1, 2, 6, 6], 7);
  // 1×1 (a plain GEMM), 3×3 (Winograd or direct) and 3×3 stride 2 (the register GEMM).
  const convs = [
    conv2d(x, ones([3, 2, 1, 1]), null, { relu: true }),
    conv2d(x, ones([3, 2, 3, 3]), null, { relu: true, padding: 1 }),
    conv2d(x, ones([3, 2, 3, 3]), null, { relu: true, stride: 2 }),
  ];
  const outs = [nanAt([5], 2).relu(), linear(nanAt([2, 4], 1), ones([3, 4]), null, { relu: true })];
  for (const [i, y] of [...convs, ...outs].entries()) {
    assert.ok((await y.data()).some(Number.isNaN), `output ${i} lost its NaN`);
    y.dispose();
  }
  x.dispose();
});

Deno.test("empty batches and products of depth 0, as PyTorch: empty results, zero sums, zero gradients", async () => {
  await defaultDevice();
  const leaf = (shape: number[], value = 1) =>
    fromTypedArray(
      new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value),
      shape,
      { requiresGrad: true },
    );
  // A batch of 0 through a convolution, pooling, LRN and a linear layer.
  const [x, w, b, v] = [leaf([0, 2, 5, 5]), leaf([3, 2, 3, 3]), leaf([3]), leaf([4, 3])];
  const y = lrn(maxPool2d(conv2d(x, w, b, { relu: true }), { kernel: 2 }));
  const z = linear(y.reshape([0, 3]), v, null, { relu: true });
  assert.deepEqual([...y.shape, ...z.shape], [0, 3, 1, 1, 0, 4]);
  await z.sum().backward();
  for (const p of [w, b, v]) assert.ok((await p.grad!.data()).every((g) => g === 0));
  assert.deepEqual([...x.grad!.shape], [0, 2, 5, 5]);
  // A depth of 0: every sum is empty, then the bias and the ReLU.
  const k0 = linear(zeros([2, 0]), zeros([3, 0]), tensor([1, -1, 2]), { relu: true });
  assert.deepEqual(await k0.toArray(), [[1, 0, 2], [1, 0, 2]]);
  assert.deepEqual(await matmul(zeros([0, 2]), zeros([2, 3])).toArray(), []);
  for (const t of [x, w, b, v, y, z, k0]) t.dispose();
});
