/**
 * Tensors larger than one storage binding, and grids wider than the workgroups one dispatch
 * dimension allows: every op family of `tests/_big_cases.ts` runs on a device whose limits are
 * lowered (`AcquireOptions.limits`: 8 KiB bindings, 16 workgroups a dimension), so small tensors
 * take the paths that huge ones take on a real device, and must give what the same op gives on
 * the device with the adapter's own limits, forward and backward. One real case binds more
 * than 128 MiB.
 */

import assert from "node:assert/strict";
import * as t from "../mod.ts";
import { BIG_CASES, type BigCase, makeInputs } from "./_big_cases.ts";

const wide = await t.Device.acquire({ label: "wide" });
const narrow = await t.Device.acquire({
  label: "narrow",
  limits: { maxStorageBufferBindingSize: 8192, maxComputeWorkgroupsPerDimension: 16 },
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
    floats.map((o) => o.square().sum()).reduce((a, b) => a.add(b)).backward();
    for (const input of [inputs.x, inputs.images]) {
      if (input.grad) grads.push([...await input.grad.data()]);
    }
  }
  return { outputs, grads };
}

function close(what: string, got: number[], want: number[]): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const [a, b] = [got[i], want[i]];
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
    assert.ok(Math.abs(a - b) <= 1e-5 * (1 + Math.abs(b)), `${what}[${i}]: ${a}, want ${b}`);
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
