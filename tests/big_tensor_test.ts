/**
 * Tensors larger than one storage binding, and grids wider than the workgroups one dispatch
 * dimension allows: every op family of `tests/_big_cases.ts` runs on a device whose limits are
 * tightened (`AcquireOptions.limits`: 8 KiB bindings, 16 workgroups a dimension, bindings
 * aligned to 256 bytes), so small tensors take the paths that huge ones take on a real device,
 * and must give what the same op gives on the device with the adapter's own limits, forward and
 * backward. One real case binds more than 128 MiB.
 */

import assert from "node:assert/strict";
import * as t from "../mod.ts";
import { BIG_CASES, type BigCase, makeInputs } from "./_big_cases.ts";

const wide = await t.Device.acquire({ label: "wide" });
const narrow = await t.Device.acquire({
  label: "narrow",
  limits: {
    maxStorageBufferBindingSize: 8192,
    maxComputeWorkgroupsPerDimension: 16,
    minStorageBufferOffsetAlignment: 256,
  },
});

interface Outcome {
  outputs: { shape: readonly number[]; dtype: string; values: number[] }[];
  grads: number[][];
}

async function outcome(c: BigCase, device: t.Device): Promise<Outcome> {
  t.setDefaultDevice(device);
  const inputs = makeInputs(device);
  const result = await c.run(inputs);
  const outs = Array.isArray(result) ? result : [result];
  const outputs = [];
  for (const out of outs) {
    outputs.push({ shape: out.shape, dtype: out.dtype, values: [...await out.data()] });
  }
  const grads: number[][] = [];
  const floats = outs.filter((o) => o.dtype === "f32" && o.requiresGrad);
  if ((c.grad ?? true) && floats.length > 0) {
    await floats.map((o) => o.square().sum()).reduce((a, b) => a.add(b)).backward();
    for (const input of [inputs.x, inputs.images]) {
      if (input.grad) grads.push([...await input.grad.data()]);
    }
    assert.ok(grads.length > 0, `${c.name}: no input received a gradient`);
  }
  return { outputs, grads };
}

function close(what: string, got: number[], want: number[]): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const [a, b] = [got[i], want[i]];
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
    assert.ok(Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b)), `${what}[${i}]: ${a}, want ${b}`);
  }
}

for (const c of BIG_CASES) {
  Deno.test(`${c.name}: split over 8 KiB bindings and 16-workgroup dimensions`, async () => {
    if (c.narrowError) {
      await assert.rejects(() => outcome(c, narrow), c.narrowError);
      return;
    }
    const want = await outcome(c, wide);
    const got = await outcome(c, narrow);
    assert.equal(got.outputs.length, want.outputs.length);
    got.outputs.forEach((o, k) => {
      assert.deepEqual([o.shape, o.dtype], [want.outputs[k].shape, want.outputs[k].dtype]);
      close(`${c.name} output ${k}`, o.values, want.outputs[k].values);
    });
    assert.equal(got.grads.length, want.grads.length, `${c.name}: gradients`);
    got.grads.forEach((g, k) => close(`${c.name} gradient ${k}`, g, want.grads[k]));
  });
}

Deno.test("a minibatch of 128 rows from one [43000, 784] tensor (135 MB, past a 128 MiB binding), and its gradient", async () => {
  t.setDefaultDevice(wide);
  const [rows, d] = [43000, 784];
  assert.ok(rows * d * 4 > wide.limits.maxStorageBufferBindingSize || !wide.isSoftware);
  const data = new Float32Array(rows * d);
  for (let i = 0; i < data.length; i++) data[i] = (i % 251) - 125;
  const x = t.tensor(data, { shape: [rows, d], requiresGrad: true });
  // Rows from either end of the tensor, so the source is read in both of its windows.
  const picked = Int32Array.from({ length: 128 }, (_, i) => (i * 7919 + 3) % rows);
  const batch = t.indexSelect(x, 0, t.tensor(picked, { dtype: "i32" }));
  const values = await batch.data();
  picked.forEach((row, r) => {
    for (const c of [0, 1, 391, 783]) assert.equal(values[r * d + c], data[row * d + c]);
  });
  // The gradient is an index-add of the batch's into a zero [43000, 784]: windows of the
  // destination; read back only the rows it touched and one it did not.
  await batch.mul(2).sum().backward();
  const grad = x.grad!;
  for (const row of [picked[0], picked[127], 1]) {
    const got = await grad.slice(0, row, row + 1).data();
    const want = picked.filter((p) => p === row).length * 2;
    assert.ok(got.every((v) => v === want), `row ${row}: ${got[0]}, want ${want}`);
  }
  for (const tensor of [x, batch, grad]) tensor.dispose();
});

Deno.test("limits may be lowered, never raised, and a device plans against the lowered ones", async () => {
  const own = wide.limits.maxStorageBufferBindingSize;
  await assert.rejects(
    t.Device.acquire({ limits: { maxStorageBufferBindingSize: own + 4 } }),
    new RegExp(`limits\\.maxStorageBufferBindingSize must be an integer in \\[1, ${own}\\]`),
  );
  await assert.rejects(
    t.Device.acquire({ limits: { maxComputeWorkgroupsPerDimension: 0 } }),
    /limits\.maxComputeWorkgroupsPerDimension must be an integer/,
  );
  await assert.rejects(
    t.Device.acquire({ limits: { minStorageBufferOffsetAlignment: 48 } }),
    /limits\.minStorageBufferOffsetAlignment must be a power of two in \[\d+, 256\]/,
  );
  assert.equal(narrow.limits.maxStorageBufferBindingSize, 8192);
  assert.equal(narrow.limits.maxComputeWorkgroupsPerDimension, 16);
  assert.equal(narrow.limits.minStorageBufferOffsetAlignment, 256);
  assert.equal(narrow.limits.maxBufferSize, wide.limits.maxBufferSize);
  // A kernel that binds a whole buffer past the lowered limit is refused as on a small device.
  const buffer = narrow.alloc(16384);
  const wgsl = `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = 1.0; }`;
  assert.throws(
    () => narrow.dispatch({ name: "whole", wgsl, workgroups: 1 }, [{ buffer }]),
    /whole: binding 0 covers 16384 bytes, more than this device's maxStorageBufferBindingSize \(8192\)/,
  );
  narrow.release(buffer);
});

Deno.test("a normalised sample larger than one binding is refused by the op the user called", () => {
  t.setDefaultDevice(narrow);
  // Samples of 4096 f32 (16 KiB each) against 8 KiB bindings: a sample cannot be split.
  const x = t.zeros([2, 4096]), x3 = t.zeros([2, 4, 1024]);
  const cases: [string, () => unknown][] = [
    ["batchNorm", () => t.batchNorm(x3, {})],
    ["layerNorm", () => t.layerNorm(x, [4096])],
    ["groupNorm", () => t.groupNorm(x3, 2)],
  ];
  for (const [op, run] of cases) {
    assert.throws(run, (e: Error) => {
      assert.match(e.message, new RegExp(`^${op}: one sample needs \\d+ bytes in one binding`));
      return true;
    });
  }
  x.dispose();
  x3.dispose();
  t.setDefaultDevice(wide);
});
