/**
 * `interpolate` and the upsampling layers against a float64 reference written from PyTorch's
 * index maths, and against values PyTorch gives: nearest, nearest-exact, (bi)linear with and
 * without aligned corners, sizes and non-integer scale factors, up and down at odd sizes, on
 * strided input views; gradients by central differences; errors as PyTorch's.
 */

import assert from "node:assert/strict";
import {
  defaultDevice,
  fromTypedArray,
  interpolate,
  type InterpolateOptions,
  mseLoss,
  ones,
  tensor,
} from "../mod.ts";
import { resample, resampleBackward } from "../kernels/interpolate.ts";
import { Conv2d, Sequential, Upsample, UpsamplingBilinear2d } from "../nn/mod.ts";
import * as ref from "./_reference.ts";
import { fit } from "./_fit.ts";
import { drop, interpolate2d, type InterpolateAxis, lift } from "./_conv_family_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

const rng = ref.mulberry32(31);
const n = (...shape: number[]) => normal(shape, rng);

/** A 4-D case: input shape, options, and the output size the options give. */
function case2d(shape: number[], options: InterpolateOptions, out: [number, number]): OpCase {
  const mode = options.mode ?? "nearest";
  const scales = options.scaleFactor === undefined || options.recomputeScaleFactor
    ? [null, null]
    : typeof options.scaleFactor === "number"
    ? [options.scaleFactor, options.scaleFactor]
    : options.scaleFactor;
  const axis = (i: number): InterpolateAxis => ({
    mode: mode === "bilinear"
      ? "linear"
      : mode === "bicubic"
      ? "cubic"
      : mode as InterpolateAxis["mode"],
    alignCorners: options.alignCorners,
    scale: scales[i],
  });
  return {
    name: `[${shape}] ${JSON.stringify(options)}`,
    inputs: [n(...shape)],
    run: ([x]) => interpolate(x, options),
    ref: ([x]) => interpolate2d(x, out, axis(0), axis(1)),
  };
}

Deno.test("interpolate: 4-D modes against float64, forward and gradient", async (t) => {
  const device = await defaultDevice();
  await checkAll(
    t,
    device,
    [
      case2d([2, 3, 7, 5], { scaleFactor: 2 }, [14, 10]),
      case2d([1, 2, 7, 5], { size: [33, 3] }, [33, 3]),
      case2d([1, 2, 5, 5], { scaleFactor: 1.7 }, [8, 8]),
      case2d([1, 2, 5, 5], { scaleFactor: 1.7, recomputeScaleFactor: true }, [8, 8]),
      case2d([1, 2, 7, 33], { size: [5, 7], mode: "nearest-exact" }, [5, 7]),
      case2d([2, 2, 7, 5], { scaleFactor: [2, 3], mode: "bilinear" }, [14, 15]),
      case2d([1, 3, 33, 7], { size: [7, 33], mode: "bilinear" }, [7, 33]),
      case2d([1, 2, 5, 7], { size: [9, 4], mode: "bilinear", alignCorners: true }, [9, 4]),
      case2d([1, 1, 1, 1], { size: [3, 5], mode: "bilinear" }, [3, 5]),
      case2d([1, 1, 1, 1], { size: [3, 1], mode: "bilinear", alignCorners: true }, [3, 1]),
      case2d([1, 2, 6, 6], { scaleFactor: 0.5, mode: "bilinear" }, [3, 3]),
      case2d([1, 2, 4, 4], { scaleFactor: 1.3, mode: "bilinear" }, [5, 5]),
      case2d([2, 2, 5, 7], { scaleFactor: 2, mode: "bicubic" }, [10, 14]),
      case2d([1, 3, 9, 8], { size: [4, 5], mode: "bicubic" }, [4, 5]),
      case2d([1, 2, 3, 4], { size: [7, 9], mode: "bicubic", alignCorners: true }, [7, 9]),
      case2d([1, 1, 1, 2], { size: [3, 5], mode: "bicubic" }, [3, 5]),
      case2d([1, 2, 4, 4], { size: [4, 4], mode: "bicubic" }, [4, 4]),
      case2d([1, 2, 4, 5], { size: [4, 5], mode: "bicubic", alignCorners: true }, [4, 5]),
      // One axis keeps its size, the other does not: no copy, both by their factors.
      case2d([1, 2, 5, 4], { scaleFactor: [1.1, 2], mode: "bicubic" }, [5, 8]),
      {
        // PyTorch's same-size copy (CUDA forward, CPU and CUDA backward): 1.1 rounds 5 × 5
        // down to 5 × 5, and the factor is not used.
        name: "[1, 2, 5, 5] bicubic, scaleFactor 1.1: the same size, a copy",
        inputs: [n(1, 2, 5, 5)],
        run: ([x]) => interpolate(x, { scaleFactor: 1.1, mode: "bicubic" }),
        ref: ([x]) => x,
      },
      {
        name: "NHWC view [2, 4, 5, 3] bilinear ×2",
        inputs: [n(2, 4, 5, 3)],
        run: ([x]) => interpolate(x.permute([0, 3, 1, 2]), { scaleFactor: 2, mode: "bilinear" }),
        ref: ([x]) =>
          interpolate2d(ref.permute(x, [0, 3, 1, 2]), [8, 10], {
            mode: "linear",
            scale: 2,
          }, { mode: "linear", scale: 2 }),
      },
    ],
    rng,
    true,
  );
});

Deno.test("interpolate: 3-D modes against float64", async (t) => {
  const device = await defaultDevice();
  const flat = { mode: "nearest" } as const;
  await checkAll(
    t,
    device,
    [
      {
        name: "linear [2, 3, 7] → 33",
        inputs: [n(2, 3, 7)],
        run: ([x]) => interpolate(x, { size: 33, mode: "linear" }),
        ref: ([x]) => drop(interpolate2d(lift(x), [1, 33], flat, { mode: "linear" })),
      },
      {
        name: "linear aligned [1, 2, 9] ×0.5",
        inputs: [n(1, 2, 9)],
        run: ([x]) => interpolate(x, { scaleFactor: 0.5, mode: "linear", alignCorners: true }),
        ref: ([x]) =>
          drop(interpolate2d(lift(x), [1, 4], flat, { mode: "linear", alignCorners: true })),
      },
      {
        name: "nearest-exact [1, 1, 3] → 5, from NLC",
        inputs: [n(1, 3, 1)],
        run: ([x]) => interpolate(x.permute([0, 2, 1]), { size: [5], mode: "nearest-exact" }),
        ref: ([x]) =>
          drop(
            interpolate2d(lift(ref.permute(x, [0, 2, 1])), [1, 5], flat, { mode: "nearest-exact" }),
          ),
      },
    ],
    rng,
    true,
  );
});

Deno.test("interpolate: area is adaptive average pooling to the output size", async (t) => {
  const device = await defaultDevice();
  await checkAll(
    t,
    device,
    [
      {
        name: "area [2, 3, 7, 9] → 3×4",
        inputs: [n(2, 3, 7, 9)],
        run: ([x]) => interpolate(x, { size: [3, 4], mode: "area" }),
        ref: ([x]) => ref.adaptiveAvgPool2d(x, [3, 4]),
      },
      {
        name: "area [1, 2, 9] ×0.4",
        inputs: [n(1, 2, 9)],
        run: ([x]) => interpolate(x, { scaleFactor: 0.4, mode: "area" }),
        ref: ([x]) => drop(ref.adaptiveAvgPool2d(lift(x), [1, 3])),
      },
    ],
    rng,
    true,
  );
});

Deno.test("interpolate: values PyTorch gives", async () => {
  await defaultDevice();
  const x = tensor([[[[1, 2], [3, 4]]]]);
  assert.deepEqual(await interpolate(x, { scaleFactor: 2, mode: "bilinear" }).toArray(), [[[
    [1, 1.25, 1.75, 2],
    [1.5, 1.75, 2.25, 2.5],
    [2.5, 2.75, 3.25, 3.5],
    [3, 3.25, 3.75, 4],
  ]]]);
  // torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic"): Keys' cubic
  // overshoots past the input's range at the border.
  const cubic = await interpolate(x, { scaleFactor: 2, mode: "bicubic" }).data();
  const torchCubic = [
    [0.68359375, 1.015625, 1.5625, 1.89453125],
    [1.34765625, 1.6796875, 2.2265625, 2.55859375],
    [2.44140625, 2.7734375, 3.3203125, 3.65234375],
    [3.10546875, 3.4375, 3.984375, 4.31640625],
  ].flat();
  assert.ok(cubic.every((v, i) => Math.abs(v - torchCubic[i]) < 1e-5), `bicubic: ${cubic}`);
  const line = tensor([[[0, 1, 2]]]);
  // in/out = 0.6: nearest reads floor(0.6·o), nearest-exact floor(0.6·(o + ½)).
  assert.deepEqual(await interpolate(line, { size: 5 }).toArray(), [[[0, 0, 1, 1, 2]]]);
  assert.deepEqual(await interpolate(line, { size: 5, mode: "nearest-exact" }).toArray(), [[[
    0,
    0,
    1,
    2,
    2,
  ]]]);
  // A factor of 1.7 over 5 samples gives 8, read at 1/1.7 (not 5/8) unless recomputed.
  const five = tensor([[[0, 1, 2, 3, 4]]]);
  assert.deepEqual(await interpolate(five, { scaleFactor: 1.7 }).toArray(), [[[
    0,
    0,
    1,
    1,
    2,
    2,
    3,
    4,
  ]]]);
  assert.deepEqual(
    await interpolate(five, { scaleFactor: 1.7, recomputeScaleFactor: true }).toArray(),
    [[[0, 0, 1, 1, 2, 3, 3, 4]]],
  );
  const aligned = await interpolate(tensor([[[0, 3]]]), {
    size: 4,
    mode: "linear",
    alignCorners: true,
  }).toArray();
  assert.deepEqual(aligned, [[[0, 1, 2, 3]]]);
});

Deno.test("interpolate: errors as PyTorch's", async () => {
  await defaultDevice();
  const x = ones([1, 1, 3, 3]);
  const cases: [() => unknown, RegExp][] = [
    [() => interpolate(x, {}), /give exactly one of size and scaleFactor/],
    [() => interpolate(x, { size: 2, scaleFactor: 2 }), /give exactly one of size and scaleFactor/],
    [() => interpolate(x, { size: 2, mode: "linear" }), /got 4-D input, but linear mode needs 3-D/],
    [
      () => interpolate(ones([1, 1, 3]), { size: 2, mode: "bilinear" }),
      /got 3-D input, but bilinear mode needs 4-D/,
    ],
    [() => interpolate(x, { size: 2, alignCorners: true }), /alignCorners can only be set/],
    [
      () => interpolate(x, { size: 2, mode: "area", alignCorners: false }),
      /alignCorners can only be set/,
    ],
    [() => interpolate(x, { size: [2, 2, 2] }), /2 spatial axes but size has 3/],
    [
      () => interpolate(x, { scaleFactor: 0.2 }),
      /sizes must be positive, got input \[3,3\] and output \[0,0\]/,
    ],
    [() => interpolate(x, { size: 2, mode: "bilinear-ish" as never }), /mode must be/],
    [
      () => interpolate(ones([1, 1, 3]), { size: 2, mode: "bicubic" }),
      /got 3-D input, but bicubic mode needs 4-D/,
    ],
    [() => interpolate(ones([3, 3]), { size: 2 }), /expected \[N, C, L\] or \[N, C, H, W\]/],
    [
      () => interpolate(x, { size: 2, recomputeScaleFactor: true }),
      /interpolate: recomputeScaleFactor is not meaningful with an explicit size/,
    ],
    [
      () => interpolate(x, { size: 2, mode: "bilinear", antialias: true }),
      /interpolate: antialias is not implemented/,
    ],
    [() => new Upsample({}), /Upsample: give exactly one of size and scaleFactor/],
    [
      () => new Upsample({ size: 2, antialias: true }),
      /Upsample: antialias is not an option of PyTorch's nn.Upsample/,
    ],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});

Deno.test("Upsample layers: shapes, and a decoder learns through them", async () => {
  await defaultDevice();
  const up = new UpsamplingBilinear2d({ scaleFactor: 2 });
  assert.deepEqual(up.outputShape([2, 3, 5, 4]), [2, 3, 10, 8]);
  assert.deepEqual(new Upsample({ size: 7, mode: "linear" }).outputShape([2, 3, 5]), [2, 3, 7]);
  const net = new Sequential(
    new Upsample({ scaleFactor: 2, mode: "bilinear" }),
    new Conv2d({ inChannels: 2, outChannels: 1, kernelSize: 3, padding: 1 }),
  );
  assert.deepEqual(net.outputShape([1, 2, 4, 4]), [1, 1, 8, 8]);
  const x = n(1, 2, 4, 4), target = n(1, 1, 8, 8);
  const xs = fromTypedArray(Float32Array.from(x.data), x.shape);
  const ts = fromTypedArray(Float32Array.from(target.data), target.shape);
  const losses = await fit(net, (net) => mseLoss(net.forward(xs) as never, ts), {
    steps: 10,
    lr: 0.1,
    momentum: 0,
  });
  assert.ok(losses[9] < 0.9 * losses[0], `the loss fell: ${losses}`);
});

Deno.test("resample kernels: a batch split into binding-sized runs gives the same bits", async () => {
  const device = await defaultDevice();
  const axis = (size: number, out: number) => ({
    size,
    out,
    mode: "linear" as const,
    alignCorners: false,
    scale: null,
  });
  const g = { batch: 3, channels: 2, rows: axis(3, 7), cols: axis(5, 4) };
  const inBytes = 4 * 2 * 3 * 5, outBytes = 4 * 2 * 7 * 4;
  const x = n(3, 2, 3, 5), u = n(3, 2, 7, 4);
  const run = async (maxBindingBytes?: number) => {
    const [xs, out, gradOut, gradX] = [inBytes, outBytes, outBytes, inBytes].map((bytes) =>
      device.alloc(3 * bytes)
    );
    device.write(xs, Float32Array.from(x.data));
    device.write(gradOut, Float32Array.from(u.data));
    resample(device, g, { x: xs, out }, maxBindingBytes);
    resampleBackward(device, g, { gradOut, gradX }, maxBindingBytes);
    const result = [
      new Float32Array(await device.read(out, 0, 3 * outBytes)),
      new Float32Array(await device.read(gradX, 0, 3 * inBytes)),
    ];
    [xs, out, gradOut, gradX].forEach((b) => device.release(b));
    return result;
  };
  const whole = await run(), split = await run(outBytes + 256); // one sample a run
  assert.deepEqual(split, whole);
  const linear = { mode: "linear" } as const;
  const expected = interpolate2d(x, [7, 4], linear, linear);
  assert.ok(whole[0].every((v, i) => Math.abs(v - expected.data[i]) < 1e-5));
});
