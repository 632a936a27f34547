/**
 * ResNets as torchvision's: state-dict keys, shapes and order (buffers too) as torchvision's
 * `resnet.py` builds them, its parameter counts, module names and initialisation; forward passes
 * of small nets against a float64 reference in training mode (with the running statistics'
 * update) and evaluation mode; gradients of a block by finite differences; a checkpoint that
 * round-trips bit for bit; and a small ResNet that learns under the Trainer and resumes exactly.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  Device,
  fromTypedArray,
  Generator,
  noGrad,
  type Tensor,
  tidy,
} from "../mod.ts";
import {
  BasicBlock,
  Bottleneck,
  loadCheckpoint,
  type Module,
  ResNet,
  resnet101,
  resnet152,
  resnet18,
  resnet34,
  resnet50,
  type ResNetConfig,
  resnetStateShapes,
  resnext101_32x8d,
  resnext101_64x4d,
  resnext50_32x4d,
  saveCheckpoint,
  summary,
  wide_resnet101_2,
  wide_resnet50_2,
} from "../nn/mod.ts";
import {
  entryFromTypedArray,
  readSafetensorsFile,
  type TensorEntry,
  writeSafetensorsFile,
} from "../nn/safetensors.ts";
import { train } from "../train/train.ts";
import { readMetrics } from "../train/run_log.ts";
import * as ref from "./_reference.ts";
import type { F64 } from "./_reference.ts";
import { assertClose, numericGrad } from "./_gradcheck.ts";
import { brightChannel } from "./_optim.ts";
import {
  blockReference,
  type HostState,
  referenceState,
  resnetReference,
  torchvisionResNet,
} from "./_zoo_reference.ts";

const device = await defaultDevice();

const FACTORIES: [string, typeof resnet18, ResNetConfig, number][] = [
  ["resnet18", resnet18, { block: "basic", layers: [2, 2, 2, 2] }, 11_689_512],
  ["resnet34", resnet34, { block: "basic", layers: [3, 4, 6, 3] }, 21_797_672],
  ["resnet50", resnet50, { block: "bottleneck", layers: [3, 4, 6, 3] }, 25_557_032],
  ["resnet101", resnet101, { block: "bottleneck", layers: [3, 4, 23, 3] }, 44_549_160],
  ["resnet152", resnet152, { block: "bottleneck", layers: [3, 8, 36, 3] }, 60_192_808],
  [
    "resnext50_32x4d",
    resnext50_32x4d,
    { block: "bottleneck", layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 },
    25_028_904,
  ],
  [
    "resnext101_32x8d",
    resnext101_32x8d,
    { block: "bottleneck", layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 },
    88_791_336,
  ],
  [
    "resnext101_64x4d",
    resnext101_64x4d,
    { block: "bottleneck", layers: [3, 4, 23, 3], groups: 64, widthPerGroup: 4 },
    83_455_272,
  ],
  [
    "wide_resnet50_2",
    wide_resnet50_2,
    { block: "bottleneck", layers: [3, 4, 6, 3], widthPerGroup: 128 },
    68_883_240,
  ],
  [
    "wide_resnet101_2",
    wide_resnet101_2,
    { block: "bottleneck", layers: [3, 4, 23, 3], widthPerGroup: 128 },
    126_886_696,
  ],
];

const params = (entries: { shape: number[]; buffer: boolean }[]) =>
  entries.filter((e) => !e.buffer).reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);

/** Every state tensor of `model` on the host, by key (f32 and i32 alike). */
async function hostState(model: Module): Promise<Record<string, Float32Array | Int32Array>> {
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const [name, t] of Object.entries(await model.stateDict())) {
    out[name] = await t.data() as Float32Array | Int32Array;
    t.dispose();
  }
  return out;
}

/** The keys and shapes, in order, of a module's state dict. */
async function stateEntries(model: Module): Promise<[string, number[]][]> {
  const dict = await model.stateDict();
  const out = Object.entries(dict).map(([k, t]): [string, number[]] => [k, [...t.shape]]);
  Object.values(dict).forEach((t) => t.dispose());
  return out;
}

function input(shape: number[], seed: number): { x: Tensor; host: F64 } {
  const host = ref.randn(shape, ref.mulberry32(seed));
  return { x: fromTypedArray(Float32Array.from(host.data), shape, { device }), host };
}

Deno.test("every ResNet's state dict has torchvision's keys, shapes and order, and its parameter count", () => {
  for (const [name, , config, count] of FACTORIES) {
    const planned = resnetStateShapes(config);
    const tv = torchvisionResNet(
      config.block,
      config.layers,
      1000,
      config.groups,
      config.widthPerGroup,
    );
    assert.deepEqual(planned.map((e) => [e.name, e.shape]), tv, name);
    assert.equal(params(planned), count, `${name}: parameters`);
    for (const e of planned) {
      const buffer = /running_(mean|var)|num_batches_tracked/.test(e.name);
      assert.equal(
        e.buffer,
        buffer,
        `${name}: ${e.name} is ${buffer ? "a buffer" : "a parameter"}`,
      );
    }
  }
  // torchvision's V1.5: a bottleneck strides in its 3×3; its downsample projects in one step.
  const r50 = new Map(resnetStateShapes(FACTORIES[2][2]).map((e) => [e.name, e.shape]));
  assert.deepEqual(r50.get("layer2.0.conv2.weight"), [128, 128, 3, 3]);
  assert.deepEqual(r50.get("layer1.0.downsample.0.weight"), [256, 64, 1, 1]);
  assert.equal(r50.has("layer1.1.downsample.0.weight"), false);
  const r18 = new Map(resnetStateShapes(FACTORIES[0][2]).map((e) => [e.name, e.shape]));
  assert.equal(r18.has("layer1.0.downsample.0.weight"), false, "resnet18's layer1 keeps its width");
});

Deno.test("resnet18 builds torchvision's state dict, module names and initialisation", async () => {
  const net = resnet18({ seed: 0 });
  assert.equal(net.parameterCount(), 11_689_512);
  assert.deepEqual(
    await stateEntries(net),
    torchvisionResNet("basic", [2, 2, 2, 2]),
  );
  assert.deepEqual(net.namedChildren().map(([n]) => n), [
    "conv1",
    "bn1",
    "relu",
    "maxpool",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
    "avgpool",
    "fc",
  ]);
  const names = net.namedModules().map(([n]) => n);
  assert.deepEqual(names.filter((n) => n.startsWith("layer2.0")), [
    "layer2.0",
    "layer2.0.conv1",
    "layer2.0.bn1",
    "layer2.0.relu",
    "layer2.0.conv2",
    "layer2.0.bn2",
    "layer2.0.downsample",
    "layer2.0.downsample.0",
    "layer2.0.downsample.1",
  ]);
  const state = await hostState(net);
  const std = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
  for (const [name, shape] of torchvisionResNet("basic", [2, 2, 2, 2])) {
    const data = state[name];
    if (
      name.endsWith("conv1.weight") || name.endsWith("conv2.weight") || /downsample\.0/.test(name)
    ) {
      // kaiming_normal_(mode="fan_out", nonlinearity="relu")
      const want = Math.sqrt(2 / (shape[0] * shape[2] * shape[3]));
      const got = std(data as Float32Array);
      assert.ok(Math.abs(got / want - 1) < 5 / Math.sqrt(data.length) + 0.01, `${name}: ${got}`);
    } else if (/bn\d\.weight|downsample\.1\.weight/.test(name)) {
      assert.ok(data.every((v) => v === 1), `${name}: ones`);
    } else if (/running_var/.test(name)) {
      assert.ok(data.every((v) => v === 1), `${name}: ones`);
    } else if (/bias|running_mean|num_batches_tracked/.test(name) && !name.startsWith("fc")) {
      assert.ok(data.every((v) => v === 0), `${name}: zeros`);
    }
  }
  // fc: PyTorch's default Linear, uniform in ±1/√512 for weight and bias.
  for (const key of ["fc.weight", "fc.bias"]) {
    const bound = 1 / Math.sqrt(512);
    assert.ok(state[key].every((v) => Math.abs(v) <= bound), key);
  }
  assert.ok(
    state["num_batches_tracked"] === undefined &&
      state["bn1.num_batches_tracked"] instanceof Int32Array,
  );
  // The same seed, the same weights; zeroInitResidual zeroes every block's last norm only.
  const again = resnet18({ seed: 0, zeroInitResidual: true });
  const zeroed = await hostState(again);
  for (const [name, data] of Object.entries(zeroed)) {
    if (/^layer\d\.\d\.bn2\.weight$/.test(name)) {
      assert.ok(data.every((v) => v === 0), `${name}: zero`);
    } else assert.deepEqual(data, state[name], name);
  }
  net.dispose();
  again.dispose();
});

Deno.test("narrow ResNets, ResNeXts and wide ResNets build the state dict their plan gives", async () => {
  const cases: [string, ResNet][] = [
    ["resnet34", resnet34({ width: 1 / 16, numClasses: 3 })],
    ["resnet50", resnet50({ width: 1 / 16, numClasses: 3, stem: "cifar" })],
    ["resnext50_32x4d", resnext50_32x4d({ width: 1 / 4, numClasses: 3 })],
    ["wide_resnet50_2", wide_resnet50_2({ width: 1 / 16, numClasses: 3 })],
  ];
  for (const [name, net] of cases) {
    const plan = resnetStateShapes(net.config);
    assert.deepEqual(await stateEntries(net), plan.map((e) => [e.name, e.shape]), name);
    assert.equal(net.parameterCount(), params(plan), name);
    net.dispose();
  }
  assert.throws(() => resnet18({ width: 1 / 128 }), /64 × width must be a positive whole number/);
  assert.throws(
    () => resnext50_32x4d({ width: 1 / 8 }),
    /Bottleneck: 8 planes give no channel per group/,
  );
});

/** A training-mode forward, then an evaluation-mode one, against the float64 reference. */
async function checkForward(net: ResNet, shape: number[]): Promise<void> {
  const { stem, groups, replaceStrideWithDilation: dilate } = net.config;
  const { x, host } = input(shape, 11);
  const before = await referenceState(net);
  const batchStats = new Map();
  const want = resnetReference(before, host, { stem, groups, dilate }, {
    training: true,
    batchStats,
  });
  const got = net.train().forward(x);
  const scale = Math.max(...want.data.map(Math.abs));
  assertClose(await got.data(), want.data, { atol: 2e-5 * scale, rtol: 1e-4, label: "train" });
  got.dispose();
  // Every batch norm updated its running statistics once: 0.9·old + 0.1·batch (unbiased var).
  const after = await referenceState(net);
  assert.ok(batchStats.size > 0);
  for (const [name, stats] of batchStats) {
    const mean = before.get(`${name}.running_mean`)!.data.map((m, i) =>
      0.9 * m + 0.1 * stats.mean[i]
    );
    const variance = before.get(`${name}.running_var`)!.data.map((v, i) =>
      0.9 * v + 0.1 * stats.variance[i]
    );
    assertClose(after.get(`${name}.running_mean`)!.data, mean, { atol: 1e-5, label: name });
    assertClose(after.get(`${name}.running_var`)!.data, variance, { rtol: 1e-4, label: name });
    assert.equal(after.get(`${name}.num_batches_tracked`)!.data[0], 1, name);
  }
  const evalWant = resnetReference(after, host, { stem, groups, dilate }, { training: false });
  const evalGot = net.eval().forward(x);
  const evalScale = Math.max(...evalWant.data.map(Math.abs));
  assertClose(await evalGot.data(), evalWant.data, {
    atol: 2e-5 * evalScale,
    rtol: 1e-4,
    label: "eval",
  });
  evalGot.dispose();
  x.dispose();
}

Deno.test("a small basic-block ResNet computes torchvision's function in training and evaluation", async () => {
  const net = new ResNet({
    block: "basic",
    layers: [1, 2, 1, 1],
    width: 1 / 16,
    numClasses: 5,
    seed: 3,
  });
  await checkForward(net, [3, 3, 19, 17]);
  net.dispose();
});

Deno.test("a small grouped bottleneck ResNet with the CIFAR stem computes the reference's function", async () => {
  const net = new ResNet({
    block: "bottleneck",
    layers: [1, 1, 2, 1],
    width: 1 / 16,
    groups: 2,
    widthPerGroup: 32,
    stem: "cifar",
    numClasses: 4,
    seed: 4,
  });
  await checkForward(net, [2, 3, 9, 9]);
  net.dispose();
});

/** Autograd's gradients of Σ block(x)⊙g against central differences of the reference. */
async function checkBlockGradients(
  block: BasicBlock | Bottleneck,
  shape: number[],
  stride: number,
  groups: number,
): Promise<void> {
  const state = await referenceState(block);
  const { x, host } = input(shape, 5);
  x.requiresGrad = true;
  const mode = { training: true };
  const out = blockReference(state, "", host, stride, groups, mode);
  const upstream = ref.randn(out.shape, ref.mulberry32(6));
  const g = fromTypedArray(Float32Array.from(upstream.data), out.shape, { device });
  await tidy(async () => {
    const y = block.forward(x);
    assertClose(await y.data(), out.data, { atol: 1e-4, rtol: 1e-4, label: "forward" });
    await y.mul(g).sum().backward();
  });
  const f = ([xi, w]: F64[]) =>
    blockReference(new Map([...state, ["conv1.weight", w]]), "", xi, stride, groups, mode);
  const w = state.get("conv1.weight")!;
  const dx = numericGrad(f, [host, w], 0, upstream);
  const dw = numericGrad(f, [host, w], 1, upstream);
  assertClose(await x.grad!.data(), dx.data, { atol: 2e-4, rtol: 2e-3, label: "dx" });
  const conv1 = block.namedParameters().find(([n]) => n === "conv1.weight")![1];
  assertClose(await conv1.grad!.data(), dw.data, { atol: 2e-4, rtol: 2e-3, label: "dconv1" });
  const ds = block.namedParameters().find(([n]) => n === "downsample.0.weight");
  if (ds) assert.ok(ds[1].grad, "the shortcut's projection gets a gradient");
  for (const t of [x, g]) t.dispose();
  block.dispose();
}

Deno.test("replaceStrideWithDilation keeps the resolution of the dilated stages, as torchvision's", async () => {
  const dilate = [false, true, true] as const;
  assert.deepEqual(
    resnetStateShapes({ ...FACTORIES[2][2], replaceStrideWithDilation: dilate }).map((e) => [
      e.name,
      e.shape,
    ]),
    torchvisionResNet("bottleneck", [3, 4, 6, 3], 1000, 1, 64, dilate),
  );
  const net = new ResNet({
    block: "bottleneck",
    layers: [1, 1, 2, 2],
    width: 1 / 16,
    replaceStrideWithDilation: dilate,
    numClasses: 3,
    seed: 5,
  });
  // Output stride 8: layer2 halves the stem's 8×8 (of 32×32), layers 3 and 4 keep it.
  const rows = new Map(net.summaryRows([1, 3, 32, 32]).map((r) => [r.layer, r.outputShape]));
  assert.deepEqual(rows.get("layer4.1"), [1, 128, 4, 4]);
  await checkForward(net, [2, 3, 21, 19]);
  net.dispose();
  assert.throws(
    () => resnet18({ replaceStrideWithDilation: [false, false, true] }),
    /basic blocks do not dilate/,
  );
});

Deno.test("a basic block's gradients (strided, with a projection) match finite differences", async () => {
  const block = new BasicBlock({
    inChannels: 2,
    planes: 3,
    stride: 2,
    generator: new Generator(1),
  });
  await checkBlockGradients(block, [2, 2, 5, 5], 2, 1);
});

Deno.test("a grouped bottleneck's gradients (identity shortcut) match finite differences", async () => {
  const block = new Bottleneck({
    inChannels: 8,
    planes: 2,
    groups: 2,
    baseWidth: 64,
    generator: new Generator(2),
  });
  await checkBlockGradients(block, [2, 8, 4, 3], 1, 2);
});

Deno.test("a trained ResNet's checkpoint holds torchvision's keys and loads into a fresh net bit for bit", async () => {
  const make = (seed: number) => resnet18({ width: 1 / 16, numClasses: 3, stem: "cifar", seed });
  const net = make(1);
  const { x } = input([2, 3, 8, 8], 3);
  net.train().forward(x).dispose(); // running statistics that are not the initial ones
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await saveCheckpoint(path, net);
  const file = await readSafetensorsFile(path);
  const keys = resnetStateShapes(net.config).map((e) => e.name);
  assert.deepEqual(Object.keys(file.tensors).sort(), [...keys].sort());
  assert.equal(file.tensors["layer1.0.bn1.num_batches_tracked"].dtype, "I64", "as PyTorch's");
  const fresh = make(2);
  await loadCheckpoint(path, fresh);
  assert.deepEqual(await hostState(fresh), await hostState(net));
  const a = net.eval().forward(x), b = fresh.eval().forward(x);
  assert.deepEqual(await b.data(), await a.data());
  for (const t of [a, b, x]) t.dispose();
  net.dispose();
  fresh.dispose();
  await Deno.remove(path);
});

Deno.test("a state dict in torchvision's layout (safetensors, I64 counts, no metadata) loads into resnet18 and computes its function", async () => {
  // torchvision's keys and shapes, transcribed, with values a trained net could have.
  const rng = ref.mulberry32(8);
  const tensors: Record<string, TensorEntry> = {};
  const host: HostState = new Map();
  for (const [name, shape] of torchvisionResNet("basic", [2, 2, 2, 2], 10)) {
    if (name.endsWith("num_batches_tracked")) {
      tensors[name] = entryFromTypedArray("I64", [], BigInt64Array.of(1234n));
      continue;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const draw = name.endsWith("running_var")
      ? () => 0.5 + rng()
      : /bn\d\.weight|downsample\.1\.weight/.test(name)
      ? () => 0.8 + 0.4 * rng()
      : shape.length === 1
      ? () => 0.2 * (rng() - 0.5)
      : () => ref.gaussian(rng) * Math.sqrt(2 / (n / shape[0]));
    const data = Float32Array.from({ length: n }, draw);
    tensors[name] = entryFromTypedArray("F32", shape, data);
    host.set(name, ref.f64(shape, data));
  }
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await writeSafetensorsFile(path, tensors);
  const net = resnet18({ numClasses: 10 });
  await loadCheckpoint(path, net);
  const [count] = await net.namedBuffers().find(([n]) => n === "bn1.num_batches_tracked")![1]
    .data();
  assert.equal(count, 1234);
  const { x, host: xHost } = input([2, 3, 32, 32], 9);
  const want = resnetReference(host, xHost, { stem: "imagenet", groups: 1 }, { training: false });
  const got = net.eval().forward(x);
  const scale = Math.max(...want.data.map(Math.abs));
  assertClose(await got.data(), want.data, { atol: 2e-5 * scale, rtol: 1e-4, label: "logits" });
  for (const t of [got, x]) t.dispose();
  net.dispose();
  await Deno.remove(path);
});

Deno.test("training and evaluation steps of a ResNet give back every byte", async () => {
  // A device of its own: the shared one's bounded caches, full after the other tests, would
  // swap constant tables in and out between steps.
  const own = await Device.acquire({ label: "resnet-memory" });
  const net = resnet18({ width: 1 / 16, numClasses: 3, stem: "cifar", seed: 2, device: own });
  const host = ref.randn([2, 3, 8, 8], ref.mulberry32(4));
  const x = fromTypedArray(Float32Array.from(host.data), host.shape, { device: own });
  const step = async () => {
    await tidy(async () => await net.train().forward(x).sum().backward());
    net.zeroGrad();
    noGrad(() => net.eval().forward(x)).dispose();
  };
  await step();
  await own.sync();
  const before = own.memory().liveBytes;
  for (let i = 0; i < 3; i++) await step();
  await own.sync();
  assert.equal(own.memory().liveBytes, before);
  x.dispose();
  net.dispose();
  own.destroy();
});

Deno.test("a small ResNet learns under the Trainer; a resumed run is bit for bit", async () => {
  const make = () => resnet18({ width: 1 / 16, numClasses: 3, stem: "cifar", seed: 7 });
  const trainData = brightChannel(96, 1), valData = brightChannel(48, 2);
  const options = { trainData, valData, batchSize: 16, lr: 0.05 };
  const straightDir = await Deno.makeTempDir();
  const straight = make();
  assert.match(summary(straight, [16, 3, 8, 8]), /\nlayer2\.0 +\[16, 8, 4, 4\] +\d/);
  await train({ ...options, model: straight, epochs: 3, runDir: straightDir });
  const rows = await readMetrics(straightDir);
  assert.ok(rows[2].trainLoss < rows[0].trainLoss * 0.9, `loss: ${rows.map((r) => r.trainLoss)}`);
  const state = await hostState(straight);
  assert.deepEqual(state["layer1.0.bn1.num_batches_tracked"], Int32Array.of(18));

  const resumedDir = await Deno.makeTempDir();
  await train({ ...options, model: make(), epochs: 2, runDir: resumedDir });
  const resumed = make();
  await train({ ...options, model: resumed, epochs: 3, runDir: resumedDir, resume: true });
  assert.deepEqual(await hostState(resumed), state);
  for (const d of [straightDir, resumedDir]) await Deno.remove(d, { recursive: true });
  straight.dispose();
  resumed.dispose();
});
