/**
 * The activation layers: each equals its functional op (options included), keeps its input's
 * shape in `Sequential.outputShape` and `summary`, has no parameters, and trains inside a
 * Sequential; Identity never frees what it was given; Softmax/LogSoftmax along `dim`.
 */

import assert from "node:assert/strict";
import {
  celu,
  defaultDevice,
  elu,
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
  randn,
  relu6,
  selu,
  silu,
  softplus,
  softshrink,
  softsign,
  tanhshrink,
  type Tensor,
  tensor,
  threshold,
} from "../mod.ts";
import {
  ACTIVATIONS,
  alexnetSmall,
  CELU,
  Conv2d,
  ELU,
  GELU,
  GLU,
  Hardshrink,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  Identity,
  LeakyReLU,
  Linear,
  LogSigmoid,
  LogSoftmax,
  Mish,
  PReLU,
  ReLU6,
  SELU,
  Sequential,
  Sigmoid,
  SiLU,
  Softmax,
  Softmax2d,
  Softmin,
  Softplus,
  Softshrink,
  Softsign,
  summary,
  Tanhshrink,
  Threshold,
} from "../nn/mod.ts";
import { APPLY_ACTIVATION, type ShapePreserving } from "../nn/activation.ts";

type F = Tensor<number[], "f32">;

const LAYERS: [ShapePreserving, (x: F) => Tensor][] = [
  [new LeakyReLU(), (x) => leakyRelu(x)],
  [new LeakyReLU({ negativeSlope: 0.3 }), (x) => leakyRelu(x, 0.3)],
  [new ELU({ alpha: 0.5 }), (x) => elu(x, 0.5)],
  [new GELU(), (x) => gelu(x)],
  [new GELU({ approximate: "tanh" }), (x) => gelu(x, "tanh")],
  [new SiLU(), (x) => silu(x)],
  [new Mish(), (x) => mish(x)],
  [new Softplus({ beta: 2, threshold: 5 }), (x) => softplus(x, 2, 5)],
  [new Hardtanh({ minVal: -0.5, maxVal: 2 }), (x) => hardtanh(x, -0.5, 2)],
  [new ReLU6(), (x) => relu6(x)],
  [new Hardsigmoid(), (x) => hardsigmoid(x)],
  [new Hardswish(), (x) => hardswish(x)],
  [new Sigmoid(), (x) => x.sigmoid()],
  [new Identity(), (x) => x.add(0)],
  [new Softmax({ dim: 1 }), (x) => x.softmax(1)],
  [new Softmax(0), (x) => x.softmax(0)],
  [new LogSoftmax({ dim: 0 }), (x) => x.logSoftmax(0)],
  [new LogSoftmax(), (x) => x.logSoftmax(-1)],
  [new Softmin(1), (x) => x.neg().softmax(1)],
  [new SELU(), (x) => selu(x)],
  [new CELU({ alpha: 0.5 }), (x) => celu(x, 0.5)],
  [new LogSigmoid(), (x) => logSigmoid(x)],
  [new Softsign(), (x) => softsign(x)],
  [new Tanhshrink(), (x) => tanhshrink(x)],
  [new Hardshrink({ lambd: 1 }), (x) => hardshrink(x, 1)],
  [new Softshrink(), (x) => softshrink(x)],
  [new Threshold({ threshold: 0.5, value: -1 }), (x) => threshold(x, 0.5, -1)],
];

Deno.test("activation layers: each is its functional op, with its options", async () => {
  await defaultDevice();
  const x = randn([3, 5]).mul(4) as F;
  for (const [layer, op] of LAYERS) {
    const [got, want] = [layer.forward(x), op(x)];
    assert.deepEqual(
      Array.from(await got.data()),
      Array.from(await want.data()),
      layer.constructor.name,
    );
    assert.deepEqual(layer.outputShape([3, 5]), [3, 5]);
    assert.equal(layer.parameterCount(), 0);
    got.dispose();
    want.dispose();
  }
  x.dispose();
});

Deno.test("activation layers: in a Sequential, with summary, outputShape and training", async () => {
  await defaultDevice();
  const net = new Sequential(
    new Linear({ inFeatures: 4, outFeatures: 6 }),
    new GELU(),
    new Identity(),
    new Linear({ inFeatures: 6, outFeatures: 3 }),
    new LogSoftmax({ dim: 1 }),
  );
  assert.deepEqual(net.outputShape([2, 4]), [2, 3]);
  const table = summary(net, [2, 4]);
  assert.match(table, /GELU|1 +\[2, 6\]/);
  assert.match(table, /Total parameters: 51/);
  const x = randn([2, 4]);
  const y = net.forward(x);
  const loss = y.sum().neg();
  await loss.backward();
  for (const [name, p] of net.namedParameters()) {
    assert.ok(p.grad, `${name} has a gradient`);
    assert.ok((await p.grad.data()).every(Number.isFinite), `${name}'s gradient is finite`);
  }
  // The log-probabilities of each row sum (as probabilities) to 1.
  const rows = await y.exp().sum(1).data();
  rows.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5));
  // Sequential frees what one layer hands the next: Identity's output must not be its input.
  assert.ok(!x.disposed, "the caller's input survives");
  const alone = new Sequential(new Identity());
  const out = alone.forward(x);
  assert.notEqual(out, x);
  assert.deepEqual(Array.from(await out.data()), Array.from(await x.data()));
});

Deno.test("activation layers: bad options are one-line errors", async () => {
  await defaultDevice();
  assert.throws(
    () => new Hardtanh({ minVal: 1, maxVal: 0 }),
    /Hardtanh: maxVal \(0\) must be greater than minVal \(1\)/,
  );
  // PyTorch's nn.Hardtanh asserts max_val > min_val: an empty range is refused too.
  assert.throws(
    () => new Hardtanh({ minVal: 0.5, maxVal: 0.5 }),
    /Hardtanh: maxVal \(0.5\) must be greater than minVal \(0.5\)/,
  );
  // F.hardtanh takes it: every value clamps to the one bound, with a zero gradient.
  const x = tensor([-1, 0.5, 2], { requiresGrad: true });
  const y = hardtanh(x, 0.5, 0.5);
  assert.deepEqual(Array.from(await y.data()), [0.5, 0.5, 0.5]);
  await y.sum().backward();
  assert.deepEqual(Array.from(await x.grad!.data()), [0, 0, 0]);
  assert.throws(
    () => new GELU({ approximate: "erf" as "tanh" }).forward(tensor([1])),
    /gelu: approximate must be "none" or "tanh", got "erf"/,
  );
});

Deno.test("the layers' activation option takes every ACTIVATIONS entry", async () => {
  await defaultDevice();
  const x = randn([2, 3, 6, 6]);
  for (const activation of ACTIVATIONS) {
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, activation });
    const plain = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3 });
    await plain.loadStateDict(await conv.stateDict());
    const fused = conv.forward(x);
    const pre = plain.forward(x);
    const expected = activation === "relu" ? pre.relu() : APPLY_ACTIVATION[activation](pre);
    const [a, b] = [await fused.data(), await expected.data()];
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-5, `${activation}: ${v} vs ${b[i]}`));
    const linear = new Linear({ inFeatures: 3, outFeatures: 2, activation });
    assert.deepEqual(linear.forward(randn([5, 3])).shape, [5, 2]);
  }
  // AlexNet's switch takes them too; the summary names it.
  const net = alexnetSmall({ activation: "gelu", seed: 0 }).eval();
  const logits = await net.forward(randn([1, 3, 32, 32]).withRank(4));
  assert.ok((await logits.data()).every(Number.isFinite));
  assert.throws(
    () => new Linear({ inFeatures: 1, outFeatures: 1, activation: "swish" as "relu" }),
    /Linear: activation must be one of relu, tanh, sigmoid, gelu, silu, elu, leakyRelu, got 'swish'/,
  );
});

Deno.test("PReLU learns its slopes; GLU halves its axis", async () => {
  await defaultDevice();
  const layer = new PReLU({ numParameters: 3, init: 0.1 });
  assert.deepEqual(layer.namedParameters().map(([name, p]) => [name, p.shape]), [["weight", [3]]]);
  const x = randn([2, 3, 4]) as Tensor<number[], "f32">;
  const y = layer.forward(x);
  assert.deepEqual(
    Array.from(await y.data()),
    Array.from(await prelu(x, layer.weight as Tensor<number[], "f32">).data()),
  );
  await y.sum().backward();
  assert.ok(layer.weight.grad, "the slopes get a gradient");
  assert.deepEqual(layer.outputShape([2, 3, 4]), [2, 3, 4]);
  assert.throws(
    () => new PReLU({ numParameters: 0 }),
    /PReLU: numParameters must be a positive integer/,
  );
  const gate = new GLU(1);
  assert.deepEqual(gate.outputShape([2, 6, 5]), [2, 3, 5]);
  assert.deepEqual(gate.forward(randn([2, 6, 5])).shape, [2, 3, 5]);
  const net = new Sequential(new Linear({ inFeatures: 4, outFeatures: 8 }), new GLU(), new PReLU());
  assert.deepEqual(net.outputShape([5, 4]), [5, 4]);
  assert.match(summary(net, [5, 4]), /Total parameters: 41/);
  assert.deepEqual(
    Array.from(await glu(tensor([[1, 2, 0, 100]]) as Tensor<number[], "f32">).data()).map((v) =>
      Math.round(v * 1e4) / 1e4
    ),
    [0.5, 2],
  );
});

Deno.test("Softmax2d: over the channels of each pixel", async () => {
  await defaultDevice();
  const x = randn([2, 3, 2, 2]) as Tensor<number[], "f32">;
  const [a, b] = [await new Softmax2d().forward(x).data(), await x.softmax(1).data()];
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.throws(
    () => new Softmax2d().forward(randn([3, 4]) as Tensor<number[], "f32">),
    /Softmax2d: expected \[C, H, W\] or \[N, C, H, W\] input, got \[3,4\]/,
  );
});
