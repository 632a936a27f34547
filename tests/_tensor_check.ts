/**
 * The harness of the tensor-op tests: runs an op on the GPU through the public `Tensor` API and
 * checks (a) its forward against the float64 reference and (b) the gradients that
 * `loss.backward()` leaves in each input's `.grad` against central differences of the
 * reference, for the loss `Σ op(inputs) ⊙ upstream` with a random upstream tensor. It also
 * checks that a case gives back every byte it allocated once its tensors are disposed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Device, fromTypedArray, type Tensor, tidy } from "../mod.ts";
import { numericGrad, relativeError } from "./_gradcheck.ts";
import { type F64, f64, randn } from "./_reference.ts";

/** One op under test. */
export interface OpCase {
  /** Names the case in failures. */
  name: string;
  /** Input values (rounded to f32 by {@link check} before either side sees them). */
  inputs: F64[];
  /** The op on the GPU; tensors it creates besides the result are disposed afterwards. */
  run: (xs: Tensor[]) => Tensor | Tensor[];
  /** The op in float64. */
  ref: (xs: F64[]) => F64 | F64[];
  /** Inputs whose gradient is checked (default: all). */
  wrt?: number[];
  /** Largest accepted forward relative error (default 1e-5). */
  forwardTol?: number;
  /** Largest accepted gradient relative error (default 1e-4). */
  gradTol?: number;
  /** Step of the central differences (default 1e-6). */
  eps?: number;
}

/** `x` with every value rounded to the nearest f32, so both sides compute from equal inputs. */
export function asF32(x: F64): F64 {
  return f64(x.shape, Float32Array.from(x.data));
}

/** A standard-normal tensor of f32-representable values. */
export function normal(shape: readonly number[], rng: () => number, std = 1): F64 {
  return asF32(randn(shape, rng, std));
}

/** Uniform values in `[lo, hi)`, f32-representable. */
export function uniform(shape: readonly number[], rng: () => number, lo: number, hi: number): F64 {
  const n = shape.reduce((p, d) => p * d, 1);
  return f64(shape, Float32Array.from({ length: n }, () => lo + (hi - lo) * rng()));
}

/** Normal values pushed at least `gap` away from zero (for 1/x, x^-2, …). */
export function awayFromZero(shape: readonly number[], rng: () => number, gap = 0.3): F64 {
  const x = randn(shape, rng);
  return asF32({
    shape: x.shape,
    data: x.data.map((v) => Math.sign(v || 1) * (gap + Math.abs(v))),
  });
}

function list<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

/** Concatenates the data of several references into one, for a multi-output loss. */
function flat(xs: F64[]): F64 {
  const n = xs.reduce((p, x) => p + x.data.length, 0);
  const data = new Float64Array(n);
  let at = 0;
  for (const x of xs) {
    data.set(x.data, at);
    at += x.data.length;
  }
  return { shape: [n], data };
}

/** Runs one case: forward, backward, leak check. */
export async function check(device: Device, c: OpCase, rng: () => number): Promise<void> {
  const inputs = c.inputs.map(asF32);
  const wrt = c.wrt ?? inputs.map((_, i) => i);
  const before = device.memory().liveBytes;
  const xs = inputs.map((x, i) =>
    fromTypedArray(Float32Array.from(x.data), x.shape, { requiresGrad: wrt.includes(i) })
  );
  const outs = list(tidy(() => c.run(xs)));
  const expected = list(c.ref(inputs));
  assert.equal(outs.length, expected.length, `${c.name}: number of outputs`);
  for (const [i, out] of outs.entries()) {
    const label = `${c.name}: output ${i}`;
    assert.deepEqual([...out.shape], expected[i].shape, `${label}: shape`);
    const got = await out.data();
    const error = relativeError(got, expected[i].data);
    assert.ok(
      error <= (c.forwardTol ?? 1e-5),
      `${label}: forward relative error ${error} (got ${got.slice(0, 6)}…, ` +
        `expected ${expected[i].data.slice(0, 6)}…)`,
    );
  }

  const upstream = expected.map((e) => normal(e.shape, rng));
  const ups = upstream.map((u) => fromTypedArray(Float32Array.from(u.data), u.shape));
  const loss = tidy(() =>
    outs.map((o, i) => o.mul(ups[i]).sum()).reduce((total, term) => total.add(term))
  );
  assert.deepEqual([...loss.shape], [], `${c.name}: the loss is a scalar`);
  await loss.backward();
  const reference = (args: F64[]) => flat(list(c.ref(args)));
  for (const i of wrt) {
    const grad = xs[i].grad;
    assert.ok(grad, `${c.name}: input ${i} has no gradient after backward()`);
    assert.deepEqual([...grad.shape], inputs[i].shape, `${c.name}: gradient ${i} shape`);
    const got = await grad.data();
    const want = numericGrad(reference, inputs, i, flat(upstream), c.eps ?? 1e-6);
    const error = relativeError(got, want.data);
    assert.ok(
      error <= (c.gradTol ?? 1e-4),
      `${c.name}: gradient of input ${i}: relative error ${error} (got ${got.slice(0, 6)}…, ` +
        `expected ${want.data.slice(0, 6)}…)`,
    );
  }
  for (const t of [loss, ...ups, ...outs]) t.dispose();
  for (const x of xs) {
    x.zeroGrad();
    x.dispose();
  }
  assert.equal(
    device.memory().liveBytes,
    before,
    `${c.name}: ${device.memory().liveBytes - before} bytes still live after disposing`,
  );
}

/** Runs a case's forward and backward once and frees everything, so caches are filled. */
export async function warmUp(c: OpCase): Promise<void> {
  const xs = c.inputs.map((x) =>
    fromTypedArray(Float32Array.from(x.data), x.shape, { requiresGrad: true })
  );
  const outs = [tidy(() => c.run(xs))].flat();
  const loss = tidy(() => outs.map((o) => o.sum()).reduce((a, b) => a.add(b)));
  await loss.backward();
  for (const t of [loss, ...outs, ...xs]) t.dispose();
}

/**
 * Runs each case as its own step; with `warm`, after a {@link warmUp}, for ops whose first run
 * fills a cache (a strided convolution's tables) that the leak check would count.
 */
export async function checkAll(
  t: Deno.TestContext,
  device: Device,
  cases: OpCase[],
  rng: () => number,
  warm = false,
): Promise<void> {
  for (const c of cases) {
    await t.step(c.name, async () => {
      if (warm) await warmUp(c);
      await check(device, c, rng);
    });
  }
}
