/**
 * Module buffers and the normalisation layers: BatchNorm1d/2d's parameters and buffers under
 * PyTorch's names, train/eval, state dicts and checkpoints (I64 `num_batches_tracked` as
 * PyTorch writes it), moving between two logical devices, Sequential and summary, LayerNorm and
 * GroupNorm; a small conv net with BatchNorm2d that learns under the Trainer, its running
 * statistics updated once a step, and a run resumed from its checkpoint bit for bit.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  Device,
  fromTypedArray,
  Generator,
  noGrad,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../mod.ts";
import {
  BatchNorm1d,
  BatchNorm2d,
  CheckpointError,
  Conv2d,
  Flatten,
  GroupNorm,
  InstanceNorm1d,
  InstanceNorm2d,
  InstanceNorm3d,
  LayerNorm,
  Linear,
  loadCheckpoint,
  MaxPool2d,
  Module,
  ReLU,
  saveCheckpoint,
  Sequential,
  summary,
} from "../nn/mod.ts";
import {
  entryFromTypedArray,
  readSafetensorsFile,
  writeSafetensorsFile,
} from "../nn/safetensors.ts";
import { ArrayDataset } from "../train/data/array_dataset.ts";
import { train } from "../train/train.ts";
import { readMetrics } from "../train/run_log.ts";
import { assertClose } from "./_gradcheck.ts";
import { mulberry32 } from "./_reference.ts";
import { batchNormForward, channelStats } from "./_norm_reference.ts";

await defaultDevice();

async function hostState(m: Module): Promise<Record<string, Float32Array | Int32Array>> {
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const [name, t] of Object.entries(await m.stateDict())) {
    out[name] = await (t as Tensor).data();
    t.dispose();
  }
  return out;
}

Deno.test("BatchNorm2d: parameters, buffers and the state dict under PyTorch's names", async () => {
  const net = new Sequential(
    new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3 }),
    new BatchNorm2d({ numFeatures: 3 }),
  );
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
  ]);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), [
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
  ]);
  const state = await hostState(net);
  assert.deepEqual(Object.keys(state), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
  ]);
  assert.deepEqual(state["1.running_var"], new Float32Array(3).fill(1));
  // Slots say which are buffers, nested ones too (initialisers leave them alone).
  assert.deepEqual(
    new Sequential(net).stateSlots().filter((s) => s.buffer).map((s) => s.name),
    ["0.1.running_mean", "0.1.running_var", "0.1.num_batches_tracked"],
  );
  assert.deepEqual(state["1.num_batches_tracked"], Int32Array.of(0));
  // Round trip through another net: the buffers travel too, the count as i32.
  net.forward(randn([2, 2, 5, 5])).dispose();
  const copy = new Sequential(
    new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3 }),
    new BatchNorm2d({ numFeatures: 3 }),
  );
  await copy.loadStateDict(await net.stateDict());
  assert.deepEqual(await hostState(copy), await hostState(net));
  assert.deepEqual((await hostState(copy))["1.num_batches_tracked"], Int32Array.of(1));
  await assert.rejects(
    copy.loadStateDict({
      ...(await net.stateDict()),
      "1.num_batches_tracked": { shape: [], data: Float32Array.of(1) },
    }),
    /1\.num_batches_tracked has dtype f32, not i32/,
  );
  const plain = new BatchNorm1d({ numFeatures: 4, affine: false, trackRunningStats: false });
  assert.deepEqual(plain.parameters(), []);
  assert.deepEqual(plain.buffers(), []);
  assert.deepEqual(Object.keys(await plain.stateDict()), []);
  net.dispose();
  copy.dispose();
});

Deno.test("a state dict without num_batches_tracked loads strictly, the count kept, as PyTorch", async () => {
  const net = new Sequential(new BatchNorm2d({ numFeatures: 3 }));
  net.forward(randn([2, 3, 4, 4])).dispose();
  const state = await hostState(net);
  // An old torch checkpoint, or a dict of weights and statistics: no num_batches_tracked.
  const old = Object.fromEntries(
    Object.entries(state).filter(([name]) => name !== "0.num_batches_tracked")
      .map(([name, data]) => [name, { shape: [3], data }]),
  );
  const fresh = new Sequential(new BatchNorm2d({ numFeatures: 3 }));
  // It was "state dict does not match the module: missing: 0.num_batches_tracked".
  const result = await fresh.loadStateDict(old);
  assert.deepEqual(result, { missing: [], unexpected: [], mismatched: [] });
  const loaded = await hostState(fresh);
  assert.deepEqual(loaded["0.running_mean"], state["0.running_mean"]);
  assert.deepEqual(loaded["0.num_batches_tracked"], Int32Array.of(0));
  await net.loadStateDict(old); // a module's own count is kept (PyTorch ≥ 2.1)
  assert.deepEqual((await hostState(net))["0.num_batches_tracked"], Int32Array.of(1));
  // Other buffers stay required.
  const { ["0.running_var"]: _, ...noVar } = old;
  await assert.rejects(fresh.loadStateDict(noVar), /missing: 0\.running_var$/);
  net.dispose();
  fresh.dispose();
});

Deno.test("a non-persistent buffer is moved and freed but not saved", async () => {
  class Counter extends Module {
    constructor() {
      super();
      this.registerBuffer("kept", zeros([2]));
      this.registerBuffer("scratch", zeros([3]), { persistent: false });
    }
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  const m = new Counter();
  assert.deepEqual(m.namedBuffers().map(([n]) => n), ["kept", "scratch"]);
  assert.deepEqual(Object.keys(await m.stateDict()), ["kept"]);
  assert.throws(() => m.getBuffer("none"), /Counter has no buffer "none"/);
  const [, other] = await Device.acquireMany(2, { label: "buffers" });
  await m.to(other);
  assert.ok(m.buffers().every((b) => b.device === other));
  m.dispose();
  assert.ok(m.buffers().every((b) => b.disposed));
});

Deno.test("BatchNorm1d: training updates the running statistics, evaluation uses them", async () => {
  const bn = new BatchNorm1d({ numFeatures: 3, momentum: 0.5 });
  const rng = mulberry32(4);
  const data = Float32Array.from({ length: 5 * 3 * 7 }, () => rng() * 4 - 1);
  const x = fromTypedArray(data, [5, 3, 7]);
  const f64 = { shape: [5, 3, 7], data: Float64Array.from(data) };
  assertClose(await bn.forward(x).data(), batchNormForward(f64, null, null, 1e-5).data, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  const batch = channelStats(f64, true);
  const running = {
    mean: batch.mean.map((m) => 0.5 * m),
    variance: batch.variance.map((v) => 0.5 * v + 0.5),
  };
  bn.eval();
  assertClose(await bn.forward(x).data(), batchNormForward(f64, null, null, 1e-5, running).data, {
    rtol: 1e-4,
    atol: 1e-5,
  });
  assert.deepEqual(await bn.numBatchesTracked!.data(), Int32Array.of(1)); // not counted in eval
  // One value per channel: fine in evaluation, PyTorch's error in training.
  bn.forward(zeros([1, 3])).dispose();
  bn.train();
  assert.throws(() => bn.forward(zeros([1, 3])), /Expected more than 1 value per channel/);
  assert.throws(() => bn.forward(zeros([2, 3, 1, 1])), /expected 2D or 3D input \(got 4D input\)/);
  bn.resetRunningStats();
  assert.deepEqual(await bn.runningMean!.data(), new Float32Array(3));
  assert.deepEqual(await bn.runningVar!.data(), new Float32Array(3).fill(1));
  assert.deepEqual(await bn.numBatchesTracked!.data(), Int32Array.of(0));
  assert.throws(
    () => new BatchNorm2d({ numFeatures: 3 }).forward(zeros([2, 3, 4])),
    /expected 4D input \(got 3D input\)/,
  );
  bn.dispose();
});

Deno.test("BatchNorm2d across two logical devices: to() moves the buffers, training runs there", async () => {
  const [a, b] = await Device.acquireMany(2, { label: "bn" });
  const bn = new BatchNorm2d({ numFeatures: 2, device: a });
  const x = randn([3, 2, 4, 4], { device: a });
  bn.forward(x).dispose();
  const before = await hostState(bn);
  await bn.to(b);
  assert.ok([...bn.parameters(), ...bn.buffers()].every((t) => t.device === b));
  assert.deepEqual(await hostState(bn), before);
  bn.forward(await x.to(b)).dispose();
  assert.deepEqual(await bn.numBatchesTracked!.data(), Int32Array.of(2));
  bn.dispose();
});

Deno.test("checkpoints: num_batches_tracked as I64, PyTorch's files load, bad counts are named", async () => {
  const dir = await Deno.makeTempDir();
  const net = new Sequential(new Flatten(), new BatchNorm1d({ numFeatures: 6 }));
  for (let i = 0; i < 3; i++) net.forward(randn([4, 2, 3])).dispose();
  const path = `${dir}/bn.safetensors`;
  await saveCheckpoint(path, net);
  const file = await readSafetensorsFile(path);
  assert.equal(file.tensors["1.num_batches_tracked"].dtype, "I64");
  assert.deepEqual(file.tensors["1.num_batches_tracked"].shape, []);
  const fresh = new Sequential(new Flatten(), new BatchNorm1d({ numFeatures: 6 }));
  await loadCheckpoint(path, fresh);
  assert.deepEqual(await hostState(fresh), await hostState(net));

  // A file as PyTorch's safetensors writes it for nn.BatchNorm1d(6): I64 count.
  const torchLike = (count: bigint) => ({
    "1.weight": entryFromTypedArray("F32", [6], new Float32Array(6).fill(2)),
    "1.bias": entryFromTypedArray("F32", [6], new Float32Array(6)),
    "1.running_mean": entryFromTypedArray("F32", [6], new Float32Array(6).fill(0.5)),
    "1.running_var": entryFromTypedArray("F32", [6], new Float32Array(6).fill(3)),
    "1.num_batches_tracked": entryFromTypedArray("I64", [], BigInt64Array.of(count)),
  });
  await writeSafetensorsFile(path, torchLike(1234n), { format: "pt" });
  await loadCheckpoint(path, fresh);
  assert.deepEqual((await hostState(fresh))["1.num_batches_tracked"], Int32Array.of(1234));
  await writeSafetensorsFile(path, torchLike(2n ** 40n), { format: "pt" });
  await assert.rejects(loadCheckpoint(path, fresh), (e: Error) => {
    assert.ok(e instanceof CheckpointError);
    assert.match(e.message, /1\.num_batches_tracked \(I64\) holds 1099511627776, outside the i32/);
    return true;
  });
  assert.deepEqual((await hostState(fresh))["1.num_batches_tracked"], Int32Array.of(1234));
  await Deno.remove(dir, { recursive: true });
  net.dispose();
  fresh.dispose();
});

Deno.test("LayerNorm and GroupNorm modules: parameters, shapes, state dicts", async () => {
  const ln = new LayerNorm({ normalizedShape: [3, 4] });
  assert.deepEqual(ln.namedParameters().map(([n, p]) => [n, p.shape]), [
    ["weight", [3, 4]],
    ["bias", [3, 4]],
  ]);
  assert.deepEqual(ln.forward(randn([2, 3, 4])).shape, [2, 3, 4]);
  assert.throws(() => ln.outputShape([2, 4, 3]), /expected \[\*, 3, 4\]/);
  assert.equal(new LayerNorm({ normalizedShape: 5, bias: false }).bias, null);
  const gn = new GroupNorm({ numGroups: 2, numChannels: 4 });
  assert.deepEqual(Object.keys(await gn.stateDict()), ["weight", "bias"]);
  assert.deepEqual(gn.forward(randn([2, 4, 3, 3])).shape, [2, 4, 3, 3]);
  assert.throws(() => new GroupNorm({ numGroups: 3, numChannels: 4 }), /divisible/);
});

Deno.test("InstanceNorm modules: defaults, unbatched input, running statistics in evaluation", async () => {
  const plain = new InstanceNorm1d({ numFeatures: 2 });
  assert.deepEqual(plain.parameters(), []);
  assert.deepEqual(Object.keys(await plain.stateDict()), []);
  const single = await plain.forward(tensor([[1, 3], [10, 30]])).data();
  assertClose(single, [-1, 1, -1, 1], { rtol: 1e-4 });
  assert.throws(() => plain.forward(zeros([2, 2, 3, 3])), /expected 2D \(unbatched\) or 3D/);
  const tracked = new InstanceNorm2d({ numFeatures: 2, affine: true, trackRunningStats: true });
  assert.deepEqual(Object.keys(await tracked.stateDict()), [
    "weight",
    "bias",
    "running_mean",
    "running_var",
    "num_batches_tracked",
  ]);
  const x = randn([3, 2, 4, 4]);
  tracked.forward(x).dispose();
  const runningMean = await tracked.getBuffer("running_mean").data();
  const runningVar = await tracked.getBuffer("running_var").data();
  assert.ok(runningMean.some((v) => v !== 0), "training moved the running mean");
  assert.deepEqual(await tracked.getBuffer("num_batches_tracked").data(), Int32Array.of(0));
  // Evaluation normalises by the running statistics: zeros become −mean/√(var + eps).
  tracked.eval();
  const y = await tracked.forward(zeros([1, 2, 3, 3])).data();
  const expected = [0, 1].flatMap((c) =>
    new Array(9).fill(-runningMean[c] / Math.sqrt(runningVar[c] + 1e-5))
  );
  assertClose(y, expected, { rtol: 1e-5 });
  assert.throws(
    () => tracked.forward(zeros([1, 3, 3, 3])),
    /expected input's size at dim=1 to match num_features \(2\), but got: 3/,
  );
  assert.deepEqual(new InstanceNorm3d({ numFeatures: 1 }).forward(randn([1, 2, 2, 2])).shape, [
    1,
    2,
    2,
    2,
  ]);
});

/** Images whose class is the colour channel that is brighter (red, green or blue). */
function colours(count: number, seed: number): ArrayDataset {
  const rng = mulberry32(seed), size = 8;
  const pixels = new Uint8Array(count * size * size * 3);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 3);
  for (let p = 0; p < pixels.length; p++) {
    const image = Math.floor(p / (size * size * 3));
    pixels[p] = Math.floor(rng() * 140) + (p % 3 === labels[image] ? 60 : 0);
  }
  return new ArrayDataset({
    pixels,
    labels,
    height: size,
    width: size,
    classNames: ["red", "green", "blue"],
  });
}

/** The same initial weights on every call. */
function bnNet(): Sequential {
  const generator = new Generator(7);
  return new Sequential(
    new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, generator }),
    new BatchNorm2d({ numFeatures: 4 }),
    new ReLU(),
    new MaxPool2d({ kernelSize: 2 }),
    new Flatten(),
    new Linear({ inFeatures: 4 * 4 * 4, outFeatures: 3, generator }),
  );
}

Deno.test("a conv net with BatchNorm2d learns under the Trainer; a resumed run is bit for bit", async () => {
  const trainData = colours(96, 1), valData = colours(48, 2);
  const options = { trainData, valData, batchSize: 16, lr: 0.05 };
  const straightDir = await Deno.makeTempDir();
  const straight = bnNet();
  assert.match(summary(straight, [16, 3, 8, 8]), /\n1 +\[16, 4, 8, 8\] +8 +gpu0\n/);
  await train({ ...options, model: straight, epochs: 3, runDir: straightDir });
  const rows = await readMetrics(straightDir);
  assert.ok(rows[2].trainLoss < rows[0].trainLoss * 0.9, `loss: ${rows.map((r) => r.trainLoss)}`);
  const state = await hostState(straight);
  // Running statistics updated once per step (6 steps an epoch), not per validation batch.
  assert.deepEqual(state["1.num_batches_tracked"], Int32Array.of(18));

  const resumedDir = await Deno.makeTempDir();
  await train({ ...options, model: bnNet(), epochs: 2, runDir: resumedDir });
  const resumed = bnNet();
  await train({ ...options, model: resumed, epochs: 3, runDir: resumedDir, resume: true });
  assert.deepEqual(await hostState(resumed), state);
  for (const d of [straightDir, resumedDir]) await Deno.remove(d, { recursive: true });
});

Deno.test("training and evaluation steps through the three layers give back every byte", async () => {
  const device = await defaultDevice();
  const bn = new BatchNorm2d({ numFeatures: 3 }), ln = new LayerNorm({ normalizedShape: [4, 4] });
  const gn = new GroupNorm({ numGroups: 3, numChannels: 3 });
  const x = randn([2, 3, 4, 4], { requiresGrad: true });
  const step = async () => {
    await tidy(async () => await gn.forward(ln.forward(bn.forward(x))).sum().backward());
    for (const p of [...bn.parameters(), ...ln.parameters(), ...gn.parameters(), x]) p.zeroGrad();
    bn.eval();
    noGrad(() => bn.forward(x)).dispose();
    bn.train();
  };
  await step();
  await device.sync();
  const before = device.memory().liveBytes;
  for (let i = 0; i < 3; i++) await step();
  await device.sync();
  assert.equal(device.memory().liveBytes, before);
  for (const m of [bn, ln, gn]) m.dispose();
});
