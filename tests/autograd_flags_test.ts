/**
 * The requiresGrad flag as PyTorch's requires_grad: a leaf's may change, a computed tensor's
 * may not (it used to detach silently), and only f32 tensors may require a gradient.
 */

import assert from "node:assert/strict";
import { defaultDevice, isGradEnabled, noGrad, type Tensor, tensor, tidy } from "../mod.ts";
import { Module } from "../nn/module.ts";
import { SGD } from "../train/sgd.ts";

Deno.test("requiresGrad changes on leaves only, as in PyTorch", async () => {
  await defaultDevice();
  await tidy(async () => {
    const w = tensor([1, 2, 3]);
    assert.equal(w.isLeaf, true);
    w.requiresGrad = true;
    const y = w.mul(2);
    assert.equal(y.isLeaf, false);
    // PyTorch: "you can only change requires_grad flags of leaf variables".
    assert.throws(
      () => (y.requiresGrad = false),
      /only a leaf's flag can change.*\(mulScalar\).*detach\(\)/,
    );
    assert.throws(() => (y.requiresGrad = true), /only a leaf's flag can change/);
    assert.equal(y.requiresGrad, true);
    // The graph stays: the gradient still reaches w.
    await y.sum().backward();
    assert.deepEqual(await w.grad!.toArray(), [2, 2, 2]);
    // After backward the tensor is still not a leaf (PyTorch keeps grad_fn).
    assert.throws(() => (y.requiresGrad = false), /only a leaf's flag can change/);
    const cut = y.detach();
    assert.equal(cut.isLeaf, true);
    assert.equal(cut.requiresGrad, false);
    cut.requiresGrad = true;
    // A result made under noGrad, or from inputs needing no gradient, is a leaf.
    const made = noGrad(() => w.mul(3));
    assert.equal(made.isLeaf, true);
    made.requiresGrad = true;
    made.requiresGrad = false;
    w.zeroGrad();
    w.requiresGrad = false; // a leaf can be frozen
    assert.equal(w.mul(2).requiresGrad, false);
  });
});

Deno.test("requiresGrad: only f32 tensors can require gradients", async () => {
  await defaultDevice();
  tidy(() => {
    const labels = tensor([1, 2], { dtype: "i32" });
    assert.throws(
      () => (labels.requiresGrad = true),
      /only f32 tensors can require gradients, got i32/,
    );
    labels.requiresGrad = false;
  });
});

Deno.test("a parameter registered from a computed tensor is a leaf of its data, as nn.Parameter", async () => {
  await defaultDevice();
  const base = tensor([1, 2], { requiresGrad: true });
  class Scaled extends Module {
    weight: Tensor;
    constructor() {
      super();
      // A computed tensor: before, it stayed a graph node and the optimiser could not update it.
      this.weight = this.registerParameter("weight", base.mul(0.5));
    }
    forward(x: Tensor): Tensor {
      return x.mul(this.weight);
    }
  }
  const m = new Scaled();
  assert.equal(m.weight.isLeaf, true);
  assert.equal(m.parameters()[0], m.weight);
  const optimizer = new SGD({ params: m.parameters(), lr: 1, momentum: 0, weightDecay: 0 });
  await tidy(async () => {
    await m.forward(tensor([1, 1])).sum().backward();
  });
  optimizer.step();
  assert.deepEqual(await m.weight.toArray(), [-0.5, 0]);
  assert.equal(base.grad, null); // the registered data is cut from base's graph
  m.dispose();
  base.dispose();
});

Deno.test("noGrad scopes that overlap (async, ending in any order) disable only their own code", async () => {
  await defaultDevice();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const first = noGrad(async () => await sleep(5));
  const second = noGrad(async () => {
    await sleep(20);
    return isGradEnabled();
  });
  await first;
  // Out here recording is on though the second scope is still open: a scope disables its own
  // continuations only (a global count turned it off for every task while one awaited).
  assert.equal(isGradEnabled(), true);
  const w = tensor([1, 2], { requiresGrad: true });
  assert.equal(w.mul(3).requiresGrad, true, "recorded while another task's noGrad awaits");
  assert.equal(await second, false, "inside the scope, after its await, nothing records");
  // A saved-and-restored flag once let the second scope restore the first's (false): recording
  // stayed off for good, and every later backward failed.
  assert.equal(isGradEnabled(), true);
  // A backward overlapping a noGrad scope: both end, recording is on.
  const loss = w.mul(w).sum();
  await Promise.all([loss.backward(), noGrad(async () => await sleep(1))]);
  assert.equal(isGradEnabled(), true);
  assert.equal(w.mul(2).requiresGrad, true);
  assert.throws(() =>
    noGrad(() => {
      throw new Error("inside");
    }), /inside/);
  assert.equal(isGradEnabled(), true);
  w.dispose();
});
