/**
 * Shape ops of the public `Tensor` API (reshape, transpose, permute, slice, concat, split, and
 * ops on the views they make) against the float64 reference, forward and backward (see
 * `_tensor_check.ts`).
 */

import assert from "node:assert/strict";
import {
  concat,
  defaultDevice,
  permute,
  reshape,
  slice,
  split,
  tensor,
  transpose,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { mulberry32 } from "./_reference.ts";
import { checkAll, normal } from "./_tensor_check.ts";

Deno.test("tensor ops: shape", async (t) => {
  const device = await defaultDevice();
  const rng = mulberry32(99);
  const n = (...shape: number[]) => normal(shape, rng);

  await t.step("reshape", async (t) => {
    await checkAll(t, device, [
      {
        name: "[6, 7] → [7, −1, 2]",
        inputs: [n(6, 7)],
        run: ([x]) => x.reshape([7, -1, 2]),
        ref: ([x]) => ref.reshape(x, [7, 3, 2]),
      },
      {
        name: "[129] → [1, 129] → [129, 1] (function form)",
        inputs: [n(129)],
        run: ([x]) => reshape(reshape(x, [1, 129]), [129, 1]),
        ref: ([x]) => ref.reshape(x, [129, 1]),
      },
      {
        name: "of a transposed view (copies), then an op",
        inputs: [n(5, 7)],
        run: ([x]) => x.transpose(0, 1).reshape([35]).mul(x.reshape([35])),
        ref: ([x]) => ref.mul(ref.reshape(ref.transpose(x, 0, 1), [35]), ref.reshape(x, [35])),
      },
      {
        name: "to a scalar shape []",
        inputs: [n(1, 1)],
        run: ([x]) => x.reshape([]),
        ref: ([x]) => ref.reshape(x, []),
      },
    ], rng);
  });

  await t.step("transpose and permute views, then ops on them", async (t) => {
    await checkAll(t, device, [
      {
        name: "T() then exp",
        inputs: [n(7, 33)],
        run: ([x]) => x.withRank(2).T().exp(),
        ref: ([x]) => ref.exp(ref.transpose(x, 0, 1)),
      },
      {
        name: "transpose(0, 2) read back directly",
        inputs: [n(2, 3, 5)],
        run: ([x]) => transpose(x, 0, 2),
        ref: ([x]) => ref.transpose(x, 0, 2),
      },
      {
        name: "transpose(−1, −2) plus a contiguous tensor",
        inputs: [n(3, 4, 5), n(3, 5, 4)],
        run: ([x, y]) => x.transpose(-1, -2).add(y),
        ref: ([x, y]) => ref.add(ref.transpose(x, -1, -2), y),
      },
      {
        name: "permute [2, 0, 1] times a broadcast row",
        inputs: [n(3, 4, 5), n(4)],
        run: ([x, y]) => x.permute([2, 0, 1]).mul(y),
        ref: ([x, y]) => ref.mul(ref.permute(x, [2, 0, 1]), y),
      },
      {
        name: "permute with negative axes, then sum over an axis",
        inputs: [n(2, 7, 3)],
        run: ([x]) => permute(x, [-1, 0, 1]).sum(1),
        ref: ([x]) => ref.sum(ref.permute(x, [2, 0, 1]), [1]),
      },
      {
        name: "a view used twice (gradients add)",
        inputs: [n(5, 5)],
        run: ([x]) => x.withRank(2).T().mul(x).add(x.withRank(2).T()),
        ref: ([x]) => ref.add(ref.mul(ref.transpose(x, 0, 1), x), ref.transpose(x, 0, 1)),
      },
      {
        name: "contiguous() of a view",
        inputs: [ref.map(n(4, 6), (v) => Math.abs(v) + 1)],
        run: ([x]) => x.withRank(2).T().contiguous().sqrt().log(),
        ref: ([x]) => ref.log(ref.sqrt(ref.transpose(x, 0, 1))),
      },
    ], rng);
  });

  await t.step("slice", async (t) => {
    await checkAll(t, device, [
      {
        name: "[7, 33] axis 1 [3, 20)",
        inputs: [n(7, 33)],
        run: ([x]) => x.slice(1, 3, 20),
        ref: ([x]) => ref.slice(x, [0, 3], [7, 20]),
      },
      {
        name: "[129] negative start and end",
        inputs: [n(129)],
        run: ([x]) => x.slice(0, -10, -1),
        ref: ([x]) => ref.slice(x, [119], [128]),
      },
      {
        name: "[3, 4, 5] axis −2 one row, end past the size (clamped)",
        inputs: [n(3, 4, 5)],
        run: ([x]) => slice(x, -2, 3, 99),
        ref: ([x]) => ref.slice(x, [0, 3, 0], [3, 4, 5]),
      },
      {
        name: "of a transposed view",
        inputs: [n(5, 7)],
        run: ([x]) => x.withRank(2).T().slice(0, 1, 6),
        ref: ([x]) => ref.slice(ref.transpose(x, 0, 1), [1, 0], [6, 5]),
      },
      {
        name: "two overlapping slices (gradients add)",
        inputs: [n(9)],
        run: ([x]) => x.slice(0, 0, 6).mul(x.slice(0, 3, 9)),
        ref: ([x]) => ref.mul(ref.slice(x, [0], [6]), ref.slice(x, [3], [9])),
      },
    ], rng);
  });

  await t.step("concat and split", async (t) => {
    await checkAll(t, device, [
      {
        name: "concat three along axis 0",
        inputs: [n(2, 3), n(4, 3), n(1, 3)],
        run: (xs) => concat(xs, 0),
        ref: (xs) => ref.concat(xs, 0),
      },
      {
        name: "concat along axis −1 of rank 3",
        inputs: [n(3, 2, 1), n(3, 2, 7)],
        run: (xs) => concat(xs, -1),
        ref: (xs) => ref.concat(xs, 2),
      },
      {
        name: "concat a transposed view with a tensor",
        inputs: [n(4, 3), n(2, 4)],
        run: ([a, b]) => concat([a.withRank(2).T(), b], 0),
        ref: ([a, b]) => ref.concat([ref.transpose(a, 0, 1), b], 0),
      },
      {
        name: "split [7, 5] into [2, 4, 1] along axis 0",
        inputs: [n(7, 5)],
        run: ([x]) => split(x, [2, 4, 1], 0),
        ref: ([x]) => ref.split(x, [2, 4, 1], 0),
      },
      {
        name: "split [3, 33] along axis −1 into [1, 32]",
        inputs: [n(3, 33)],
        run: ([x]) => split(x, [1, 32], -1),
        ref: ([x]) => ref.split(x, [1, 32], 1),
      },
      {
        name: "split then concat in reverse order",
        inputs: [n(2, 6)],
        run: ([x]) => concat(split(x, [2, 4], 1).reverse(), 1),
        ref: ([x]) => ref.concat(ref.split(x, [2, 4], 1).reverse(), 1),
      },
    ], rng);
  });

  await t.step("views share data; reshape of a contiguous tensor copies nothing", async () => {
    const before = device.memory().liveBytes;
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const r = x.reshape([3, 2]), tr = x.withRank(2).T();
    assert.equal(device.memory().liveBytes - before, 32, "one 24-byte buffer (size class 32)");
    assert.equal(tr.isContiguous, false);
    assert.deepEqual(tr.strides, [1, 3]);
    assert.deepEqual(await tr.toArray(), [[1, 4], [2, 5], [3, 6]]);
    assert.deepEqual(await r.toArray(), [[1, 2], [3, 4], [5, 6]]);
    for (const v of [x, r, tr]) v.dispose();
    assert.equal(device.memory().liveBytes, before);
  });
});
