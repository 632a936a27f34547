/**
 * Every layer of `nn/` against the float64 reference: forward values, and gradients of
 * L = Σ y ⊙ u (u random) for the input and every parameter against central differences of the
 * reference. Dropout's train/eval behaviour and LRN's channel groups are checked on their own.
 */

import assert from "node:assert/strict";
import {
  adaptiveAvgPool2d,
  avgPool2d,
  defaultDevice,
  Generator,
  maxPool2d,
  type Shape,
  type Tensor,
} from "../mod.ts";
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  ReLU,
  Sequential,
  Tanh,
} from "../nn/mod.ts";
import { Module } from "../nn/module.ts";
import * as ref from "./_reference.ts";
import { assertClose } from "./_gradcheck.ts";
import { check, randF32, upload } from "./_layer_check.ts";

await defaultDevice();

Deno.test("nn layers against the f64 reference", async (t) => {
  await t.step("Conv2d: stride, padding, bias", async () => {
    const layer = new Conv2d({
      inChannels: 3,
      outChannels: 4,
      kernelSize: [3, 2],
      stride: [2, 1],
      padding: 1,
    });
    await check({
      label: "conv",
      layer,
      input: randF32([2, 3, 7, 6], 1),
      reference: (x, [w, b]) => ref.conv2d(x, w, b, { stride: [2, 1], padding: [1, 1] }),
    });
  });

  await t.step('Conv2d padding "same" and "valid", as PyTorch\'s (odd padding after)', async () => {
    // "same" read as the pair of its letters: 'padding must be … got s,a'.
    /** `x` zero-padded by `[top, bottom, left, right]`: PyTorch's uneven "same". */
    const padded = (x: ref.F64, [top, bottom, left, right]: number[]): ref.F64 => {
      const [n, c, h, w] = x.shape;
      const out = ref.zeros([n, c, h + top + bottom, w + left + right]);
      const [oh, ow] = [out.shape[2], out.shape[3]];
      for (let p = 0; p < n * c; p++) {
        for (let i = 0; i < h; i++) {
          for (let j = 0; j < w; j++) {
            out.data[(p * oh + i + top) * ow + j + left] = x.data[(p * h + i) * w + j];
          }
        }
      }
      return out;
    };
    const cases: [[number, number], [number, number], number[]][] = [
      [[3, 3], [1, 1], [1, 1, 1, 1]],
      [[4, 2], [1, 1], [1, 2, 0, 1]], // even kernels: the odd padding after
      [[2, 3], [2, 1], [1, 1, 1, 1]], // dilated 2-tap axis: even span
      [[4, 4], [3, 1], [4, 5, 1, 2]],
    ];
    for (const [kernelSize, dilation, pads] of cases) {
      const layer = new Conv2d({
        inChannels: 2,
        outChannels: 3,
        kernelSize,
        dilation,
        padding: "same",
      });
      assert.deepEqual(layer.outputShape([2, 2, 6, 5]), [2, 3, 6, 5]);
      await check({
        label: `same ${kernelSize} dilation ${dilation}`,
        layer,
        input: randF32([2, 2, 6, 5], 21),
        reference: (x, [w, b]) => ref.conv2d(padded(x, pads), w, b, { dilation }),
      });
    }
    const valid = new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, padding: "valid" });
    assert.deepEqual(valid.padding, [0, 0]);
    assert.deepEqual(valid.forward(upload(randF32([1, 2, 5, 5], 22)).withRank(4)).shape, [
      1,
      3,
      3,
      3,
    ]);
    assert.throws(
      () =>
        new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, stride: 2, padding: "same" }),
      /^RangeError: Conv2d: padding "same" needs stride 1, as PyTorch's \(got 2,2\)$/,
    );
    assert.throws(
      () => new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: "full" as "same" }),
      /Conv2d: padding must be a non-negative integer, a pair of them, "same" or "valid", got "full"/,
    );
  });

  await t.step("Conv2d: groups 2, fused ReLU, no bias", async () => {
    const layer = new Conv2d({
      inChannels: 4,
      outChannels: 6,
      kernelSize: 3,
      padding: 1,
      groups: 2,
      bias: false,
      relu: true,
    });
    assert.equal(layer.bias, null);
    assert.deepEqual(layer.weight.shape, [6, 2, 3, 3]);
    await check({
      label: "grouped conv",
      layer,
      input: randF32([2, 4, 5, 5], 2),
      reference: (x, [w]) => ref.relu(ref.conv2d(x, w, null, { padding: [1, 1], groups: 2 })),
    });
  });

  await t.step("Conv2d: PyTorch default init bounds ±1/√fan_in", async () => {
    const layer = new Conv2d({ inChannels: 8, outChannels: 64, kernelSize: 3, groups: 2 });
    const bound = 1 / Math.sqrt(4 * 9);
    for (const p of [layer.weight, layer.bias!]) {
      const v = await p.data();
      assert.ok(v.every((e) => Math.abs(e) <= bound), "inside the bound");
      assert.ok(Math.max(...v) > 0.8 * bound && Math.min(...v) < -0.8 * bound, "fills it");
    }
    assert.deepEqual(layer.outputShape([5, 8, 10, 9]), [5, 64, 8, 7]);
    assert.throws(() => layer.outputShape([5, 7, 10, 9]), /expected \[8, H, W\] or \[N, 8, H, W\]/);
    assert.throws(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 1, groups: 2 }));
  });

  await t.step("Linear, with and without fused ReLU", async () => {
    const plain = new Linear({ inFeatures: 7, outFeatures: 5 });
    await check({
      label: "linear",
      layer: plain,
      input: randF32([3, 7], 3),
      reference: (x, [w, b]) => ref.linear(x, w, b),
    });
    const fused = new Linear({ inFeatures: 6, outFeatures: 4, relu: true, bias: false });
    assert.equal(fused.bias, null);
    await check({
      label: "linear+relu",
      layer: fused,
      input: randF32([5, 6], 4),
      reference: (x, [w]) => ref.relu(ref.linear(x, w, null)),
    });
    const bound = 1 / Math.sqrt(7);
    assert.ok((await plain.weight.data()).every((v) => Math.abs(v) <= bound));
  });

  await t.step("Linear over [*, in] (F.linear's leading axes, a 1-D input included)", async () => {
    const fc = new Linear({ inFeatures: 5, outFeatures: 3 });
    await check({
      label: "linear [2,3,5]",
      layer: fc,
      input: randF32([2, 3, 5], 7),
      reference: (x, [w, b]) => ref.linear(x, w, b),
    });
    await check({
      label: "linear [5]",
      layer: new Linear({ inFeatures: 5, outFeatures: 4, relu: true }),
      input: randF32([5], 8),
      reference: (x, [w, b]) => ref.relu(ref.linear(x, w, b)),
    });
    assert.deepEqual(fc.outputShape([7, 2, 5]), [7, 2, 3]);
    assert.deepEqual(fc.outputShape([5]), [3]);
    assert.throws(() => fc.outputShape([2, 4]), /Linear: expected \[\*, 5\], got \[2,4\]/);
    assert.throws(() => fc.outputShape([]), /Linear: expected \[\*, 5\], got \[\]/);
    assert.throws(
      () => fc.forward(upload(randF32([2, 3, 4], 9)).withRank(3)),
      /Linear: expected \[\*, 5\]/,
    );
  });

  await t.step("Conv2d and Linear with activation tanh (forward and every gradient)", async () => {
    const conv = new Conv2d({
      inChannels: 4,
      outChannels: 4,
      kernelSize: 3,
      groups: 2,
      activation: "tanh",
    });
    assert.deepEqual([conv.activation, conv.relu], ["tanh", false]);
    await check({
      label: "conv+tanh",
      layer: conv,
      input: randF32([2, 4, 5, 5], 5),
      reference: (x, [w, b]) => ref.tanh(ref.conv2d(x, w, b, { groups: 2 })),
    });
    const fc = new Linear({ inFeatures: 6, outFeatures: 3, activation: "tanh" });
    await check({
      label: "linear+tanh",
      layer: fc,
      input: randF32([4, 6], 6),
      reference: (x, [w, b]) => ref.tanh(ref.linear(x, w, b)),
    });
    assert.equal(new Linear({ inFeatures: 2, outFeatures: 2, activation: "relu" }).relu, true);
    assert.throws(
      () => new Linear({ inFeatures: 2, outFeatures: 2, relu: true, activation: "tanh" }),
      /relu: true contradicts activation 'tanh'/,
    );
  });

  await t.step("ReLU and Tanh", async () => {
    await check({
      label: "relu",
      layer: new ReLU(),
      input: randF32([4, 5], 5),
      reference: (x) => ref.relu(x),
    });
    await check({
      label: "tanh",
      layer: new Tanh(),
      input: randF32([4, 5], 6),
      reference: (x) => ref.tanh(x),
    });
  });

  await t.step("AvgPool2d: padding counted or not, ceil mode, divisor override", async () => {
    const opts = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] } as ref.AvgPool2dOptions;
    await check({
      label: "avg 3/2 pad 1",
      layer: new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 }),
      input: randF32([2, 3, 9, 7], 10),
      reference: (x) => ref.avgPool2d(x, opts),
    });
    const clipped = new AvgPool2d({
      kernelSize: [3, 2],
      stride: [2, 3],
      padding: [1, 1],
      ceilMode: true,
      countIncludePad: false,
    });
    const clippedOpts = { kernel: [3, 2], stride: [2, 3], padding: [1, 1], ceilMode: true };
    await check({
      label: "avg ceil, padding not counted",
      layer: clipped,
      input: randF32([1, 2, 8, 6], 11),
      reference: (x) =>
        ref.avgPool2d(x, { ...clippedOpts, countIncludePad: false } as ref.AvgPool2dOptions),
    });
    assert.deepEqual(clipped.outputShape([1, 2, 8, 6]), [1, 2, 5, 3]);
    // Ceil mode keeps a window larger than the input, clipped to it, as PyTorch does.
    await check({
      label: "avg window over the whole input",
      layer: new AvgPool2d({ kernelSize: 3, ceilMode: true }),
      input: randF32([1, 2, 2, 2], 16),
      reference: (x) => ref.avgPool2d(x, { kernel: [3, 3], ceilMode: true }),
    });
    await check({
      label: "avg divisor override",
      layer: new AvgPool2d({ kernelSize: 2, divisorOverride: 3 }),
      input: randF32([1, 2, 5, 5], 12),
      reference: (x) => ref.avgPool2d(x, { kernel: [2, 2], divisorOverride: 3 }),
    });
    assert.throws(
      () => new AvgPool2d({ kernelSize: 2, padding: 2 }),
      /AvgPool2d: padding must be at most half the kernel, got padding 2 for kernel 2/,
    );
    const x = upload(randF32([1, 1, 4, 4], 1));
    assert.throws(
      () => avgPool2d(x, { kernel: 2, divisorOverride: 0 }),
      /avgPool2d: divisorOverride must be a positive integer, got 0/,
    );
    assert.throws(
      () => avgPool2d(x, { kernel: 5 }),
      /avgPool2d: input \[1,1,4,4\]: .*does not fit/,
    );
  });

  await t.step(
    "AdaptiveAvgPool2d: PyTorch's windows, down and up, null keeps an axis",
    async () => {
      for (const [shape, size, seed] of [[[2, 3, 7, 5], [3, 2], 13], [[1, 2, 3, 4], [5, 6], 14]]) {
        await check({
          label: `adaptive [${shape}] → ${size}`,
          layer: new AdaptiveAvgPool2d(size as [number, number]),
          input: randF32(shape as number[], seed as number),
          reference: (x) => ref.adaptiveAvgPool2d(x, size as [number, number]),
        });
      }
      await check({
        label: "adaptive global, [null, 1]",
        layer: new AdaptiveAvgPool2d([null, 1]),
        input: randF32([2, 2, 5, 6], 15),
        reference: (x) => ref.adaptiveAvgPool2d(x, [5, 1]),
      });
      assert.deepEqual(new AdaptiveAvgPool2d(6).outputShape([2, 3, 13, 9]), [2, 3, 6, 6]);
      assert.throws(
        () => new AdaptiveAvgPool2d([0, 2]),
        /AdaptiveAvgPool2d: outputSize must be positive integers \(or null\), got 0,2/,
      );
      assert.throws(
        () => adaptiveAvgPool2d(upload(randF32([2, 3], 1)), 2),
        /adaptiveAvgPool2d: expected \[C, H, W\] or \[N, C, H, W\], got \[2,3\]/,
      );
    },
  );

  await t.step("MaxPool2d: overlapping 3×3 stride 2, and padding", async () => {
    await check({
      label: "pool 3/2",
      layer: new MaxPool2d({ kernelSize: 3, stride: 2 }),
      input: randF32([2, 3, 9, 7], 7),
      reference: (x) => ref.maxPool2d(x, { kernel: [3, 3], stride: [2, 2] }),
    });
    const padded = new MaxPool2d({ kernelSize: 2, padding: 1 });
    assert.deepEqual(padded.stride, [2, 2]);
    await check({
      label: "pool 2 pad 1",
      layer: padded,
      input: randF32([1, 2, 5, 5], 8),
      reference: (x) => ref.maxPool2d(x, { kernel: [2, 2], stride: [2, 2], padding: [1, 1] }),
    });
    const ceil = new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, ceilMode: true });
    await check({
      label: "pool 3/2 pad 1 ceil",
      layer: ceil,
      input: randF32([2, 2, 8, 7], 9),
      reference: (x) =>
        ref.maxPool2d(x, { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true }),
    });
    assert.deepEqual(ceil.outputShape([1, 1, 8, 7]), [1, 1, 5, 4]);
    assert.throws(
      () => new MaxPool2d({ kernelSize: 3, padding: 2 }),
      /MaxPool2d: padding must be at most half the kernel, got padding 2 for kernel 3/,
    );
    assert.throws(
      () => maxPool2d(upload(randF32([1, 1, 6, 6], 1)), { kernel: [4, 2], padding: [1, 2] }),
      /maxPool2d: padding must be at most half the kernel, got padding 1,2 for kernel 4,2/,
    );
    assert.deepEqual(new MaxPool2d({ kernelSize: 3, stride: 2 }).outputShape([1, 96, 55, 55]), [
      1,
      96,
      27,
      27,
    ]);
  });

  await t.step("LocalResponseNorm: the paper's form, in groups", async () => {
    const opts = { size: 5, k: 2, alpha: 1e-4, beta: 0.75 };
    // Large activations so that the normalisation matters (α·Σa² ≈ k).
    await check({
      label: "lrn groups of 4",
      layer: new LocalResponseNorm({ groupSize: 4 }),
      input: randF32([2, 8, 3, 3], 9, 60),
      reference: (x) => ref.lrn(x, { ...opts, groupSize: 4 }),
    });
    await check({
      label: "lrn one group",
      layer: new LocalResponseNorm({ size: 3, k: 1, alpha: 1e-3, beta: 0.5 }),
      input: randF32([1, 6, 2, 2], 10, 20),
      reference: (x) => ref.lrn(x, { size: 3, k: 1, alpha: 1e-3, beta: 0.5, groupSize: 6 }),
    });
  });

  await t.step("LocalResponseNorm: each group sees only its own maps", async () => {
    const x = randF32([1, 8, 2, 2], 11, 80);
    const grouped = await new LocalResponseNorm({ groupSize: 4 }).forward(upload(x).withRank(4))
      .data();
    const whole = await new LocalResponseNorm().forward(upload(x).withRank(4)).data();
    for (const [half, start] of [[0, 0], [1, 4]]) {
      const part = ref.slice(x, [0, start, 0, 0], [1, start + 4, 2, 2]);
      const alone = await new LocalResponseNorm().forward(upload(part).withRank(4)).data();
      assertClose(grouped.subarray(half * 16, half * 16 + 16), alone, {
        label: `group ${half} alone`,
      });
    }
    // Channels 2..5 straddle the boundary: without groups their windows differ.
    assert.ok(Math.abs(grouped[3 * 4] - whole[3 * 4]) > 1e-6);
    assert.throws(
      () => new LocalResponseNorm({ groupSize: 3 }).forward(upload(x).withRank(4)),
      /not groups of 3/,
    );
    // A bad config fails where it is written, not at the first forward, naming the option.
    for (const config of [{ size: 0 }, { size: 2.5 }, { k: NaN }, { groupSize: 2.5 }]) {
      assert.throws(
        () => new LocalResponseNorm(config),
        (e: Error) => e instanceof RangeError && e.message.includes(Object.keys(config)[0]),
      );
    }
  });

  await t.step("Flatten and Sequential", async () => {
    const flat = new Flatten();
    assert.deepEqual(flat.outputShape([2, 256, 6, 6]), [2, 9216]);
    // An empty batch: 'reshape: cannot view [0,3,2] (0 elements) as [0,-1]', as torch's
    // nn.Flatten gives [0, 6].
    const empty = upload(randF32([0, 3, 2], 1)).withRank(3);
    assert.deepEqual(flat.forward(empty).shape, [0, 6]);
    await check({
      label: "flatten",
      layer: flat,
      input: randF32([2, 3, 2, 2], 12),
      reference: (x) => ref.reshape(x, [2, 12]),
    });
    const net = new Sequential(
      new Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, padding: 1, relu: true }),
      new LocalResponseNorm({ groupSize: 2 }),
      new MaxPool2d({ kernelSize: 3, stride: 2 }),
      new Flatten(),
      new Linear({ inFeatures: 16, outFeatures: 3 }),
      new Tanh(),
    );
    assert.deepEqual(net.outputShape([2, 2, 5, 5]), [2, 3]);
    await check({
      label: "sequential",
      layer: net,
      input: randF32([2, 2, 5, 5], 13, 3),
      reference: (x, [w1, b1, w2, b2]) => {
        let y = ref.relu(ref.conv2d(x, w1, b1, { padding: [1, 1] }));
        y = ref.lrn(y, { size: 5, k: 2, alpha: 1e-4, beta: 0.75, groupSize: 2 });
        y = ref.maxPool2d(y, { kernel: [3, 3], stride: [2, 2] });
        return ref.tanh(ref.linear(ref.reshape(y, [2, 16]), w2, b2));
      },
    });
  });

  await t.step("Sequential keeps a layer's input that the layer hands on as it is", async () => {
    // An identity, or a layer that only logs its input, returns the same tensor: Sequential
    // freed it as an intermediate, and the next layer read 'a disposed tensor … was used'.
    class Identity extends Module {
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const net = new Sequential(
      new Linear({ inFeatures: 3, outFeatures: 4 }),
      new Identity(),
      new Identity(),
      new Linear({ inFeatures: 4, outFeatures: 2 }),
    );
    await check({
      label: "sequential with identities",
      layer: net,
      input: randF32([2, 3], 14),
      reference: (x, [w1, b1, w2, b2]) => ref.linear(ref.linear(x, w1, b1), w2, b2),
    });
  });
});

Deno.test("nn Dropout: train and eval", async (t) => {
  const ones = (n: number): Tensor<Shape, "f32"> =>
    upload({ shape: [n], data: new Float64Array(n).fill(1) });

  await t.step("eval mode is the identity", async () => {
    const x = randF32([3, 50], 20);
    const drop = new Dropout({ p: 0.5, generator: new Generator(1) }).eval();
    assert.equal(drop.training, false);
    assert.deepEqual(await drop.forward(upload(x)).data(), Float32Array.from(x.data));
  });

  await t.step("training zeroes a fraction ≈ p and scales survivors by 1/(1−p)", async () => {
    for (const p of [0.5, 0.2]) {
      const drop = new Dropout({ p, generator: new Generator(7) });
      assert.equal(drop.training, true);
      const y = await drop.forward(ones(40000)).data();
      const zeros = y.filter((v) => v === 0).length / y.length;
      assert.ok(Math.abs(zeros - p) < 0.01, `p=${p}: zero fraction ${zeros}`);
      assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / (1 - p)) < 1e-6), "survivors");
    }
    assert.ok((await new Dropout({ p: 1 }).forward(ones(100)).data()).every((v) => v === 0));
    assert.deepEqual(
      await new Dropout({ p: 0 }).forward(ones(5)).data(),
      new Float32Array(5).fill(1),
    );
    assert.throws(() => new Dropout({ p: 1.5 }), RangeError);
  });

  await t.step("the same seed gives the same mask; the next call a new one", async () => {
    const a = new Dropout({ generator: new Generator(3) });
    const b = new Dropout({ generator: new Generator(3) });
    const first = await a.forward(ones(1000)).data();
    assert.deepEqual(first, await b.forward(ones(1000)).data());
    assert.notDeepEqual(first, await a.forward(ones(1000)).data());
    assert.notDeepEqual(
      first,
      await new Dropout({ generator: new Generator(4) }).forward(ones(1000)).data(),
    );
  });

  await t.step("the gradient flows through the kept elements only, scaled", async () => {
    const drop = new Dropout({ p: 0.25, generator: new Generator(9) });
    const x = upload(randF32([400], 21), true);
    const y = drop.forward(x);
    await y.sum().backward();
    const mask = await y.div(x).data(), grad = await x.grad!.data();
    for (let i = 0; i < grad.length; i++) {
      assert.ok(Math.abs(grad[i] - mask[i]) < 1e-5, `element ${i}`);
    }
  });
});
