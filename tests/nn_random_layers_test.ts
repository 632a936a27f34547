/**
 * The layers that draw at random besides Dropout: RReLU (random slopes in training, the mean
 * slope in evaluation) and channel-wise dropout (Dropout1d, Dropout2d, Dropout3d), checked as
 * PyTorch behaves: evaluation exactly against float64, training by the structure and the
 * statistics of the draws.
 */
import assert from "node:assert/strict";
import { defaultDevice, Generator, tensor } from "../mod.ts";
import {
  AlphaDropout,
  Dropout1d,
  Dropout2d,
  Dropout3d,
  FeatureAlphaDropout,
  RReLU,
} from "../nn/mod.ts";

await defaultDevice();

Deno.test("RReLU in evaluation is the leaky ReLU of the mean slope, extremes included", async () => {
  const xs = [-Infinity, -1e30, -3, -0.5, 0, 0.5, 3, 1e30, Infinity, NaN];
  for (const [lower, upper] of [[1 / 8, 1 / 3], [0.1, 0.1], [0, 0.5]]) {
    const layer = new RReLU({ lower, upper }).eval();
    const got = await layer.forward(tensor(xs)).data();
    const slope = (lower + upper) / 2;
    xs.forEach((x, i) => {
      const want = Math.fround(x > 0 || Number.isNaN(x) ? x : x * slope);
      assert.ok(
        Object.is(got[i], want) || Math.abs(got[i] - want) <= 1e-7 * Math.abs(want),
        `${x}: ${got[i]} vs ${want}`,
      );
    });
  }
  assert.throws(
    () => new RReLU({ lower: 0.5, upper: 0.1 }),
    /lower \(0.5\) must not exceed upper \(0.1\)/,
  );
});

Deno.test("RReLU in training draws a slope in [lower, upper] for each input ≤ 0, its gradient", async () => {
  const n = 4000;
  const values = Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (1 + (i % 7)));
  const x = tensor([...values, 0, NaN], { requiresGrad: true });
  const layer = new RReLU({ lower: 0.1, upper: 0.4, generator: new Generator(5) });
  const y = layer.forward(x);
  await y.sum().backward();
  const [out, grad] = [await y.data(), await x.grad!.data()];
  let total = 0;
  values.forEach((v, i) => {
    if (v > 0) return assert.ok(out[i] === v && grad[i] === 1, `x = ${v}`);
    const slope = out[i] / v;
    assert.ok(slope >= 0.1 - 1e-7 && slope <= 0.4 + 1e-7, `slope ${slope}`);
    assert.ok(Math.abs(grad[i] - slope) <= 1e-6, `gradient ${grad[i]} vs slope ${slope}`);
    total += slope;
  });
  // The mean of 2000 uniform slopes: 0.25 ± 0.087/√2000 (5 standard errors).
  assert.ok(Math.abs(total / (n / 2) - 0.25) < 5 * 0.0866 / Math.sqrt(n / 2));
  // 0 takes a slope too (PyTorch's x ≤ 0), NaN passes with gradient 1.
  assert.equal(out[n], 0);
  assert.ok(grad[n] >= 0.1 && grad[n] <= 0.4);
  assert.ok(Number.isNaN(out[n + 1]) && grad[n + 1] === 1);
});

/** Each channel's values of `[N, C, rest]` data, checked constant: 0 or x/(1−p); the kept share. */
function channelsKept(out: Float32Array, x: Float32Array, maps: number, size: number, p: number) {
  let kept = 0;
  for (let m = 0; m < maps; m++) {
    const first = out[m * size] === 0 ? 0 : 1;
    for (let j = 0; j < size; j++) {
      const k = m * size + j;
      const want = first ? x[k] / (1 - p) : 0;
      assert.ok(Math.abs(out[k] - want) <= 1e-6 * Math.abs(want), `map ${m}: ${out[k]} vs ${want}`);
    }
    kept += first;
  }
  return kept / maps;
}

Deno.test("Dropout1d, 2d and 3d drop whole channels of each sample, batched or not", async () => {
  const cases = [
    {
      make: () => new Dropout1d({ p: 0.3, generator: new Generator(1) }),
      shape: [40, 25, 3],
      size: 3,
    },
    {
      make: () => new Dropout1d({ p: 0.3, generator: new Generator(2) }),
      shape: [500, 3],
      size: 3,
    },
    {
      make: () => new Dropout2d({ p: 0.3, generator: new Generator(3) }),
      shape: [20, 50, 2, 3],
      size: 6,
    },
    // PyTorch 2 reads a 3-D input of Dropout2d as a batch [N, C, L].
    {
      make: () => new Dropout2d({ p: 0.3, generator: new Generator(4) }),
      shape: [20, 50, 3],
      size: 3,
    },
    {
      make: () => new Dropout3d({ p: 0.3, generator: new Generator(5) }),
      shape: [10, 100, 1, 2, 2],
      size: 4,
    },
    {
      make: () => new Dropout3d({ p: 0.3, generator: new Generator(6) }),
      shape: [1000, 2, 1, 2],
      size: 4,
    },
  ];
  for (const { make, shape, size } of cases) {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: count }, (_, i) => 1 + (i % 11) / 4);
    const x = tensor(Array.from(values)).reshape(shape);
    const out = await make().forward(x).data();
    const kept = channelsKept(out, values, count / size, size, 0.3);
    // 1000 channels kept with probability 0.7: within 5 standard errors (0.0145 each).
    assert.ok(Math.abs(kept - 0.7) < 5 * Math.sqrt(0.21 / 1000), `[${shape}]: kept ${kept}`);
  }
});

Deno.test("channel dropout: evaluation and p = 0 pass through, p = 1 zeroes, bad ranks are errors", async () => {
  const x = tensor([[[1, -2], [3, 4]]]);
  assert.deepEqual(await new Dropout2d().eval().forward(x).toArray(), [[[1, -2], [3, 4]]]);
  assert.deepEqual(await new Dropout1d({ p: 0 }).forward(x).toArray(), [[[1, -2], [3, 4]]]);
  // x · 0, as PyTorch: −2 becomes −0.
  assert.deepEqual(await new Dropout1d({ p: 1 }).forward(x).toArray(), [[[0, -0], [0, 0]]]);
  const g = tensor([[[1, 2]]], { requiresGrad: true });
  await new Dropout1d({ p: 1 }).forward(g).sum().backward();
  assert.deepEqual(await g.grad!.toArray(), [[[0, 0]]]);
  assert.throws(
    () => new Dropout1d().forward(tensor([1, 2])),
    /Dropout1d: expected a 2-D \(unbatched\) or 3-D \(batched\) input, got \[2\]/,
  );
  assert.throws(() => new Dropout2d().forward(tensor([[1, 2]])), /Dropout2d: expected a 3-D/);
  assert.throws(() => new Dropout3d({ p: 1.5 }), /Dropout3d: p = 1.5 is not in \[0, 1\]/);
});

Deno.test("AlphaDropout: PyTorch's a·x + b or the dropped value, its gradient, mean 0 and variance 1 kept", async () => {
  const [n, p, alpha] = [20000, 0.3, 1.7580993408473766];
  const a = 1 / Math.sqrt((alpha * alpha * p + 1) * (1 - p));
  const b = alpha * a * p;
  const x = new Generator(11).normal([n]);
  x.requiresGrad = true;
  const y = new AlphaDropout({ p, generator: new Generator(12) }).forward(x);
  await y.sum().backward();
  const [xs, ys, grad] = [await x.data(), await y.data(), await x.grad!.data()];
  let [kept, sum, squares] = [0, 0, 0];
  ys.forEach((v, i) => {
    const keep = grad[i] !== 0;
    const want = keep ? a * xs[i] + b : b - alpha * a;
    assert.ok(Math.abs(v - want) <= 1e-6 * (1 + Math.abs(want)), `${i}: ${v} vs ${want}`);
    assert.ok(Math.abs(grad[i] - (keep ? a : 0)) <= 1e-7, `gradient ${grad[i]}`);
    kept += keep ? 1 : 0;
    sum += v;
    squares += v * v;
  });
  assert.ok(Math.abs(kept / n - 0.7) < 5 * Math.sqrt(0.21 / n), `kept ${kept / n}`);
  const mean = sum / n;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(
    Math.abs(squares / n - mean * mean - 1) < 0.05,
    `variance ${squares / n - mean * mean}`,
  );
  // Evaluation and p = 0 pass through; p = 1 multiplies by 0, as PyTorch.
  const small = tensor([1, -2, Infinity]);
  assert.deepEqual(await new AlphaDropout().eval().forward(small).toArray(), [1, -2, Infinity]);
  assert.deepEqual(await new AlphaDropout({ p: 0 }).forward(small).toArray(), [1, -2, Infinity]);
  const zeroed = await new AlphaDropout({ p: 1 }).forward(small).toArray() as number[];
  assert.deepEqual(zeroed.slice(0, 2), [0, -0]);
  assert.ok(Number.isNaN(zeroed[2]));
});

Deno.test("FeatureAlphaDropout draws once per sample and channel", async () => {
  const x = tensor(Array.from({ length: 2 * 300 * 4 }, (_, i) => (i % 9) / 3 - 1)).reshape([
    2,
    300,
    4,
  ]);
  const [xs, ys] = [await x.data(), await new FeatureAlphaDropout({ p: 0.4 }).forward(x).data()];
  const alpha = 1.7580993408473766;
  const a = 1 / Math.sqrt((alpha * alpha * 0.4 + 1) * 0.6);
  const dropped = alpha * a * 0.4 - alpha * a;
  let kept = 0;
  for (let m = 0; m < 600; m++) {
    // Inputs lie in [−1, 5/3]: a kept value never equals the dropped one (x = −λα).
    const keep = Math.abs(ys[4 * m] - dropped) > 1e-6;
    for (let j = 0; j < 4; j++) {
      const k = 4 * m + j;
      const want = keep ? a * xs[k] + alpha * a * 0.4 : dropped;
      assert.ok(Math.abs(ys[k] - want) <= 1e-6, `channel ${m}: ${ys[k]} vs ${want}`);
    }
    kept += keep ? 1 : 0;
  }
  assert.ok(Math.abs(kept / 600 - 0.6) < 5 * Math.sqrt(0.24 / 600), `kept ${kept / 600}`);
  assert.throws(() => new FeatureAlphaDropout().forward(tensor([1, 2])), /at least 2 dimensions/);
});
