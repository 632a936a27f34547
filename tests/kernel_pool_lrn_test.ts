/**
 * Max pooling and LRN kernels against the float64 references in `_reference.ts`: values,
 * arg-max indices, gradients (max pool: analytic routing of the reference arg-max; LRN: finite
 * differences of the reference), batch slicing, and argument errors.
 */

import assert from "node:assert/strict";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  maxPool2d,
  maxPool2dBackward,
  type Pool2dGeometry,
  pool2dOutputSize,
} from "../kernels/max_pool2d.ts";
import { lrn, lrnBackward, type LrnParams, type LrnShape } from "../kernels/lrn.ts";
import * as ref from "./_reference.ts";
import { assertClose, numericGrad } from "./_gradcheck.ts";

const PAPER: Omit<LrnParams, "groupSize"> = { size: 5, k: 2, alpha: 1e-4, beta: 0.75 };

function upload(device: Device, data: Float32Array | Int32Array): GpuBuffer {
  const buffer = device.alloc(Math.max(data.byteLength, 4));
  device.write(buffer, data);
  return buffer;
}

async function readF32(device: Device, buffer: GpuBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await device.read(buffer, 0, count * 4));
}

/** Random f64 tensor rounded to f32, so the reference sees exactly what the GPU sees. */
function randF32(shape: number[], seed: number, std = 1): ref.F64 {
  const x = ref.randn(shape, ref.mulberry32(seed), std);
  return { shape, data: Float64Array.from(x.data, Math.fround) };
}

function geometry(
  n: number,
  c: number,
  h: number,
  w: number,
  k: [number, number],
  s: [number, number],
  p: [number, number] = [0, 0],
): Pool2dGeometry {
  return {
    batch: n,
    channels: c,
    height: h,
    width: w,
    kernelH: k[0],
    kernelW: k[1],
    strideH: s[0],
    strideW: s[1],
    padH: p[0],
    padW: p[1],
  };
}

function refOptions(g: Pool2dGeometry): ref.Pool2dOptions {
  return {
    kernel: [g.kernelH, g.kernelW],
    stride: [g.strideH, g.strideW],
    padding: [g.padH, g.padW],
    ceilMode: g.ceilMode,
    dilation: [g.dilationH ?? 1, g.dilationW ?? 1],
  };
}

/** `g` with its window taps `[dh, dw]` apart. */
function dilated(g: Pool2dGeometry, [dilationH, dilationW]: [number, number]): Pool2dGeometry {
  return { ...g, dilationH, dilationW };
}

interface PoolRun {
  out: Float32Array;
  argmax: Int32Array;
  gradX: Float32Array;
}

async function runPool(
  device: Device,
  g: Pool2dGeometry,
  x: ref.F64,
  gradOut: ref.F64,
  maxBindingBytes?: number,
): Promise<PoolRun> {
  const { outH, outW } = pool2dOutputSize(g);
  const outCount = g.batch * g.channels * outH * outW;
  const xb = upload(device, Float32Array.from(x.data));
  const gb = upload(device, Float32Array.from(gradOut.data));
  const out = device.alloc(outCount * 4);
  const argmax = device.alloc(outCount * 4);
  const gradX = device.alloc(x.data.length * 4);
  maxPool2d(device, g, { x: xb, out, argmax }, { maxBindingBytes });
  maxPool2dBackward(device, g, { gradOut: gb, argmax, gradX }, { maxBindingBytes });
  const result = {
    out: await readF32(device, out, outCount),
    argmax: new Int32Array(await device.read(argmax, 0, outCount * 4)),
    gradX: await readF32(device, gradX, x.data.length),
  };
  for (const b of [xb, gb, out, argmax, gradX]) device.release(b);
  return result;
}

/** The reference gradient: each output's gradient added to its (reference) arg-max. */
function routeGradient(x: ref.F64, argmax: ref.I32, gradOut: ref.F64): Float64Array {
  const [n, c, h, w] = x.shape;
  const perPlane = argmax.data.length / (n * c);
  const grad = new Float64Array(x.data.length);
  for (let i = 0; i < argmax.data.length; i++) {
    if (argmax.data[i] < 0) continue; // a window with no tap in the input
    grad[Math.floor(i / perPlane) * h * w + argmax.data[i]] += gradOut.data[i];
  }
  return grad;
}

/** Runs one pooling on the GPU and checks values, indices and gradient against the reference. */
async function checkPool(
  device: Device,
  g: Pool2dGeometry,
  x: ref.F64,
  maxBindingBytes?: number,
): Promise<PoolRun> {
  const opts = refOptions(g);
  const want = ref.maxPool2d(x, opts);
  const wantArg = ref.maxPool2dArgmax(x, opts);
  const gradOut = randF32(want.shape, 99);
  const got = await runPool(device, g, x, gradOut, maxBindingBytes);
  assertClose(got.out, want.data, { rtol: 0, atol: 0, label: "pooled values" });
  assert.deepEqual([...got.argmax], [...wantArg.data], "argmax");
  const grad = routeGradient(x, wantArg, gradOut);
  assertClose(got.gradX, grad, { rtol: 1e-6, atol: 1e-6, label: "gradX" });
  return got;
}

function checkRandomPool(
  device: Device,
  g: Pool2dGeometry,
  seed: number,
  maxBindingBytes?: number,
): Promise<PoolRun> {
  const x = randF32([g.batch, g.channels, g.height, g.width], seed);
  return checkPool(device, g, x, maxBindingBytes);
}

/** The reference's routing of gradients to the arg-max against its finite differences. */
function checkRouting(g: Pool2dGeometry, x: ref.F64, seed: number): void {
  const opts = refOptions(g);
  const up = randF32(ref.maxPool2d(x, opts).shape, seed);
  const numeric = numericGrad((xs) => ref.maxPool2d(xs[0], opts), [x], 0, up);
  assertClose(routeGradient(x, ref.maxPool2dArgmax(x, opts), up), numeric.data, {
    rtol: 1e-6,
    atol: 1e-6,
    label: `${JSON.stringify(g)}: routed vs numeric`,
  });
}

Deno.test("max pool kernels", async (t) => {
  const device = await Device.acquire();
  try {
    await t.step("routing agrees with finite differences of the reference", () => {
      checkRouting(geometry(1, 2, 7, 6, [3, 3], [2, 2], [1, 1]), randF32([1, 2, 7, 6], 1), 2);
    });

    await t.step("ties go to the first maximum in window order, every run", async () => {
      const g = geometry(2, 2, 7, 7, [3, 3], [2, 2]);
      const x = ref.full([2, 2, 7, 7], 1);
      const first = await checkPool(device, g, x);
      for (let oh = 0; oh < 3; oh++) {
        for (let ow = 0; ow < 3; ow++) assert.equal(first.argmax[oh * 3 + ow], oh * 2 * 7 + ow * 2);
      }
      const few = ref.map(randF32([2, 2, 7, 7], 3), (v) => Math.round(v)); // many ties
      const a = await checkPool(device, g, few);
      const b = await checkPool(device, g, few);
      assert.deepEqual(new Uint8Array(a.gradX.buffer), new Uint8Array(b.gradX.buffer));
    });

    await t.step("padding is −∞, not 0", async () => {
      const g = geometry(2, 3, 8, 8, [3, 3], [2, 2], [1, 1]);
      const x = ref.map(randF32([2, 3, 8, 8], 4), (v) => Math.fround(-Math.abs(v) - 1));
      const got = await checkPool(device, g, x);
      assert.ok(got.out.every((v) => v < 0), "a padded window picked the padding");
    });

    await t.step("non-square input, kernel, stride and padding", async () => {
      await checkRandomPool(device, geometry(2, 3, 9, 14, [2, 3], [1, 2], [1, 0]), 5);
      await checkRandomPool(device, geometry(1, 2, 5, 12, [3, 2], [2, 3], [0, 1]), 6);
    });

    await t.step("odd sizes, uncovered edges, 1×1 windows, stride ≶ kernel", async () => {
      await checkRandomPool(device, geometry(2, 3, 11, 13, [3, 3], [3, 3]), 7);
      await checkRandomPool(device, geometry(1, 3, 5, 7, [1, 1], [1, 1]), 8);
      await checkRandomPool(device, geometry(2, 2, 9, 9, [3, 3], [1, 1], [1, 1]), 9);
      await checkRandomPool(device, geometry(1, 2, 10, 10, [4, 4], [3, 3], [2, 2]), 10);
      await checkRandomPool(device, geometry(1, 2, 8, 11, [2, 2], [3, 3]), 17); // gaps
    });

    await t.step("ceil mode: PyTorch's output size, clipped last windows", async () => {
      // The output size against PyTorch's formula, on every small geometry.
      for (let size = 1; size <= 12; size++) {
        for (let k = 1; k <= 5; k++) {
          for (let s = 1; s <= 4; s++) {
            for (let p = 0; p <= k >> 1; p++) {
              const g = { ...geometry(1, 1, size, 3, [k, 1], [s, 1], [p, 0]), ceilMode: true };
              const label = `size ${size} k ${k} s ${s} p ${p}`;
              // Ceil mode may keep a window larger than the padded input, as PyTorch does; where
              // PyTorch finds no window (its output size < 1), so does the kernel.
              for (const ceilMode of [true, false]) {
                let want: number | null = null;
                try {
                  want = ref.poolOutSize(size, k, s, p, ceilMode);
                } catch { /* no window: the kernel must refuse too */ }
                const got = () => pool2dOutputSize({ ...g, ceilMode }).outH;
                if (want === null) assert.throws(got, /does not fit/, label);
                else assert.equal(got(), want, `${label} ceil ${ceilMode}`);
              }
            }
          }
        }
      }
      // 5 + 2·1 − 2 = 5 over stride 2: ceil gives 4 windows, but the 4th would start at 6 = H + p.
      assert.equal(
        pool2dOutputSize({ ...geometry(1, 1, 5, 5, [2, 2], [2, 2], [1, 1]), ceilMode: true }).outH,
        3,
      );
      const ceil = (g: Pool2dGeometry): Pool2dGeometry => ({ ...g, ceilMode: true });
      await checkRandomPool(device, ceil(geometry(2, 3, 8, 9, [3, 3], [2, 2])), 18);
      await checkRandomPool(device, ceil(geometry(1, 2, 7, 10, [3, 2], [2, 3], [1, 1])), 19);
      await checkRandomPool(device, ceil(geometry(2, 2, 5, 11, [2, 4], [2, 3], [1, 2])), 20);
      await checkRandomPool(device, ceil(geometry(3, 2, 9, 9, [3, 3], [2, 2])), 21, 1000);
      await checkRandomPool(device, ceil(geometry(2, 2, 2, 3, [3, 4], [3, 4], [0, 1])), 22);
    });

    await t.step(
      "dilation: PyTorch's output size; windows with gaps, padded, ceil mode",
      async () => {
        // The output size against PyTorch's (window span d·(k − 1) + 1), floor and ceil mode.
        for (let size = 1; size <= 12; size++) {
          for (const [k, d] of [[2, 2], [3, 2], [2, 3], [3, 3], [1, 4]]) {
            const span = d * (k - 1) + 1;
            for (let s = 1; s <= 3; s++) {
              for (let p = 0; p <= span >> 1; p++) {
                for (const ceilMode of [false, true]) {
                  const g = dilated(geometry(1, 1, size, 3, [k, 1], [s, 1], [p, 0]), [d, 1]);
                  const label = `size ${size} k ${k} d ${d} s ${s} p ${p} ceil ${ceilMode}`;
                  let want: number | null = null;
                  try {
                    want = ref.poolOutSize(size, span, s, p, ceilMode);
                  } catch { /* no window */ }
                  const got = () => pool2dOutputSize({ ...g, ceilMode }).outH;
                  if (want === null) assert.throws(got, /at dilation \d+×1 .*does not fit/, label);
                  else assert.equal(got(), want, label);
                }
              }
            }
          }
        }
        const ceil = (g: Pool2dGeometry): Pool2dGeometry => ({ ...g, ceilMode: true });
        await checkRandomPool(device, dilated(geometry(2, 3, 7, 7, [3, 3], [1, 1]), [2, 2]), 30);
        await checkRandomPool(
          device,
          dilated(geometry(1, 2, 33, 33, [3, 3], [2, 2], [2, 2]), [2, 2]),
          31,
        );
        await checkRandomPool(
          device,
          dilated(geometry(2, 2, 9, 14, [2, 3], [2, 1], [1, 2]), [3, 2]),
          32,
        );
        await checkRandomPool(device, dilated(geometry(1, 3, 11, 8, [3, 2], [3, 2]), [2, 3]), 33);
        await checkRandomPool(
          device,
          ceil(dilated(geometry(2, 2, 8, 9, [3, 3], [2, 2]), [2, 2])),
          34,
        );
        await checkRandomPool(
          device,
          ceil(dilated(geometry(1, 2, 10, 7, [2, 3], [3, 2], [1, 1]), [3, 2])),
          35,
        );
        await checkRandomPool(
          device,
          dilated(geometry(1, 1, 1, 7, [1, 3], [1, 2], [0, 1]), [5, 2]),
          36,
        );
        // Dilation 1 given is dilation 1 omitted: the same names, WGSL and uniforms.
        const recorded = (g: Pool2dGeometry) => {
          const seen: string[] = [];
          const dispatch = device.dispatch.bind(device);
          device.dispatch = (k, bindings) => {
            seen.push(`${k.name}\n${k.wgsl}\n${k.uniforms}`);
            dispatch(k, bindings);
          };
          const [x, out, argmax] = [0, 1, 2].map(() => device.alloc(4096));
          try {
            maxPool2d(device, g, { x, out, argmax });
            maxPool2dBackward(device, g, { gradOut: out, argmax, gradX: x });
          } finally {
            device.dispatch = dispatch;
            for (const buf of [x, out, argmax]) device.release(buf);
          }
          return seen;
        };
        const plain = geometry(2, 3, 9, 8, [3, 3], [2, 2], [1, 1]);
        assert.deepEqual(recorded(dilated(plain, [1, 1])), recorded(plain));
        // Windows whose taps all fall in the padding: −∞, argmax −1, no gradient (PyTorch's
        // value; along W 2 taps 3 apart, padded by 2, over 1 pixel: at −2 and 1, then −1 and 2).
        const empty = await checkRandomPool(
          device,
          dilated(geometry(1, 2, 3, 1, [2, 2], [1, 1], [1, 2]), [1, 3]),
          40,
        );
        assert.ok(empty.out.every((v) => v === -Infinity), `${empty.out}`);
        assert.ok(empty.argmax.every((a) => a === -1) && empty.gradX.every((v) => v === 0));
        // Batch slices of a dilated pooling.
        await checkRandomPool(
          device,
          dilated(geometry(4, 2, 7, 7, [3, 3], [2, 2]), [2, 2]),
          37,
          500,
        );
        // The routing of a dilated window against finite differences of the reference.
        const g = dilated(geometry(1, 2, 9, 8, [3, 2], [2, 1], [2, 1]), [2, 3]);
        const x = randF32([1, 2, 9, 8], 38);
        checkRouting(g, x, 39);
        await checkPool(device, g, x);
      },
    );

    await t.step("NaN propagates; its argmax is the first NaN", async () => {
      const g = geometry(1, 1, 4, 4, [2, 2], [2, 2]);
      // deno-fmt-ignore
      const data = [
        1,   NaN, 3,         4,
        7,   NaN, 5,         6,
        9,   1,   -Infinity, -Infinity,
        NaN, 8,   -Infinity, -Infinity,
      ];
      const x = ref.f64([1, 1, 4, 4], data);
      const got = await runPool(device, g, x, ref.f64([1, 1, 2, 2], [1, 2, 3, 4]));
      assert.ok(Number.isNaN(got.out[0]) && Number.isNaN(got.out[2]));
      assert.deepEqual([got.out[1], got.out[3]], [6, -Infinity]);
      assert.deepEqual([...got.argmax], [1, 7, 12, 10]);
      assert.deepEqual([got.gradX[1], got.gradX[7], got.gradX[12], got.gradX[10]], [1, 2, 3, 4]);
    });

    await t.step("batch slices (aligned and shifted) match the reference", async () => {
      // 3·7·7·4 = 588 bytes a sample: slice starts are not 32-byte aligned, so shifts are baked.
      const g1 = geometry(5, 3, 7, 7, [3, 3], [2, 2]);
      await checkRandomPool(device, g1, 11, 1300);
      // 8·9·9·4 = 2592 bytes a sample: aligned slices of two samples.
      await checkRandomPool(
        device,
        geometry(6, 8, 9, 9, [3, 3], [2, 2], [1, 1]),
        12,
        2 * 2592 + 100,
      );
      // One sample per binding, as small as it can be.
      await checkRandomPool(device, g1, 13, 588 + 28);
    });

    await t.step("AlexNet geometries (3×3 stride 2 on 55, 27, 13), scaled down", async () => {
      for (const [size, c, seed] of [[55, 3, 14], [27, 4, 15], [13, 5, 16]]) {
        const g = geometry(2, c, size, size, [3, 3], [2, 2]);
        assert.equal(pool2dOutputSize(g).outH, (size - 3) / 2 + 1);
        await checkRandomPool(device, g, seed);
      }
    });

    await t.step("argument errors", () => {
      const g = geometry(1, 1, 4, 4, [2, 2], [2, 2]);
      const small = device.alloc(16);
      const big = device.alloc(64);
      assert.throws(
        () => pool2dOutputSize({ ...g, padH: 2 }),
        /padH must be an integer in \[0, 1\]/,
      );
      assert.throws(() => pool2dOutputSize({ ...g, kernelW: 7, padW: 1 }), /does not fit/);
      assert.throws(() => pool2dOutputSize({ ...g, strideH: 0 }), /strideH must be a positive/);
      assert.throws(
        () => pool2dOutputSize({ ...g, dilationH: 0 }),
        /maxPool2d: dilationH must be a positive integer, got 0/,
      );
      assert.throws(
        () => pool2dOutputSize({ ...g, dilationW: 1.5 }),
        /maxPool2d: dilationW must be a positive integer, got 1.5/,
      );
      // At dilation 2 a 2×2 window spans 3: padding 1 fits, 2 does not.
      assert.equal(pool2dOutputSize({ ...g, dilationH: 2, padH: 1 }).outH, 2);
      assert.throws(
        () => pool2dOutputSize({ ...g, dilationH: 3, padH: 3 }),
        /padH must be an integer in \[0, 2\] \(half the dilated window\), got 3/,
      );
      assert.throws(
        () => pool2dOutputSize({ ...g, dilationW: 4 }),
        /a 2×2 window at dilation 1×4 \(spanning 2×5\) \(pad 0×0\) does not fit a 4×4 input/,
      );
      assert.throws(() => pool2dOutputSize({ ...g, batch: 1.5 }), /batch must be a positive/);
      assert.throws(
        () => maxPool2d(device, g, { x: small, out: small, argmax: small }),
        /x holds 16 bytes but the shape needs 64/,
      );
      assert.throws(
        () => maxPool2dBackward(device, g, { gradOut: big, argmax: big, gradX: small }),
        /gradX holds 16 bytes/,
      );
      assert.throws(
        () => maxPool2d(device, g, { x: big, out: big, argmax: big }, { maxBindingBytes: 32 }),
        /one sample needs 64 bytes/,
      );
      device.release(small);
      device.release(big);
    });
  } finally {
    device.destroy();
  }
});

/** s = k + α·Σ a² over the clipped window (PyTorch's, lopsided for an even size), in float64. */
function refScale(x: ref.F64, p: LrnParams): Float64Array {
  const [, c, h, w] = x.shape;
  const hw = h * w;
  const before = Math.floor(p.size / 2), after = Math.floor((p.size - 1) / 2);
  const s = new Float64Array(x.data.length);
  for (let i = 0; i < s.length; i++) {
    const ch = Math.floor(i / hw) % c;
    const lo = Math.max(ch - before, Math.floor(ch / p.groupSize) * p.groupSize);
    const hi = Math.min(ch + after, (Math.floor(ch / p.groupSize) + 1) * p.groupSize - 1);
    let sum = 0;
    for (let j = lo; j <= hi; j++) sum += x.data[i + (j - ch) * hw] ** 2;
    s[i] = p.k + p.alpha * sum;
  }
  return s;
}

async function checkLrn(
  device: Device,
  x: ref.F64,
  p: LrnParams,
  maxBindingBytes?: number,
): Promise<void> {
  const [batch, channels, height, width] = x.shape;
  const shape: LrnShape = { batch, channels, height, width };
  const count = x.data.length;
  const gradOut = randF32(x.shape, 77);
  const xb = upload(device, Float32Array.from(x.data));
  const gb = upload(device, Float32Array.from(gradOut.data));
  const [out, scale, gradX] = [0, 1, 2].map(() => device.alloc(count * 4));
  lrn(device, shape, p, { x: xb, out, scale }, { maxBindingBytes });
  lrnBackward(device, shape, p, { x: xb, out, scale, gradOut: gb, gradX }, { maxBindingBytes });
  const want = ref.lrn(x, p);
  const outTol = { rtol: 2e-6, atol: 1e-7 };
  assertClose(await readF32(device, out, count), want.data, { ...outTol, label: "lrn out" });
  assertClose(await readF32(device, scale, count), refScale(x, p), { ...outTol, label: "scale" });
  const numeric = numericGrad((xs) => ref.lrn(xs[0], p), [x], 0, gradOut);
  const gotGrad = await readF32(device, gradX, count);
  assertClose(gotGrad, numeric.data, { rtol: 1e-4, atol: 1e-5, label: "lrn gradX" });
  for (const b of [xb, gb, out, scale, gradX]) device.release(b);
}

Deno.test("LRN kernels", async (t) => {
  const device = await Device.acquire();
  try {
    await t.step("paper constants, one group; large inputs make the α term matter", async () => {
      await checkLrn(device, randF32([2, 7, 3, 5], 21, 30), { ...PAPER, groupSize: 7 });
    });

    await t.step("groups: windows stop at group boundaries", async () => {
      const strong = { size: 5, k: 1, alpha: 0.1, beta: 0.75 };
      await checkLrn(device, randF32([2, 8, 2, 3], 22), { ...strong, groupSize: 4 });
      await checkLrn(device, randF32([1, 6, 3, 3], 23), { ...strong, groupSize: 2 });
      await checkLrn(device, randF32([1, 4, 2, 2], 24), { ...strong, groupSize: 1 });
      // Channel 1 must not see channels 2 and 3 of the other group.
      const shape = { batch: 1, channels: 4, height: 1, width: 1 };
      const x = upload(device, new Float32Array([1, 1, 100, 100]));
      const [out, scale] = [device.alloc(16), device.alloc(16)];
      lrn(device, shape, { ...strong, groupSize: 2 }, { x, out, scale });
      const s = await readF32(device, scale, 4);
      assertClose(s, [1.2, 1.2, 2001, 2001], { rtol: 1e-6, label: "scale across groups" });
    });

    await t.step("every size 1…6, even ones with PyTorch's window, in groups", async () => {
      for (let size = 1; size <= 6; size++) {
        const p = { size, k: 1, alpha: 0.15, beta: 0.75 };
        await checkLrn(device, randF32([2, 7, 1, 3], 40 + size), { ...p, groupSize: 7 });
        await checkLrn(device, randF32([1, 9, 2, 1], 50 + size), { ...p, groupSize: 3 });
      }
      // Size 2 is PyTorch's [c − 1, c]: channel c's own square and the one before it.
      const shape = { batch: 1, channels: 3, height: 1, width: 1 };
      const x = upload(device, new Float32Array([1, 10, 100]));
      const [out, scale] = [device.alloc(12), device.alloc(12)];
      lrn(device, shape, { size: 2, k: 1, alpha: 1, beta: 1, groupSize: 3 }, { x, out, scale });
      assertClose(await readF32(device, scale, 3), [2, 102, 10101], {
        rtol: 1e-6,
        label: "size-2 window",
      });
      for (const b of [x, out, scale]) device.release(b);
    });

    await t.step("other sizes and exponents (pow path)", async () => {
      await checkLrn(device, randF32([1, 9, 2, 3], 25), {
        size: 3,
        k: 1,
        alpha: 0.2,
        beta: 0.6,
        groupSize: 9,
      });
      await checkLrn(device, randF32([1, 5, 2, 2], 26), {
        size: 7,
        k: 2,
        alpha: 0.1,
        beta: 0.5,
        groupSize: 5,
      });
      await checkLrn(device, randF32([1, 4, 3, 1], 27), {
        size: 1,
        k: 1,
        alpha: 0.5,
        beta: 1,
        groupSize: 4,
      });
    });

    await t.step("batch slices (aligned and shifted) match the reference", async () => {
      const p = { size: 5, k: 1, alpha: 0.1, beta: 0.75, groupSize: 3 };
      // 6·3·5·4 = 360 bytes a sample: unaligned starts, so shifts are baked into the shader.
      await checkLrn(device, randF32([5, 6, 3, 5], 28), p, 800);
      // 6·4·4·4 = 384 bytes: aligned slices of two samples.
      await checkLrn(device, randF32([5, 6, 4, 4], 29), p, 2 * 384 + 50);
      // 3·2·2·4 = 48 bytes: only even sample counts start aligned, so slices are pairs.
      await checkLrn(device, randF32([5, 3, 2, 2], 32), { ...p, groupSize: 3 }, 100);
    });

    await t.step("AlexNet norm1: 96 channels in two towers of 48", async () => {
      await checkLrn(device, randF32([2, 96, 3, 3], 30, 20), { ...PAPER, groupSize: 48 });
      await checkLrn(device, randF32([1, 96, 2, 2], 31, 20), { ...PAPER, groupSize: 96 });
    });

    await t.step("argument errors", () => {
      const shape = { batch: 1, channels: 6, height: 2, width: 2 };
      const b = device.alloc(96);
      const small = device.alloc(16);
      const bufs = { x: b, out: b, scale: b };
      assert.throws(() => lrn(device, shape, { ...PAPER, groupSize: 4 }, bufs), /groupSize 4/);
      assert.throws(
        () => lrn(device, shape, { ...PAPER, size: 0, groupSize: 6 }, bufs),
        /size must be a positive integer/,
      );
      assert.throws(() => lrn(device, shape, { ...PAPER, k: 0, groupSize: 6 }, bufs), /k > 0/);
      assert.throws(
        () => lrn(device, shape, { ...PAPER, groupSize: 3 }, { ...bufs, scale: small }),
        /scale holds 16 bytes but the shape needs 96/,
      );
      assert.throws(
        () =>
          lrnBackward(device, shape, { ...PAPER, groupSize: 3 }, {
            x: b,
            scale: b,
            gradOut: b,
            gradX: small,
          }),
        /gradX holds 16 bytes/,
      );
      device.release(b);
      device.release(small);
    });
  } finally {
    device.destroy();
  }
});
