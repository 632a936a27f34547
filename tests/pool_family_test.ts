/**
 * The pooling family against float64 references: adaptive max pooling (2-D and 1-D), adaptive
 * average pooling in 1-D and the 1-D max and average poolings, forward and gradients by
 * central differences at odd sizes, on strided input views too; their errors; and layers that
 * use them in a small classifier trained for twenty SGD steps.
 */

import assert from "node:assert/strict";
import {
  adaptiveAvgPool1d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  avgPool1d,
  crossEntropy,
  defaultDevice,
  fromTypedArray,
  Generator,
  maxPool1d,
  maxPool2dWithIndices,
  maxUnpool2d,
  ones,
} from "../mod.ts";
import {
  AdaptiveAvgPool1d,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  AvgPool1d,
  Conv1d,
  Conv2d,
  Flatten,
  Linear,
  MaxPool1d,
  MaxUnpool2d,
  ReLU,
  Sequential,
} from "../nn/mod.ts";
import {
  adaptiveMaxPool2d as adaptiveMaxPool2dKernel,
  adaptiveMaxPool2dBackward,
} from "../kernels/adaptive_max_pool2d.ts";
import * as ref from "./_reference.ts";
import { fit } from "./_fit.ts";
import { adaptiveMaxPool2d as adaptiveMaxRef, drop, lift } from "./_conv_family_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

const rng = ref.mulberry32(77);
const n = (...shape: number[]) => normal(shape, rng);

function adaptiveMax(x: number[], size: [number, number]): OpCase {
  return {
    name: `adaptiveMaxPool2d [${x}] → ${size}`,
    inputs: [n(...x)],
    run: ([t]) => adaptiveMaxPool2d(t, size),
    ref: ([r]) => adaptiveMaxRef(r, size),
  };
}

Deno.test("adaptive max pooling against float64", async (t) => {
  const device = await defaultDevice();
  await checkAll(t, device, [
    adaptiveMax([2, 3, 7, 7], [3, 3]),
    adaptiveMax([1, 2, 5, 9], [7, 4]),
    adaptiveMax([1, 1, 1, 1], [1, 1]),
    adaptiveMax([1, 2, 33, 1], [4, 1]),
    adaptiveMax([2, 3, 6, 8], [6, 8]),
    adaptiveMax([1, 1, 2, 3], [5, 7]),
    {
      name: "adaptiveMaxPool2d NHWC view [2, 5, 6, 3] → 2×4",
      inputs: [n(2, 5, 6, 3)],
      run: ([x]) => adaptiveMaxPool2d(x.permute([0, 3, 1, 2]), [2, 4]),
      ref: ([x]) => adaptiveMaxRef(ref.permute(x, [0, 3, 1, 2]), [2, 4]),
    },
    {
      name: "adaptiveMaxPool1d [2, 3, 17] → 5",
      inputs: [n(2, 3, 17)],
      run: ([x]) => adaptiveMaxPool1d(x, 5),
      ref: ([x]) => drop(adaptiveMaxRef(lift(x), [1, 5])),
    },
  ], rng);
});

Deno.test("1-D poolings against float64", async (t) => {
  const device = await defaultDevice();
  await checkAll(
    t,
    device,
    [
      {
        name: "adaptiveAvgPool1d [2, 3, 17] → 5",
        inputs: [n(2, 3, 17)],
        run: ([x]) => adaptiveAvgPool1d(x, 5),
        ref: ([x]) => drop(ref.adaptiveAvgPool2d(lift(x), [1, 5])),
      },
      {
        name: "adaptiveAvgPool1d [1, 2, 7] → 33",
        inputs: [n(1, 2, 7)],
        run: ([x]) => adaptiveAvgPool1d(x, 33),
        ref: ([x]) => drop(ref.adaptiveAvgPool2d(lift(x), [1, 33])),
      },
      {
        name: "maxPool1d [2, 3, 33] kernel 3 stride 2 padding 1 dilation 2 ceil",
        inputs: [n(2, 3, 33)],
        run: ([x]) =>
          maxPool1d(x, { kernel: 3, stride: 2, padding: 1, dilation: 2, ceilMode: true }),
        ref: ([x]) =>
          drop(ref.maxPool2d(lift(x), {
            kernel: [1, 3],
            stride: [1, 2],
            padding: [0, 1],
            dilation: [1, 2],
            ceilMode: true,
          })),
      },
      {
        name: "maxPool1d [1, 1, 7] kernel 7 (one window)",
        inputs: [n(1, 1, 7)],
        run: ([x]) => maxPool1d(x, { kernel: 7 }),
        ref: ([x]) => drop(ref.maxPool2d(lift(x), { kernel: [1, 7] })),
      },
      {
        name: "avgPool1d [2, 3, 9] kernel 3 stride 2 padding 1, padding not counted, ceil",
        inputs: [n(2, 3, 9)],
        run: ([x]) =>
          avgPool1d(x, {
            kernel: 3,
            stride: 2,
            padding: 1,
            countIncludePad: false,
            ceilMode: true,
          }),
        ref: ([x]) =>
          drop(ref.avgPool2d(lift(x), {
            kernel: [1, 3],
            stride: [1, 2],
            padding: [0, 1],
            countIncludePad: false,
            ceilMode: true,
          })),
      },
      {
        name: "avgPool1d NLC view [1, 8, 4] kernel 2",
        inputs: [n(1, 8, 4)],
        run: ([x]) => avgPool1d(x.permute([0, 2, 1]), { kernel: 2 }),
        ref: ([x]) => drop(ref.avgPool2d(lift(ref.permute(x, [0, 2, 1])), { kernel: [1, 2] })),
      },
    ],
    rng,
    true,
  );
});

Deno.test("pooling family: errors name the problem", async () => {
  await defaultDevice();
  const cases: [() => unknown, RegExp][] = [
    [
      () => adaptiveMaxPool2d(ones([2, 3]), 2),
      /adaptiveMaxPool2d: expected \[C, H, W\] or \[N, C, H, W\]/,
    ],
    [() => adaptiveMaxPool2d(ones([1, 2, 3, 3]), 0), /outputSize must be positive integers/],
    [
      () => adaptiveMaxPool1d(ones([1, 2, 3, 3]), 2),
      /adaptiveMaxPool1d: expected \[C, L\] or \[N, C, L\]/,
    ],
    [
      () => maxPool1d(ones([1, 2, 5]), { kernel: 3, padding: 2 }),
      /maxPool1d: padding must be at most half the kernel, got padding 2 for kernel 3/,
    ],
    [
      () => maxPool1d(ones([1, 2, 2]), { kernel: 3 }),
      /maxPool1d: input \[1,2,2\]: a window spanning 3 \(padding 0\) does not fit a length of 2/,
    ],
    [() => avgPool1d(ones([1, 2, 5]), { kernel: 0 }), /avgPool1d: kernel must be a positive/],
    [() => new MaxPool1d({ kernelSize: 2, padding: 2 }), /MaxPool1d: padding must be at most/],
    [() => new AdaptiveAvgPool1d(0), /AdaptiveAvgPool1d: outputSize must be a positive integer/],
    [() => new AdaptiveMaxPool2d([2, 0]), /AdaptiveMaxPool2d: outputSize must be positive/],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});

Deno.test("layers: shapes, and 1-D and 2-D classifiers learn in twenty SGD steps", async () => {
  await defaultDevice();
  assert.deepEqual(new MaxPool1d({ kernelSize: 3, stride: 2 }).outputShape([2, 4, 50]), [2, 4, 24]);
  assert.deepEqual(new AvgPool1d({ kernelSize: 4, padding: 1 }).outputShape([2, 4, 50]), [
    2,
    4,
    13,
  ]);
  assert.deepEqual(new AdaptiveMaxPool1d(5).outputShape([2, 3, 17]), [2, 3, 5]);
  assert.deepEqual(new AdaptiveMaxPool2d([3, null]).outputShape([2, 4, 13, 9]), [2, 4, 3, 9]);
  const generator = new Generator(3);
  const nets = [
    {
      input: [8, 2, 24],
      net: new Sequential(
        new Conv1d({ inChannels: 2, outChannels: 6, kernelSize: 5, padding: "same", generator }),
        new ReLU(),
        new MaxPool1d({ kernelSize: 2 }),
        new AvgPool1d({ kernelSize: 3, stride: 1, padding: 1 }),
        new AdaptiveMaxPool1d(4),
        new AdaptiveAvgPool1d(2),
        new Flatten(),
        new Linear({ inFeatures: 12, outFeatures: 3, generator }),
      ),
    },
    {
      input: [8, 2, 9, 9],
      net: new Sequential(
        new Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, generator }),
        new ReLU(),
        new AdaptiveMaxPool2d([2, 3]),
        new Flatten(),
        new Linear({ inFeatures: 24, outFeatures: 3, generator }),
      ),
    },
  ];
  for (const { input, net } of nets) {
    assert.deepEqual(net.outputShape(input), [8, 3]);
    const x = generator.normal(input, 0, 1);
    const labels = fromTypedArray(Int32Array.from({ length: 8 }, (_, i) => i % 3), [8]);
    const losses = await fit(net, (net) => crossEntropy(net.forward(x as never) as never, labels), {
      steps: 20,
      lr: 0.1,
    });
    assert.ok(losses[19] < 0.6 * losses[0], `the loss fell: ${losses}`);
  }
});

Deno.test("adaptiveMaxPool2d kernel: a batch split into binding-sized runs gives the same bits", async () => {
  const device = await defaultDevice();
  const g = { batch: 3, channels: 2, height: 5, width: 7, outH: 3, outW: 4 };
  const x = n(3, 2, 5, 7), u = n(3, 2, 3, 4);
  const inBytes = 4 * 2 * 5 * 7, outBytes = 4 * 2 * 3 * 4;
  const run = async (maxBindingBytes?: number) => {
    const [xs, out, argmax, gradOut, gradX] = [
      3 * inBytes,
      3 * outBytes,
      3 * outBytes,
      3 * outBytes,
      3 * inBytes,
    ]
      .map((bytes) => device.alloc(bytes));
    device.write(xs, Float32Array.from(x.data));
    device.write(gradOut, Float32Array.from(u.data));
    adaptiveMaxPool2dKernel(device, g, { x: xs, out, argmax }, maxBindingBytes);
    adaptiveMaxPool2dBackward(device, g, { gradOut, argmax, gradX }, maxBindingBytes);
    const result = [
      new Float32Array(await device.read(out, 0, 3 * outBytes)),
      new Float32Array(await device.read(gradX, 0, 3 * inBytes)),
    ];
    [xs, out, argmax, gradOut, gradX].forEach((b) => device.release(b));
    return result;
  };
  const whole = await run(), split = await run(inBytes + 256); // one sample a run
  assert.deepEqual(split, whole);
  const expected = adaptiveMaxRef(x, [3, 4]);
  assert.deepEqual(whole[0], Float32Array.from(expected.data));
});

Deno.test("maxPool2dWithIndices and maxUnpool2d against float64", async (t) => {
  const device = await defaultDevice();
  const pooled = (x: ref.F64, opts: ref.Pool2dOptions) => ref.maxPool2dArgmax(x, opts);
  await t.step("the winners are PyTorch's indices (plane positions, first maximum)", async () => {
    for (
      const [shape, opts] of [
        [[2, 3, 7, 9], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
        [[1, 2, 5, 5], { kernel: [2, 3], stride: [1, 2], dilation: [2, 1] }],
        [[1, 1, 33, 1], { kernel: [2, 1], ceilMode: true }],
      ] as [number[], ref.Pool2dOptions][]
    ) {
      const x = n(...shape);
      const xs = fromTypedArray(Float32Array.from(x.data), shape);
      const { values, indices } = maxPool2dWithIndices(xs, {
        kernel: opts.kernel,
        stride: opts.stride,
        padding: opts.padding,
        dilation: opts.dilation,
        ceilMode: opts.ceilMode,
      });
      assert.deepEqual(await indices.data(), pooled(x, opts).data);
      assert.deepEqual(await values.data(), Float32Array.from(ref.maxPool2d(x, opts).data));
      assert.equal(indices.dtype, "i32");
    }
  });
  // The indices of 2×2 poolings of a 6×6 and a 6×7 input, for the unpooling cases (a
  // position is h·W + w of the pooled input's width).
  const opts = { kernel: [2, 2], stride: [2, 2] } as ref.Pool2dOptions;
  const winners = (width: number) => pooled(n(2, 3, 6, width), opts);
  const [narrow, wide] = [winners(6), winners(7)];
  const unpoolRef = (x: ref.F64, index: ref.I32, out: [number, number]) => {
    const [nn, c, h, w] = x.shape;
    const y = ref.zeros([nn, c, ...out]);
    for (let p = 0; p < nn * c; p++) {
      for (let i = 0; i < h * w; i++) {
        y.data[p * out[0] * out[1] + index.data[p * h * w + i]] = x.data[p * h * w + i];
      }
    }
    return y;
  };
  const indexTensor = (index: ref.I32) => fromTypedArray(index.data, index.shape);
  await checkAll(
    t,
    device,
    [
      {
        name: "maxPool2dWithIndices values' gradient [2, 3, 6, 7] 3×3 stride 2",
        inputs: [n(2, 3, 6, 7)],
        run: ([x]) => maxPool2dWithIndices(x, { kernel: 3, stride: 2 }).values,
        ref: ([x]) => ref.maxPool2d(x, { kernel: [3, 3], stride: [2, 2] }),
      },
      {
        name: "maxUnpool2d [2, 3, 3, 3] → 6×6",
        inputs: [n(2, 3, 3, 3)],
        run: ([x]) => maxUnpool2d(x, indexTensor(narrow), { kernel: 2 }),
        ref: ([x]) => unpoolRef(x, narrow, [6, 6]),
      },
      {
        name: "maxUnpool2d [2, 3, 3, 3] → 6×7 (outputSize)",
        inputs: [n(2, 3, 3, 3)],
        run: ([x]) => maxUnpool2d(x, indexTensor(wide), { kernel: 2, outputSize: [6, 7] }),
        ref: ([x]) => unpoolRef(x, wide, [6, 7]),
      },
    ],
    rng,
    true,
  );
  await t.step("errors", () => {
    const x = ones([1, 1, 2, 2]);
    const idx = fromTypedArray(new Int32Array(4), [1, 1, 2, 2]);
    assert.throws(() => maxUnpool2d(x, x, { kernel: 2 }), /indices must be i32 shaped as x/);
    assert.throws(
      () => maxUnpool2d(x, idx, { kernel: 2, outputSize: [6, 4] }),
      /maxUnpool2d: outputSize \[6,4\] must be between \[3,3\] and \[5,5\] for an input of 2×2/,
    );
    assert.throws(
      () => new MaxUnpool2d({ kernelSize: 2 }).forward(x),
      /needs the pooling's indices/,
    );
  });
});
