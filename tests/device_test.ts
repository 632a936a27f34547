import assert from "node:assert/strict";
import { Device, GpuError } from "../kernels/device.ts";
import { foldWorkgroups, windows } from "../kernels/_program.ts";
import { fill, unary } from "../kernels/elementwise.ts";
import { fillRandom } from "../kernels/random.ts";
import { philoxCpu } from "../kernels/_philox.ts";

Deno.test("device backend", async (t) => {
  const device = await Device.acquire();

  await t.step("reports its adapter and the adapter's own limits", () => {
    assert.ok(device.describe().length > 0);
    assert.equal(typeof device.isSoftware, "boolean");
    // WebGPU's default is 128 MiB; the adapter's own limit must have been requested.
    assert.ok(device.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20);
    assert.ok(device.limits.maxComputeInvocationsPerWorkgroup >= 256);
  });

  await t.step("pool reuses buffers by size class and counts bytes", () => {
    const before = device.memory();
    const a = device.alloc(1000);
    const live = device.memory().liveBytes - before.liveBytes;
    assert.ok(live >= 1000 && live <= 1280, `size class of 1000 bytes is ${live}`);
    device.release(a);
    const afterRelease = device.memory();
    assert.equal(afterRelease.liveBytes, before.liveBytes);
    const b = device.alloc(1020); // same size class (1024): no new buffer
    assert.equal(device.memory().buffersCreated, afterRelease.buffersCreated);
    assert.equal(b.buffer, a.buffer);
    device.release(b);
    assert.ok(device.memory().peakBytes >= live);
  });

  await t.step("pipelines are cached by their WGSL text; constants are uniforms", async () => {
    const x = device.alloc(64), y = device.alloc(64);
    unary(device, "exp", x, y, 16);
    const compiled = device.memory().pipelines;
    unary(device, "exp", x, y, 16);
    assert.equal(device.memory().pipelines, compiled);
    unary(device, "mulScalar", x, y, 16, 3);
    assert.equal(device.memory().pipelines, compiled + 1);
    device.write(x, new Float32Array(16).fill(1.5));
    unary(device, "mulScalar", x, y, 16, 4); // another constant travels as a uniform
    assert.equal(device.memory().pipelines, compiled + 1);
    assert.deepEqual(new Float32Array(await device.read(y, 0, 64)), new Float32Array(16).fill(6));
    unary(device, "pow", x, y, 16, 3); // pow's exponent shapes the expression
    unary(device, "pow", x, y, 16, 0.5);
    assert.equal(device.memory().pipelines, compiled + 3);
    await device.sync();
    device.release(x);
    device.release(y);
  });

  await t.step("dispatches are batched into few submissions", async () => {
    const x = device.alloc(64);
    await device.sync();
    const before = device.memory().submissions;
    for (let i = 0; i < 10; i++) fill(device, x, 16, i);
    assert.equal(device.memory().submissions, before, "nothing submitted before a readback");
    const value = new Float32Array(await device.read(x, 0, 4))[0];
    assert.equal(value, 9);
    assert.equal(device.memory().submissions, before + 1);
    device.release(x);
  });

  await t.step("a bad shader is an error naming the kernel", async () => {
    const x = device.alloc(16);
    device.dispatch(
      { name: "broken-kernel [4]", wgsl: "this is not wgsl", workgroups: 1 },
      [{ buffer: x }],
    );
    await assert.rejects(() => device.sync(), (e: Error) => {
      assert.ok(e instanceof GpuError);
      assert.match(e.message, /broken-kernel \[4\]/);
      return true;
    });
    device.release(x);
  });

  await t.step("a binding larger than the device allows is refused before the GPU sees it", () => {
    const limit = device.limits.maxStorageBufferBindingSize;
    const big = { buffer: {} as GPUBuffer, capacity: limit + 256, device };
    assert.throws(
      () => device.dispatch({ name: "too-big", wgsl: "", workgroups: 1 }, [{ buffer: big }]),
      /too-big: binding 0 covers \d+ bytes, more than this device's maxStorageBufferBindingSize/,
    );
  });

  await t.step("grids beyond 65,535 workgroups are folded", async () => {
    assert.deepEqual(foldWorkgroups(10, 65535), [10, 1, 1]);
    assert.deepEqual(foldWorkgroups(65536, 65535), [65535, 2, 1]);
    assert.throws(() => foldWorkgroups([70000, 1, 1], 65535), /exceeds 65535/);
    // 2^25 + 5 elements: 32,769 workgroups of 256 vec4s, beyond one dimension when scalar.
    const n = 2 ** 25 + 5;
    const buf = device.alloc(n * 4);
    fill(device, buf, n, 2.5);
    const tail = new Float32Array(await device.read(buf, (n - 3) * 4, 12));
    assert.deepEqual([...tail], [2.5, 2.5, 2.5]);
    device.release(buf);
  });

  await t.step("random fills larger than one binding keep their global counters", async () => {
    const limit = device.limits.maxStorageBufferBindingSize;
    const n = limit / 4 + 1000; // one window plus a bit
    const out = device.alloc(n * 4);
    fillRandom(device, out, n, { kind: "uniform", low: 0, high: 1 }, { seed: [9, 0], offset: 5 });
    for (const i of [0, limit / 4 - 1, limit / 4, n - 1]) {
      const got = new Float32Array(await device.read(out, i * 4, 4))[0];
      const word = philoxCpu([Math.floor(i / 4) + 5, 0, 0, 0], [9, 0])[i % 4];
      assert.equal(got, (word >>> 8) * 2 ** -24, `element ${i}`);
    }
    device.release(out);
  });

  await t.step("binding windows cover a buffer exactly, aligned", () => {
    const parts = windows(1000, 16, 4096, 256);
    assert.equal(parts.reduce((s, p) => s + p.count, 0), 1000);
    for (const p of parts) {
      assert.equal((p.start * 16) % 256, 0);
      assert.ok(p.count * 16 <= 4096);
    }
    assert.throws(() => windows(10, 512, 256, 256), /exceeds the binding limit/);
  });

  await t.step("a lost device is an error, not zeros or a hang", async () => {
    const other = await Device.acquire();
    const x = other.alloc(16);
    other.destroy();
    assert.throws(() => fill(other, x, 4, 1), /lost/);
    await assert.rejects(() => other.read(x, 0, 16), /lost/);
  });

  await device.trimPool();
  device.destroy();
});
