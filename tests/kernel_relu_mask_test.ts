/**
 * The ReLU-mask epilogues: LRN backward (mask read from x, or as its own operand), max-pool
 * backward, the conv input gradient (direct, GEMM core tiles, Winograd, batch runs) and the
 * matmul (tiles, vec4 and scalar stores, split-K, K windows). Each fused variant must equal
 * the unfused kernel followed by the mask, bit for bit, and the gradient of the ReLU's input
 * taken by finite differences of the float64 reference, at odd sizes (1, 7, 33, and sizes
 * that are multiples of no tile).
 */

import assert from "node:assert/strict";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import { type Conv2dGeometry, conv2dOutputSize, CONV_SMALL_TILE } from "../kernels/conv2d.ts";
import {
  CONV_GPU_TILES,
  CONV_SUBGROUP_TILES,
  type ConvAlgorithm,
} from "../kernels/_conv_algorithms.ts";
import { conv2dBackwardInput } from "../kernels/conv2d_backward.ts";
import { lrn, lrnBackward, type LrnParams } from "../kernels/lrn.ts";
import {
  maxPool2d,
  maxPool2dBackward,
  type Pool2dGeometry,
  pool2dOutputSize,
} from "../kernels/max_pool2d.ts";
import { type GemmTile, tileFits } from "../kernels/_gemm.ts";
import {
  GPU_SKINNY_TILE,
  GPU_TILES,
  matmul,
  type MatmulTile,
  MID_TILE,
  SKINNY_TILE,
  SMALL_TILE,
  SUBGROUP_TILES,
} from "../kernels/matmul.ts";
import { assertClose, numericGrad } from "./_gradcheck.ts";
import * as ref from "./_reference.ts";
import { geometry } from "./_conv_geometry.ts";

/** Pre-activations at least 0.1 from zero (rounded to f32), so differences never cross the kink. */
function preActivations(shape: number[], seed: number): ref.F64 {
  const rng = ref.mulberry32(seed);
  const data = Float64Array.from({ length: ref.numel(shape) }, () => {
    const v = ref.gaussian(rng);
    return Math.fround(Math.sign(v || 1) * (0.1 + Math.abs(v)));
  });
  return { shape, data };
}

function randF32(shape: number[], seed: number): ref.F64 {
  const x = ref.randn(shape, ref.mulberry32(seed));
  return { shape, data: Float64Array.from(x.data, Math.fround) };
}

function upload(device: Device, data: ArrayLike<number>): GpuBuffer {
  const buffer = device.alloc(Math.max(4 * data.length, 4));
  device.write(buffer, Float32Array.from(data));
  return buffer;
}

async function read(device: Device, buffer: GpuBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await device.read(buffer, 0, count * 4));
}

/** `g` where `y > 0`, else 0: the separate pass the epilogues replace. */
function masked(g: Float32Array, y: ref.F64): Float32Array {
  return g.map((v, i) => (y.data[i] > 0 ? v : 0));
}

/**
 * Runs `kernel` without and with the mask `relu(z)`; asserts that the fused result is the
 * unfused one masked (bit for bit) and matches the finite differences of `f ∘ relu` at `z`
 * against the upstream gradient `up`.
 */
async function checkFused(
  device: Device,
  label: string,
  z: ref.F64,
  up: ref.F64,
  f: (y: ref.F64) => ref.F64,
  kernel: (y: GpuBuffer, mask: GpuBuffer | undefined, out: GpuBuffer) => void,
): Promise<void> {
  const y = ref.relu(z);
  const yBuf = upload(device, y.data);
  const n = y.data.length;
  const plain = device.alloc(4 * n), fused = device.alloc(4 * n);
  kernel(yBuf, undefined, plain);
  kernel(yBuf, yBuf, fused);
  const [p, q] = [await read(device, plain, n), await read(device, fused, n)];
  assert.deepEqual(q, masked(p, y), `${label}: fused differs from unfused + mask`);
  // Small steps: a window's maximum may lead its runner-up by little.
  const numeric = numericGrad(([zz]) => f(ref.relu(zz)), [z], 0, up, 1e-5);
  assertClose(q, numeric.data, { rtol: 1e-4, atol: 1e-4, label });
  for (const b of [yBuf, plain, fused]) device.release(b);
}

Deno.test("ReLU-mask epilogues", async (t) => {
  const device = await Device.acquire();

  await t.step("LRN backward: mask from x, and as its own operand", async () => {
    const cases: [number[], number][] = [[[1, 7, 1, 1], 7], [[2, 6, 3, 5], 3], [[1, 33, 1, 3], 11]];
    for (const [[n, c, h, w], groupSize] of cases) {
      const shape = { batch: n, channels: c, height: h, width: w };
      const p: LrnParams = { size: 5, k: 2, alpha: 0.1, beta: 0.75, groupSize };
      const z = preActivations([n, c, h, w], c), up = randF32([n, c, h, w], c + 1);
      const gBuf = upload(device, up.data);
      const scale = device.alloc(4 * up.data.length), out = device.alloc(4 * up.data.length);
      for (const operand of [false, true]) {
        await checkFused(
          device,
          `lrn [${n},${c},${h},${w}] groups of ${groupSize}${operand ? ", mask operand" : ""}`,
          z,
          up,
          (y) => ref.lrn(y, p),
          (x, mask, gradX) => {
            lrn(device, shape, p, { x, out, scale });
            // A copy of x is a different buffer: the kernel binds it as the mask operand.
            const m = operand && mask ? upload(device, ref.relu(z).data) : mask;
            lrnBackward(device, shape, p, { x, scale, gradOut: gBuf, gradX, mask: m });
          },
        );
      }
      for (const b of [gBuf, scale, out]) device.release(b);
    }
  });

  await t.step("max-pool backward, with batch runs", async () => {
    const pool = (n: number, c: number, h: number, w: number, k: number, s: number, pad = 0) =>
      ({
        batch: n,
        channels: c,
        height: h,
        width: w,
        kernelH: k,
        kernelW: k,
        strideH: s,
        strideW: s,
        padH: pad,
        padW: pad,
      }) satisfies Pool2dGeometry;
    const cases: [Pool2dGeometry, number?][] = [
      [pool(1, 1, 1, 1, 1, 1)],
      [pool(2, 3, 7, 7, 3, 2)],
      [pool(1, 2, 5, 33, 3, 2, 1)],
      [pool(3, 3, 7, 9, 3, 2), 3 * 7 * 9 * 4 + 40],
    ];
    for (const [g, maxBindingBytes] of cases) {
      const { outH, outW } = pool2dOutputSize(g);
      const shape = [g.batch, g.channels, g.height, g.width];
      const z = preActivations(shape, g.height), up = randF32([g.batch, g.channels, outH, outW], 5);
      const opts = {
        kernel: [g.kernelH, g.kernelW] as [number, number],
        stride: [g.strideH, g.strideW] as [number, number],
        padding: [g.padH, g.padW] as [number, number],
      };
      const outN = up.data.length;
      const gBuf = upload(device, up.data);
      const out = device.alloc(4 * outN), argmax = device.alloc(4 * outN);
      await checkFused(
        device,
        `maxPool [${shape}] k${g.kernelH} s${g.strideH} p${g.padH}${
          maxBindingBytes ? " runs" : ""
        }`,
        z,
        up,
        (y) => ref.maxPool2d(y, opts),
        (x, mask, gradX) => {
          maxPool2d(device, g, { x, out, argmax }, { maxBindingBytes });
          maxPool2dBackward(device, g, { gradOut: gBuf, argmax, gradX, mask }, { maxBindingBytes });
        },
      );
      for (const b of [gBuf, out, argmax]) device.release(b);
    }
  });

  await t.step("conv input gradient: every algorithm and tile, batch runs", async () => {
    const gemm = (tile: GemmTile): ConvAlgorithm => ({ kind: "gemm", tile });
    const algorithms: ConvAlgorithm[] = [
      { kind: "direct" },
      gemm(CONV_SMALL_TILE),
      ...CONV_GPU_TILES.filter((tile) => tileFits(tile, device.limits)).map(gemm),
      ...(device.hasSubgroups ? CONV_SUBGROUP_TILES.map(gemm) : []),
      { kind: "winograd" },
      { kind: "pointwise" },
    ];
    const cases: [string, Conv2dGeometry, number?][] = [
      ["1×1 image, 3×3 pad 1", geometry({ batch: 1, height: 1, width: 1, padH: 1, padW: 1 })],
      [
        "7×7, 7 → 5 channels, pad 1",
        geometry({ inChannels: 7, height: 7, width: 7, padH: 1, padW: 1 }),
      ],
      [
        "33×3, groups 2",
        geometry({ batch: 1, inChannels: 4, outChannels: 6, height: 33, width: 3, groups: 2 }),
      ],
      [
        "stride 2, 5×5 pad 2",
        geometry({ kernelH: 5, kernelW: 5, strideH: 2, strideW: 2, padH: 2, padW: 2 }),
      ],
      ["5×5 pad 2 (Winograd F(2×2, 5×5))", geometry({ kernelH: 5, kernelW: 5, padH: 2, padW: 2 })],
      ["1×1, 7 → 5 channels", geometry({ inChannels: 7, kernelH: 1, kernelW: 1 })],
      // 5·9·7·4 = 1260-byte samples of gradOut: one sample per run, unaligned offsets.
      ["batch runs", geometry({ batch: 3, padH: 1, padW: 1 }), 1300],
    ];
    for (const [name, g, maxBindingBytes] of cases) {
      const { outH, outW } = conv2dOutputSize(g);
      const xShape = [g.batch, g.inChannels, g.height, g.width];
      const wShape = [g.outChannels, g.inChannels / g.groups, g.kernelH, g.kernelW];
      const z = preActivations(xShape, g.height + g.width);
      const w = randF32(wShape, 7), up = randF32([g.batch, g.outChannels, outH, outW], 8);
      const wBuf = upload(device, w.data), gBuf = upload(device, up.data);
      const opts = {
        stride: [g.strideH, g.strideW] as [number, number],
        padding: [g.padH, g.padW] as [number, number],
        groups: g.groups,
      };
      const stride1 = g.strideH === 1 && g.strideW === 1;
      for (const algorithm of algorithms) {
        const k = g.kernelH;
        if (algorithm.kind === "winograd" && !(stride1 && (k === 3 || k === 5))) continue;
        if (algorithm.kind === "pointwise" && !(stride1 && k === 1 && g.padH === 0)) continue;
        await checkFused(
          device,
          `conv gradInput ${name}, ${algorithm.kind}${
            "tile" in algorithm && algorithm.tile ? ` ${algorithm.tile.tileM}` : ""
          }`,
          z,
          up,
          (y) => ref.conv2d(y, w, null, opts),
          (_x, mask, gradX) =>
            conv2dBackwardInput(device, g, {
              gradOut: gBuf,
              w: wBuf,
              gradX,
              mask,
              algorithm,
              // Winograd's scratch (6400 bytes a sample here) must fit one binding too.
              maxBindingBytes: maxBindingBytes && algorithm.kind === "winograd"
                ? 6500
                : maxBindingBytes,
            }),
        );
      }
      for (const b of [wBuf, gBuf]) device.release(b);
    }
  });

  await t.step("matmul: tiles, vec4 and scalar stores, split-K, K windows", async () => {
    // out[M, N] = a[M, K]·b[K, N], masked by relu(z[M, N]): the input gradient of relu(z)·bᵀ.
    const cases: [number, number, number, MatmulTile, { splits?: number; window?: boolean }][] = [
      [1, 7, 33, SKINNY_TILE, {}],
      [7, 33, 5, SMALL_TILE, {}],
      [33, 8, 7, SMALL_TILE, {}],
      [33, 65, 17, MID_TILE, {}],
      // The GPU tiles: scalar rows (the skinny one), 4×4, 8×4 and 8×8 register blocks.
      [3, 33, 7, GPU_SKINNY_TILE, {}],
      // The register GEMM of software adapters with subgroups.
      ...(device.hasSubgroups ? SUBGROUP_TILES : []).map((
        tile,
      ): [number, number, number, MatmulTile, object] => [33, 65, 12, tile, {}]),
      ...GPU_TILES.map((tile): [number, number, number, MatmulTile, object] => [
        129,
        33,
        9,
        tile,
        {},
      ]),
      [9, 12, 130, SMALL_TILE, { splits: 3 }],
      [5, 7, 33, SMALL_TILE, { splits: 2 }],
      [6, 8, 40, SMALL_TILE, { window: true }],
    ];
    for (const [m, n, k, tile, { splits, window }] of cases) {
      const a = randF32([m, k], m), b = randF32([k, n], n);
      const z = preActivations([m, n], k);
      const aBuf = upload(device, a.data), bBuf = upload(device, b.data);
      const bt = ref.transpose(b, 0, 1);
      await checkFused(
        device,
        `matmul ${m}×${n}×${k} ${tile.tileM}×${tile.tileN}${splits ? ` split ${splits}` : ""}${
          window ? " windows" : ""
        }`,
        z,
        a,
        // d/dz of Σ a ⊙ (relu(z)·bᵀ) is (a·b) ⊙ relu'(z).
        (y) => ref.matmul(y, bt),
        (_y, mask, out) =>
          matmul(device, {
            a: aBuf,
            b: bBuf,
            out,
            m,
            n,
            k,
            tile,
            splits,
            mask,
            // A K window of 16 rows of b: three windows, the mask applied with the last.
            maxBindingBytes: window ? 16 * n * 4 + 256 : undefined,
          }),
      );
      for (const buf of [aBuf, bBuf]) device.release(buf);
    }
  });
});
