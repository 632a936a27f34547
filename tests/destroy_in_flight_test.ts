/**
 * Destroying a device while a copy from it to another GPUDevice is still on its way. A copy
 * through the host is lazy: `to()` returns before the source's staging buffer is mapped. A
 * user who moves a model to another device and frees the old one at once must still get the
 * data, and every buffer and GPUDevice must be freed once the copies are over, whichever
 * devices were destroyed and in whatever order. New work on a destroyed device is refused.
 */

import assert from "node:assert/strict";
import { Device, GpuError, tensor } from "../mod.ts";

/** Counts the WebGPU buffers created and not yet destroyed, until `stop`. */
function countBuffers(): { live: () => number; stop(): void } {
  const live = new Set<GPUBuffer>();
  const proto = GPUDevice.prototype;
  const create = proto.createBuffer, destroy = GPUBuffer.prototype.destroy;
  proto.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    const buffer = create.call(this, descriptor);
    live.add(buffer);
    return buffer;
  };
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    live.delete(this);
    return destroy.call(this);
  };
  return {
    live: () => live.size,
    stop: () => {
      proto.createBuffer = create;
      GPUBuffer.prototype.destroy = destroy;
    },
  };
}

/** Resolves once every device's GPUDevice is destroyed; fails after 30 s rather than hang. */
async function allGone(devices: readonly Device[]): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("a GPUDevice was never destroyed")), 30_000);
  });
  try {
    const reasons = await Promise.race([Promise.all(devices.map((d) => d.gpu.lost)), hang]);
    for (const info of reasons) assert.equal(info.reason, "destroyed");
  } finally {
    clearTimeout(timer);
  }
}

const VALUES = [1.5, -2, 3.25, 4];

for (const direction of ["from the second device", "from the first device"]) {
  Deno.test(`destroying the sender right after to() still delivers (${direction})`, async () => {
    const census = countBuffers();
    try {
      const [first, second] = await Device.acquireMany(2, {
        label: "move",
        separateDevices: true,
      });
      const [from, into] = direction === "from the first device"
        ? [first, second]
        : [second, first];
      const t = tensor(VALUES, { device: from });
      const moved = await t.to(into);
      t.dispose();
      from.destroy();
      assert.deepEqual(await moved.toArray(), VALUES);
      await into.sync();
      // New work on the destroyed device is still refused, naming it.
      assert.throws(() => from.alloc(4), /move\d is lost \(destroyed\); cannot run tensor/);
      const refused = tensor([1], { device: into });
      await assert.rejects(
        refused.to(from),
        (e: Error) => e instanceof GpuError && /move\d is lost \(destroyed\)/.test(e.message),
      );
      refused.dispose();
      moved.dispose();
      assert.equal(into.memory().liveBytes, 0);
      into.destroy();
      await allGone([first, second]);
      assert.equal(census.live(), 0, "every buffer destroyed");
    } finally {
      census.stop();
    }
  });
}

Deno.test("a chain of moves survives destroying each device it left", async () => {
  const census = countBuffers();
  try {
    const [a, b, c] = await Device.acquireMany(3, { label: "chain", separateDevices: true });
    const t = tensor(VALUES, { device: a });
    const onB = await t.to(b);
    // b's copy to c waits behind a's data arriving on b: both are in flight here.
    const onC = await onB.to(c);
    t.dispose();
    onB.dispose();
    a.destroy();
    b.destroy();
    assert.deepEqual(await onC.toArray(), VALUES);
    onC.dispose();
    assert.equal(c.memory().liveBytes, 0);
    c.destroy();
    await allGone([a, b, c]);
    assert.equal(census.live(), 0, "every buffer destroyed");
  } finally {
    census.stop();
  }
});

Deno.test("destroying the receiver too frees everything once the copy is over", async () => {
  const census = countBuffers();
  try {
    const [a, b] = await Device.acquireMany(2, { label: "both", separateDevices: true });
    const t = tensor(VALUES, { device: b });
    const moved = await t.to(a);
    // Recorded on a behind the incoming data, then released: its buffers go with a.
    const doubled = moved.mul(2);
    t.dispose();
    moved.dispose();
    doubled.dispose();
    b.destroy();
    a.destroy();
    await allGone([a, b]);
    assert.equal(census.live(), 0, "every buffer destroyed");
  } finally {
    census.stop();
  }
});

Deno.test("a device sharing the GPUDevice keeps the buffers its held commands read", async () => {
  // left and right share one GPUDevice; data from far holds its queue, so right's copy to left,
  // recorded now, is submitted only once that data is there, after right was destroyed.
  const [left, right] = await Device.acquireMany(2, { label: "pair" });
  const [far] = await Device.acquireMany(1, { label: "far" });
  try {
    const incoming = await tensor([9], { device: far }).to(left);
    const source = tensor(VALUES, { device: right });
    const copied = await source.to(left);
    source.dispose(); // to right's pool, which right.destroy() empties
    right.destroy();
    assert.deepEqual(await copied.toArray(), VALUES);
    assert.deepEqual(await incoming.toArray(), [9]);
    await left.sync(); // no validation error: no destroyed buffer was submitted
  } finally {
    left.destroy();
    right.destroy();
    far.destroy();
  }
});
