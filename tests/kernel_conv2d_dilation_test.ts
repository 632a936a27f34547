/**
 * Dilated convolutions (PyTorch's `dilation`): the float64 reference against finite
 * differences, then every variant that takes dilation FORCED on every pass (the GEMM core's
 * tiles, the register GEMM, split-K, the stride-phase input gradient; the direct kernels with
 * several register tiles and split counts) against it at dilation 2 and 3,
 * non-square dilation, stride 2 and 3 with padding, groups, kernels 1, 3, 5 and non-square,
 * sizes 1, 7 and 33; which candidates a dilated shape is offered; the clear errors of the
 * variant that takes none (Winograd) and of bad dilations; and the
 * tensor op and `nn.Conv2d` with dilation, gradients included.
 */

import assert from "node:assert/strict";
import { Device } from "../kernels/device.ts";
import {
  algorithmName,
  conv2d as conv2dKernel,
  type Conv2dGeometry,
  conv2dOutputSize,
  CONV_GPU_TILES,
  CONV_SMALL_TILE,
  CONV_SUBGROUP_TILES,
  type ConvAlgorithm,
  convCandidates,
} from "../kernels/conv2d.ts";
import {
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dTiles,
} from "../kernels/conv2d_backward.ts";
import { resolve } from "../kernels/_conv_geometry.ts";
import { conv2d, fromTypedArray, tidy } from "../mod.ts";
import { Conv2d, MaxPool2d, Sequential, summary } from "../nn/mod.ts";
import { numericGrad, relativeError } from "./_gradcheck.ts";
import * as ref from "./_reference.ts";
import { geometry } from "./_conv_geometry.ts";
import { backwardReference, check, refOptions } from "./_conv_check.ts";

/** The dilated shapes every variant runs: each named by what it exercises. */
const CASES: [string, Conv2dGeometry][] = [
  ["3×3 d2, 7×7", geometry({ height: 7, width: 7, dilationH: 2, dilationW: 2 })],
  [
    "3×3 d3×2, stride 2, padding 2×1, groups 2",
    geometry({
      inChannels: 4,
      outChannels: 6,
      groups: 2,
      height: 11,
      width: 9,
      strideH: 2,
      strideW: 2,
      padH: 2,
      padW: 1,
      dilationH: 3,
      dilationW: 2,
    }),
  ],
  [
    "5×2 kernel d2×3, stride 2×1, padding 3",
    geometry({
      batch: 1,
      height: 13,
      width: 7,
      kernelH: 5,
      kernelW: 2,
      strideH: 2,
      padH: 3,
      padW: 3,
      dilationH: 2,
      dilationW: 3,
    }),
  ],
  [
    "5×5 d3 on 33×33, stride 2 (taps of one phase 2 apart)",
    geometry({
      batch: 1,
      inChannels: 2,
      outChannels: 3,
      height: 33,
      width: 33,
      kernelH: 5,
      kernelW: 5,
      strideH: 2,
      strideW: 2,
      padH: 1,
      padW: 4,
      dilationH: 3,
      dilationW: 3,
    }),
  ],
  [
    "3×3 d2 on a 1×1 input, padded to fit",
    geometry({ height: 1, width: 1, padH: 2, padW: 2, dilationH: 2, dilationW: 2 }),
  ],
  [
    "1×3 kernel d2 (dilation along H changes nothing)",
    geometry({ kernelH: 1, kernelW: 3, height: 7, width: 33, dilationH: 2, dilationW: 2 }),
  ],
  [
    "3×3 d2, stride 3 (phases without taps), 33 channels",
    geometry({
      batch: 1,
      inChannels: 33,
      outChannels: 7,
      height: 12,
      width: 11,
      strideH: 3,
      strideW: 3,
      padH: 1,
      dilationH: 2,
      dilationW: 2,
    }),
  ],
];

Deno.test("dilated conv2d", async (t) => {
  const device = await Device.acquire();
  try {
    await t.step("the float64 reference matches finite differences, dilated", () => {
      for (const [label, g] of CASES.slice(1, 3)) {
        const rng = ref.mulberry32(5);
        const X = ref.randn([g.batch, g.inChannels, g.height, g.width], rng);
        const W = ref.randn([g.outChannels, g.inChannels / g.groups, g.kernelH, g.kernelW], rng);
        const B = ref.randn([g.outChannels], rng);
        const { outH, outW } = conv2dOutputSize(g);
        const DY = ref.randn([g.batch, g.outChannels, outH, outW], rng);
        const f = ([a, b, c]: ref.F64[]) => ref.conv2d(a, b, c, refOptions(g));
        const r = backwardReference(g, X, W, DY);
        const numeric = (i: number) => numericGrad(f, [X, W, B], i, DY).data;
        assert.ok(relativeError(r.dx, numeric(0)) < 1e-7, `${label}: dx`);
        assert.ok(relativeError(r.dw, numeric(1)) < 1e-7, `${label}: dw`);
        assert.ok(relativeError(r.db, numeric(2)) < 1e-7, `${label}: db`);
      }
      // PyTorch's output size: floor((H + 2p − d·(k − 1) − 1) / s) + 1.
      assert.deepEqual(conv2dOutputSize(CASES[1][1]), { outH: 5, outW: 4 });
      assert.deepEqual(conv2dOutputSize(CASES[3][1]), { outH: 12, outW: 15 });
    });

    await t.step("a dilated shape is offered the GEMMs and the direct kernels", () => {
      for (const [label, g] of CASES) {
        const r = resolve(g, "test");
        for (const pass of ["forward", "gradInput", "gradWeight"] as const) {
          const kinds = new Set(convCandidates(device, pass, r).map((c) => c.value.kind));
          const want = r.kernelH === 1 && r.kernelW === 1 ? kinds : new Set(["gemm", "direct"]);
          assert.deepEqual(kinds, want, `${label}, ${pass}: ${[...kinds]}`);
        }
      }
      // A 1×1 kernel has nothing to dilate: it keeps every candidate, the 1×1 GEMM included.
      const pointwise = resolve(geometry({ kernelH: 1, kernelW: 1, dilationH: 3 }), "test");
      assert.equal(pointwise.dilationH, 1);
      const kinds = convCandidates(device, "forward", pointwise).map((c) => c.value.kind);
      assert.ok(kinds.includes("pointwise") && kinds.includes("direct"), `${kinds}`);
    });

    await t.step("every GEMM tile forced on every pass, against float64", async () => {
      const registerTiles = device.hasSubgroups ? CONV_SUBGROUP_TILES : [];
      for (const tile of [CONV_SMALL_TILE, CONV_GPU_TILES[2], ...registerTiles]) {
        for (const [i, [label, g]] of CASES.entries()) {
          const gemm: ConvAlgorithm = { kind: "gemm", tile };
          const split: ConvAlgorithm = { ...gemm, splits: 1 + (i % 3) };
          await check(device, `${label}, ${algorithmName(gemm)}`, {
            g,
            bias: i % 2 === 0,
            relu: i % 3 === 0,
            accumulate: i % 2 === 1,
            algorithms: { forward: gemm, gradInput: gemm, gradWeight: split },
            seed: i + 1,
          });
        }
      }
    });

    await t.step("the direct kernels forced, several register tiles, against float64", async () => {
      // Register tiles of the forward and input-gradient kernels, and of the weight gradient
      // with its partial sums per run (undefined: the cost model's); the weight gradient slides
      // its window where the dilation divides the stride (d2 s2 here), else reloads it.
      const tiles = [
        [undefined, undefined, undefined],
        [{ ty: 1, tx: 1, q: 4, wg: 8 }, { q: 4, qc: 1, kb: 1, wg: 8 }, 1],
        // Rows kept from tap to tap at dilation 2, none at 3.
        [{ ty: 3, tx: 2, q: 4, wg: 8 }, { q: 8, qc: 2, kb: 2, wg: 8 }, 3],
        [{ ty: 5, tx: 3, q: 8, wg: 64 }, { q: 4, qc: 3, kb: 3, wg: 64 }, 2],
      ] as const;
      const direct: ConvAlgorithm = { kind: "direct" };
      for (const [i, [label, g]] of CASES.entries()) {
        const gpu = conv2dTiles(g, false);
        for (
          const [tile, weight, splits] of [...tiles, [gpu.forward, gpu.gradWeight, 4] as const]
        ) {
          const kernelRows = weight && { ...weight, kb: Math.min(weight.kb, g.kernelH) };
          await check(device, `${label}, direct ${JSON.stringify([tile, weight, splits])}`, {
            g,
            bias: i % 2 === 1,
            relu: i % 3 === 1,
            accumulate: i % 2 === 0,
            tiles: { forward: tile, gradInput: tile, gradWeight: kernelRows },
            splits,
            algorithms: { forward: direct, gradInput: direct, gradWeight: direct },
            seed: 10 + i,
          });
        }
      }
    });

    await t.step("the default choice and batch splitting, dilated", async () => {
      for (const [i, [label, g]] of CASES.entries()) {
        await check(device, `${label}, default`, { g: { ...g, batch: 3 }, bias: true, seed: i });
      }
      // Runs of samples that each fit one binding, from unaligned offsets.
      const g = CASES[1][1];
      await check(device, "batch split", { g: { ...g, batch: 3 }, maxBindingBytes: 4 * 400 + 12 });
    });

    await t.step("dilation is in the tables: the GEMMs' WGSL is the undilated text", () => {
      /** Every dispatch `record` makes: name, WGSL and uniforms. */
      const dispatches = (record: () => void) => {
        const seen: string[][] = [];
        const dispatch = device.dispatch.bind(device);
        device.dispatch = (d, bindings) => {
          seen.push([d.name, d.wgsl, String(d.uniforms)]);
          dispatch(d, bindings);
        };
        try {
          record();
        } finally {
          device.dispatch = dispatch;
        }
        return seen;
      };
      const big = device.alloc(1 << 16), mask = device.alloc(1 << 16), more = device.alloc(1 << 16);
      const passes = (g: Conv2dGeometry, algorithm: ConvAlgorithm) => () => {
        conv2dKernel(device, g, { x: big, w: more, out: mask, bias: big, relu: true, algorithm });
        conv2dBackwardInput(device, g, { gradOut: big, w: more, gradX: mask, algorithm });
        conv2dBackwardWeight(device, g, { x: big, gradOut: more, gradW: mask, algorithm });
      };
      const registerTiles = device.hasSubgroups ? CONV_SUBGROUP_TILES : [];
      for (const tile of [CONV_SMALL_TILE, ...registerTiles]) {
        const gemm: ConvAlgorithm = { kind: "gemm", tile, splits: 1 };
        for (const strided of [false, true]) {
          // Padded by 1 undilated and 2 at dilation 2: the same output size, so the same flags.
          const g = geometry({ height: 13, width: 11, padH: 1, padW: 1, strideH: strided ? 2 : 1 });
          const plain = dispatches(passes(g, gemm));
          const twice = { ...g, padH: 2, padW: 2, dilationH: 2, dilationW: 2 };
          const atTwo = dispatches(passes(twice, gemm));
          assert.deepEqual(atTwo.map((d) => d[1]), plain.map((d) => d[1]), "WGSL");
          assert.ok(atTwo.every((d) => / d2×2$/.test(d[0]) || / pack$| sum$/.test(d[0])));
          // Dilation 1 given is dilation 1 omitted: the same names, WGSL and uniforms.
          const atOne = dispatches(passes({ ...g, dilationH: 1, dilationW: 1 }, gemm));
          assert.deepEqual(atOne, plain);
        }
      }
      for (const b of [big, mask, more]) device.release(b);
    });

    await t.step("variants that take no dilation refuse it in one line; bad dilations", () => {
      const big = device.alloc(1 << 16);
      const g = CASES[0][1];
      const bufs = { x: big, w: big, out: big };
      const grads = { gradOut: big, w: big, gradX: big };
      assert.throws(
        () => conv2dKernel(device, g, { ...bufs, algorithm: { kind: "winograd" } }),
        /Winograd needs a 3×3 or 5×5 kernel at stride 1, undilated/,
      );
      assert.throws(
        () => conv2dBackwardInput(device, g, { ...grads, algorithm: { kind: "winograd" } }),
        /Winograd needs a 3×3 or 5×5 kernel at stride 1, undilated/,
      );
      assert.throws(
        () => conv2dKernel(device, g, { ...bufs, algorithm: { kind: "pointwise" } }),
        /pointwise algorithm needs a 1×1 kernel/,
      );
      assert.throws(
        () => conv2dKernel(device, { ...g, dilationH: 0 }, bufs),
        /^RangeError: conv2d: dilationH must be a positive integer, got 0$/,
      );
      assert.throws(
        () => conv2dKernel(device, { ...g, dilationW: 1.5 }, bufs),
        /^RangeError: conv2d: dilationW must be a positive integer, got 1.5$/,
      );
      assert.throws(
        () => conv2dKernel(device, { ...g, dilationH: 4 }, bufs),
        /^RangeError: conv2d: a 3×3 kernel at dilation 4×2 \(spanning 9×5\) \(padding 0×0\) does not fit a 7×7 input$/,
      );
      device.release(big);
    });

    await t.step("conv2d and nn.Conv2d with dilation: values and gradients", async () => {
      const rng = ref.mulberry32(9);
      const X = ref.randn([2, 4, 9, 8], rng), W = ref.randn([6, 2, 3, 2], rng);
      const B = ref.randn([6], rng);
      const opts = { stride: [2, 1], padding: [2, 1], groups: 2, dilation: [2, 3] } as const;
      const refOpts: ref.Conv2dOptions = {
        stride: [2, 1],
        padding: [2, 1],
        groups: 2,
        dilation: [2, 3],
      };
      const want = ref.conv2d(X, W, B, refOpts);
      const DY = ref.randn(want.shape, rng);
      const grads = ref.conv2dBackward(X, W, DY, refOpts);
      const t32 = (a: ref.F64, grad = false) =>
        fromTypedArray(Float32Array.from(a.data), a.shape, { device, requiresGrad: grad });
      const [x, w, b, dy] = [t32(X, true), t32(W, true), t32(B, true), t32(DY)];
      const y = conv2d(x, w, b, opts);
      assert.deepEqual(y.shape, want.shape);
      assert.ok(relativeError(await y.data(), want.data) < 1e-5, "forward");
      const loss = tidy(() => y.mul(dy).sum());
      await loss.backward();
      assert.ok(relativeError(await x.grad!.data(), grads.dx.data) < 1e-5, "dx");
      assert.ok(relativeError(await w.grad!.data(), grads.dw.data) < 1e-5, "dw");
      assert.ok(relativeError(await b.grad!.data(), grads.db.data) < 1e-5, "db");
      for (const tensor of [x, w, b, dy, y, loss]) tensor.dispose();

      const layer = new Conv2d({
        inChannels: 4,
        outChannels: 6,
        kernelSize: [3, 2],
        ...opts,
        device,
      });
      assert.deepEqual(layer.dilation, [2, 3]);
      assert.deepEqual(layer.outputShape([2, 4, 9, 8]), [...want.shape]);
      // The same layer as a state dict, and in a summary.
      const copy = new Conv2d({
        inChannels: 4,
        outChannels: 6,
        kernelSize: [3, 2],
        ...opts,
        device,
      });
      await copy.loadStateDict(await layer.stateDict());
      const input = t32(X);
      const [a, c] = [layer.forward(input.withRank(4)), copy.forward(input.withRank(4))];
      assert.deepEqual(await a.data(), await c.data());
      // Moved to another device by Module.to(), it computes the same.
      const other = await Device.acquire();
      try {
        await copy.to(other);
        const there = await input.to(other);
        const moved = copy.forward(there.withRank(4));
        assert.deepEqual(await moved.data(), await a.data());
        there.dispose();
        moved.dispose();
      } finally {
        copy.dispose();
        other.destroy();
      }
      const net = new Sequential({
        conv: layer,
        pool: new MaxPool2d({ kernelSize: 2, dilation: 2 }),
      });
      assert.match(summary(net, [2, 4, 9, 8]), /conv +\[2, 6, 5, 7\].*\n.*pool +\[2, 6, 2, 3\]/);
      for (const tensor of [input, a, c]) tensor.dispose();
    });

    await t.step("tensor-level errors name the option", () => {
      const x = fromTypedArray(new Float32Array(49), [1, 1, 7, 7], { device });
      const w = fromTypedArray(new Float32Array(9), [1, 1, 3, 3], { device });
      assert.throws(
        () => conv2d(x, w, null, { dilation: 0 }),
        /^RangeError: conv2d: dilation must be a positive integer \(or a pair of them\), got 0$/,
      );
      assert.throws(
        () => conv2d(x, w, null, { dilation: [2, 1.5] }),
        /conv2d: dilation must be a positive integer \(or a pair of them\), got 2,1.5/,
      );
      assert.throws(
        () => conv2d(x, w, null, { dilation: 4 }),
        /^ShapeError: conv2d: input \[1,1,7,7\]: a 3×3 window \(stride 1,1, padding 0,0, dilation 4,4 spanning 9×9\) does not fit a 7×7 input$/,
      );
      assert.throws(
        () => new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, dilation: -1, device }),
        /^RangeError: Conv2d: dilation must be a positive integer \(or a pair of them\), got -1$/,
      );
      assert.throws(
        () => new MaxPool2d({ kernelSize: 3, dilation: [1, 0] }),
        /^RangeError: MaxPool2d: dilation must be a positive integer \(or a pair of them\), got 1,0$/,
      );
      // Padding at most half the dilated window, as PyTorch's max pooling.
      new MaxPool2d({ kernelSize: 3, padding: 2, dilation: 2 });
      assert.throws(
        () => new MaxPool2d({ kernelSize: 3, padding: 3, dilation: 2 }),
        /MaxPool2d: padding must be at most half the dilated window, got padding 3 for kernel 3 at dilation 2,2 \(spanning 5×5\)/,
      );
      x.dispose();
      w.dispose();
    });
  } finally {
    device.destroy();
  }
});
