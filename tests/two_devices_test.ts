/**
 * Two devices. Through the host (two GPUDevices, `separateDevices`): transfers move both directions in one host wait, forward and backward; staging
 * buffers are reused across steps; a two-device AlexNet step syncs only at the paper's cuts and
 * never copies the input between devices; a failing device ends a transfer with an error that
 * names it, without leaving the other side mapped; adapters are chosen by index or name. Sharing
 * one GPUDevice (the default on one adapter): a transfer is a copy on the GPU with no host wait,
 * in program order, placement checks still tell the devices apart, and a lost GPUDevice or a
 * failed submission ends the run with an error naming both devices.
 */

import assert from "node:assert/strict";
import {
  crossEntropy,
  Device,
  fromTypedArray,
  GpuError,
  replicate,
  resetTransferStats,
  tensor,
  tidy,
  transfer,
  TransferChannel,
  transferStats,
} from "../mod.ts";
import { alexnetSmall } from "../nn/mod.ts";
import { listAdapters } from "../kernels/adapters.ts";
import { syntheticSplits } from "../train/data/synthetic.ts";
import { train } from "../train/train.ts";

// The host-path tests: two GPUDevices even on one adapter.
const [gpuA, gpuB] = await Device.acquireMany(2, { separateDevices: true });
// Two logical devices of one adapter sharing one GPUDevice (the default placement there).
const [sharedA, sharedB] = await Device.acquireMany(2, { label: "shared" });

/** Transfers finish in the background: wait for both devices before reading the counters. */
async function settled(): Promise<ReturnType<typeof transferStats>> {
  await gpuA.sync();
  await gpuB.sync();
  return transferStats();
}

Deno.test("transfer: both directions in one host wait, and so are the gradients", async () => {
  const channel = new TransferChannel("test cut");
  const x = tensor([[1, 2], [3, 4]], { device: gpuA, requiresGrad: true });
  const y = tensor([5, 6, 7], { device: gpuB, requiresGrad: true });
  resetTransferStats();
  const [yOnA, xOnB] = await transfer([[y, gpuA], [x, gpuB]], channel);
  assert.equal((await settled()).syncPoints, 1);
  assert.equal(transferStats().bytesRead, (4 + 3) * 4);
  assert.deepEqual([yOnA.device, xOnB.device], [gpuA, gpuB]);
  assert.deepEqual(await yOnA.toArray(), [5, 6, 7]);
  assert.deepEqual(await xOnB.toArray(), [[1, 2], [3, 4]]);

  // loss = Σ yOnA·[1, 2, 3] + Σ xOnB²: dy = [1, 2, 3], dx = 2x, each back on its own device.
  const lossA = yOnA.mul(tensor([1, 2, 3], { device: gpuA })).sum();
  const lossB = xOnB.mul(xOnB).sum();
  const [lossBOnA] = await transfer([[lossB, gpuA]]);
  await settled();
  resetTransferStats();
  await lossA.add(lossBOnA).backward();
  // Two waits: the loss's own transfer back, then ONE for both of the swap's gradients.
  assert.equal((await settled()).syncPoints, 2);
  assert.deepEqual([x.grad!.device, y.grad!.device], [gpuA, gpuB]);
  assert.deepEqual(await y.grad!.toArray(), [1, 2, 3]);
  assert.deepEqual(await x.grad!.toArray(), [[2, 4], [6, 8]]);

  // Only one copy's gradient used: the other input gets none, and nothing waits for it.
  const z = tensor([1, 2], { device: gpuA, requiresGrad: true });
  const w = tensor([3], { device: gpuB, requiresGrad: true });
  const [zOnB, wOnA] = await transfer([[z, gpuB], [w, gpuA]], channel);
  await zOnB.sum().backward();
  assert.deepEqual(await z.grad!.toArray(), [1, 1]);
  assert.equal(w.grad, null);
  wOnA.dispose();
  channel.dispose();
});

Deno.test("replicated host data is on every device without a transfer", async () => {
  const [onA, onB] = replicate(new Float32Array([1, 2, 3]), [3], [gpuA, gpuB]);
  resetTransferStats();
  const moved = await onA.to(gpuB);
  assert.equal(transferStats().syncPoints, 0);
  assert.equal(moved.device, gpuB);
  assert.deepEqual(await moved.toArray(), [1, 2, 3]);
  for (const t of [onA, onB, moved]) t.dispose();
  // A tensor that requires a gradient still transfers, so its gradient reaches it.
  const x = fromTypedArray(new Float32Array([1, 2]), [2], { device: gpuA, requiresGrad: true });
  resetTransferStats();
  await (await x.to(gpuB)).sum().backward();
  assert.equal((await settled()).syncPoints, 2);
  assert.deepEqual(await x.grad!.toArray(), [1, 1]);
});

/** The scaled AlexNet on two devices and one forward and backward of a fixed batch of 4. */
function alexnetStep(first: Device, second: Device) {
  const net = alexnetSmall({ seed: 3 }, [first, second]);
  const batch = 4;
  const images = Float32Array.from({ length: batch * 3 * 32 * 32 }, (_, i) => Math.cos(i));
  const step = () =>
    tidy(async () => {
      const [x] = replicate(images, [batch, 3, 32, 32], net.placement);
      const y = fromTypedArray(new Int32Array([1, 2, 3, 4]), [batch], { device: first });
      await crossEntropy(await net.forward(x.withRank(4)), y).backward();
    });
  return { net, batch, images, step };
}

Deno.test("a two-device AlexNet step syncs only at the paper's four cuts, each way", async () => {
  const { net, batch, images, step } = alexnetStep(gpuA, gpuB);
  await step();
  await settled();
  resetTransferStats();
  await step();
  const stats = await settled();
  // Forward: into conv3, fc6, fc7 and fc8; backward: the same four, each one host wait.
  assert.equal(stats.syncPoints, 8);
  assert.equal(stats.stagingAllocated, 0, "staging buffers are reused across steps");
  // What crosses: each cut's activations and their gradients (per sample: a tower's 16×7×7
  // pool2 maps, 144 pool5 features, 256 fc6 and 256 fc7 units, the last one way only), and the
  // input batch, written once to each device.
  const bytes = 2 * (2 * 16 * 7 * 7 + 2 * 144 + 2 * 256 + 256) * batch * 4;
  assert.equal(stats.bytesRead, bytes);
  assert.ok(stats.bytesWritten >= bytes + 2 * images.byteLength, `${stats.bytesWritten}`);
  net.zeroGrad();
  net.dispose();
});

Deno.test("the host records on while a transfer's map waits, in the recorded order", async () => {
  const y = tensor([1, 2, 3, 4], { device: gpuB });
  const p = tensor([5, 6, 7, 8], { device: gpuA });
  await settled();
  resetTransferStats();
  const [yOnA] = await transfer([[y, gpuA]]);
  assert.equal(transferStats().syncPoints, 0, "transfer returned before its map resolved");
  // Recorded behind the incoming data: reads p, then p's buffer is recycled and rewritten.
  const sum = yOnA.add(p);
  p.dispose();
  const reused = fromTypedArray(new Float32Array([-1, -1, -1, -1]), [4], { device: gpuA });
  assert.deepEqual(await sum.toArray(), [6, 8, 10, 12]);
  assert.deepEqual(await reused.toArray(), [-1, -1, -1, -1]);
  assert.equal(transferStats().syncPoints, 3, "the transfer, then one read each");
  for (const t of [y, yOnA, sum, reused]) t.dispose();
});

Deno.test("a device failing during a transfer stops both sides with an error naming it", async () => {
  const [left, doomed] = await Device.acquireMany(2, { label: "side", separateDevices: true });
  const a = tensor([1, 2, 3], { device: left });
  const b = tensor([4, 5, 6], { device: doomed });
  const [bOnLeft] = await transfer([[b, left], [a, doomed]]);
  const next = bOnLeft.mul(2); // recorded behind data that never comes
  // Its GPUDevice lost (`Device.destroy()` would let the copies in flight finish).
  doomed.gpu.destroy();
  // Neither side hangs: the waiting side's next read and sync fail, naming the lost device.
  await assert.rejects(
    next.toArray(),
    (e: Error) => e instanceof GpuError && /side1/.test(e.message),
  );
  await assert.rejects(left.sync(), /side1/);
  assert.throws(() => left.alloc(4), /side1/);
  await assert.rejects(transfer([[a, doomed]]), /side1 is lost/);
  left.destroy();
  doomed.destroy();
});

for (const separateDevices of [true, false]) {
  const placement = separateDevices ? "two GPUDevices" : "one shared GPUDevice";
  Deno.test(`a device lost mid-training ends the run naming it, without a hang (${placement})`, async () => {
    await lostMidTraining(separateDevices);
  });
}

async function lostMidTraining(separateDevices: boolean): Promise<void> {
  const [first, second] = await Device.acquireMany(2, { label: "tower", separateDevices });
  const { train: trainData, val: valData } = syntheticSplits({
    trainSize: 64,
    valSize: 8,
    size: 16,
    classes: 4,
    seed: 1,
  });
  const model = alexnetSmall({ inputSize: 16, width: 1 / 16, numClasses: 4, seed: 0 }, [
    first,
    second,
  ]);
  const runDir = await Deno.makeTempDir({ prefix: "two_devices_" });
  let logs = 0;
  const run = train({
    model,
    trainData,
    valData,
    epochs: 1,
    batchSize: 8,
    lr: 0.01,
    runDir,
    logEvery: 1,
    callbacks: [{ onLog: () => void (++logs === 2 && second.destroy()) }],
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("the run hung")), 60_000);
  });
  try {
    await assert.rejects(Promise.race([run, hang]), (e: Error) => /tower1/.test(e.message));
    assert.equal(logs, 2, "the run stopped at the first step after the loss");
    // The surviving device is not left waiting for data from the lost one: it settles (and
    // if a transfer from the lost one was under way, its error names that device).
    await Promise.race([
      first.sync().then(() => null, (e: Error) => assert.match(e.message, /tower1/)),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
  first.destroy();
  await Deno.remove(runDir, { recursive: true });
}

for (const shared of [false, true]) {
  const placement = shared ? "one shared GPUDevice" : "two GPUDevices";
  Deno.test(`a non-finite loss skips the update on both devices, the flag crossing without a wait (${placement})`, async () => {
    const [first, second] = shared ? [sharedA, sharedB] : [gpuA, gpuB];
    await nonFiniteLossSkips(first, second);
  });
}

async function nonFiniteLossSkips(gpuA: Device, gpuB: Device): Promise<void> {
  const { train: trainData } = syntheticSplits({
    trainSize: 16,
    valSize: 8,
    size: 16,
    classes: 4,
    seed: 2,
  });
  const model = alexnetSmall({ inputSize: 16, width: 1 / 16, numClasses: 4, seed: 4 }, [
    gpuA,
    gpuB,
  ]);
  const before = await Promise.all(model.parameters().map((p) => p.data()));
  const runDir = await Deno.makeTempDir({ prefix: "two_devices_" });
  const result = await train({
    model,
    trainData,
    epochs: 1,
    batchSize: 8,
    lr: 0.1,
    runDir,
    // Every loss overflows to ∞: the guard on the loss's device must stop the updates on both devices
    // (unguarded, the second tower's weights would turn NaN).
    loss: (logits, labels) => crossEntropy(logits, labels).mul(1e38).mul(1e38),
  });
  assert.equal(result.step, 2);
  const after = await Promise.all(model.parameters().map((p) => p.data()));
  model.parameters().forEach((p, i) => {
    assert.deepEqual(after[i], before[i], `a parameter on ${p.device.label} changed`);
  });
  model.dispose();
  await Deno.remove(runDir, { recursive: true });
}

Deno.test("adapters are chosen by index or name, with a clear error for a missing one", async () => {
  const adapters = await listAdapters();
  assert.ok(adapters.length >= 1);
  const first = await Device.acquire({ adapter: 0 });
  assert.equal(first.adapterInfo.description || first.adapterInfo.vendor, adapters[0].name);
  const byName = await Device.acquire({ adapter: adapters[0].name.slice(0, 5).toUpperCase() });
  assert.equal(byName.describe().split("(")[1], first.describe().split("(")[1]);
  await assert.rejects(
    Device.acquire({ adapter: "no-such-gpu" }),
    /no WebGPU adapter matches --adapter "no-such-gpu"; available: 0: /,
  );
  await assert.rejects(Device.acquire({ adapter: 7 }), /available: 0: /);
  await assert.rejects(Device.acquireMany(2, { adapter: "0,0,0" }), /3 adapters for 2 devices/);
  const pair = await Device.acquireMany(2, { adapter: "0,0" });
  assert.equal(pair[0].gpu, pair[1].gpu);
  assert.match(
    Device.placementNote(pair),
    /^2 logical devices sharing one GPUDevice of .+ \(exchange on the GPU\)$/,
  );
  const apart = await Device.acquireMany(2, { adapter: "0,0", separateDevices: true });
  assert.notEqual(apart[0].gpu, apart[1].gpu);
  assert.match(
    Device.placementNote(apart),
    /^2 GPUDevices of one adapter, .+ \(exchange through the host\)$/,
  );
  for (const d of [first, byName, ...pair, ...apart]) d.destroy();
});

Deno.test("sharing one GPUDevice: a transfer is a GPU copy with no host wait, in program order", async () => {
  assert.equal(sharedA.gpu, sharedB.gpu);
  assert.ok(sharedA.sharesGpuWith(sharedB) && !gpuA.sharesGpuWith(gpuB));
  const x = tensor([[1, 2], [3, 4]], { device: sharedA, requiresGrad: true });
  const y = tensor([5, 6, 7], { device: sharedB, requiresGrad: true });
  resetTransferStats();
  const [yOnA, xOnB] = await transfer([[y, sharedA], [x, sharedB]], new TransferChannel("cut"));
  // The source's later writes must not reach the copy: the copy is in the stream before them.
  x.dispose();
  const reused = fromTypedArray(new Float32Array([-1, -1, -1, -1]), [2, 2], { device: sharedA });
  assert.deepEqual([yOnA.device, xOnB.device], [sharedA, sharedB]);
  assert.deepEqual(await xOnB.toArray(), [[1, 2], [3, 4]]);
  assert.deepEqual(await yOnA.toArray(), [5, 6, 7]);
  assert.deepEqual(await reused.toArray(), [[-1, -1], [-1, -1]]);
  const stats = transferStats();
  assert.equal(stats.syncPoints, 3, "one per toArray; none for the transfer");
  assert.equal(stats.bytesCopied, (4 + 3) * 4);
  // Placement checks still tell the two devices apart.
  assert.throws(
    () => yOnA.add(y),
    (e: Error) =>
      /different devices/.test(e.message) && /shared0/.test(e.message) &&
      /shared1/.test(e.message),
  );
  // Gradients come back the same way: no host wait either.
  resetTransferStats();
  await yOnA.mul(tensor([1, 2, 3], { device: sharedA })).sum().backward();
  assert.equal(transferStats().syncPoints, 0);
  assert.equal(y.grad!.device, sharedB);
  assert.deepEqual(await y.grad!.toArray(), [1, 2, 3]);
  for (const t of [y, yOnA, xOnB, reused]) t.dispose();
});

Deno.test("sharing one GPUDevice: an AlexNet step waits on the host nowhere", async () => {
  const { net, batch, step } = alexnetStep(sharedA, sharedB);
  await step();
  await sharedA.sync();
  resetTransferStats();
  for (const d of [sharedA, sharedB]) d.startProfile();
  await step();
  const stats = transferStats();
  assert.equal(stats.syncPoints, 0);
  assert.equal(stats.bytesRead, 0);
  // At the cuts into conv3, fc6 and fc7 tower B's half goes to tower A, and the joined input
  // to tower B; into fc8 tower B's half goes to tower A. Backward, the same bytes return.
  const half = [16 * 7 * 7, 144, 256].reduce((n, c) => n + 3 * c, 256);
  assert.equal(stats.bytesCopied, 2 * half * batch * 4);
  // Each cut joins its halves once (two copies) and slices the joined gradient once (two
  // more): 16 copies of a tower's half a step, where joining on both towers took 28.
  const rows = (await Promise.all([sharedA, sharedB].map((d) => d.stopProfile())))
    .flatMap((r) => r.rows);
  const halves = new RegExp(`^copy \\[${batch},(16,7,7|144|256)\\]`);
  assert.equal(rows.filter((r) => halves.test(r.name)).length, 16);
  await sharedB.sync();
  net.zeroGrad();
  net.dispose();
});

Deno.test("sharing one GPUDevice: a failed submission or a lost GPUDevice names both devices", async () => {
  const [left, right] = await Device.acquireMany(2, { label: "pair" });
  const small = left.alloc(16), other = right.alloc(16);
  left.copy(small, 0, other, 0, 1024); // out of range: the submission fails validation
  await assert.rejects(
    right.sync(),
    (e: Error) =>
      e instanceof GpuError && /pair0 and pair1 \(sharing one GPUDevice\)/.test(e.message),
  );
  const a = tensor([1, 2, 3], { device: left });
  const [aOnRight] = await transfer([[a, right]]);
  const next = aOnRight.mul(2);
  left.gpu.destroy();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("hung")), 30_000);
  });
  try {
    await assert.rejects(Promise.race([next.toArray(), hang]), GpuError);
    await assert.rejects(right.sync(), /pair0 and pair1/);
    assert.throws(() => left.alloc(4), /pair0 is lost \(pair0 and pair1 \(sharing one GPUDevice\)/);
  } finally {
    clearTimeout(timer);
  }
  left.destroy();
  right.destroy();
});
