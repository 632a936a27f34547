/**
 * Folding ReLU masks into the backward of the op that consumes a ReLU's output (autograd,
 * `_autograd.ts`): gradients equal to the unfused walk's on small graphs, the scaled AlexNet
 * (with dropout) and the paper net's shapes; no folding where the ReLU's output has another
 * use; and a training step of the scaled AlexNet that runs fewer dispatches than unfused.
 */

import assert from "node:assert/strict";
import {
  conv2d,
  crossEntropy,
  Device,
  dropout,
  fromTypedArray,
  Generator,
  linear,
  lrn,
  matmul,
  maxPool2d,
  type Tensor,
  tidy,
} from "../mod.ts";
import { AlexNet, alexnetSmall, type Module } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { setReluMaskFolding } from "../tensor/_autograd.ts";
import { relativeError } from "./_gradcheck.ts";

const device = await Device.acquire();
const data = new Generator(3);
const train = { training: true, generator: new Generator(11) };

/** Runs `body` with the folding of ReLU masks on or off. */
async function folding<R>(on: boolean, body: () => Promise<R>): Promise<R> {
  const previous = setReluMaskFolding(on);
  try {
    return await body();
  } finally {
    setReluMaskFolding(previous);
  }
}

/** A leaf of `shape` with standard normal values that requires a gradient. */
function leaf(shape: number[], std = 1): Tensor {
  const t = data.normal(shape, 0, std, device);
  t.requiresGrad = true;
  return t;
}

/** Back-propagates `f(leaves)`'s sum with and without folding; returns both sets of gradients. */
async function bothWays(
  leaves: Tensor[],
  f: () => Tensor,
): Promise<{ fused: Float32Array[]; plain: Float32Array[]; dispatches: [number, number] }> {
  // Both runs draw the same dropout masks.
  const state = train.generator.state();
  const run = (on: boolean) =>
    folding(on, async () => {
      train.generator.setState(state);
      for (const t of leaves) t.grad = null;
      device.startProfile();
      const loss = tidy(() => f().sum());
      await loss.backward();
      const { rows } = await device.stopProfile();
      loss.dispose();
      // A leaf the graph does not reach has no gradient: its zeros stand in.
      const grads = await Promise.all(
        leaves.map((t) => t.grad ? t.grad.data() as Promise<Float32Array> : new Float32Array()),
      );
      return { grads, dispatches: rows.length };
    });
  const fused = await run(true), plain = await run(false);
  return {
    fused: fused.grads,
    plain: plain.grads,
    dispatches: [fused.dispatches, plain.dispatches],
  };
}

function assertSame(fused: Float32Array[], plain: Float32Array[], label: string): void {
  fused.forEach((g, i) => {
    const e = relativeError(g, plain[i]);
    assert.ok(e <= 1e-6, `${label}: gradient ${i} differs by ${e}`);
  });
}

/** Each logical parameter's gradient on the host. */
async function gradients(model: Module): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const slot of model.stateSlots()) {
    const parts = await Promise.all(
      slot.shards.map((s) => s.grad!.data() as Promise<Float32Array>),
    );
    out.set(slot.name, Float32Array.from(parts.flatMap((p) => [...p])));
  }
  return out;
}

/**
 * One SGD training step of `model` on `x` with the dropout stream at `state`; returns the
 * gradients and the number of dispatches the step ran.
 */
async function trainStep(
  model: AlexNet,
  x: ReturnType<Generator["normal"]>,
  labels: Tensor,
  state: ReturnType<Generator["state"]> | undefined,
): Promise<{ grads: Map<string, Float32Array>; dispatches: number; masked: number }> {
  if (state) model.dropoutGenerator!.setState(state);
  const opt = new SGD({ params: model.parameters(), lr: 0, momentum: 0.9 });
  device.startProfile();
  const loss = await tidy(async () => crossEntropy(await model.forward(x.withRank(4)), labels));
  await loss.backward();
  opt.step();
  const { rows } = await device.stopProfile();
  loss.dispose();
  const grads = await gradients(model);
  opt.zeroGrad();
  const masked = rows.filter((r) => r.variant.includes("relu-mask")).length;
  return { grads, dispatches: rows.length, masked };
}

/**
 * A training step of `model` on a random batch of `shape`, folding and not (the same dropout
 * masks): asserts equal gradients and returns the dispatches of each; disposes the model.
 */
async function compareSteps(
  model: AlexNet,
  shape: number[],
): Promise<{ before: number; after: number }> {
  model.train();
  const x = data.normal(shape, 0, 1, device);
  const labels = fromTypedArray(Int32Array.from({ length: shape[0] }, (_, i) => (7 * i) % 10), [
    shape[0],
  ], { device });
  const state = model.dropoutGenerator?.state();
  const fused = await folding(true, () => trainStep(model, x, labels, state));
  const plain = await folding(false, () => trainStep(model, x, labels, state));
  for (const [name, g] of plain.grads) {
    const e = relativeError(fused.grads.get(name)!, g);
    assert.ok(e <= 1e-6, `${name}: gradients differ by ${e}`);
  }
  for (const t of [x, labels, model]) t.dispose();
  // Each fold shows in the profile as one kernel's relu-mask variant.
  assert.equal(plain.masked, 0);
  assert.equal(fused.masked, plain.dispatches - fused.dispatches, "relu-mask variants");
  return { before: plain.dispatches, after: fused.dispatches };
}

Deno.test("ReLU-mask folding", async (t) => {
  assert.ok(device.hasTimestamps, "these tests count dispatches with the profiler");

  await t.step("each consumer folds, and the ReLU's pass disappears", async () => {
    const x = leaf([2, 6, 9, 9]), w = leaf([6, 6, 3, 3], 0.3);
    const v = leaf([5, 6 * 3 * 3], 0.2), u = leaf([3, 5], 0.5), h0 = leaf([4, 6 * 3 * 3]);
    const b2 = leaf([54, 5]), b3 = leaf([3, 54, 5]);
    const cases: [string, () => Tensor, number][] = [
      ["relu → LRN", () => lrn(x.relu(), { groupSize: 3, alpha: 0.1 }), 1],
      ["relu → max pool", () => maxPool2d(x.relu(), { kernel: 3, stride: 2 }), 1],
      [
        "conv relu → conv",
        () => conv2d(conv2d(x, w, null, { relu: true, padding: 1 }), w, null),
        1,
      ],
      [
        "conv relu → pool → linear relu → linear",
        () => {
          const h = maxPool2d(conv2d(x, w, null, { relu: true }), { kernel: 2 }).reshape([2, -1]);
          return linear(linear(h, v, null, { relu: true }), u, null);
        },
        2,
      ],
      ["relu → dropout → linear", () => linear(dropout(h0.relu(), 0.5, train), v, null), 1],
      ["relu → both operands of matmul", () => matmul(h0.relu(), b2.relu()), 2],
      // The broadcast operand's gradient is summed over the batch before its mask.
      ["relu → batched matmul, one operand broadcast", () => {
        const a = h0.reshape([1, 4, 54]).relu(), b = b3.relu();
        return matmul(a, b);
      }, 1],
    ];
    for (const [label, f, saved] of cases) {
      const { fused, plain, dispatches } = await bothWays([x, w, v, u, h0, b2, b3], f);
      assertSame(fused, plain, label);
      assert.equal(dispatches[1] - dispatches[0], saved, `${label}: dispatches ${dispatches}`);
    }
  });

  await t.step("no folding where the ReLU's output has another use", async () => {
    const x = leaf([1, 4, 7, 7]), w = leaf([4, 4, 3, 3], 0.3);
    const h = leaf([3, 10]), v = leaf([4, 10], 0.3);
    const cases: [string, () => Tensor][] = [
      ["relu → LRN and → max pool", () => {
        const y = x.relu();
        return lrn(y, { groupSize: 4, alpha: 0.1 }).add(maxPool2d(y, { kernel: 1 }));
      }],
      ["conv relu → conv and → sum", () => {
        const y = conv2d(x, w, null, { relu: true, padding: 1 });
        return conv2d(y, w, null, { padding: 1 }).add(y.mul(0.5));
      }],
      ["relu → conv twice", () => {
        const y = x.relu();
        return conv2d(y, w, null).add(conv2d(y, w, null));
      }],
      // Dropout passes a ReLU's mask on, but only a ReLU's, and only from a sole use.
      ["dropout without a ReLU → linear", () => linear(dropout(h, 0.5, train), v, null)],
      ["relu → dropout → linear and → sum", () => {
        const y = h.relu();
        return linear(dropout(y, 0.5, train), v, null).sum().add(y.sum());
      }],
    ];
    for (const [label, f] of cases) {
      const { fused, plain, dispatches } = await bothWays([x, w, h, v], f);
      assertSame(fused, plain, label);
      assert.equal(dispatches[0], dispatches[1], `${label}: nothing may fold`);
    }
  });

  await t.step("scaled AlexNet with dropout: same gradients, seven fewer dispatches", async () => {
    // conv1 and conv2 into LRN, conv3 and conv4 into the next conv, conv5 into pool5, and fc6
    // and fc7 through dropout into the next product.
    const saved = await compareSteps(alexnetSmall({ seed: 4 }, device), [3, 3, 32, 32]);
    assert.equal(saved.before - saved.after, 7, `${saved.before} → ${saved.after}`);
    console.log(`scaled AlexNet step: ${saved.before} → ${saved.after} dispatches`);
  });

  await t.step("the paper net's shapes (227×227, 1/16 of the channels), no dropout", async () => {
    // The five conv layers as above, and fc6 → fc7 → fc8 through the products' epilogues.
    const model = new AlexNet({ width: 1 / 16, dropout: 0, seed: 5 }, device);
    const saved = await compareSteps(model, [1, 3, 227, 227]);
    assert.equal(saved.before - saved.after, 7, `${saved.before} → ${saved.after}`);
  });
});
