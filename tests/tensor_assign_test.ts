/**
 * `Tensor.assign`, the one public way to write into a tensor: from a tensor or host values,
 * through views, and its errors (shape, dtype, device, a tensor that requires a gradient
 * outside `noGrad`, a tensor that a recorded op produced), none of which changes the data.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  Device,
  noGrad,
  ShapeError,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../mod.ts";

const device = await defaultDevice();

Deno.test("assign writes tensors and host values, through views, in place", async () => {
  const before = device.memory().liveBytes;
  await tidy(async () => {
    const w = tensor([[1, 2, 3], [4, 5, 6]]);
    w.assign(tensor([[6, 5, 4], [3, 2, 1]]));
    assert.deepEqual(await w.toArray(), [[6, 5, 4], [3, 2, 1]]);
    w.assign(new Float32Array([0, 1, 2, 3, 4, 5]));
    assert.deepEqual(await w.toArray(), [[0, 1, 2], [3, 4, 5]]);
    // A transposed view: the source is read through its strides, the target written through its own.
    const t = w.T();
    t.assign(tensor([[10, 40], [20, 50], [30, 60]]));
    assert.deepEqual(await w.toArray(), [[10, 20, 30], [40, 50, 60]]);
    t.assign(new Float32Array([1, 4, 2, 5, 3, 6])); // host values in the view's row-major order
    assert.deepEqual(await w.toArray(), [[1, 2, 3], [4, 5, 6]]);
    // A source that overlaps the target (its own transpose) is copied out first.
    const square = tensor([[1, 2], [3, 4]]);
    square.assign(square.T() as Tensor<[2, 2], "f32">);
    assert.deepEqual(await square.toArray(), [[1, 3], [2, 4]]);
    // i32 data stays bit for bit.
    const labels = tensor([0, 0], { dtype: "i32" });
    labels.assign(new Int32Array([2 ** 30, -7]));
    assert.deepEqual(Array.from(await labels.data()), [2 ** 30, -7]);
  });
  assert.equal(device.memory().liveBytes, before, "assign leaves no staging tensor behind");
});

Deno.test("assign errors name the problem and change nothing", async () => {
  const w = tensor([1, 2, 3], { requiresGrad: true });
  const other = await Device.acquire({ label: "elsewhere" });
  try {
    assert.throws(() => w.assign(tensor([0, 0, 0])), /requires a gradient; .*noGrad/);
    noGrad(() => {
      assert.throws(() => w.assign(tensor([1, 2]) as Tensor<number[], "f32">), ShapeError);
      assert.throws(() => w.assign(new Float32Array(2)), /2 values for a tensor of shape \[3\]/);
      assert.throws(() => w.assign(new Int32Array(3)), /f32 tensor takes a Float32Array/);
      const ints = tensor([1, 2, 3], { dtype: "i32" }) as unknown as Tensor<[3], "f32">;
      assert.throws(() => w.assign(ints), /source is i32/);
      const remote = zeros([3], { device: other }) as Tensor<[3], "f32">;
      assert.throws(() => w.assign(remote), /assign: tensors are on different devices/);
    });
    const made = tensor([1, 2, 3], { requiresGrad: true }).mul(2);
    assert.throws(() => noGrad(() => made.assign(tensor([0, 0, 0]))), /made by a recorded op/);
    assert.deepEqual(await w.toArray(), [1, 2, 3]);
    noGrad(() => w.assign(tensor([7, 8, 9])));
    assert.deepEqual(await w.toArray(), [7, 8, 9]);
  } finally {
    other.destroy();
  }
});
