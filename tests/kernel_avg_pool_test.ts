/**
 * The average-pooling kernels directly: fixed and adaptive windows against the float64
 * reference (values, and the gradient as the reference's finite differences), batch slices
 * (aligned and shifted bindings), bit-identical reruns, and argument errors.
 */

import assert from "node:assert/strict";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  avgPool2d,
  avgPool2dBackward,
  type AvgPool2dGeometry,
  type FixedWindows,
} from "../kernels/avg_pool2d.ts";
import * as ref from "./_reference.ts";
import { assertClose, numericGrad } from "./_gradcheck.ts";

/** Random f64 tensor rounded to f32, so the reference sees exactly what the GPU sees. */
function randF32(shape: number[], seed: number): ref.F64 {
  const x = ref.randn(shape, ref.mulberry32(seed));
  return { shape, data: Float64Array.from(x.data, Math.fround) };
}

function upload(device: Device, data: Float32Array): GpuBuffer {
  const buffer = device.alloc(Math.max(data.byteLength, 4));
  device.write(buffer, data);
  return buffer;
}

/** The reference of a geometry: PyTorch's avg_pool2d or adaptive_avg_pool2d. */
function reference(g: AvgPool2dGeometry, x: ref.F64): ref.F64 {
  if (g.windows === "adaptive") return ref.adaptiveAvgPool2d(x, [g.outH, g.outW]);
  const w = g.windows;
  const y = ref.avgPool2d(x, {
    kernel: [w.kernelH, w.kernelW],
    stride: [w.strideH, w.strideW],
    padding: [w.padH, w.padW],
    ceilMode: true,
    countIncludePad: w.countIncludePad,
    divisorOverride: w.divisorOverride ?? undefined,
  });
  assert.deepEqual(y.shape.slice(2), [g.outH, g.outW], "the test's geometry is PyTorch's");
  return y;
}

/** Runs both passes and checks them against the reference; returns the gradient's bits. */
async function checkPool(
  device: Device,
  g: AvgPool2dGeometry,
  seed: number,
  maxBindingBytes?: number,
): Promise<Float32Array> {
  const x = randF32([g.batch, g.channels, g.height, g.width], seed);
  const want = reference(g, x);
  const up = randF32(want.shape, seed + 1);
  const xb = upload(device, Float32Array.from(x.data));
  const gb = upload(device, Float32Array.from(up.data));
  const out = device.alloc(want.data.length * 4);
  const gradX = device.alloc(x.data.length * 4);
  avgPool2d(device, g, { x: xb, out }, { maxBindingBytes });
  avgPool2dBackward(device, g, { gradOut: gb, gradX }, { maxBindingBytes });
  const got = new Float32Array(await device.read(out, 0, want.data.length * 4));
  const grad = new Float32Array(await device.read(gradX, 0, x.data.length * 4));
  for (const b of [xb, gb, out, gradX]) device.release(b);
  assertClose(got, want.data, { rtol: 1e-5, atol: 1e-6, label: "pooled values" });
  const numeric = numericGrad((xs) => reference(g, xs[0]), [x], 0, up);
  assertClose(grad, numeric.data, { rtol: 1e-4, atol: 1e-5, label: "gradX" });
  return grad;
}

function fixed(
  k: [number, number],
  s: [number, number],
  p: [number, number],
  countIncludePad = true,
  divisorOverride: number | null = null,
): FixedWindows {
  const [kernelH, kernelW] = k, [strideH, strideW] = s, [padH, padW] = p;
  return { kernelH, kernelW, strideH, strideW, padH, padW, countIncludePad, divisorOverride };
}

function geometry(
  shape: [number, number, number, number],
  out: [number, number],
  windows: AvgPool2dGeometry["windows"],
): AvgPool2dGeometry {
  const [batch, channels, height, width] = shape;
  return { batch, channels, height, width, outH: out[0], outW: out[1], windows };
}

Deno.test("average pool kernels", async (t) => {
  const device = await Device.acquire();
  try {
    await t.step("fixed windows: odd sizes, clipped ceil-mode edges, every divisor", async () => {
      await checkPool(device, geometry([2, 3, 7, 9], [4, 5], fixed([3, 3], [2, 2], [1, 1])), 1);
      const clipped = fixed([3, 2], [2, 3], [1, 1], false);
      await checkPool(device, geometry([1, 2, 8, 6], [5, 3], clipped), 2);
      await checkPool(device, geometry([2, 2, 5, 7], [3, 4], fixed([2, 2], [2, 2], [1, 1])), 3);
      // Ceil mode keeps a window larger than the input (PyTorch's too): clipped to it.
      await checkPool(device, geometry([1, 2, 2, 3], [1, 1], fixed([3, 4], [3, 4], [0, 1])), 11);
      // Ceil mode: the last window runs past the input; its padded size stops at H + pad.
      await checkPool(device, geometry([1, 2, 8, 7], [4, 4], fixed([3, 3], [2, 2], [0, 1])), 10);
      const override = fixed([2, 3], [1, 2], [0, 1], true, 5);
      await checkPool(device, geometry([1, 3, 6, 5], [5, 3], override), 4);
    });

    await t.step("adaptive windows: overlapping, repeated (output over input), 1×1", async () => {
      await checkPool(device, geometry([2, 3, 7, 5], [3, 2], "adaptive"), 5);
      await checkPool(device, geometry([1, 2, 3, 4], [5, 7], "adaptive"), 6);
      await checkPool(device, geometry([2, 4, 6, 6], [1, 1], "adaptive"), 7);
    });

    await t.step("batch slices (aligned and shifted) and bit-identical reruns", async () => {
      // 3·7·7·4 = 588 bytes a sample in, 3·3·3·4 = 108 out: slice starts are not aligned.
      const g = geometry([5, 3, 7, 7], [3, 3], "adaptive");
      const sliced = await checkPool(device, g, 8, 1300);
      const whole = await checkPool(device, g, 8);
      assert.deepEqual(new Uint8Array(sliced.buffer), new Uint8Array(whole.buffer));
      await checkPool(
        device,
        geometry([6, 8, 9, 9], [5, 5], fixed([3, 3], [2, 2], [1, 1])),
        9,
        6000,
      );
    });

    await t.step("argument errors", () => {
      const g = geometry([1, 1, 4, 4], [2, 2], fixed([2, 2], [2, 2], [0, 0]));
      const small = device.alloc(16), big = device.alloc(64);
      const padded = { ...g, windows: fixed([2, 2], [2, 2], [2, 0]) };
      assert.throws(
        () => avgPool2d(device, padded, { x: big, out: big }),
        /avgPool2d: padH must be an integer in \[0, 1\] \(half the kernel\), got 2/,
      );
      assert.throws(
        () => avgPool2d(device, { ...g, outH: 3 }, { x: big, out: big }),
        /avgPool2d: 3 windows of 2 \(stride 2, pad 0\) do not fit an axis of 4/,
      );
      assert.throws(
        () =>
          avgPool2d(device, { ...g, windows: fixed([2, 2], [2, 2], [0, 0], true, 0) }, {
            x: big,
            out: big,
          }),
        /divisorOverride must be a positive integer, got 0/,
      );
      assert.throws(
        () => avgPool2d(device, { ...g, outW: 0 }, { x: big, out: big }),
        /outW must be a positive integer, got 0/,
      );
      assert.throws(
        () => avgPool2d(device, g, { x: small, out: small }),
        /avgPool2d: x holds 16 bytes but the shape needs 64/,
      );
      assert.throws(
        () => avgPool2dBackward(device, g, { gradOut: big, gradX: small }),
        /avgPool2dBackward: gradX holds 16 bytes/,
      );
      device.release(small);
      device.release(big);
    });
  } finally {
    device.destroy();
  }
});
