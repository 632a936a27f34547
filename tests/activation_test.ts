/**
 * The activation ops (leakyRelu, elu, gelu exact and tanh, silu, mish, softplus, hardtanh,
 * relu6, hardsigmoid, hardswish) and erf/erfinv against float64 references: forward values and
 * gradients by central differences at odd sizes, PyTorch's gradients at the kinks, extreme
 * inputs (|x| = 80, 1e4, ±∞) and NaN, erf's accuracy in ulps over many points, and bad input.
 */

import assert from "node:assert/strict";
import {
  celu,
  defaultDevice,
  elu,
  erf,
  erfinv,
  fromTypedArray,
  gelu,
  glu,
  hardshrink,
  hardsigmoid,
  hardswish,
  hardtanh,
  leakyRelu,
  logSigmoid,
  mish,
  prelu,
  relu,
  relu6,
  selu,
  sigmoid,
  silu,
  softplus,
  softshrink,
  softsign,
  tanh,
  tanhshrink,
  type Tensor,
  tensor,
  threshold,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { erf64, erfc64, erfinv64, ulpsOff } from "./_special_reference.ts";
import { checkAll, type OpCase } from "./_tensor_check.ts";

/** One activation: the op, its float64 value, and where its derivative jumps. */
interface Activation {
  name: string;
  run: (x: Tensor) => Tensor;
  value: (x: number) => number;
  kinks?: number[];
  range?: [number, number];
}

const geluTanh64 = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const softplus64 = (x: number, beta = 1, threshold = 20) =>
  x * beta > threshold ? x : Math.log1p(Math.exp(beta * x)) / beta;
const clamp64 = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);

const ACTIVATIONS: Activation[] = [
  {
    name: "leakyRelu(0.01)",
    run: (x) => leakyRelu(x as Tensor<number[], "f32">),
    value: (x) => (x > 0 ? x : 0.01 * x),
    kinks: [0],
  },
  {
    name: "leakyRelu(-0.3)",
    run: (x) => leakyRelu(x as Tensor<number[], "f32">, -0.3),
    value: (x) => (x > 0 ? x : -0.3 * x),
    kinks: [0],
  },
  {
    name: "elu(1)",
    run: (x) => elu(x as Tensor<number[], "f32">),
    value: (x) => (x > 0 ? x : Math.expm1(x)),
    kinks: [0],
  },
  {
    name: "elu(0.5)",
    run: (x) => elu(x as Tensor<number[], "f32">, 0.5),
    value: (x) => (x > 0 ? x : 0.5 * Math.expm1(x)),
    kinks: [0],
  },
  {
    name: "gelu",
    run: (x) => gelu(x as Tensor<number[], "f32">),
    value: (x) => x * 0.5 * erfc64(-x / Math.SQRT2),
  },
  {
    name: "gelu tanh",
    run: (x) => gelu(x as Tensor<number[], "f32">, "tanh"),
    value: geluTanh64,
  },
  {
    name: "silu",
    run: (x) => silu(x as Tensor<number[], "f32">),
    value: (x) => x / (1 + Math.exp(-x)),
  },
  {
    name: "mish",
    run: (x) => mish(x as Tensor<number[], "f32">),
    value: (x) => x * Math.tanh(softplus64(x)),
  },
  {
    name: "softplus",
    run: (x) => softplus(x as Tensor<number[], "f32">),
    value: (x) => softplus64(x),
  },
  {
    name: "softplus(2, 3)",
    run: (x) => softplus(x as Tensor<number[], "f32">, 2, 3),
    value: (x) => softplus64(x, 2, 3),
    kinks: [1.5],
  },
  {
    name: "hardtanh",
    run: (x) => hardtanh(x as Tensor<number[], "f32">),
    value: (x) => clamp64(x, -1, 1),
    kinks: [-1, 1],
  },
  {
    name: "hardtanh(-2, 0.5)",
    run: (x) => hardtanh(x as Tensor<number[], "f32">, -2, 0.5),
    value: (x) => clamp64(x, -2, 0.5),
    kinks: [-2, 0.5],
  },
  {
    name: "relu6",
    run: (x) => relu6(x as Tensor<number[], "f32">),
    value: (x) => clamp64(x, 0, 6),
    kinks: [0, 6],
    range: [-3, 9],
  },
  {
    name: "hardsigmoid",
    run: (x) => hardsigmoid(x as Tensor<number[], "f32">),
    value: (x) => clamp64(x + 3, 0, 6) / 6,
    kinks: [-3, 3],
  },
  {
    name: "hardswish",
    run: (x) => hardswish(x as Tensor<number[], "f32">),
    value: (x) => (x * clamp64(x + 3, 0, 6)) / 6,
    kinks: [-3, 3],
  },
  { name: "erf", run: (x) => erf(x as Tensor<number[], "f32">), value: erf64, range: [-4, 4] },
  {
    name: "erfinv",
    run: (x) => erfinv(x as Tensor<number[], "f32">),
    value: erfinv64,
    range: [-0.95, 0.95],
  },
  {
    name: "selu",
    run: (x) => selu(x as Tensor<number[], "f32">),
    value: (x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * Math.expm1(x)),
    kinks: [0],
  },
  {
    name: "celu(2)",
    run: (x) => celu(x as Tensor<number[], "f32">, 2),
    value: (x) => (x > 0 ? x : 2 * Math.expm1(x / 2)),
  },
  {
    name: "logSigmoid",
    run: (x) => logSigmoid(x as Tensor<number[], "f32">),
    value: (x) => -softplus64(-x),
  },
  {
    name: "softsign",
    run: (x) => softsign(x as Tensor<number[], "f32">),
    value: (x) => x / (1 + Math.abs(x)),
    kinks: [0],
  },
  {
    name: "tanhshrink",
    run: (x) => tanhshrink(x as Tensor<number[], "f32">),
    value: (x) => x - Math.tanh(x),
    range: [-3, 3],
  },
  {
    name: "hardshrink(0.7)",
    run: (x) => hardshrink(x as Tensor<number[], "f32">, 0.7),
    value: (x) => (Math.abs(x) <= 0.7 ? 0 : x),
    kinks: [-0.7, 0.7],
  },
  {
    name: "softshrink",
    run: (x) => softshrink(x as Tensor<number[], "f32">),
    value: (x) => (x > 0.5 ? x - 0.5 : x < -0.5 ? x + 0.5 : x * 0),
    kinks: [-0.5, 0.5],
  },
  {
    name: "threshold(1, -2)",
    run: (x) => threshold(x as Tensor<number[], "f32">, 1, -2),
    value: (x) => (x <= 1 ? -2 : x),
    kinks: [1],
  },
  {
    name: "relu",
    run: (x) => relu(x as Tensor<number[], "f32">),
    value: (x) => Math.max(x, 0),
    kinks: [0],
  },
  {
    name: "sigmoid",
    run: (x) => sigmoid(x as Tensor<number[], "f32">),
    value: (x) => 1 / (1 + Math.exp(-x)),
  },
  { name: "tanh", run: (x) => tanh(x as Tensor<number[], "f32">), value: Math.tanh },
];

/** Uniform f32 values in `range`, none within 1e-3 of a kink (central differences need that). */
function inputs(a: Activation, shape: number[], rng: () => number): ref.F64 {
  const [lo, hi] = a.range ?? [-6, 6];
  const data = Float32Array.from({ length: ref.numel(shape) }, () => {
    let v = lo + (hi - lo) * rng();
    while ((a.kinks ?? []).some((k) => Math.abs(v - k) < 1e-3)) v = lo + (hi - lo) * rng();
    return v;
  });
  return ref.f64(shape, data);
}

Deno.test("activations: forward and gradients against float64, odd sizes", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(31);
  const cases: OpCase[] = ACTIVATIONS.flatMap((a) =>
    [[7, 33], [3, 1, 5]].map((shape): OpCase => ({
      name: `${a.name} [${shape}]`,
      inputs: [inputs(a, shape, rng)],
      run: ([x]) => a.run(x),
      ref: ([x]) => ref.map(x, a.value),
      forwardTol: 2e-6,
      gradTol: 2e-4,
    }))
  );
  await checkAll(t, device, cases, rng);
});

Deno.test("prelu and glu: both gradients against float64, per channel and shared", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(8);
  const x = (shape: number[]) => inputs(ACTIVATIONS[0], shape, rng);
  const prelu64 = (v: ref.F64, w: ref.F64, channel: (i: number) => number) =>
    ref.f64(v.shape, v.data.map((a, i) => (a > 0 ? a : w.data[channel(i)] * a)));
  await checkAll(t, device, [
    {
      name: "prelu [2, 3, 5] per channel",
      inputs: [x([2, 3, 5]), ref.f64([3], [0.1, -0.2, 0.7])],
      run: ([a, w]) => prelu(a as Tensor<number[], "f32">, w as Tensor<number[], "f32">),
      ref: ([a, w]) => prelu64(a, w, (i) => Math.floor(i / 5) % 3),
    },
    {
      name: "prelu [7] shared",
      inputs: [x([7]), ref.f64([1], [0.25])],
      run: ([a, w]) => prelu(a as Tensor<number[], "f32">, w as Tensor<number[], "f32">),
      ref: ([a, w]) => prelu64(a, w, () => 0),
    },
    {
      name: "glu [3, 4, 2] along axis 1",
      inputs: [x([3, 4, 2])],
      run: ([a]) => glu(a as Tensor<number[], "f32">, 1),
      ref: ([a]) => {
        const [first, second] = ref.split(a, [2, 2], 1);
        return ref.mul(first, ref.sigmoid(second));
      },
    },
  ], rng);
  assert.throws(() => glu(tensor([[1, 2, 3]])), /glu: the halved dimension must be even/);
  assert.throws(
    () => prelu(tensor([[1, 2, 3]]) as Tensor<number[], "f32">, tensor([1, 2])),
    /prelu: weight \[2\] must have 1 element or one per channel \(3\)/,
  );
});

/** The op's values and its gradient (for an upstream of ones) at `points`. */
async function valuesAndGrads(run: (x: Tensor) => Tensor, points: number[]) {
  const x = tensor(points, { requiresGrad: true });
  const y = run(x);
  const loss = y.sum();
  await loss.backward();
  const out = { y: Array.from(await y.data()), g: Array.from(await x.grad!.data()) };
  for (const v of [x, y, loss]) v.dispose();
  return out;
}

Deno.test("activations: PyTorch's gradients at the kinks", async () => {
  await defaultDevice();
  const f = (x: Tensor) => x as Tensor<number[], "f32">;
  const expectations: [string, (x: Tensor) => Tensor, number[], number[]][] = [
    // leaky_relu_backward: x > 0 ? g : g·slope — the slope at 0.
    ["leakyRelu(0.2)", (x) => leakyRelu(f(x), 0.2), [0, -0], [0.2, 0.2]],
    // elu_backward: x ≤ 0 ? g·α·eˣ : g — α at 0.
    ["elu(0.7)", (x) => elu(f(x), 0.7), [0], [0.7]],
    // hardtanh_backward: 0 where x ≤ min or x ≥ max — 0 at both bounds.
    ["hardtanh", (x) => hardtanh(f(x)), [-1, 1, 0.999, -0.999], [0, 0, 1, 1]],
    ["relu6", (x) => relu6(f(x)), [0, 6, 5.999, 1e-6], [0, 0, 1, 1]],
    // hardsigmoid_backward: g/6 strictly inside (−3, 3).
    ["hardsigmoid", (x) => hardsigmoid(f(x)), [-3, 3, 0], [0, 0, 1 / 6]],
    // hardswish_backward: x < −3 → 0; x ≤ 3 → x/3 + ½; else 1.
    ["hardswish", (x) => hardswish(f(x)), [-3, 3, -3.001, 3.001], [-0.5, 1.5, 0, 1]],
    // softplus_backward: x·β > threshold → g, else σ(xβ).
    ["softplus(1, 2)", (x) => softplus(f(x), 1, 2), [2, 2.001], [1 / (1 + Math.exp(-2)), 1]],
    // elu_backward with SELU's coefficients: α·scale at 0; CELU's: 1 at 0.
    ["selu", (x) => selu(f(x)), [0], [1.6732632423543772 * 1.0507009873554805]],
    ["celu(2)", (x) => celu(f(x), 2), [0], [1]],
    // hardshrink/softshrink_backward: 0 on [−λ, λ], the bounds included.
    ["hardshrink", (x) => hardshrink(f(x)), [-0.5, 0.5, 0.501], [0, 0, 1]],
    ["softshrink", (x) => softshrink(f(x)), [-0.5, 0.5, -0.501], [0, 0, 1]],
    // threshold_backward: 0 where x ≤ threshold.
    ["threshold", (x) => threshold(f(x), 1, 5), [1, 1.001], [0, 1]],
    // prelu: the slope at 0 (x > 0 is false there).
    ["prelu", (x) => prelu(f(x), tensor([0.25])), [0, 1], [0.25, 1]],
  ];
  for (const [name, run, points, grads] of expectations) {
    const { g } = await valuesAndGrads(run, points);
    g.forEach((v, i) =>
      assert.ok(
        Math.abs(v - grads[i]) <= 1e-6,
        `${name}: gradient at ${points[i]} is ${v}, PyTorch's is ${grads[i]}`,
      )
    );
  }
});

Deno.test("activations: extreme inputs, infinities and NaN", async () => {
  await defaultDevice();
  const points = [-1e4, -80, -20, 20, 80, 1e4, -Infinity, Infinity, NaN];
  for (const a of ACTIVATIONS.filter((a) => a.name !== "erfinv")) {
    const { y, g } = await valuesAndGrads(a.run, points);
    points.forEach((x, i) => {
      const want = a.value(x);
      const label = `${a.name}(${x})`;
      if (Number.isNaN(want)) {
        assert.ok(Number.isNaN(y[i]), `${label} is ${y[i]}, PyTorch gives NaN`);
      } else {
        assert.ok(
          // Below f32's range (gelu(−20) is −5.5e-88) the result underflows to 0. A GPU's exp
          // may be off by about |x|·2⁻²⁴ relative (the rounding of x·log₂e), 2e-6 at |x| = 20.
          Math.abs(y[i] - want) <= 2e-5 * Math.abs(want) + 1e-37 || y[i] === want,
          `${label} is ${y[i]}, expected ${want}`,
        );
      }
      // NaN in, NaN out; a finite input has a finite gradient (no 0·∞ inside a formula).
      if (Number.isNaN(x)) assert.ok(Number.isNaN(y[i]), `${label} keeps the NaN`);
      if (Number.isFinite(x)) assert.ok(Number.isFinite(g[i]), `${label}: gradient ${g[i]}`);
    });
  }
});

Deno.test("activations: small inputs keep their relative precision", async () => {
  await defaultDevice();
  const points = [1e-30, -1e-20, 3e-8, -1e-5, 1e-3];
  const precise: [string, (x: Tensor) => Tensor, (x: number) => number][] = [
    ["erf", (x) => erf(x as Tensor<number[], "f32">), erf64],
    ["elu", (x) => elu(x as Tensor<number[], "f32">), (x) => (x > 0 ? x : Math.expm1(x))],
    ["tanh", (x) => tanh(x as Tensor<number[], "f32">), Math.tanh],
    ["silu", (x) => silu(x as Tensor<number[], "f32">), (x) => x / (1 + Math.exp(-x))],
    ["mish", (x) => mish(x as Tensor<number[], "f32">), (x) => x * Math.tanh(softplus64(x))],
  ];
  for (const [name, run, value] of precise) {
    const { y } = await valuesAndGrads(run, points);
    points.forEach((x, i) => {
      const want = value(Math.fround(x));
      assert.ok(
        Math.abs(y[i] - want) <= 4e-7 * Math.abs(want),
        `${name}(${x}) is ${y[i]}, expected ${want}`,
      );
    });
  }
});

Deno.test("erf: within 2 ulps of float64 over 40,000 points, and erfinv within 1e-6", async () => {
  await defaultDevice();
  const rng = mulberry32(5);
  const sample = (i: number) => {
    switch (i % 4) {
      case 0:
        return rng() * 12 - 6;
      case 1:
        return rng() * 2.4 - 1.2;
      case 2:
        return (rng() < 0.5 ? -1 : 1) * 10 ** (-30 * rng());
      default:
        return rng() * 60 - 30;
    }
  };
  const xs = Float32Array.from({ length: 40000 }, (_, i) => sample(i));
  const x = fromTypedArray(xs, [xs.length]);
  const y = x.erf();
  const got = await y.data();
  let worst = 0, at = 0;
  xs.forEach((v, i) => {
    const ulps = ulpsOff(got[i], erf64(v));
    if (ulps > worst) [worst, at] = [ulps, v];
  });
  assert.ok(worst <= 2, `erf is ${worst} ulps off at ${at}`);

  const us = Float32Array.from(
    { length: 20000 },
    (_, i) => i % 2 ? rng() * 2 - 1 : (rng() < 0.5 ? -1 : 1) * (1 - 10 ** (-1 - 6 * rng())),
  );
  const u = fromTypedArray(us, [us.length]);
  const inv = u.erfinv();
  const gotInv = await inv.data();
  us.forEach((v, i) => {
    // The condition number of erfinv at v: how much f32's rounding of v alone moves it.
    const want = erfinv64(v);
    const conditioned = Math.abs(Math.sqrt(Math.PI) / 2 * Math.exp(want * want) * v / want);
    const tol = 1e-6 + 6e-8 * conditioned;
    assert.ok(
      Math.abs(gotInv[i] - want) <= tol * Math.abs(want),
      `erfinv(${v}) is ${gotInv[i]}, expected ${want}`,
    );
  });
  const edges = await erfinv(tensor([-1, 1, 1.5, -2, NaN, 0])).data();
  assert.deepEqual(Array.from(edges), [-Infinity, Infinity, NaN, NaN, NaN, 0]);
  for (const v of [x, y, u, inv]) v.dispose();
});

Deno.test("gelu: the lower tail without cancellation", async () => {
  await defaultDevice();
  // 1 + erf(x/√2) would leave nothing (or one ulp of 1) of these; a GPU's exp at −x²/2 may be
  // off by x²/2·2⁻²⁴ relative, hence 1e-4.
  const points = [-3, -5, -8, -9.5, -12];
  const y = await gelu(tensor(points)).data();
  points.forEach((x, i) => {
    const want = x * 0.5 * erfc64(-Math.fround(x) / Math.SQRT2);
    assert.ok(Math.abs(y[i] - want) <= 1e-4 * Math.abs(want), `gelu(${x}) is ${y[i]}, not ${want}`);
  });
});

Deno.test("activations: bad arguments are one-line errors", async () => {
  await defaultDevice();
  const x = tensor([1, 2]) as Tensor<number[], "f32">;
  const bad: [() => unknown, RegExp][] = [
    [() => leakyRelu(x, NaN), /leakyRelu: negativeSlope must be a finite number, got NaN/],
    [() => elu(x, Infinity), /elu: alpha must be a finite number/],
    [() => softplus(x, 0), /softplus: beta must not be 0/],
    [() => hardtanh(x, 2, 1), /hardtanh: minVal \(2\) must not exceed maxVal \(1\)/],
    [() => gelu(x, "fast" as "tanh"), /gelu: approximate must be "none" or "tanh", got "fast"/],
    [
      () => silu(tensor([1], { dtype: "i32" }) as unknown as Tensor<number[], "f32">),
      /silu: expected an f32 tensor, got i32/,
    ],
  ];
  for (const [call, message] of bad) {
    assert.throws(call, (e: Error) => message.test(e.message) && !e.message.includes("\n"));
  }
  x.dispose();
});
