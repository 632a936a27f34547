/**
 * PyTorch's unbatched inputs (`[C, H, W]`, `[C, L]`) through the convolution and pooling family,
 * functional and modules: each against the float64 reference of a batch of one without its
 * batch axis, with every gradient by central differences, at odd sizes; the layers' shape maths;
 * the same bits as a batch of one; the errors for other ranks; and the poolings' winners
 * (`returnIndices`, `maxPool1dWithIndices`, `maxUnpool1d`).
 */

import assert from "node:assert/strict";
import {
  adaptiveAvgPool1d,
  adaptiveAvgPool2d,
  adaptiveMaxPool1d,
  adaptiveMaxPool2d,
  avgPool1d,
  avgPool2d,
  conv1d,
  conv2d,
  convTranspose1d,
  convTranspose2d,
  defaultDevice,
  fromTypedArray,
  maxPool1d,
  maxPool1dWithIndices,
  maxPool2d,
  maxPool2dWithIndices,
  maxUnpool1d,
  maxUnpool2d,
  type Tensor,
} from "../mod.ts";
import {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  AvgPool1d,
  AvgPool2d,
  Conv1d,
  Conv2d,
  ConvTranspose1d,
  ConvTranspose2d,
  MaxPool1d,
  MaxPool2d,
  MaxUnpool2d,
  type Module,
} from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import type { F64 } from "./_reference.ts";
import {
  convTranspose2d as convTransposeRef,
  drop,
  lift,
  pad as padRef,
} from "./_conv_family_reference.ts";
import { adaptiveMaxPool2d as adaptiveMaxRef } from "./_conv_family_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";
import { check, download, randF32, upload } from "./_layer_check.ts";

const rng = ref.mulberry32(2024);
const n = (...shape: number[]) => normal(shape, rng);

/** A batched float64 reference run on one unbatched sample: a batch of one, its axis dropped. */
function unbatched<A extends unknown[]>(
  batched: (x: F64, ...rest: A) => F64,
): (x: F64, ...rest: A) => F64 {
  return (x, ...rest) => {
    const y = batched({ shape: [1, ...x.shape], data: x.data }, ...rest);
    return { shape: y.shape.slice(1), data: y.data };
  };
}

/** A 2-D float64 reference run on `[N, C, L]` as `[N, C, 1, L]` (weights likewise). */
function as1d(f: (x: F64, w: F64[]) => F64): (x: F64, w: F64[]) => F64 {
  return (x, w) => drop(f(lift(x), w.map((t) => (t.shape.length === 3 ? lift(t) : t))));
}

/** A 1-D reference of a 2-D pooling. */
function pool1d(f: (x: F64) => F64): (x: F64) => F64 {
  return (x) => drop(f(lift(x)));
}

Deno.test("unbatched inputs through the functional ops, against float64", async (t) => {
  const device = await defaultDevice();
  const conv2dRef = unbatched((x, w: F64, b: F64) =>
    ref.conv2d(x, w, b, { stride: [2, 1], padding: [1, 0] })
  );
  const transposeRef = unbatched((x, w: F64, b: F64) =>
    convTransposeRef(x, w, b, { stride: [2, 2], padding: [1, 1], outputPadding: [1, 0] })
  );
  const conv1dRef = unbatched(
    (x, w: F64, b: F64) =>
      as1d((x4, [w4]) => ref.conv2d(x4, w4, b, { stride: [1, 2], padding: [0, 1] }))(x, [w]),
  );
  const transpose1dRef = unbatched(
    (x, w: F64) => as1d((x4, [w4]) => convTransposeRef(x4, w4, null, { stride: [1, 2] }))(x, [w]),
  );
  const maxOpts = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] } as const;
  const avgOpts = { ...maxOpts, countIncludePad: false };
  const cases: OpCase[] = [
    {
      name: "conv2d [3, 5, 7] (stride [2, 1], padding [1, 0])",
      inputs: [n(3, 5, 7), n(4, 3, 2, 3), n(4)],
      run: ([x, w, b]) => conv2d(x, w, b, { stride: [2, 1], padding: [1, 0] }),
      ref: ([x, w, b]) => conv2dRef(x, w, b),
    },
    {
      name: "convTranspose2d [3, 4, 5] (stride 2, padding 1, outputPadding [1, 0])",
      inputs: [n(3, 4, 5), n(3, 2, 3, 2), n(2)],
      run: ([x, w, b]) =>
        convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: [1, 0] }),
      ref: ([x, w, b]) => transposeRef(x, w, b),
    },
    {
      name: "conv1d [3, 9] (stride 2, padding 1)",
      inputs: [n(3, 9), n(4, 3, 3), n(4)],
      run: ([x, w, b]) => conv1d(x, w, b, { stride: 2, padding: 1 }),
      ref: ([x, w, b]) => conv1dRef(x, w, b),
    },
    {
      name: "convTranspose1d [2, 5] (stride 2)",
      inputs: [n(2, 5), n(2, 3, 3)],
      run: ([x, w]) => convTranspose1d(x, w, null, { stride: 2 }),
      ref: ([x, w]) => transpose1dRef(x, w),
    },
    {
      name: "maxPool2d [2, 7, 6] (3×3, stride 2, padding 1)",
      inputs: [n(2, 7, 6)],
      run: ([x]) => maxPool2d(x, maxOpts),
      ref: ([x]) =>
        unbatched((b) => ref.maxPool2d(b, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }))(x),
    },
    {
      name: "maxPool2dWithIndices [2, 7, 6]: the values",
      inputs: [n(2, 7, 6)],
      run: ([x]) => maxPool2dWithIndices(x, maxOpts).values,
      ref: ([x]) =>
        unbatched((b) => ref.maxPool2d(b, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }))(x),
    },
    {
      name: "avgPool2d [2, 7, 6] (padding not counted)",
      inputs: [n(2, 7, 6)],
      run: ([x]) => avgPool2d(x, avgOpts),
      ref: ([x]) =>
        unbatched((b) =>
          ref.avgPool2d(b, {
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
            countIncludePad: false,
          })
        )(x),
    },
    {
      name: "adaptiveAvgPool2d [2, 7, 5] → [3, 2]",
      inputs: [n(2, 7, 5)],
      run: ([x]) => adaptiveAvgPool2d(x, [3, 2]),
      ref: ([x]) => unbatched((b) => ref.adaptiveAvgPool2d(b, [3, 2]))(x),
    },
    {
      name: "adaptiveMaxPool2d [2, 7, 5] → [3, 2]",
      inputs: [n(2, 7, 5)],
      run: ([x]) => adaptiveMaxPool2d(x, [3, 2]),
      ref: ([x]) => unbatched((b) => adaptiveMaxRef(b, [3, 2]))(x),
    },
    {
      name: "maxPool1d [3, 11] (3, stride 2)",
      inputs: [n(3, 11)],
      run: ([x]) => maxPool1d(x, { kernel: 3, stride: 2 }),
      ref: ([x]) =>
        unbatched(pool1d((b) => ref.maxPool2d(b, { kernel: [1, 3], stride: [1, 2] })))(x),
    },
    {
      name: "avgPool1d [3, 11] (3, stride 2, padding 1)",
      inputs: [n(3, 11)],
      run: ([x]) => avgPool1d(x, { kernel: 3, stride: 2, padding: 1 }),
      ref: ([x]) =>
        unbatched(
          pool1d((b) => ref.avgPool2d(b, { kernel: [1, 3], stride: [1, 2], padding: [0, 1] })),
        )(x),
    },
    {
      name: "adaptiveMaxPool1d [3, 11] → 4",
      inputs: [n(3, 11)],
      run: ([x]) => adaptiveMaxPool1d(x, 4),
      ref: ([x]) => unbatched(pool1d((b) => adaptiveMaxRef(b, [1, 4])))(x),
    },
    {
      name: "adaptiveAvgPool1d [3, 11] → 4",
      inputs: [n(3, 11)],
      run: ([x]) => adaptiveAvgPool1d(x, 4),
      ref: ([x]) => unbatched(pool1d((b) => ref.adaptiveAvgPool2d(b, [1, 4])))(x),
    },
  ];
  // warm: the first run fills the convolutions' caches, which the leak check would count.
  await checkAll(t, device, cases, rng, true);
});

/** Scatters `values` into zero planes of `size` at `indices` (each plane's flat positions). */
function unpoolRef(values: F64, indices: Int32Array, planes: number, size: number): F64 {
  const per = values.data.length / planes;
  const out = ref.zeros([planes * size]);
  values.data.forEach((v, i) => (out.data[Math.floor(i / per) * size + indices[i]] = v));
  return out;
}

Deno.test("unbatched maxUnpool2d and the 1-D winners, against float64", async (t) => {
  const device = await defaultDevice();
  const x = n(2, 6, 5);
  const winners = unbatched((b) => {
    const a = ref.maxPool2dArgmax(b, { kernel: [2, 2] });
    return { shape: a.shape, data: Float64Array.from(a.data) };
  })(x);
  const indices = Int32Array.from(winners.data);
  const pooled = n(2, 3, 2);
  const signal = n(3, 11);
  // Windows that do not overlap: a sample winning two would be written twice by the unpooling
  // and its gradient read twice (as PyTorch's), unlike the function's true derivative.
  const signalWinners = ref.maxPool2dArgmax(lift({ shape: [1, 3, 11], data: signal.data }), {
    kernel: [1, 3],
  }).data;
  const cases: OpCase[] = [
    {
      name: "maxUnpool2d [2, 3, 2] to [2, 6, 5]",
      inputs: [pooled],
      run: ([v]) => {
        const i = fromTypedArray<"i32">(indices, [2, 3, 2]);
        const y = maxUnpool2d(v, i, { kernel: 2, outputSize: [6, 5] });
        i.dispose();
        return y;
      },
      ref: ([v]) => {
        const y = unpoolRef(v, indices, 2, 30);
        return { shape: [2, 6, 5], data: y.data };
      },
    },
    {
      name: "maxPool1dWithIndices [3, 11] unpooled by maxUnpool1d",
      inputs: [signal],
      run: ([s]) => {
        const { values, indices } = maxPool1dWithIndices(s, { kernel: 3 });
        const y = maxUnpool1d(values, indices, { kernel: 3, outputSize: 11 });
        values.dispose();
        indices.dispose();
        return y;
      },
      ref: ([s]) => {
        const values = drop(ref.maxPool2d(lift({ shape: [1, 3, 11], data: s.data }), {
          kernel: [1, 3],
        }));
        return { shape: [3, 11], data: unpoolRef(values, signalWinners, 3, 11).data };
      },
    },
  ];
  await checkAll(t, device, cases, rng);
  // The winners themselves: positions along L, batched and unbatched.
  const s = upload(signal);
  for (const input of [s, s.reshape([1, 3, 11])]) {
    const { values, indices } = maxPool1dWithIndices(input, { kernel: 3 });
    assert.equal(indices.dtype, "i32");
    assert.deepEqual([...indices.shape], [...input.shape.slice(0, -1), 3]);
    assert.deepEqual(Array.from(await indices.data()), Array.from(signalWinners));
    values.dispose();
    indices.dispose();
  }
  s.dispose();
});

/** A layer's case: its input unbatched, its reference a batch of one's without the axis. */
interface LayerCase {
  label: string;
  layer: Module & { outputShape(input: readonly number[]): number[] };
  input: number[];
  /** The batched float64 forward, given the parameters in namedParameters order. */
  reference: (x: F64, params: F64[]) => F64;
}

Deno.test("layers take an unbatched sample: float64, gradients, shapes, a batch of one's bits", async (t) => {
  await defaultDevice();
  const cases: LayerCase[] = [
    {
      label: "Conv2d [3, 5, 7]",
      layer: new Conv2d({
        inChannels: 3,
        outChannels: 4,
        kernelSize: [2, 3],
        stride: [2, 1],
        padding: 1,
      }),
      input: [3, 5, 7],
      reference: (x, [w, b]) => ref.conv2d(x, w, b, { stride: [2, 1], padding: [1, 1] }),
    },
    {
      label: "Conv2d [2, 5, 6], reflect padding",
      layer: new Conv2d({
        inChannels: 2,
        outChannels: 3,
        kernelSize: 3,
        padding: 1,
        paddingMode: "reflect",
      }),
      input: [2, 5, 6],
      reference: (x, [w, b]) => ref.conv2d(padRef(x, [1, 1, 1, 1], "reflect"), w, b),
    },
    {
      label: "Conv1d [3, 9]",
      layer: new Conv1d({ inChannels: 3, outChannels: 2, kernelSize: 3, stride: 2, padding: 1 }),
      input: [3, 9],
      reference: as1d((x, [w, b]) => ref.conv2d(x, w, b, { stride: [1, 2], padding: [0, 1] })),
    },
    {
      label: "ConvTranspose2d [3, 4, 5]",
      layer: new ConvTranspose2d({
        inChannels: 3,
        outChannels: 2,
        kernelSize: 3,
        stride: 2,
        padding: 1,
      }),
      input: [3, 4, 5],
      reference: (x, [w, b]) => convTransposeRef(x, w, b, { stride: [2, 2], padding: [1, 1] }),
    },
    {
      label: "ConvTranspose1d [2, 5]",
      layer: new ConvTranspose1d({ inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2 }),
      input: [2, 5],
      reference: as1d((x, [w, b]) => convTransposeRef(x, w, b, { stride: [1, 2] })),
    },
    {
      label: "MaxPool2d [2, 7, 6]",
      layer: new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }),
      input: [2, 7, 6],
      reference: (x) => ref.maxPool2d(x, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }),
    },
    {
      label: "AvgPool2d [2, 7, 6]",
      layer: new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1 }),
      input: [2, 7, 6],
      reference: (x) => ref.avgPool2d(x, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }),
    },
    {
      label: "AdaptiveAvgPool2d [2, 7, 5]",
      layer: new AdaptiveAvgPool2d([3, null]),
      input: [2, 7, 5],
      reference: (x) => ref.adaptiveAvgPool2d(x, [3, 5]),
    },
    {
      label: "AdaptiveMaxPool2d [2, 7, 5]",
      layer: new AdaptiveMaxPool2d(2),
      input: [2, 7, 5],
      reference: (x) => adaptiveMaxRef(x, [2, 2]),
    },
    {
      label: "MaxPool1d [3, 11]",
      layer: new MaxPool1d({ kernelSize: 3, stride: 2 }),
      input: [3, 11],
      reference: pool1d((x) => ref.maxPool2d(x, { kernel: [1, 3], stride: [1, 2] })),
    },
    {
      label: "AvgPool1d [3, 11]",
      layer: new AvgPool1d({ kernelSize: 3, padding: 1 }),
      input: [3, 11],
      reference: pool1d((x) =>
        ref.avgPool2d(x, { kernel: [1, 3], stride: [1, 3], padding: [0, 1] })
      ),
    },
    {
      label: "AdaptiveMaxPool1d [3, 11]",
      layer: new AdaptiveMaxPool1d(4),
      input: [3, 11],
      reference: pool1d((x) => adaptiveMaxRef(x, [1, 4])),
    },
    {
      label: "AdaptiveAvgPool1d [3, 11]",
      layer: new AdaptiveAvgPool1d(4),
      input: [3, 11],
      reference: pool1d((x) => ref.adaptiveAvgPool2d(x, [1, 4])),
    },
  ];
  for (const c of cases) {
    await t.step(c.label, async () => {
      const input = randF32(c.input, c.input.length * 31 + c.input[1]);
      await check({ label: c.label, layer: c.layer, input, reference: unbatched(c.reference) });
      const one = upload(input);
      const y = await c.layer.forward(one);
      assert.deepEqual([...y.shape], c.layer.outputShape(c.input), "outputShape agrees");
      const batch = one.reshape([1, ...c.input]);
      const yBatch = await c.layer.forward(batch);
      assert.deepEqual([...yBatch.shape], [1, ...y.shape]);
      assert.deepEqual(await y.data(), await yBatch.data(), "the bits of a batch of one");
      for (const v of [one, y, batch, yBatch]) v.dispose();
    });
  }
});

Deno.test("returnIndices: MaxPool2d and MaxPool1d give their winners for unpooling", async () => {
  await defaultDevice();
  const x = randF32([2, 3, 6, 7], 5);
  const input = upload(x);
  const pool = new MaxPool2d({ kernelSize: 2, returnIndices: true });
  const { values, indices } = pool.forwardWithIndices(input);
  const want = ref.maxPool2dArgmax(x, { kernel: [2, 2] });
  assert.deepEqual([...indices.shape], want.shape);
  assert.deepEqual(Array.from(await indices.data()), Array.from(want.data));
  assert.deepEqual(
    Array.from(await values.data()),
    Array.from(ref.maxPool2d(x, { kernel: [2, 2] }).data),
  );
  const unpooled = new MaxUnpool2d({ kernelSize: 2 }).forward(values.withRank(4), indices, [6, 7]);
  const back = await download(unpooled);
  // Each winner back in its place, zeros elsewhere.
  const expected = unpoolRef(
    ref.maxPool2d(x, { kernel: [2, 2] }),
    Int32Array.from(want.data),
    6,
    42,
  );
  assert.deepEqual(Array.from(back.data), Array.from(expected.data));
  assert.throws(
    () => pool.forward(input.withRank(4)),
    /MaxPool2d: a layer with returnIndices gives \{ values, indices \}: call forwardWithIndices\(x\)/,
  );
  assert.equal(pool.outputShape([2, 3, 6, 7]).join(), "2,3,3,3");
  const pool1d = new MaxPool1d({ kernelSize: 3, stride: 2, returnIndices: true });
  assert.throws(
    () => pool1d.forward(upload(randF32([2, 9], 1)).withRank(2)),
    /MaxPool1d: a layer with returnIndices/,
  );
  const signal = randF32([2, 9], 3);
  const both = pool1d.forwardWithIndices(upload(signal));
  const wantSignal = ref.maxPool2dArgmax(lift({ shape: [1, 2, 9], data: signal.data }), {
    kernel: [1, 3],
    stride: [1, 2],
  });
  assert.deepEqual(Array.from(await both.indices.data()), Array.from(wantSignal.data));
  for (const v of [input, values, indices, unpooled, both.values, both.indices]) v.dispose();
});

Deno.test("unbatched: other ranks are one-line errors naming both layouts", async () => {
  await defaultDevice();
  const t = (...shape: number[]) => upload(ref.zeros(shape)) as Tensor;
  const w4 = t(2, 3, 2, 2), w3 = t(2, 3, 2);
  const bad: [() => unknown, RegExp][] = [
    [() => conv2d(t(3, 4), w4, null), /conv2d: expected x \[C, H, W\] or \[N, C, H, W\] and w/],
    [() => conv1d(t(3), w3, null), /conv1d: expected x \[C, L\] or \[N, C, L\] and w/],
    [
      () => convTranspose2d(t(1, 1, 3, 4, 4), w4, null),
      /convTranspose2d: expected x \[Cin, H, W\] or \[N, Cin, H, W\]/,
    ],
    [
      () => convTranspose1d(t(3), w3, null),
      /convTranspose1d: expected x \[Cin, L\] or \[N, Cin, L\]/,
    ],
    [
      () => maxPool2d(t(4, 4), { kernel: 2 }),
      /maxPool2d: expected \[C, H, W\] or \[N, C, H, W\], got \[4,4\]/,
    ],
    [
      () => avgPool2d(t(4), { kernel: 2 }),
      /avgPool2d: expected \[C, H, W\] or \[N, C, H, W\], got \[4\]/,
    ],
    [
      () => adaptiveAvgPool2d(t(4, 4), 2),
      /adaptiveAvgPool2d: expected \[C, H, W\] or \[N, C, H, W\]/,
    ],
    [
      () => adaptiveMaxPool2d(t(4, 4), 2),
      /adaptiveMaxPool2d: expected \[C, H, W\] or \[N, C, H, W\]/,
    ],
    [
      () => maxPool1d(t(4), { kernel: 2 }),
      /maxPool1d: expected \[C, L\] or \[N, C, L\], got \[4\]/,
    ],
    [() => avgPool1d(t(1, 1, 1, 4), { kernel: 2 }), /avgPool1d: expected \[C, L\] or \[N, C, L\]/],
    [
      () => adaptiveMaxPool1d(t(4), 2),
      /adaptiveMaxPool1d: expected \[C, L\] or \[N, C, L\], got \[4\]/,
    ],
    [
      () => adaptiveAvgPool1d(t(4), 2),
      /adaptiveAvgPool1d: expected \[C, L\] or \[N, C, L\], got \[4\]/,
    ],
    [
      () => maxUnpool1d(t(2, 3), t(2, 3, 1), { kernel: 2 }),
      /maxUnpool1d: expected x and indices \[C, L\] or \[N, C, L\]/,
    ],
    [
      () => new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: 2 }).outputShape([3, 4]),
      /Conv2d: expected \[3, H, W\] or \[N, 3, H, W\], got \[3,4\]/,
    ],
    [
      () => new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: 2 }).outputShape([2, 4, 4]),
      /Conv2d: expected \[3, H, W\] or \[N, 3, H, W\], got \[2,4,4\]/,
    ],
    [
      () => new Conv1d({ inChannels: 3, outChannels: 2, kernelSize: 2 }).outputShape([3]),
      /Conv1d: expected \[3, L\] or \[N, 3, L\], got \[3\]/,
    ],
    [
      () =>
        new ConvTranspose2d({ inChannels: 3, outChannels: 2, kernelSize: 2 }).outputShape([3, 4]),
      /ConvTranspose2d: expected \[3, H, W\] or \[N, 3, H, W\]/,
    ],
    [
      () => new MaxPool2d({ kernelSize: 2 }).outputShape([4, 4]),
      /MaxPool2d: expected \[C, H, W\] or \[N, C, H, W\], got \[4,4\]/,
    ],
    [
      () => new AdaptiveAvgPool2d(2).outputShape([1, 2, 3, 4, 5]),
      /AdaptiveAvgPool2d: expected \[C, H, W\] or \[N, C, H, W\]/,
    ],
    [
      () => new AvgPool1d({ kernelSize: 2 }).outputShape([4]),
      /AvgPool1d: expected \[C, L\] or \[N, C, L\], got \[4\]/,
    ],
  ];
  for (const [call, message] of bad) {
    assert.throws(call, (e: Error) => message.test(e.message) && !e.message.includes("\n"));
  }
  // Unbatched shapes through the layers' shape maths, as their forwards give them.
  assert.deepEqual(
    new Conv2d({ inChannels: 3, outChannels: 2, kernelSize: 3 }).outputShape([3, 5, 6]),
    [2, 3, 4],
  );
  assert.deepEqual(new AdaptiveMaxPool1d(3).outputShape([4, 9]), [4, 3]);
  w4.dispose();
  w3.dispose();
});
