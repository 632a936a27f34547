// Checks the float64 reference itself against hand-computed cases, and the
// numeric gradient against known analytic gradients.

import assert from "node:assert/strict";
import {
  add,
  broadcastShapes,
  concat,
  conv2d,
  crossEntropy,
  div,
  dropoutApply,
  type F64,
  f64,
  linear,
  logSoftmax,
  lrn,
  matmul,
  max,
  maxPool2d,
  maxPool2dArgmax,
  mean,
  mul,
  mulberry32,
  permute,
  randn,
  randu,
  relu,
  reshape,
  sgdPaperStep,
  sgdTorchStep,
  slice,
  softmax,
  split,
  sub,
  sum,
  tanh,
  transpose,
  zeros,
} from "./_reference.ts";
import { assertClose, numericGrad, relativeError } from "./_gradcheck.ts";

const seq = (n: number, start = 1): number[] => Array.from({ length: n }, (_, i) => start + i);

Deno.test("reference: elementwise and broadcasting", async (t) => {
  await t.step("broadcastShapes follows NumPy rules", () => {
    assert.deepEqual(broadcastShapes([2, 1, 3], [4, 1]), [2, 4, 3]);
    assert.deepEqual(broadcastShapes([], [3]), [3]);
    assert.deepEqual(broadcastShapes([5, 1], [1, 6]), [5, 6]);
    assert.throws(() => broadcastShapes([2, 3], [3, 2]));
  });
  await t.step("add/sub/mul/div broadcast a row and a column", () => {
    const col = f64([2, 1], [10, 20]);
    const row = f64([3], [1, 2, 3]);
    const s = add(col, row);
    assert.deepEqual(s.shape, [2, 3]);
    assert.deepEqual([...s.data], [11, 12, 13, 21, 22, 23]);
    assert.deepEqual([...sub(col, row).data], [9, 8, 7, 19, 18, 17]);
    assert.deepEqual([...mul(row, col).data], [10, 20, 30, 20, 40, 60]);
    assert.deepEqual([...div(col, f64([], [4])).data], [2.5, 5]);
  });
  await t.step("unary", () => {
    assert.deepEqual([...relu(f64([3], [-1, 0, 2])).data], [0, 0, 2]);
    assertClose(tanh(f64([1], [0.5])).data, [Math.tanh(0.5)], { atol: 0, rtol: 0 });
  });
});

Deno.test("reference: reductions", async (t) => {
  const x = f64([2, 3], [1, 5, 3, 4, 2, 6]);
  await t.step("sum over one axis, negative axis, keepdim", () => {
    assert.deepEqual([...sum(x, [0]).data], [5, 7, 9]);
    const r = sum(x, [-1], true);
    assert.deepEqual(r.shape, [2, 1]);
    assert.deepEqual([...r.data], [9, 12]);
    assert.deepEqual(sum(x, null).shape, []);
    assert.deepEqual([...sum(x, [0, 1]).data], [21]);
  });
  await t.step("mean and max", () => {
    assert.deepEqual([...mean(x, [1]).data], [3, 4]);
    assert.deepEqual([...max(x, [0]).data], [4, 5, 6]);
    assert.deepEqual([...max(x, [1], true).data], [5, 6]);
    assert.deepEqual(max(x, [1], true).shape, [2, 1]);
    assert.throws(() => sum(x, [2]));
  });
  await t.step("middle axis of a 3-D tensor", () => {
    const y = f64([2, 2, 2], seq(8));
    assert.deepEqual([...sum(y, [1]).data], [4, 6, 12, 14]);
  });
});

Deno.test("reference: matmul", async (t) => {
  await t.step("2x2 by hand", () => {
    const c = matmul(f64([2, 2], [1, 2, 3, 4]), f64([2, 2], [5, 6, 7, 8]));
    assert.deepEqual([...c.data], [19, 22, 43, 50]);
  });
  await t.step("[2,3] x [3,1]", () => {
    const c = matmul(f64([2, 3], [1, 2, 3, 4, 5, 6]), f64([3, 1], [1, 0, -1]));
    assert.deepEqual(c.shape, [2, 1]);
    assert.deepEqual([...c.data], [-2, -2]);
  });
  await t.step("batched with broadcast batch dims equals per-batch products", () => {
    const rng = mulberry32(1);
    const a = randn([2, 1, 2, 3], rng);
    const b = randn([3, 3, 4], rng);
    const c = matmul(a, b);
    assert.deepEqual(c.shape, [2, 3, 2, 4]);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        const ai = reshape(slice(a, [i, 0, 0, 0], [i + 1, 1, 2, 3]), [2, 3]);
        const bj = reshape(slice(b, [j, 0, 0], [j + 1, 3, 4]), [3, 4]);
        const cij = slice(c, [i, j, 0, 0], [i + 1, j + 1, 2, 4]);
        assertClose(cij.data, matmul(ai, bj).data, { label: `batch ${i},${j}` });
      }
    }
  });
  await t.step("inner dims must agree", () => {
    assert.throws(() => matmul(f64([2, 3], seq(6)), f64([2, 3], seq(6))));
  });
});

Deno.test("reference: shape ops", async (t) => {
  const x = f64([2, 3], seq(6));
  await t.step("transpose and permute", () => {
    const y = transpose(x, 0, 1);
    assert.deepEqual(y.shape, [3, 2]);
    assert.deepEqual([...y.data], [1, 4, 2, 5, 3, 6]);
    const z = permute(f64([2, 3, 4], seq(24, 0)), [2, 0, 1]);
    assert.deepEqual(z.shape, [4, 2, 3]);
    // z[k, i, j] = x[i, j, k] = 12i + 4j + k
    assert.equal(z.data[(3 * 2 + 1) * 3 + 2], 12 + 8 + 3);
    assert.throws(() => permute(x, [0, 0]));
  });
  await t.step("reshape infers -1", () => {
    assert.deepEqual(reshape(x, [-1, 2]).shape, [3, 2]);
    assert.throws(() => reshape(x, [4, 2]));
  });
  await t.step("slice, concat, split", () => {
    const s = slice(x, [0, 1], [2, 3]);
    assert.deepEqual(s.shape, [2, 2]);
    assert.deepEqual([...s.data], [2, 3, 5, 6]);
    assert.deepEqual([...slice(x, [-1, 0], [2, -1]).data], [4, 5]);
    const c = concat([x, f64([2, 1], [7, 8])], 1);
    assert.deepEqual(c.shape, [2, 4]);
    assert.deepEqual([...c.data], [1, 2, 3, 7, 4, 5, 6, 8]);
    const c0 = concat([x, x], 0);
    assert.deepEqual([...c0.data], [...x.data, ...x.data]);
    const [p, q] = split(c, [1, 3], -1);
    assert.deepEqual([...p.data], [1, 4]);
    assert.deepEqual(q.shape, [2, 3]);
    assert.deepEqual([...q.data], [2, 3, 7, 5, 6, 8]);
    assert.throws(() => split(c, [1, 2], 1));
  });
});

Deno.test("reference: softmax and cross-entropy", async (t) => {
  await t.step("softmax rows sum to 1 and survive large logits", () => {
    const x = f64([2, 3], [1000, 1000, 1000, 0, Math.log(2), Math.log(5)]);
    const s = softmax(x, 1);
    assertClose(s.data, [1 / 3, 1 / 3, 1 / 3, 1 / 8, 2 / 8, 5 / 8], { atol: 1e-15 });
    assertClose(logSoftmax(f64([2], [1000, 0]), 0).data, [0, -1000], { atol: 1e-12 });
  });
  await t.step("softmax along axis 0", () => {
    const s = softmax(f64([2, 2], [0, 5, 0, 5]), 0);
    assertClose(s.data, [0.5, 0.5, 0.5, 0.5], { atol: 1e-15 });
  });
  await t.step("crossEntropy of known logits", () => {
    // row 0: uniform over 2 -> ln 2; row 1: softmax [3/4, 1/4], label 1 -> ln 4.
    const logits = f64([2, 2], [0, 0, Math.log(3), 0]);
    const l = crossEntropy(logits, new Int32Array([0, 1]));
    assert.deepEqual(l.shape, []);
    assertClose(l.data, [1.5 * Math.LN2], { atol: 1e-15 });
    const big = crossEntropy(f64([1, 2], [1000, 0]), new Int32Array([0]));
    assertClose(big.data, [0], { atol: 1e-15 });
    assert.throws(() => crossEntropy(logits, new Int32Array([0, 2])));
  });
});

Deno.test("reference: layers", async (t) => {
  const x3 = f64([1, 1, 3, 3], seq(9));
  const w2 = f64([1, 1, 2, 2], [1, 2, 3, 4]);
  await t.step("linear = x·wᵀ + b", () => {
    const y = linear(f64([1, 2], [1, 2]), f64([3, 2], [1, 0, 0, 1, 1, 1]), f64([3], [0, 10, 100]));
    assert.deepEqual([...y.data], [1, 12, 103]);
  });
  await t.step("conv2d 2x2 kernel on 3x3 by hand", () => {
    const y = conv2d(x3, w2, f64([1], [1]));
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    // [1 2;4 5]·w = 1+4+12+20, etc.
    assert.deepEqual([...y.data], [38, 48, 68, 78]);
  });
  await t.step("conv2d with stride 2 and zero padding 1", () => {
    const y = conv2d(x3, w2, null, { stride: [2, 2], padding: [1, 1] });
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    assert.deepEqual([...y.data], [4, 18, 36, 77]);
  });
  await t.step("grouped conv2d = per-group convs concatenated", () => {
    const rng = mulberry32(7);
    const x = randn([2, 4, 5, 5], rng);
    const w = randn([6, 2, 3, 3], rng);
    const b = randn([6], rng);
    const y = conv2d(x, w, b, { groups: 2, padding: [1, 1] });
    const [xa, xb] = split(x, [2, 2], 1);
    const [wa, wb] = split(w, [3, 3], 0);
    const [ba, bb] = split(b, [3, 3], 0);
    const ya = conv2d(xa, wa, ba, { padding: [1, 1] });
    const yb = conv2d(xb, wb, bb, { padding: [1, 1] });
    assertClose(y.data, concat([ya, yb], 1).data, { label: "grouped conv" });
    // Same as an ungrouped conv whose weights are zero off the block diagonal.
    const wFull = concat([
      concat([wa, zeros([3, 2, 3, 3])], 1),
      concat([zeros([3, 2, 3, 3]), wb], 1),
    ], 0);
    assertClose(y.data, conv2d(x, wFull, b, { padding: [1, 1] }).data, { label: "block diag" });
    assert.throws(() => conv2d(x, w, b, { groups: 1 }));
  });
  await t.step("maxPool2d ties take the first maximum in row-major order", () => {
    const x = f64([1, 1, 3, 3], [1, 3, 3, 3, 2, 3, 0, 3, 1]);
    const opts = { kernel: [2, 2] as [number, number], stride: [1, 1] as [number, number] };
    assert.deepEqual([...maxPool2d(x, opts).data], [3, 3, 3, 3]);
    assert.deepEqual([...maxPool2dArgmax(x, opts).data], [1, 1, 3, 5]);
    const flat = f64([1, 1, 2, 2], [5, 5, 5, 5]);
    assert.deepEqual([...maxPool2dArgmax(flat, { kernel: [2, 2] }).data], [0]);
  });
  await t.step("maxPool2d padding is -Infinity, not zero", () => {
    const x = f64([1, 1, 3, 3], seq(9).map((v) => -v));
    const opts = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number] };
    const padded = { ...opts, padding: [1, 1] as [number, number] };
    assert.deepEqual([...maxPool2d(x, padded).data], [-1, -2, -4, -5]);
    assert.deepEqual([...maxPool2dArgmax(x, padded).data], [0, 1, 3, 4]);
    // Overlapping 3x3/s2 pooling (AlexNet) on 5x5 gives 2x2.
    const y = maxPool2d(f64([1, 1, 5, 5], seq(25)), { kernel: [3, 3], stride: [2, 2] });
    assert.deepEqual([...y.data], [13, 15, 23, 25]);
  });
  await t.step("maxPool2d padding on all sides stays inside each plane", () => {
    const x = f64([1, 2, 2, 2], [-1, -2, -3, -4, 5, 6, 7, 8]);
    const opts = { kernel: [2, 2] as [number, number], stride: [1, 1] as [number, number] };
    const padded = { ...opts, padding: [1, 1] as [number, number] };
    const y = maxPool2d(x, padded);
    assert.deepEqual(y.shape, [1, 2, 3, 3]);
    assert.deepEqual([...y.data], [-1, -1, -2, -1, -1, -2, -3, -3, -4, 5, 6, 6, 7, 8, 8, 7, 8, 8]);
    const arg = maxPool2dArgmax(x, padded);
    assert.deepEqual([...arg.data], [0, 0, 1, 0, 0, 1, 2, 2, 3, 0, 1, 1, 2, 3, 3, 2, 3, 3]);
  });
  await t.step("non-square kernels and strides keep (h, w) order", () => {
    const x = f64([1, 1, 2, 3], seq(6));
    const opts = { kernel: [2, 1] as [number, number], stride: [1, 2] as [number, number] };
    assert.deepEqual([...maxPool2d(x, opts).data], [4, 6]);
    assert.deepEqual([...maxPool2dArgmax(x, opts).data], [3, 5]);
    const y = conv2d(x, f64([1, 1, 1, 2], [1, 10]), null);
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    assert.deepEqual([...y.data], [21, 32, 54, 65]);
  });
  await t.step("LRN window is clipped at the channel-group boundary", () => {
    const x = f64([1, 4, 1, 1], [1, 2, 3, 4]);
    const base = { size: 5, k: 2, alpha: 1, beta: 1 };
    // groups {0,1} {2,3}: ch0 (1+4), ch1 (1+4), ch2 (9+16), ch3 (9+16)
    const grouped = lrn(x, { ...base, groupSize: 2 });
    assertClose(grouped.data, [1 / 7, 2 / 7, 3 / 27, 4 / 27], { atol: 0, rtol: 1e-15 });
    // one group: ch0 window [0,2] = 14, ch1..ch3 window reaches all = 30 / 29.
    const whole = lrn(x, { ...base, groupSize: 4 });
    assertClose(whole.data, [1 / 16, 2 / 32, 3 / 32, 4 / 31], { atol: 0, rtol: 1e-15 });
  });
  await t.step("LRN with the paper's constants (alpha not divided by size)", () => {
    const y = lrn(f64([1, 1, 1, 2], [1, -2]), {
      size: 5,
      k: 2,
      alpha: 1e-4,
      beta: 0.75,
      groupSize: 1,
    });
    assertClose(y.data, [1 / Math.pow(2.0001, 0.75), -2 / Math.pow(2.0004, 0.75)], {
      atol: 0,
      rtol: 1e-15,
    });
  });
  await t.step("dropoutApply scales kept units by 1/(1-p)", () => {
    const y = dropoutApply(f64([4], [1, 2, 3, 4]), new Float64Array([1, 0, 1, 0]), 0.5);
    assert.deepEqual([...y.data], [2, 0, 6, 0]);
  });
});

Deno.test("reference: SGD steps", async (t) => {
  const base = { w: f64([1], [1]), g: f64([1], [2]), lr: 0.1, momentum: 0.9, weightDecay: 0.01 };
  await t.step("paper: v = m·v − wd·lr·w − lr·g; w += v", () => {
    const r = sgdPaperStep({ ...base, v: f64([1], [0.5]) });
    assertClose(r.v.data, [0.45 - 0.001 - 0.2], { atol: 1e-15 });
    assertClose(r.w.data, [1.249], { atol: 1e-15 });
  });
  await t.step("torch: d = g + wd·w; v = m·v + d; w −= lr·v", () => {
    const r = sgdTorchStep({ ...base, v: f64([1], [0.5]) });
    assertClose(r.v.data, [2.46], { atol: 1e-15 });
    assertClose(r.w.data, [0.754], { atol: 1e-15 });
    const first = sgdTorchStep({ ...base, v: null });
    assertClose(first.v.data, [2.01], { atol: 1e-15 });
    assertClose(first.w.data, [0.799], { atol: 1e-15 });
  });
});

Deno.test("reference: RNG", async (t) => {
  await t.step("mulberry32 is deterministic per seed", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = [a(), a(), a()];
    assert.deepEqual(xs, [b(), b(), b()]);
    assert.notDeepEqual(xs, [c(), c(), c()]);
  });
  await t.step("randn has mean ~0 and std ~1; randu stays in range", () => {
    const x = randn([20000], mulberry32(3));
    const m = mean(x, null).data[0];
    const v = mean(mul(x, x), null).data[0] - m * m;
    assert.ok(Math.abs(m) < 0.03, `mean ${m}`);
    assert.ok(Math.abs(Math.sqrt(v) - 1) < 0.03, `std ${Math.sqrt(v)}`);
    const u = randu([1000], mulberry32(4), 2, 3);
    assert.ok(u.data.every((e) => e >= 2 && e < 3));
  });
});

Deno.test("gradcheck utilities", async (t) => {
  const rng = mulberry32(11);
  await t.step("numericGrad of sum(x²) is 2x", () => {
    const x = randn([3, 4], rng);
    const before = x.data.slice();
    const g = numericGrad(([a]) => sum(mul(a, a), null), [x], 0, f64([], [1]));
    assertClose(g.data, x.data.map((v) => 2 * v), { rtol: 1e-6, atol: 1e-8, label: "d sum x^2" });
    assert.deepEqual(x.data, before, "numericGrad must not modify its inputs");
  });
  await t.step("numericGrad of matmul: dA = U·Bᵀ, dB = Aᵀ·U", () => {
    const a = randn([2, 3], rng);
    const b = randn([3, 4], rng);
    const u = randn([2, 4], rng);
    const f = ([p, q]: F64[]): F64 => matmul(p, q);
    const ga = numericGrad(f, [a, b], 0, u);
    const gb = numericGrad(f, [a, b], 1, u);
    assertClose(ga.data, matmul(u, transpose(b, 0, 1)).data, { rtol: 1e-6, label: "dA" });
    assertClose(gb.data, matmul(transpose(a, 0, 1), u).data, { rtol: 1e-6, label: "dB" });
  });
  await t.step("numericGrad of crossEntropy is (softmax − onehot)/N", () => {
    const logits = randn([3, 5], rng);
    const labels = new Int32Array([4, 0, 2]);
    const g = numericGrad(([z]) => crossEntropy(z, labels), [logits], 0, f64([], [1]));
    const expected = softmax(logits, 1);
    for (let i = 0; i < 3; i++) expected.data[i * 5 + labels[i]] -= 1;
    assertClose(g.data, expected.data.map((v) => v / 3), { atol: 1e-8, label: "dCE" });
  });
  await t.step("numericGrad of conv2d wrt bias is the upstream summed over N,H,W", () => {
    const x = randn([2, 2, 4, 4], rng);
    const w = randn([3, 2, 3, 3], rng);
    const b = randn([3], rng);
    const u = randn([2, 3, 2, 2], rng);
    const g = numericGrad(([p, q, r]) => conv2d(p, q, r), [x, w, b], 2, u);
    assertClose(g.data, sum(u, [0, 2, 3]).data, { atol: 1e-8, label: "db" });
  });
  await t.step("assertClose passes within tolerance and names the worst index", () => {
    assertClose([1, 2, 3], [1, 2, 3 + 1e-9]);
    assertClose([NaN, Infinity], [NaN, Infinity]);
    assert.throws(
      () => assertClose([1, 2.5, 3.1], [1, 2, 3], { atol: 1e-3, label: "probe" }),
      (e: unknown) => {
        assert.ok(e instanceof assert.AssertionError);
        assert.match(e.message, /probe/);
        assert.match(e.message, /index 1/);
        assert.match(e.message, /actual 2\.5/);
        assert.match(e.message, /expected 2\b/);
        assert.match(e.message, /2\/3 elements/);
        return true;
      },
    );
    assert.throws(() => assertClose([1, 2], [1, 2, 3]), /length/);
    assert.throws(() => assertClose([NaN], [0], { atol: 1 }), /index 0/);
    assert.throws(() => assertClose([1.1], [1], { rtol: 0.05, atol: 0 }));
    assertClose([1.1], [1], { rtol: 0.2, atol: 0 });
  });
  await t.step("relativeError", () => {
    assert.equal(relativeError([1, 2, 3.5], [1, 2, 4]), 0.125);
    assert.equal(relativeError([0, 0], [0, 0]), 0);
    assert.ok(Number.isNaN(relativeError([NaN], [1])));
  });
});
