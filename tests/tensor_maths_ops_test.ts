/**
 * The elementwise maths (`kernels/maths.ts`) against float64: forward values and gradients by
 * central differences (`_tensor_check.ts`) at odd sizes over each function's domain, the
 * accuracy of the inverse trigonometric and hyperbolic functions over a wide range (where the
 * WGSL built-ins may err by thousands of ulp), and PyTorch's conventions: zero gradients for
 * rounding and sign, halves rounded to even, sign 0 for NaN.
 */

import assert from "node:assert/strict";
import * as maths from "../mod.ts";
import { defaultDevice, fromTypedArray, type Tensor, tensor } from "../mod.ts";
import * as ref from "./_reference.ts";
import { awayFromZero, checkAll, normal, type OpCase, uniform } from "./_tensor_check.ts";

type Fn = (x: Tensor<number[], "f32">) => Tensor<number[], "f32">;

Deno.test("elementwise maths: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = ref.mulberry32(99);
  const cases: [string, Fn, (v: number) => number, ref.F64][] = [
    ["sin", maths.sin, Math.sin, uniform([7, 33], rng, -4, 4)],
    ["cos", maths.cos, Math.cos, uniform([129], rng, -4, 4)],
    ["tan", maths.tan, Math.tan, uniform([33], rng, -1.2, 1.2)],
    ["asin", maths.asin, Math.asin, uniform([7, 33], rng, -0.95, 0.95)],
    ["acos", maths.acos, Math.acos, uniform([33], rng, -0.95, 0.95)],
    ["atan", maths.atan, Math.atan, normal([129], rng, 3)],
    ["sinh", maths.sinh, Math.sinh, normal([7, 33], rng, 2)],
    ["cosh", maths.cosh, Math.cosh, normal([33], rng, 2)],
    ["rsqrt", maths.rsqrt, (v) => 1 / Math.sqrt(v), uniform([33], rng, 0.2, 5)],
    ["reciprocal", maths.reciprocal, (v) => 1 / v, awayFromZero([7, 33], rng)],
    ["square", maths.square, (v) => v * v, normal([129], rng)],
    ["exp2", maths.exp2, (v) => 2 ** v, normal([33], rng, 2)],
    ["log2", maths.log2, Math.log2, uniform([33], rng, 0.1, 10)],
    ["log10", maths.log10, Math.log10, uniform([7, 33], rng, 0.1, 10)],
    ["expm1", maths.expm1, Math.expm1, normal([33], rng)],
    ["expm1 of small values", maths.expm1, Math.expm1, normal([33], rng, 1e-4)],
    ["frac", maths.frac, (v) => v - Math.trunc(v), uniform([33], rng, -5, 5)],
    ["sign", maths.sign, Math.sign, normal([33], rng)],
    ["floor", maths.floor, Math.floor, uniform([33], rng, -5, 5)],
    ["ceil", maths.ceil, Math.ceil, uniform([33], rng, -5, 5)],
    ["round", maths.round, Math.round, uniform([33], rng, -5, 5)],
    ["trunc", maths.trunc, Math.trunc, uniform([1], rng, -5, 5)],
  ];
  await checkAll(
    t,
    device,
    cases.map(([name, fn, exact, x]): OpCase => ({
      name: `${name} [${x.shape}]`,
      inputs: [x],
      run: ([t]) => fn(t as Tensor<number[], "f32">),
      ref: ([t]) => ref.map(t, exact),
      forwardTol: 2e-6,
      eps: 1e-4,
    })),
    rng,
  );
  await checkAll(t, device, [{
    name: "sin of a transposed view [33, 7]ᵀ",
    inputs: [normal([33, 7], rng)],
    run: ([x]) => x.transpose(0, 1).sin(),
    ref: ([x]) => ref.map(ref.transpose(x, 0, 1), Math.sin),
  }], rng);
});

Deno.test("inverse trigonometric and hyperbolic functions stay within a few ulp over a wide range", async () => {
  await defaultDevice();
  const n = 4001;
  const probes: [string, Fn, (v: number) => number, number, number][] = [
    ["atan", maths.atan, Math.atan, -50, 50],
    ["asin", maths.asin, Math.asin, -1, 1],
    ["acos", maths.acos, Math.acos, -1, 1],
    ["sinh", maths.sinh, Math.sinh, -10, 10],
    ["cosh", maths.cosh, Math.cosh, -10, 10],
    ["sinh near 0", maths.sinh, Math.sinh, -1e-3, 1e-3],
  ];
  for (const [name, fn, exact, lo, hi] of probes) {
    const x = Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
    const got = await fn(fromTypedArray(x, [n])).data();
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const want = exact(x[i]);
      // In units of the f32 spacing at the exact value.
      const ulp = Math.max(
        2 ** -149,
        2 ** (Math.floor(Math.log2(Math.abs(want) || 2 ** -126)) - 23),
      );
      worst = Math.max(worst, Math.abs(got[i] - want) / ulp);
    }
    assert.ok(worst <= 8, `${name}: ${worst.toFixed(1)} ulp at worst over [${lo}, ${hi}]`);
  }
});

Deno.test("sinh and cosh keep their f32 values where exp(|x|) overflows, and ±∞ at ±∞", async () => {
  await defaultDevice();
  // sinh(89) = cosh(89) = 2.2448e38 fits f32 though e^89 does not; beyond 89.42 both overflow.
  // The tolerance is Vulkan's for exp, 3 + 2·|x| ulp: about 2e-5 here.
  const x = [88, 89, -89, 89.4, 90, -90, 1e10, Infinity, -Infinity, NaN];
  const input = tensor(x, { requiresGrad: true });
  for (
    const [name, exact, got] of [
      ["sinh", Math.sinh, await input.sinh().data()],
      ["cosh", Math.cosh, await input.cosh().data()],
    ] as const
  ) {
    x.forEach((v, i) => {
      const want = Math.fround(exact(v));
      const close = Number.isNaN(want) ? Number.isNaN(got[i]) : got[i] === want ||
        Math.abs(got[i] - want) <= 2e-5 * Math.abs(want);
      assert.ok(close, `${name}(${v}) = ${got[i]}, expected ${want}`);
    });
  }
  // The gradients are each other: cosh and sinh, again without a NaN from inf − inf.
  await input.sinh().sum().backward();
  const grad = await input.grad!.data();
  assert.deepEqual([...grad.slice(4, 8)], [Infinity, Infinity, Infinity, Infinity]);
  assert.ok(Math.abs(grad[1] - Math.fround(Math.cosh(89))) <= 2e-5 * Math.cosh(89), `${grad[1]}`);
});

Deno.test("maths conventions: rounding halves to even, sign of NaN and ±0, zero gradients, NaN outside a domain", async () => {
  await defaultDevice();
  const x = tensor([0.5, 1.5, 2.5, -0.5, -2.5], { requiresGrad: true });
  assert.deepEqual(await x.round().toArray(), [0, 2, 2, -0, -2]);
  const y = x.floor().add(x.sign()).add(x.ceil()).add(x.trunc()).sum();
  await y.backward();
  assert.deepEqual(await x.grad!.toArray(), [0, 0, 0, 0, 0]);
  assert.deepEqual(await tensor([NaN, 0, -0, -2]).sign().toArray(), [0, 0, 0, -1]);
  // The odd functions keep the sign of zero, as PyTorch's (strict deepEqual tells −0 from 0).
  const zeros = tensor([-0, 0, -0, 0, -0]);
  for (const f of ["asin", "atan", "sinh", "tanh", "sin", "tan", "expm1"] as const) {
    assert.deepEqual(await zeros[f]().toArray(), [-0, 0, -0, 0, -0], f);
  }
  const outside = await tensor([1.5, -2]).asin().toArray();
  assert.ok((outside as number[]).every(Number.isNaN), `asin outside [−1, 1]: ${outside}`);
  assert.deepEqual(await tensor([0, -1]).rsqrt().toArray(), [Infinity, NaN]);
  assert.throws(() => tensor([1], { dtype: "i32" }).sin(), /sin: expected an f32 tensor, got i32/);
});
