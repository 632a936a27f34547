/**
 * The harness of the layer tests: a module's forward against a float64 reference, and the
 * gradients `backward()` leaves in the input and every parameter against central differences
 * of that reference, for the loss `Σ y ⊙ u` with a random `u`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fromTypedArray, type Shape, type Tensor } from "../mod.ts";
import type { Module } from "../nn/module.ts";
import * as ref from "./_reference.ts";
import { assertClose, numericGrad } from "./_gradcheck.ts";

/** Random f64 tensor rounded to f32, so the reference sees exactly what the GPU sees. */
export function randF32(shape: number[], seed: number, std = 1): ref.F64 {
  const x = ref.randn(shape, ref.mulberry32(seed), std);
  return { shape, data: Float64Array.from(x.data, Math.fround) };
}

export function upload(x: ref.F64, requiresGrad = false): Tensor<Shape, "f32"> {
  return fromTypedArray<"f32">(Float32Array.from(x.data), x.shape, { requiresGrad });
}

export async function download(t: Tensor): Promise<ref.F64> {
  return { shape: [...t.shape], data: Float64Array.from(await t.data()) };
}

export interface Case {
  label: string;
  layer: Module;
  input: ref.F64;
  /** The reference forward, given the input then the parameters in namedParameters order. */
  reference: (x: ref.F64, params: ref.F64[]) => ref.F64;
  rtol?: number;
}

/** Forward within rtol, and every gradient within rtol of finite differences. */
export async function check(c: Case): Promise<void> {
  const rtol = c.rtol ?? 1e-4;
  const params = await Promise.all(c.layer.parameters().map(download));
  const x = upload(c.input, true);
  const y = await c.layer.forward(x);
  const expected = c.reference(c.input, params);
  assert.deepEqual([...y.shape], expected.shape, `${c.label}: output shape`);
  assertClose(await y.data(), expected.data, { rtol, atol: 1e-5, label: `${c.label} forward` });

  const u = randF32(expected.shape, 99);
  const loss = y.mul(upload(u)).sum();
  await loss.backward();
  const f = (inputs: ref.F64[]): ref.F64 => c.reference(inputs[0], inputs.slice(1));
  const all = [c.input, ...params];
  const tensors = [x, ...c.layer.parameters()];
  const names = ["input", ...c.layer.namedParameters().map(([n]) => n)];
  for (let i = 0; i < all.length; i++) {
    const grad = tensors[i].grad;
    assert.ok(grad, `${c.label}: ${names[i]} has no gradient`);
    const numeric = numericGrad(f, all, i, u, 1e-4);
    assertClose(await grad.data(), numeric.data, {
      rtol: 1e-3,
      atol: 1e-4,
      label: `${c.label}: d/d${names[i]}`,
    });
  }
  c.layer.zeroGrad();
  assert.equal(c.layer.parameters().every((p) => p.grad === null), true);
}
