/**
 * squeeze, unsqueeze, flatten, expand/broadcastTo and stack against the float64 reference,
 * forward and backward (`_tensor_check.ts`); which of them are views (no dispatch); and bad input.
 */

import assert from "node:assert/strict";
import {
  broadcastTo,
  defaultDevice,
  flatten,
  squeeze,
  stack,
  tensor,
  unsqueeze,
  zeros,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

/** A case whose result is `x`'s values in shape `shape` (a reshape in the reference). */
function viewCase(name: string, x: ref.F64, run: OpCase["run"], shape: number[]): OpCase {
  return { name, inputs: [x], run, ref: ([a]) => ref.reshape(a, shape) };
}

Deno.test("shape ops: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(31);
  const n = (...shape: number[]) => normal(shape, rng);

  await t.step("squeeze, unsqueeze and flatten", async (t) => {
    await checkAll(t, device, [
      viewCase("squeeze all [1, 7, 1, 33]", n(1, 7, 1, 33), ([x]) => x.squeeze(), [7, 33]),
      viewCase("squeeze −2 of [7, 1, 5]", n(7, 1, 5), ([x]) => squeeze(x, -2), [7, 5]),
      viewCase("squeeze 0 of [7, 5] leaves it", n(7, 5), ([x]) => x.squeeze(0), [7, 5]),
      viewCase("squeeze [0, 2] of [1, 7, 1]", n(1, 7, 1), ([x]) => x.squeeze([0, 2]), [7]),
      viewCase("squeeze of [1] is 0-d", n(1), ([x]) => x.squeeze(), []),
      viewCase("unsqueeze 0 of [7, 5]", n(7, 5), ([x]) => x.unsqueeze(0), [1, 7, 5]),
      viewCase("unsqueeze −1 of [7, 5]", n(7, 5), ([x]) => unsqueeze(x, -1), [7, 5, 1]),
      viewCase("unsqueeze 1 of [33]", n(33), ([x]) => x.unsqueeze(1), [33, 1]),
      viewCase("unsqueeze 0 of a 0-d tensor", n(), ([x]) => x.unsqueeze(0), [1]),
      viewCase("squeeze −1 of a 0-d tensor (PyTorch's)", n(), ([x]) => x.squeeze(-1), []),
      viewCase("flatten [2, 3, 5, 7]", n(2, 3, 5, 7), ([x]) => flatten(x), [210]),
      viewCase("flatten from 1 of [2, 3, 5, 7]", n(2, 3, 5, 7), ([x]) => x.flatten(1), [2, 105]),
      viewCase("flatten 1..2 of [2, 3, 5, 7]", n(2, 3, 5, 7), ([x]) => x.flatten(1, 2), [2, 15, 7]),
      viewCase("flatten −3..−2", n(2, 3, 5, 7), ([x]) => x.flatten(-3, -2), [2, 15, 7]),
      viewCase("flatten of a 0-d tensor is [1]", n(), ([x]) => x.flatten(), [1]),
      {
        name: "flatten of a transposed view copies",
        inputs: [n(5, 7)],
        run: ([x]) => x.transpose(0, 1).flatten(),
        ref: ([x]) => ref.reshape(ref.transpose(x, 0, 1), [35]),
      },
      {
        name: "squeeze of a transposed view, then an op",
        inputs: [n(5, 1, 7)],
        run: ([x]) => x.permute([2, 1, 0]).squeeze(1).exp(),
        ref: ([x]) => ref.exp(ref.reshape(ref.permute(x, [2, 1, 0]), [7, 5])),
      },
    ], rng);
  });

  await t.step("expand / broadcastTo: the gradient sums over the broadcast axes", async (t) => {
    const broadcastCase = (from: number[], sizes: number[], to: number[]): OpCase => ({
      name: `expand [${from}] to [${sizes}]`,
      inputs: [n(...from)],
      run: ([x]) => x.expand(sizes).mul(1),
      ref: ([x]) => ref.add(x, ref.zeros(to)),
    });
    await checkAll(t, device, [
      broadcastCase([3, 1], [2, 3, 4], [2, 3, 4]),
      broadcastCase([3, 1], [-1, 7], [3, 7]),
      broadcastCase([], [7, 33], [7, 33]),
      broadcastCase([1, 5], [1, 5], [1, 5]),
      {
        name: "broadcastTo [33] to [7, 33]",
        inputs: [n(33)],
        run: ([x]) => broadcastTo(x, [7, 33]),
        ref: ([x]) => ref.add(x, ref.zeros([7, 33])),
      },
    ], rng);
  });

  await t.step("stack: along a new axis, gradients to each input", async (t) => {
    const stackCase = (shape: number[], count: number, axis: number): OpCase => {
      const rank = shape.length;
      const at = axis < 0 ? axis + rank + 1 : axis;
      const inserted = [...shape.slice(0, at), 1, ...shape.slice(at)];
      return {
        name: `stack ${count} × [${shape}] at ${axis}`,
        inputs: Array.from({ length: count }, () => n(...shape)),
        run: (xs) => stack(xs, axis),
        ref: (xs) => ref.concat(xs.map((x) => ref.reshape(x, inserted)), at),
      };
    };
    await checkAll(t, device, [
      stackCase([7, 5], 3, 0),
      stackCase([7, 5], 2, 1),
      stackCase([7, 5], 3, -1),
      stackCase([33], 1, 0),
      stackCase([], 4, 0),
    ], rng);
  });
});

Deno.test("squeeze, unsqueeze, contiguous flatten and expand are views: no dispatch", async () => {
  const device = await defaultDevice();
  const x = zeros([2, 1, 3]), row = tensor([1, 2, 3]);
  const before = device.memory().dispatches;
  const views = [x.squeeze(), x.unsqueeze(-1), x.flatten(), row.expand([4, 3]), squeeze(x, 0)];
  assert.equal(device.memory().dispatches, before);
  assert.deepEqual(views.map((v) => [...v.shape]), [[2, 3], [2, 1, 3, 1], [6], [4, 3], [2, 1, 3]]);
  assert.deepEqual([...views[3].strides], [0, 1]);
  assert.deepEqual(await views[3].toArray(), [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]]);
  // i32 tensors too (the predicted classes of a batch, for instance).
  const labels = tensor([[3], [1]], { dtype: "i32" });
  assert.deepEqual(await labels.squeeze(1).toArray(), [3, 1]);
  assert.deepEqual(await stack([labels, labels], 0).toArray(), [[[3], [1]], [[3], [1]]]);
});

Deno.test("shape ops: bad input gets one clear line", async () => {
  await defaultDevice();
  const x = zeros([2, 3]);
  const cases: [() => unknown, RegExp][] = [
    [() => x.squeeze(2), /squeeze: axis 2 is out of range for a tensor of rank 2/],
    [() => x.unsqueeze(3), /unsqueeze: axis 3 is out of range for a tensor of rank 3/],
    [() => x.unsqueeze(-4), /unsqueeze: axis -4 is out of range/],
    [() => x.flatten(1, 0), /flatten: startDim 1 comes after endDim 0 \(rank 2\)/],
    [() => x.flatten(0, 2), /flatten: axis 2 is out of range/],
    [() => x.expand([3]), /expand: cannot expand \[2,3\] to \[3\]: 1 size for 2 axes/],
    [() => x.expand([2, 4]), /expand: cannot expand \[2,3\] to \[2,4\]: axis 1 has size 3, not 1/],
    [() => x.expand([-1, 2, 3]), /expand: cannot expand \[2,3\] to \[-1,2,3\]: −1 at new leading/],
    [() => broadcastTo(x, [2, -2]), /expand: cannot expand \[2,3\] to \[2,-2\]: size -2 at axis 1/],
    [() => stack([]), /stack: no tensors given/],
    [() => stack([x, zeros([3, 2])]), /stack: shapes \[2,3\] and \[3,2\] differ/],
    [() => stack([x, x], 3), /stack: axis 3 is out of range for a tensor of rank 3/],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});
