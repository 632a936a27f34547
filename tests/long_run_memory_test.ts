/**
 * Nothing the library keeps grows without bound over a long run. A user trains for many epochs
 * with a learning rate that changes every step (a warm-up, then a drop on a plateau) and
 * dropout, at varying batch sizes, evaluates at another batch size, and builds one model after
 * another on new input sizes: every step meets new uniform values, every model new shapes,
 * conv offset tables and buffer sizes. The device's caches are given small bounds here so that
 * a run of a few hundred steps crosses them many times; the live GPU buffers (counted where
 * WebGPU creates and destroys them) and the pooled bytes must then stay flat from one half of
 * the run to the other, while the models still learn. Reads (a test of their own) keep no large
 * staging buffer once they are done, and error scopes that settle clean are not held until the
 * next read.
 */

import assert from "node:assert/strict";
import { crossEntropy, Device, fromTypedArray, Generator, noGrad, tidy } from "../mod.ts";
import { Conv2d, Dropout, Flatten, Linear, Sequential } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { ErrorScopes } from "../kernels/_error_scopes.ts";

/** Bounds small enough for a short run to cross them (the defaults are far larger). */
const LIMITS = {
  uniformBuffers: 48,
  bindGroups: 512,
  constantBuffers: 8,
  poolIdleAllocations: 2000,
};

/** Live WebGPU buffers, counted where they are created and destroyed. */
interface Census {
  /** Uniform buffers. */
  uniform: number;
  /** Other buffers (storage, staging). */
  other: number;
  /** Bytes of all of them. */
  bytes: number;
  /** Bytes of the map-read (staging) buffers. */
  stagingBytes: number;
}

/** Counts live WebGPU buffers until `stop` (it wraps `createBuffer` and `destroy`). */
function countBuffers(): { live: () => Census; stop(): void } {
  const live = new Map<GPUBuffer, number>();
  const proto = GPUDevice.prototype;
  const create = proto.createBuffer, destroy = GPUBuffer.prototype.destroy;
  proto.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    const buffer = create.call(this, descriptor);
    live.set(buffer, descriptor.usage);
    return buffer;
  };
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    live.delete(this);
    return destroy.call(this);
  };
  return {
    live: () => {
      const census = { uniform: 0, other: 0, bytes: 0, stagingBytes: 0 };
      for (const [buffer, usage] of live) {
        if (usage & GPUBufferUsage.UNIFORM) census.uniform++;
        else census.other++;
        if (usage & GPUBufferUsage.MAP_READ) census.stagingBytes += buffer.size;
        census.bytes += buffer.size;
      }
      return census;
    },
    stop: () => {
      proto.createBuffer = create;
      GPUBuffer.prototype.destroy = destroy;
    },
  };
}

/** A strided conv, a hidden layer with dropout and a classifier, for `h`×`w` inputs. */
function model(device: Device, [h, w]: readonly number[], seed: number): Sequential {
  const generator = new Generator(seed),
    out = (Math.floor((h - 1) / 2) + 1) * (Math.floor((w - 1) / 2) + 1);
  return new Sequential(
    new Conv2d({
      inChannels: 3,
      outChannels: 4,
      kernelSize: 3,
      stride: 2,
      padding: 1,
      relu: true,
      device,
      generator,
    }),
    new Flatten(),
    new Linear({ inFeatures: 4 * out, outFeatures: 12, relu: true, device, generator }),
    new Dropout({ p: 0.3, generator }),
    new Linear({ inFeatures: 12, outFeatures: 4, device, generator }),
  );
}

Deno.test("caches, pool and GPU buffers stay bounded over a long run of varying shapes", async () => {
  const census = countBuffers();
  const device = await Device.acquire({ cacheLimits: LIMITS });
  try {
    const data = new Generator(11);
    const models = 12, steps = 24;
    const after: (Census & { pooled: number; pipelines: number })[] = [];
    let falls = 0;
    for (let m = 0; m < models; m++) {
      // A new input shape per model (new kernel sizes, tables, buffer sizes): the first one
      // large, the others of about the same smaller area, so that what a model needs stays
      // about the same after the first, whose buffers are not needed again.
      const size = m === 0 ? [24, 24] : [6 + m, Math.round(144 / (6 + m))];
      const net = model(device, size, m);
      const opt = new SGD({ params: net.parameters(), lr: 0.05 });
      const losses: number[] = [];
      for (let step = 0; step < steps; step++) {
        // A warm-up that changes the rate every step, then a drop as on a plateau.
        opt.setLearningRate(step < steps / 2 ? 0.05 * (step + 1) / (steps / 2) : 0.005);
        const batch = 3 + (step % 4);
        const labels = fromTypedArray(
          Int32Array.from({ length: batch }, (_, i) => i % 4),
          [batch],
          { device },
        );
        const loss = await tidy(async () => {
          const x = data.normal([batch, 3, ...size], 0, 1, device);
          // The class shifts the mean of one channel: learnable in a few steps.
          const shift = fromTypedArray(
            Float32Array.from(
              { length: batch * 3 },
              (_, i) => i % 3 === 0 ? Math.floor(i / 3) % 4 : 0,
            ),
            [batch, 3, 1, 1],
            { device },
          );
          return crossEntropy(await net.forward(x.add(shift)), labels);
        });
        await loss.backward();
        opt.step();
        opt.zeroGrad();
        losses.push(await loss.item());
        loss.dispose();
        labels.dispose();
      }
      // Evaluation at a batch size training never used.
      net.eval();
      const scores = await noGrad(() =>
        tidy(() => net.forward(data.normal([7, 3, ...size], 0, 1, device)))
      );
      assert.equal(scores.shape[0], 7);
      scores.dispose();
      const head = losses.slice(0, 4).reduce((a, b) => a + b),
        tail = losses.slice(-4).reduce((a, b) => a + b);
      if (tail < head) falls++;
      opt.dispose();
      net.dispose();
      await device.sync();
      const { pooledBytes: pooled, pipelines } = device.memory();
      after.push({ ...census.live(), pooled, pipelines });
    }
    const half = after[models / 2 - 1], end = after[models - 1];
    const sizes = device.cacheSizes();
    const report = JSON.stringify({ half, end, sizes });
    assert.ok(falls >= models / 2, `the loss fell for only ${falls} of ${models} models`);
    assert.ok(sizes.uniformBuffers <= LIMITS.uniformBuffers * 1.5, report);
    assert.ok(sizes.bindGroups <= LIMITS.bindGroups, report);
    assert.ok(sizes.constantBuffers <= LIMITS.constantBuffers, report);
    // Shapes are uniforms: new input sizes compile no new kernel variants.
    assert.equal(end.pipelines, half.pipelines, `pipelines compiled: ${report}`);
    assert.ok(end.uniform <= LIMITS.uniformBuffers * 1.5, `live uniform buffers: ${report}`);
    // Later models are larger (their inputs are), so allow their size, not a count per step.
    assert.ok(end.other <= half.other + 8, `live storage buffers grew: ${report}`);
    assert.ok(end.bytes <= half.bytes * 1.25, `live GPU bytes grew: ${report}`);
    assert.ok(end.pooled <= half.pooled * 1.25, `pooled bytes grew: ${report}`);
    assert.ok(end.bytes < after[0].bytes, `the first model's buffers are kept: ${report}`);
  } finally {
    census.stop();
    device.destroy();
  }
});

Deno.test("an evicted uniform buffer outlives the unsubmitted commands that bind it", async () => {
  // Two uniform buffers kept, and no submission until the reads: every scalar below evicts the
  // previous one's buffer while the command that binds it is still being recorded.
  const device = await Device.acquire({
    cacheLimits: { uniformBuffers: 2 },
    dispatchesPerSubmit: 1000,
  });
  try {
    const x = fromTypedArray(new Float32Array([1, 2, 3]), [3], { device });
    const scaled = Array.from({ length: 12 }, (_, k) => x.mul(k + 0.5));
    const values = await Promise.all(scaled.map((t) => t.toArray()));
    values.forEach((v, k) => assert.deepEqual(v, [1, 2, 3].map((e) => e * (k + 0.5))));
    await device.sync(); // no validation error: no destroyed buffer was submitted
    // Step by step, each new value rewrites a spare buffer whose commands were all submitted.
    const created = device.memory().uniformBuffersCreated;
    for (let k = 0; k < 8; k++) {
      assert.deepEqual(await x.mul(k + 20).toArray(), [1, 2, 3].map((e) => e * (k + 20)));
    }
    assert.equal(device.memory().uniformBuffersCreated, created, "no uniform buffer created");
    assert.ok(device.cacheSizes().uniformBuffers <= 3, JSON.stringify(device.cacheSizes()));
  } finally {
    device.destroy();
  }
});

Deno.test("a large read leaves no large staging buffer behind", async () => {
  const census = countBuffers();
  const device = await Device.acquire();
  try {
    const big = 1 << 21; // 8 MiB of f32, as a checkpoint reads a large layer's weights
    const t = fromTypedArray(new Float32Array(big).fill(1.5), [big], { device });
    const values = await t.data();
    assert.equal(values[big - 1], 1.5);
    t.dispose();
    const small = fromTypedArray(new Float32Array([2]), [1], { device });
    assert.equal(await small.item(), 2);
    small.dispose();
    const { stagingBytes } = census.live();
    assert.ok(stagingBytes < 1 << 20, `${stagingBytes} bytes of staging kept after the reads`);
  } finally {
    census.stop();
    device.destroy();
  }
});

Deno.test("error reports that settle clean are not held until the next read", async () => {
  // A stand-in GPUDevice whose scopes settle in reverse order: the second one's error first.
  const settle: (() => void)[] = [];
  let scope = 0;
  const gpu = {
    addEventListener() {},
    popErrorScope() {
      const n = scope++;
      return new Promise<GPUError | null>((resolve) =>
        settle.push(() => resolve(n === 0 ? null : { message: `fault ${n}` } as GPUError))
      );
    },
  } as unknown as GPUDevice;
  const scopes = new ErrorScopes(gpu, "gpu9");
  for (let i = 0; i < 1000; i++) scopes.watch(`step ${i}`);
  assert.equal(scopes.held, 1000);
  settle.reverse().forEach((resolve) => resolve());
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(scopes.held, 999, "the clean report is dropped once settled");
  await assert.rejects(scopes.raise(), /gpu9: step 1 failed: fault 1/);
  assert.equal(scopes.held, 0);
  await scopes.raise(); // nothing left
});

Deno.test("cache limits are checked before a device is opened", async () => {
  await assert.rejects(
    Device.acquire({ cacheLimits: { uniformBuffers: 1 } }),
    /^RangeError: cacheLimits.uniformBuffers must be an integer ≥ 2, got 1$/,
  );
  await assert.rejects(
    Device.acquireMany(2, { cacheLimits: { poolIdleAllocations: 0.5 } }),
    /cacheLimits.poolIdleAllocations must be an integer ≥ 1, got 0.5/,
  );
});
