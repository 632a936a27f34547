/**
 * Run-time errors of the tensor API (shapes, devices, dtypes, misuse), transfers between
 * devices, autograd bookkeeping (accumulation, noGrad), memory scopes (tidy, keep) and the
 * random generator.
 */

import assert from "node:assert/strict";
import {
  concat,
  conv2d,
  crossEntropy,
  defaultDevice,
  Device,
  DeviceAssertionError,
  fromTypedArray,
  Generator,
  isGradEnabled,
  keep,
  manualSeed,
  matmul,
  maxPool2d,
  noGrad,
  oneHot,
  ones,
  rand,
  randn,
  ShapeError,
  split,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "../mod.ts";
import { philoxCpu } from "../kernels/_philox.ts";
import { rawOf, recordedOp } from "../tensor/tensor.ts";

/** Asserts that `fn` throws an instance of `type` whose message matches every pattern. */
function throwsWith(
  fn: () => unknown,
  type: new (...args: never[]) => Error,
  ...patterns: RegExp[]
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${error}`);
    for (const p of patterns) assert.match(error.message, p);
    return true;
  });
}

Deno.test("tensor errors, transfers, autograd and memory", async (t) => {
  const device = await defaultDevice();
  const live = () => device.memory().liveBytes;

  await t.step("shape errors at run time", () => {
    const start = live();
    tidy(() => {
      // Dynamic shapes pass the type checker; the sizes are checked when the op runs.
      const a = tensor([[1, 2, 3], [4, 5, 6]]).withRank(2);
      const b = zeros([4, 5]) as Tensor<readonly number[], "f32">;
      throwsWith(
        () => a.matmul(b.withRank(2)),
        ShapeError,
        /matmul: inner dimensions differ/,
        /\[2,3\] × \[4,5\]/,
        /3 ≠ 4/,
      );
      throwsWith(() => a.withRank(3), ShapeError, /expected a tensor of rank 3, got shape \[2,3\]/);
      // A matrix times a vector is torch.matmul's [2, 3] × [3] → [2]; the lengths must agree.
      throwsWith(
        () => matmul(a, zeros([4])),
        ShapeError,
        /inner dimensions differ: \[2,3\] × \[4\]/,
      );
      throwsWith(
        () => matmul(zeros([2, 2, 3]), zeros([3, 3, 4])),
        ShapeError,
        /the batch axes of \[2,2,3\] × \[3,3,4\] do not broadcast/,
      );
      throwsWith(
        // Literal shapes make this a compile error; a dynamic shape meets the run-time check.
        () => (tensor([1, 2, 3]) as Tensor).add(tensor([1, 2, 3, 4])),
        ShapeError,
        /add: shapes \[3\] and \[4\] do not broadcast/,
      );
      throwsWith(
        () => (zeros([2, 3]) as Tensor).mul(zeros([3, 2])),
        ShapeError,
        /mul: .*\[2,3\] and \[3,2\]/,
      );
      throwsWith(() => a.reshape([4]), ShapeError, /reshape: cannot view \[2,3\] \(6 elements\)/);
      throwsWith(() => a.reshape([-1, -1]), ShapeError, /at most one −1/);
      throwsWith(() => a.reshape([4, -1]), ShapeError, /reshape/);
      // Bounds past the ends clamp, as Python's (tensor_parity_test.ts); a bad axis does not.
      throwsWith(() => a.slice(2, 0, 1), ShapeError, /slice: axis 2 is out of range/);
      throwsWith(() => a.slice(1, 0.5, 2), ShapeError, /slice: start and end must be integers/);
      throwsWith(
        () => fromTypedArray(new Float32Array(0), [-1, 0]),
        ShapeError,
        /fromTypedArray: invalid shape \[-1,0\]/,
      );
      throwsWith(() => split(a, [1.5, 1.5], 1), ShapeError, /split: sizes must be integers ≥ 0/);
      throwsWith(() => split(a, [4, -1], 1), ShapeError, /split: sizes must be integers ≥ 0/);
      throwsWith(() => a.sum(2), ShapeError, /sum: axis 2 is out of range for a tensor of rank 2/);
      throwsWith(() => a.transpose(0, -3), ShapeError, /transpose: axis -3/);
      throwsWith(() => a.permute([0, 0]), ShapeError, /permute: \[0,0\] is not a permutation/);
      throwsWith(
        () => concat([a, zeros([2, 4])], 0),
        ShapeError,
        /concat: shapes \[2,3\] and \[2,4\] differ off axis 0/,
      );
      throwsWith(() => concat([a, zeros([3])], 0), ShapeError, /concat/);
      throwsWith(() => concat([], 0), ShapeError, /no tensors/);
      const logits = zeros([2, 5]);
      throwsWith(
        () => crossEntropy(logits, tensor([0, 1, 2], { dtype: "i32" })),
        ShapeError,
        /crossEntropy: labels \[3\] do not match logits \[2,5\]/,
      );
      throwsWith(
        () => crossEntropy(logits, tensor([[0], [1]], { dtype: "i32" })),
        ShapeError,
        /labels \[2,1\]/,
      );
      // [N, C, d1] logits need [N, d1] labels (or probabilities shaped as the logits).
      throwsWith(
        () => crossEntropy(zeros([2, 5, 1]), tensor([0, 1], { dtype: "i32" })),
        ShapeError,
        /^crossEntropy: labels \[2\] do not match logits \[2,5,1\] \(need \[2,1\] class indices or \[2,5,1\] probabilities\)$/,
      );
      throwsWith(
        () => crossEntropy(zeros([]), tensor(0, { dtype: "i32" })),
        ShapeError,
        /logits must be \[N, C, d1, …\]/,
      );
      throwsWith(() => crossEntropy(logits, tensor([0, 1])), TypeError, /labels must be i32/);
      throwsWith(() => tensor([[1, 2], [3]]), ShapeError, /ragged/);
      throwsWith(() => zeros([2, 1.5]), ShapeError, /invalid shape/);
      throwsWith(() => tensor([1, 2, 3], { shape: [2, 2] }), ShapeError, /3 values/);
    });
    assert.equal(live(), start, "the failed ops leave nothing allocated");

    // Outside any scope too: a call that fails its checks allocates nothing.
    const logits = zeros([2, 5]), floatLabels = tensor([0, 1]), three = zeros([3]) as Tensor;
    const before = live();
    throwsWith(() => crossEntropy(logits, floatLabels), TypeError, /labels must be i32/);
    throwsWith(() => (logits as Tensor).add(three), ShapeError, /broadcast/);
    throwsWith(() => matmul(logits, three), ShapeError, /inner dimensions differ/);
    assert.equal(live(), before);
    for (const t of [logits, floatLabels, three]) t.dispose();
  });

  await t.step("a label out of range in crossEntropy is an error at the next read", async () => {
    const logits = tensor([[1, 2, 3], [0, 0, 0], [3, 2, 1]]);
    for (
      const [labels, pattern] of [
        [[0, 3, 1], /crossEntropy: label 3 of sample 1 is outside the 3 classes \[0, 3\)/],
        [[-1, 0, 1], /crossEntropy: label -1 of sample 0 is outside the 3 classes/],
      ] as const
    ) {
      const loss = crossEntropy(logits, tensor([...labels], { dtype: "i32" }));
      await assert.rejects(loss.item(), (e: Error) => {
        assert.ok(e instanceof DeviceAssertionError, `${e}`);
        assert.match(e.message, pattern);
        return true;
      });
      loss.dispose();
    }
    // Reported once: the fault is cleared, and good labels give a finite loss.
    const good = crossEntropy(logits, tensor([2, 0, 0], { dtype: "i32" }));
    assert.ok(Math.abs(await good.item() - 0.6379414) < 1e-5);
    const hot = oneHot(tensor([0, 7], { dtype: "i32" }), 4);
    await assert.rejects(hot.data(), /oneHot: label 7 of sample 1 is outside the 4 classes/);
    for (const t of [logits, good, hot]) t.dispose();
  });

  await t.step("device errors name both devices and point to .to()", async () => {
    const other = await Device.acquire({ label: "second" });
    try {
      assert.notEqual(other, device);
      tidy(() => {
        const a = tensor([1, 2, 3]);
        const b = tensor([4, 5, 6], { device: other });
        assert.equal(b.device, other);
        const labels = tensor([0], { dtype: "i32", device: other });
        const attempts: [string, () => unknown][] = [
          ["add", () => a.add(b)],
          ["mul", () => b.mul(a)],
          ["matmul", () => matmul(a.reshape([1, 3]), b.reshape([3, 1]))],
          ["concat", () => concat([a, b], 0)],
          ["crossEntropy", () => crossEntropy(zeros([1, 3]), labels)],
        ];
        for (const [name, fn] of attempts) {
          throwsWith(
            fn,
            Error,
            new RegExp(`^${name}: tensors are on different devices`),
            new RegExp(`${device.label} \\(`),
            new RegExp(`${other.label} \\(`),
            /\.to\(/,
          );
        }
      });
      assert.equal(other.memory().liveBytes, 0, "tidy freed the other device's tensors");
    } finally {
      other.destroy();
    }
  });

  await t.step("dtype errors, item(), disposed tensors, backward misuse", async () => {
    const start = live();
    await tidy(async () => {
      const ints = tensor([1, 2, 3], { dtype: "i32" });
      const floats = tensor([1, 2, 3]);
      // The whole i32 range is accepted, its smallest value included; one past either end is not.
      const extremes = tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: "i32" });
      assert.deepEqual(await extremes.toArray(), [-(2 ** 31), 2 ** 31 - 1]);
      for (const v of [-(2 ** 31) - 1, 2 ** 31, 0.5]) {
        throwsWith(
          () => tensor([0, v], { dtype: "i32" }),
          RangeError,
          /value .* at 1 is not a 32-bit integer/,
        );
      }
      throwsWith(
        () => ints.exp(),
        TypeError,
        /exp: expected an f32 tensor, got i32 of shape \[3\]/,
      );
      // i32 with f32 is computed in f32, as PyTorch promotes (tests/api_strict_test.ts); the
      // integer divisions have no f32 kernel and say so (tests/integer_ops_test.ts).
      throwsWith(
        () => floats.floorDivide(2),
        TypeError,
        /^floorDivide: takes an i32 tensor and an i32 tensor or integer, got f32 and 2; f32 has no floorDivide yet$/,
      );
      throwsWith(() => ints.remainder(2.5), TypeError, /^remainder: .* got i32 and 2\.5;/);
      throwsWith(() => ints.mean(), TypeError, /mean: expected an f32/);
      throwsWith(() => matmul(ints.reshape([1, 3]), floats.reshape([3, 1])), TypeError, /matmul/);
      throwsWith(() => tensor([1.5], { dtype: "i32" }), RangeError, /not a 32-bit integer/);
      throwsWith(
        () => tensor([1, 2], { dtype: "i32", requiresGrad: true }),
        TypeError,
        /only f32 tensors can require gradients, got i32/,
      );
      // What is not a number is named (a string once recursed until the stack overflowed).
      const notNumbers = [["a"], [[1, 2], ["a", 3]], [true], [null], [{}]];
      for (const bad of notNumbers) {
        throwsWith(
          () => tensor(bad as unknown as number[]),
          TypeError,
          /^tensor: .* is not a number$/,
        );
      }
      const back = await ints.data();
      assert.ok(back instanceof Int32Array);
      assert.deepEqual(Array.from(back), [1, 2, 3]);

      await assert.rejects(floats.item(), (e: Error) => {
        assert.ok(e instanceof ShapeError);
        assert.match(e.message, /item: tensor has shape \[3\], not 1 element/);
        return true;
      });
      assert.equal(await tensor([[42]]).item(), 42);

      const gone = tensor([1, 2]);
      gone.dispose();
      gone.dispose(); // twice is fine
      assert.equal(gone.disposed, true);
      throwsWith(() => gone.add(1), Error, /a disposed tensor of shape \[2\] was used/);
      await assert.rejects(gone.data(), /a disposed tensor/);

      await assert.rejects(floats.sum().backward(), /does not require a gradient/);
      const w = tensor([1, 2, 3], { requiresGrad: true });
      const doubled = w.mul(2);
      await assert.rejects(doubled.backward(), (e: Error) => {
        assert.ok(e instanceof ShapeError);
        assert.match(e.message, /pass a gradient for non-scalar outputs/);
        return true;
      });
      await assert.rejects(doubled.backward(tensor([1, 10])), (e: Error) => {
        assert.ok(e instanceof ShapeError);
        assert.match(e.message, /backward: the gradient has shape \[2\], the tensor \[3\]/);
        return true;
      });
      // With an explicit upstream gradient a non-scalar output back-propagates.
      await doubled.backward(tensor([1, 10, 100]));
      assert.deepEqual(Array.from(await w.grad!.data()), [2, 20, 200]);

      // A second backward through a graph the first one freed is an error, not a silent
      // gradient for an intermediate tensor.
      w.zeroGrad();
      const hidden = w.exp();
      const first = hidden.sum();
      const second = hidden.mul(hidden).sum(); // its product saves `hidden`
      await first.backward();
      await assert.rejects(second.backward(), /graph behind a tensor of shape \[3\] was freed/);
      await assert.rejects(first.backward(), /was freed by an earlier backward/);
      assert.equal(hidden.grad, null, "no gradient was parked on the intermediate");
      w.zeroGrad();
    });
    // Known limitation: a graph whose backward never runs keeps the tensors its nodes saved
    // (here `second` saved `hidden`, 16 bytes); disposing the output does not free them.
    assert.equal(live() - start, 16, `${live() - start} bytes left`);
  });

  await t.step("to(device) round trip copies data and gradients flow back", async () => {
    const other = await Device.acquire({ label: "remote" });
    try {
      const x = tensor([[1, -2], [3, 4]], { requiresGrad: true });
      const remote = await x.to(other);
      assert.equal(remote.device, other);
      assert.deepEqual(remote.shape, [2, 2]);
      assert.deepEqual(await remote.toArray(), [[1, -2], [3, 4]]);
      const back = await remote.to(device);
      assert.equal(back.device, device);
      assert.deepEqual(await back.toArray(), [[1, -2], [3, 4]]);

      // loss = Σ (x on the other device)² · 3 → dloss/dx = 6x, computed on `other`.
      const loss = tidy(() => remote.mul(remote).mul(3).sum());
      assert.equal(loss.device, other);
      assert.equal(await loss.item(), 90);
      await loss.backward();
      assert.equal(x.grad!.device, device, "the gradient arrives on x's device");
      assert.deepEqual(await x.grad!.toArray(), [[6, -12], [18, 24]]);

      // `back` hangs off `remote`, whose graph that backward freed.
      const stale = tidy(() => back.mul(x).sum());
      await assert.rejects(stale.backward(), /was freed by an earlier backward/);

      // Through a fresh round trip: d/dx Σ back · x = 2x.
      x.zeroGrad();
      const there = await x.to(other);
      const again = await there.to(device);
      const loss2 = tidy(() => again.mul(x).sum());
      await loss2.backward();
      assert.deepEqual(await x.grad!.toArray(), [[2, -4], [6, 8]]);

      // i32 data survives a transfer bit for bit.
      const labels = tensor([7, -3, 2 ** 30], { dtype: "i32" });
      const moved = await labels.to(other);
      assert.equal(moved.dtype, "i32");
      assert.deepEqual(Array.from(await moved.data()), [7, -3, 2 ** 30]);

      // A transfer to the same device shares the data.
      const same = await x.to(device);
      assert.equal(rawOf(same).storage, rawOf(x).storage);
      const all = [x, remote, back, stale, loss, there, again, loss2, labels, moved, same];
      for (const t of all) t.dispose();
      x.zeroGrad();
      assert.equal(other.memory().liveBytes, 0, "nothing left on the other device");
    } finally {
      other.destroy();
    }
  });

  await t.step("autograd: accumulation across backward calls, shared inputs, noGrad", async () => {
    const start = live();
    const w = tensor([1, 2, 3], { requiresGrad: true });
    const step = async () => {
      const loss = tidy(() => w.mul(w).sum()); // d/dw = 2w
      await loss.backward();
      loss.dispose();
    };
    await step();
    assert.deepEqual(Array.from(await w.grad!.data()), [2, 4, 6]);
    await step();
    assert.deepEqual(Array.from(await w.grad!.data()), [4, 8, 12], "two backward calls add");
    w.zeroGrad();
    assert.equal(w.grad, null);
    await step();
    assert.deepEqual(Array.from(await w.grad!.data()), [2, 4, 6], "zeroGrad resets");

    // A leaf's own backward() seeds its gradient with ones.
    w.zeroGrad();
    const leaf = tensor([[5]], { requiresGrad: true });
    await leaf.backward();
    await leaf.backward();
    assert.deepEqual(await leaf.grad!.toArray(), [[2]]);
    leaf.zeroGrad();
    leaf.dispose();

    // noGrad: nothing is recorded, the flag is restored (also after a throw and for async fns).
    const recorded = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return w.mul(2);
    });
    assert.equal(isGradEnabled(), true);
    assert.equal(recorded.requiresGrad, false);
    assert.equal(recordedOp(recorded), null);
    const total = recorded.sum();
    await assert.rejects(total.backward(), /does not require a gradient/);
    assert.throws(() =>
      noGrad(() => {
        throw new Error("boom");
      }), /boom/);
    assert.equal(isGradEnabled(), true);
    await noGrad(async () => {
      await Promise.resolve();
      assert.equal(isGradEnabled(), false);
    });
    assert.equal(isGradEnabled(), true);

    // detach() cuts the graph: only the attached path contributes.
    const loss = tidy(() => w.mul(w.detach()).sum()); // d/dw = w (not 2w)
    await loss.backward();
    assert.deepEqual(Array.from(await w.grad!.data()), [1, 2, 3]);
    for (const t of [w, recorded, total, loss]) t.dispose();
    w.zeroGrad();
    assert.equal(live(), start, `${live() - start} bytes left`);
  });

  await t.step("tidy disposes intermediates and keeps what it returns; keep()", async () => {
    const start = live();
    const x = tensor([1, 2, 3, 4]); // one 16-byte buffer
    assert.equal(live() - start, 16);

    const y = tidy(() => x.mul(2).add(1).exp().neg());
    assert.equal(y.disposed, false);
    assert.equal(live() - start, 32, "three intermediates freed, the result kept");

    let kept: Tensor | undefined;
    const { a, list } = tidy(() => {
      kept = keep(x.add(10));
      x.mul(100); // dropped
      return { a: x.add(1), list: [x.add(2), x.add(3)] };
    });
    assert.equal(live() - start, 16 * 6, "x, y, kept, a and the two list items");
    assert.deepEqual(Array.from(await kept!.data()), [11, 12, 13, 14]);
    assert.deepEqual(Array.from(await list[1].data()), [4, 5, 6, 7]);

    // Nested scopes: a tensor returned by the inner scope belongs to the outer one.
    const outer = tidy(() => {
      const inner = tidy(() => x.mul(3));
      const other = inner.add(1);
      return other;
    });
    assert.equal(live() - start, 16 * 7, "inner's result was freed by the outer scope");
    assert.deepEqual(Array.from(await outer.data()), [4, 7, 10, 13]);

    // An async scope stays open until it settles.
    const viaAsync = await tidy(async () => {
      const z = x.mul(5);
      await z.data();
      return z.add(1);
    });
    assert.equal(live() - start, 16 * 8);

    // A throwing scope disposes what it created.
    assert.throws(() =>
      tidy(() => {
        x.mul(2);
        throw new Error("inside");
      }), /inside/);
    assert.equal(live() - start, 16 * 8);

    // Views keep the data alive after the viewed tensor's handle is disposed.
    const m = tensor([[1, 2], [3, 4]]);
    const view = m.withRank(2).T();
    m.dispose();
    assert.deepEqual(await view.toArray(), [[1, 3], [2, 4]]);
    view.dispose();

    for (const t of [x, y, kept!, a, ...list, outer, viaAsync]) t.dispose();
    assert.equal(live(), start, "everything freed");
    const stats = device.memory();
    assert.ok(stats.pooledBytes > 0 && stats.peakBytes >= stats.liveBytes + stats.pooledBytes);
  });

  await t.step("random: seeds, distributions, Philox", async () => {
    // Random123's known answer for Philox4x32-10 with a zero counter and key.
    assert.deepEqual(philoxCpu([0, 0, 0, 0], [0, 0]), [
      0x6627e8d5,
      0xe169c58d,
      0xbc57ac4c,
      0x9b00dbd8,
    ]);
    // …and for all-ones (also from the Random123 kat_vectors).
    assert.deepEqual(
      philoxCpu([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    );
    assert.deepEqual(
      philoxCpu([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    );

    const read = async (t: Tensor) => {
      const values = Float32Array.from(await t.data());
      t.dispose();
      return values;
    };
    const a = await read(new Generator(42).normal([1000]));
    const b = await read(new Generator(42).normal([1000]));
    const c = await read(new Generator(43).normal([1000]));
    assert.deepEqual(a, b, "same seed, same values");
    assert.ok(a.some((v, i) => v !== c[i]), "different seed, different values");

    // Successive draws differ; restoring a state replays them.
    const g = new Generator(7);
    const state = g.state();
    const first = await read(g.uniform([33]));
    const second = await read(g.uniform([33]));
    assert.ok(first.some((v, i) => v !== second[i]));
    g.setState(state);
    assert.deepEqual(await read(g.uniform([33])), first);

    // The GPU's uniform draws are exactly Philox on the CPU: element 4q + j = word j of
    // philox([q, 0, 0, 0], [seed, 0]) >> 8, scaled by 2⁻²⁴.
    const words = Array.from({ length: 9 }, (_, q) => philoxCpu([q, 0, 0, 0], [42, 0])).flat();
    const expected = Float32Array.from(words.slice(0, 33), (w) => (w >>> 8) * 2 ** -24);
    assert.deepEqual(await read(new Generator(42).uniform([33])), expected);

    manualSeed(5);
    const n = 100_000;
    const normal = await read(randn([n]));
    const stats = moments(normal);
    assert.ok(Math.abs(stats.mean) < 0.01, `normal mean ${stats.mean}`);
    assert.ok(Math.abs(stats.std - 1) < 0.01, `normal std ${stats.std}`);
    const within1 = normal.filter((v) => Math.abs(v) < 1).length / n;
    assert.ok(Math.abs(within1 - 0.6827) < 0.01, `P(|z| < 1) = ${within1}`);
    manualSeed(5);
    assert.deepEqual(await read(randn([8])), normal.slice(0, 8), "manualSeed restarts the stream");

    const shifted = moments(await read(randn([n], { mean: 3, std: 0.5 })));
    assert.ok(Math.abs(shifted.mean - 3) < 0.01 && Math.abs(shifted.std - 0.5) < 0.01);

    const u = await read(rand([n], { low: -2, high: 5 }));
    assert.ok(u.every((v) => v >= -2 && v < 5), "uniform draws lie in [low, high)");
    const um = moments(u);
    assert.ok(Math.abs(um.mean - 1.5) < 0.03, `uniform mean ${um.mean}`);
    assert.ok(Math.abs(um.std - 7 / Math.sqrt(12)) < 0.02, `uniform std ${um.std}`);
    const u01 = await read(rand([n]));
    assert.ok(u01.every((v) => v >= 0 && v < 1));
    assert.ok(Math.min(...u01) < 1e-3 && Math.max(...u01) > 1 - 1e-3, "covers the range");

    const mask = await read(new Generator(1).bernoulli([n], 0.3, 2));
    assert.ok(mask.every((v) => v === 0 || v === 2));
    const kept = mask.filter((v) => v === 2).length / n;
    assert.ok(Math.abs(kept - 0.3) < 0.01, `bernoulli rate ${kept}`);
  });
});

function moments(values: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

Deno.test("shape errors count in the singular when there is one", async () => {
  const device = await defaultDevice();
  assert.throws(
    () => conv2d(zeros([1, 1, 4, 4], { device }), zeros([2, 3, 3, 3], { device }), null),
    /conv2d: input has 1 channel but weight \[2,3,3,3\] with 1 group expects 3$/,
  );
  assert.throws(
    () => tensor([1], { shape: [2], device }),
    /tensor: 1 value cannot fill shape \[2\]/,
  );
  assert.throws(() => zeros([1], { device }).reshape([2]), /\(1 element\) as \[2\]/);
  assert.throws(() => zeros([1], { device }).permute([0, 0]), /permutation of 1 axis$/);
});

Deno.test("crossEntropy: class weights that require a gradient are an error at the backward, as in PyTorch", async () => {
  await defaultDevice();
  const labels = tensor([2, 0], { dtype: "i32" });
  const weight = tensor([1, 0.5, 2], { requiresGrad: true });
  for (const logitsNeedGrad of [true, false]) {
    const x = tensor([[1, 2, 3], [0, -1, 4]], { requiresGrad: logitsNeedGrad });
    // The forward is fine: only the gradient is missing.
    const loss = crossEntropy(x, labels, { weight });
    assert.ok(Number.isFinite(await loss.item()));
    await assert.rejects(
      () => loss.backward(),
      /^Error: crossEntropy: the class weight requires a gradient, which is not implemented/,
    );
    for (const t of [x, loss]) t.dispose();
  }
  // Detached, or without requiresGrad, the weight is a constant and the logits get gradients.
  const x = tensor([[1, 2, 3], [0, -1, 4]], { requiresGrad: true });
  const loss = crossEntropy(x, labels, { weight: weight.detach() });
  await loss.backward();
  assert.equal(x.grad!.shape.join(), "2,3");
  assert.equal(weight.grad, null);
  for (const t of [x, loss, labels, weight]) t.dispose();
});

Deno.test("invalid sizes and options are one-line errors naming the option", async () => {
  await defaultDevice();
  const x = ones([1, 2, 5, 5]), w = ones([4, 2, 3, 3]);
  const errors: [() => unknown, RegExp][] = [
    [() => conv2d(x, w, null, { stride: 0 }), /conv2d: stride must be a positive integer.*got 0/],
    [() => conv2d(x, w, null, { stride: [1, -2] }), /conv2d: stride must be .*got 1,-2/],
    [() => conv2d(x, w, null, { stride: 1.5 }), /conv2d: stride must be a positive integer/],
    [() => conv2d(x, w, null, { padding: -1 }), /conv2d: padding must be a non-negative integer/],
    [() => conv2d(x, w, null, { groups: 0 }), /conv2d: groups must be a positive integer, got 0/],
    [() => conv2d(x, ones([4, 2, 8, 8]), null, { padding: 1 }), /8×8 window .* does not fit/],
    [() => maxPool2d(x, { kernel: 0 }), /maxPool2d: kernel must be a positive integer.*got 0/],
    [() => maxPool2d(x, { kernel: 2, stride: 0 }), /maxPool2d: stride must be a positive/],
    [() => maxPool2d(x, { kernel: 2, padding: -1 }), /maxPool2d: padding must be a non-neg/],
    [() => maxPool2d(x, { kernel: 6 }), /6×6 window .* does not fit a 5×5 input/],
  ];
  for (const [call, message] of errors) assert.throws(call, message);
  for (const t of [x, w]) t.dispose();
});

Deno.test("reductions: an axis named twice, and the maximum of an empty axis, are errors", async () => {
  await defaultDevice();
  const x = ones([2, 3]);
  // Summing [0, -2] once each would be a silent [0].
  assert.throws(() => x.sum([0, -2]), /sum: axis 0 is named twice in \[0,-2\] \(rank 2\)/);
  assert.throws(() => x.mean([1, 1]), /mean: axis 1 is named twice/);
  assert.throws(() => x.max([1, -1], true), /max: axis 1 is named twice/);
  const empty = zeros([0, 3]);
  assert.throws(() => empty.max(0), /max: axis 0 of \[0,3\] is empty: no maximum/);
  assert.throws(() => empty.max(), /max: axis 0 of \[0,3\] is empty/);
  assert.deepEqual(await empty.max(1).toArray(), []);
  for (const t of [x, empty]) t.dispose();
});
