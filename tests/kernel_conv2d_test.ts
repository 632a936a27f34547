/**
 * The convolution kernels (forward, input, weight and bias gradients, the bias gradient both
 * alone and from the weight gradient's kernel in every variant) against float64
 * references: strides, padding, groups, non-square shapes, odd channel counts, the fused
 * bias + ReLU, forced batch splitting with unaligned sample offsets, the GPU tiles, every
 * AlexNet layer's geometry with fewer channels, a real >128 MiB output, determinism and the
 * argument checks.
 */

import assert from "node:assert/strict";
import { Device } from "../kernels/device.ts";
import {
  algorithmName,
  conv2d,
  type Conv2dGeometry,
  conv2dOutputSize,
  CONV_GPU_TILES,
  CONV_SMALL_TILE,
  CONV_SUBGROUP_TILES,
  type ConvAlgorithm,
  convCandidates,
  type ConvPass,
} from "../kernels/conv2d.ts";
import { resolve } from "../kernels/_conv_geometry.ts";
import {
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dTiles,
} from "../kernels/conv2d_backward.ts";
import { numericGrad, relativeError } from "./_gradcheck.ts";
import * as ref from "./_reference.ts";
import { geometry } from "./_conv_geometry.ts";
import { backwardReference, check, close, download, upload } from "./_conv_check.ts";
import { type GemmTile, tileName } from "../kernels/_gemm.ts";
import { HARDWARE_TILE, SMALL_TILE, SUBGROUP_TILES } from "../kernels/matmul.ts";

Deno.test("conv2d kernels", async (t) => {
  const device = await Device.acquire();

  await t.step("the float64 backward reference matches finite differences", () => {
    const g = geometry({
      batch: 1,
      inChannels: 4,
      outChannels: 2,
      height: 5,
      width: 4,
      strideH: 2,
      padW: 1,
      groups: 2,
    });
    const rng = ref.mulberry32(3);
    const X = ref.randn([1, 4, 5, 4], rng), W = ref.randn([2, 2, 3, 3], rng);
    const B = ref.randn([2], rng);
    const { outH, outW } = conv2dOutputSize(g);
    const DY = ref.randn([1, 2, outH, outW], rng);
    const f = ([a, b, c]: ref.F64[]) =>
      ref.conv2d(a, b, c, { stride: [2, 1], padding: [0, 1], groups: 2 });
    const r = backwardReference(g, X, W, DY);
    assert.ok(relativeError(r.dx, numericGrad(f, [X, W, B], 0, DY).data) < 1e-7);
    assert.ok(relativeError(r.dw, numericGrad(f, [X, W, B], 1, DY).data) < 1e-7);
    assert.ok(relativeError(r.db, numericGrad(f, [X, W, B], 2, DY).data) < 1e-7);
  });

  await t.step("stride, padding, non-square shapes and kernels, odd channels", async () => {
    await check(device, "3×3 valid", { g: geometry({}) });
    await check(device, "pad 1×2, 5×2 kernel", {
      g: geometry({ padH: 1, padW: 2, kernelH: 5, kernelW: 2, outChannels: 7 }),
    });
    await check(device, "stride 2×3, pad 1", {
      g: geometry({ strideH: 2, strideW: 3, padH: 1, padW: 1, height: 10, width: 11 }),
    });
    await check(device, "stride 3, 2×3 kernel", {
      g: geometry({ strideH: 3, strideW: 2, kernelH: 2, padH: 1, height: 10, width: 11 }),
    });
    // Kernels smaller than the stride: some input pixels get no gradient at all (zeros).
    await check(device, "1×1 stride 2", {
      g: geometry({ kernelH: 1, kernelW: 1, strideH: 2, strideW: 2 }),
    });
    await check(device, "pad > kernel reach", {
      g: geometry({ strideH: 2, strideW: 2, padH: 2, padW: 2, height: 4, width: 3 }),
    });
  });

  await t.step("groups 2 and 3, fused bias and ReLU, accumulation", async () => {
    await check(device, "groups 3", {
      g: geometry({ groups: 3, inChannels: 6, outChannels: 9 }),
      bias: true,
    });
    await check(device, "groups 2 5×5 pad 2, bias+relu", {
      g: geometry({
        groups: 2,
        inChannels: 4,
        outChannels: 6,
        kernelH: 5,
        kernelW: 5,
        padH: 2,
        padW: 2,
      }),
      bias: true,
      relu: true,
      accumulate: true,
    });
  });

  await t.step("forced batch splitting with unaligned sample offsets", async () => {
    // 3·9·7·4 = 756-byte input samples, 5·7·5·4 = 700-byte outputs: no run of samples starts on a
    // 32-byte boundary, so every binding starts below its data and the shader skips the rest.
    const g = geometry({ batch: 3, height: 9, width: 7 });
    await check(device, "1 sample per run", {
      g,
      maxBindingBytes: 800,
      bias: true,
      accumulate: true,
    });
    await check(device, "2 samples per run, split K", {
      g: { ...g, padH: 1 },
      maxBindingBytes: 1600,
      splits: 3,
    });
  });

  await t.step("the GPU tiles and split-K partial sums", async () => {
    const g = geometry({
      batch: 3,
      inChannels: 6,
      outChannels: 10,
      height: 11,
      width: 13,
      groups: 2,
      padH: 1,
      padW: 1,
      strideW: 2,
    });
    await check(device, "hardware tiles", {
      g,
      tiles: conv2dTiles(g, false),
      splits: 7,
      bias: true,
      relu: true,
    });
    await check(device, "odd tile", {
      g,
      tiles: {
        forward: { ty: 3, tx: 5, q: 8, wg: 4 },
        gradInput: { ty: 2, tx: 3, q: 4, wg: 16 },
        gradWeight: { q: 12, qc: 2, kb: 2, wg: 16 },
      },
    });
  });

  await t.step("direct kernels in blocks of 1–7 channels (the last vec4 narrower)", async () => {
    // Blocks of 1, 2, 3, 5, 6 and 7 channels, forced on both direct kernels that take them
    // (forward over output channels, input gradient over input channels): channel counts that
    // fill no block (7 in blocks of 3 and 5), strides 2 and 3, odd kernels and sizes.
    const g = (o: Partial<Conv2dGeometry>) => geometry({ height: 11, width: 13, ...o });
    const cases: [string, Conv2dGeometry, number[]][] = [
      [
        "3×3 s2 p1, 7 → 5",
        g({ inChannels: 7, outChannels: 5, strideH: 2, strideW: 2, padH: 1, padW: 1 }),
        [1, 3, 5, 7],
      ],
      [
        "7×7 s3×2 p3, 5 → 6, 33 wide",
        g({
          batch: 1,
          inChannels: 5,
          outChannels: 6,
          width: 33,
          kernelH: 7,
          kernelW: 7,
          strideH: 3,
          strideW: 2,
          padH: 3,
          padW: 3,
        }),
        [2, 5, 6],
      ],
      ["1 → 1, 5×3 kernel", g({ inChannels: 1, outChannels: 1, kernelH: 5, padW: 1 }), [1, 3]],
    ];
    for (const [label, geom, blocks] of cases) {
      for (const q of blocks) {
        const tile = { ty: 2, tx: 3, q, wg: 8 };
        await check(device, `${label}, blocks of ${q}`, {
          g: geom,
          bias: true,
          relu: true,
          tiles: { forward: tile, gradInput: tile },
        });
      }
    }
    // The picker takes one block of all the channels where there are fewer than 8.
    const tiles = conv2dTiles(cases[1][1], true);
    assert.equal(tiles.forward.q, 6);
    assert.equal(tiles.gradInput.q, 5);
    // Against finite differences of the float64 forward pass, blocks of 3 and 5.
    const fd = geometry({
      batch: 1,
      inChannels: 3,
      outChannels: 5,
      height: 5,
      width: 6,
      strideH: 2,
      padW: 1,
    });
    const rng = ref.mulberry32(23);
    const { outH, outW } = conv2dOutputSize(fd);
    const X = ref.randn([1, 3, 5, 6], rng), W = ref.randn([5, 3, 3, 3], rng);
    const DY = ref.randn([1, 5, outH, outW], rng);
    const f = ([a, b]: ref.F64[]) => ref.conv2d(a, b, null, { stride: [2, 1], padding: [0, 1] });
    const x = upload(device, X.data), w = upload(device, W.data), dy = upload(device, DY.data);
    const out = device.alloc(DY.data.length * 4), dx = device.alloc(X.data.length * 4);
    const tile = (q: number) => ({ ty: 2, tx: 2, q, wg: 8 });
    conv2d(device, fd, { x, w, out, tile: tile(5) });
    conv2dBackwardInput(device, fd, { gradOut: dy, w, gradX: dx, tile: tile(3) });
    // The forward pass's gradient with respect to x, through its output: Σ out ⊙ dy.
    const got = await download(device, out, DY.data.length);
    close("blocks of 5 vs the float64 forward", got, f([X, W]).data);
    const gotDx = await download(device, dx, X.data.length);
    const wantDx = numericGrad(([a, b]) => f([a, b]), [X, W], 0, DY).data;
    assert.ok(relativeError(gotDx, wantDx) < 1e-4, "blocks of 3 vs finite differences");
    for (const b of [x, w, dy, out, dx]) device.release(b);
  });

  await t.step("the GEMM core: every tile, split-K, edge sizes", async () => {
    // Each variant is forced, so none goes untested because lavapipe's default never picks it.
    // Sizes: N (channels per group) 1, 7, 33; a 1×1 convolution (a plain GEMM, K = channels);
    // stride 2 with an input gradient that skips taps; groups; pixels that fill no tile.
    const cases: [string, Conv2dGeometry][] = [
      [
        "3×3 p1 g2, 7 channels a group",
        geometry({ inChannels: 6, outChannels: 14, groups: 2, padH: 1, padW: 1 }),
      ],
      [
        "5×5 s2 p2, odd sizes",
        geometry({
          batch: 1,
          outChannels: 7,
          height: 13,
          width: 11,
          kernelH: 5,
          kernelW: 5,
          strideH: 2,
          strideW: 2,
          padH: 2,
          padW: 2,
        }),
      ],
      [
        "1×1: a plain GEMM, 33 outputs",
        geometry({
          batch: 3,
          inChannels: 33,
          outChannels: 33,
          height: 7,
          width: 5,
          kernelH: 1,
          kernelW: 1,
        }),
      ],
      [
        "1×1, 129 outputs: a ragged row past two tiles",
        geometry({
          batch: 1,
          inChannels: 7,
          outChannels: 129,
          height: 3,
          width: 5,
          kernelH: 1,
          kernelW: 1,
        }),
      ],
      [
        "3×3 s2 p1 g2, 4×4 output planes (dY read as vec4s in the weight gradient)",
        geometry({
          inChannels: 6,
          outChannels: 10,
          groups: 2,
          height: 8,
          width: 7,
          strideH: 2,
          strideW: 2,
          padH: 1,
          padW: 2,
        }),
      ],
      [
        "one output channel, 11×11 s4",
        geometry({
          batch: 1,
          inChannels: 1,
          outChannels: 1,
          height: 33,
          width: 29,
          kernelH: 11,
          kernelW: 11,
          strideH: 4,
          strideW: 4,
        }),
      ],
    ];
    // The register (subgroup) tiles where the device has subgroups (lavapipe does).
    assert.ok(device.hasSubgroups || !device.isSoftware, "lavapipe grants subgroups");
    const registerTiles = device.hasSubgroups ? CONV_SUBGROUP_TILES : [];
    for (const tile of [...CONV_GPU_TILES, CONV_SMALL_TILE, ...registerTiles]) {
      for (const [label, g] of cases) {
        const gemm = (splits: number): ConvAlgorithm => ({ kind: "gemm", tile, splits });
        const split = tile === CONV_SMALL_TILE || tile === registerTiles[1] ? 1 : 3;
        await check(device, `${label}, ${algorithmName(gemm(split))}`, {
          g,
          bias: true,
          relu: split > 1,
          accumulate: split === 1,
          algorithms: { forward: gemm(1), gradInput: gemm(1), gradWeight: gemm(split) },
        });
      }
    }
    // Batch splitting through the GEMM path: runs bound at 256-byte offsets, with 4×4 output
    // planes (the weight gradient's vec4 reads of dY start each run's samples on a vec4).
    for (const tile of [CONV_SMALL_TILE, ...registerTiles]) {
      const gemm: ConvAlgorithm = { kind: "gemm", tile, splits: 2 };
      await check(device, `${algorithmName(gemm)}, 4×4 planes, 1 sample per run`, {
        g: geometry({ batch: 3, height: 6, width: 6, outChannels: 5, padH: 0 }),
        maxBindingBytes: 500,
        bias: true,
        accumulate: true,
        algorithms: { forward: gemm, gradInput: gemm, gradWeight: gemm },
      });
    }
    // Batch splitting with unaligned sample offsets through the GEMM path.
    await check(device, "gemm, 1 sample per run", {
      g: geometry({ batch: 3 }),
      maxBindingBytes: 800,
      accumulate: true,
      algorithms: {
        forward: { kind: "gemm", tile: CONV_SMALL_TILE },
        gradInput: { kind: "gemm", tile: CONV_SMALL_TILE },
        gradWeight: { kind: "gemm", tile: CONV_GPU_TILES[2], splits: 2 },
      },
    });
  });

  await t.step("strided input gradient: a GEMM per stride phase, every tile", async () => {
    // Forced on every tile kind, so none goes untested because a default never picks it.
    // Phases without taps (kernel smaller than the stride) get zeros; channels 1, 7, 33;
    // 129 pixels wide; groups; unequal strides and kernels.
    const cases: [string, Conv2dGeometry][] = [
      [
        "1×1 s2: phases without taps",
        geometry({ batch: 1, inChannels: 7, kernelH: 1, kernelW: 1, strideH: 2, strideW: 2 }),
      ],
      [
        "2×3 kernel s3×2 p1, 1 channel",
        geometry({
          inChannels: 1,
          outChannels: 7,
          height: 13,
          width: 11,
          kernelH: 2,
          strideH: 3,
          strideW: 2,
          padH: 1,
          padW: 1,
        }),
      ],
      [
        "3×3 s2 p1, 33 → 7 channels, 3×129",
        geometry({
          batch: 1,
          inChannels: 33,
          outChannels: 7,
          height: 3,
          width: 129,
          strideH: 2,
          strideW: 2,
          padH: 1,
          padW: 1,
        }),
      ],
      [
        "5×5 s2 p2, groups 2, 8 channels a group",
        geometry({
          inChannels: 16,
          outChannels: 6,
          groups: 2,
          height: 9,
          width: 10,
          kernelH: 5,
          kernelW: 5,
          strideH: 2,
          strideW: 2,
          padH: 2,
          padW: 2,
        }),
      ],
    ];
    const registerTiles = device.hasSubgroups ? CONV_SUBGROUP_TILES : [];
    for (const tile of [CONV_SMALL_TILE, CONV_GPU_TILES[2], ...registerTiles]) {
      for (const [label, g] of cases) {
        const gemm: ConvAlgorithm = { kind: "gemm", tile };
        await check(device, `${label}, ${algorithmName(gemm)}`, {
          g,
          algorithms: { gradInput: gemm },
        });
      }
    }
  });

  await t.step("the GEMM passes' WGSL: one text per variant, its own for every flag", async () => {
    // The text is memoised by the variant's flags and the uniforms' names: two shapes of one
    // variant record the same text with their own uniforms, and a flag missing from the
    // memo's key would hand one variant another's text (vec4 loads, a mask, a bias). Results
    // of many shapes a tile are checked against float64 in the steps above.
    const buffers = Array.from({ length: 7 }, () => device.alloc(4 * 4096));
    const [x, w, y, gx, gw, gb, mask] = buffers;
    const algorithm: ConvAlgorithm = { kind: "gemm", tile: CONV_SMALL_TILE, splits: 1 };
    /** The WGSL and uniforms of the last dispatch `record` makes. */
    const lastKernel = (record: () => void) => {
      let last = { wgsl: "", uniforms: "" };
      const dispatch = device.dispatch.bind(device);
      device.dispatch = (d, bindings) => {
        last = { wgsl: d.wgsl, uniforms: String(d.uniforms) };
        dispatch(d, bindings);
      };
      try {
        record();
      } finally {
        device.dispatch = dispatch;
      }
      return last;
    };
    const passes = (g: Conv2dGeometry) => ({
      forward: lastKernel(() => conv2d(device, g, { x, w, out: y, algorithm })),
      gradInput: lastKernel(() =>
        conv2dBackwardInput(device, g, { gradOut: y, w, gradX: gx, algorithm })
      ),
      masked: lastKernel(() =>
        conv2dBackwardInput(device, g, { gradOut: y, w, gradX: gx, mask, algorithm })
      ),
      gradWeight: lastKernel(() =>
        conv2dBackwardWeight(device, g, { x, gradOut: y, gradW: gw, algorithm })
      ),
      withBias: lastKernel(() =>
        conv2dBackwardWeight(device, g, { x, gradOut: y, gradW: gw, gradB: gb, algorithm })
      ),
    });
    const s2 = { strideH: 2, strideW: 2 };
    // 8 and 12 input channels: vec4 weights in the forward pass (72, 108 taps) and the input
    // gradient (8, 12 channels); 7 channels neither. Output planes 4×3 and 6×4: dY as vec4s.
    const a = passes(geometry({ inChannels: 8, outChannels: 6, height: 9, width: 7, ...s2 }));
    const b = passes(geometry({ inChannels: 12, outChannels: 3, height: 13, width: 9, ...s2 }));
    const c = passes(geometry({ inChannels: 7, outChannels: 3, height: 11, width: 11, ...s2 }));
    await device.sync();
    for (const buf of buffers) device.release(buf);
    for (const pass of ["forward", "gradInput", "masked", "gradWeight", "withBias"] as const) {
      assert.equal(a[pass].wgsl, b[pass].wgsl, pass);
      assert.notEqual(a[pass].uniforms, b[pass].uniforms, pass);
    }
    assert.notEqual(c.forward.wgsl, a.forward.wgsl);
    assert.notEqual(c.gradInput.wgsl, a.gradInput.wgsl);
    assert.notEqual(a.masked.wgsl, a.gradInput.wgsl);
    assert.notEqual(a.withBias.wgsl, a.gradWeight.wgsl);
    // 5×5 output planes: dY read as scalars.
    assert.notEqual(c.gradWeight.wgsl, a.gradWeight.wgsl);
  });

  await t.step("strided defaults on software adapters", async () => {
    // Nothing forced: the defaults run, as the bench and training run them. With subgroups
    // every pass of a strided convolution takes the register GEMM (the weight gradient
    // unsplit, on 16 rows for at most 16 output channels a group), except an input gradient
    // with fewer than 16 input channels a group, which takes the direct kernel.
    const register = algorithmName({ kind: "gemm", tile: CONV_SUBGROUP_TILES[0], splits: 1 });
    const register16 = algorithmName({ kind: "gemm", tile: CONV_SUBGROUP_TILES[1], splits: 1 });
    const cases: [string, Conv2dGeometry, string, string][] = [
      [
        "3×3 s2 p1, 7 → 129 channels, ragged 9×13",
        geometry({
          inChannels: 7,
          outChannels: 129,
          height: 9,
          width: 13,
          strideH: 2,
          strideW: 2,
          padH: 1,
          padW: 1,
        }),
        "direct",
        register,
      ],
      [
        "1×1 s2, 33 → 7 channels",
        geometry({ batch: 1, inChannels: 33, outChannels: 7, kernelH: 1, kernelW: 1, strideH: 2 }),
        register,
        register16,
      ],
      [
        "3×3 s1×2 p1, groups 2, 16 → 5 channels a group",
        geometry({
          inChannels: 32,
          outChannels: 10,
          groups: 2,
          height: 7,
          width: 9,
          strideW: 2,
          padH: 1,
          padW: 1,
        }),
        register,
        register16,
      ],
      [
        "7×7 s2 p3, 5 → 29 channels, 33² (the bench's)",
        geometry({
          batch: 1,
          inChannels: 5,
          outChannels: 29,
          height: 33,
          width: 33,
          kernelH: 7,
          kernelW: 7,
          strideH: 2,
          strideW: 2,
          padH: 3,
          padW: 3,
        }),
        "direct",
        register,
      ],
    ];
    for (const [label, g, gradInput, gradWeight] of cases) {
      if (device.isSoftware && device.hasSubgroups) {
        const first = (pass: ConvPass) => convCandidates(device, pass, resolve(g, label))[0].name;
        assert.equal(first("forward"), register, label);
        assert.equal(first("gradInput"), gradInput, label);
        assert.equal(first("gradWeight"), gradWeight, label);
      }
      await check(device, `${label}, defaults`, { g, bias: true, relu: true });
    }
  });

  await t.step("1×1 as a plain batched GEMM (pointwise): sizes, tiles, windows", async () => {
    const pointwise = (tile?: GemmTile, splits?: number): ConvAlgorithm => ({
      kind: "pointwise",
      tile,
      splits,
    });
    const one = (o: Partial<Conv2dGeometry>) => geometry({ kernelH: 1, kernelW: 1, ...o });
    const cases: [string, Conv2dGeometry][] = [
      [
        "1 channel, 1 sample",
        one({ batch: 1, inChannels: 1, outChannels: 1, height: 1, width: 1 }),
      ],
      [
        "7 → 33, odd 7×5 planes",
        one({ batch: 3, inChannels: 7, outChannels: 33, height: 7, width: 5 }),
      ],
      [
        "33 → 7, 129 pixels",
        one({ batch: 2, inChannels: 33, outChannels: 7, height: 3, width: 43 }),
      ],
      [
        "129 → 2, 1×1 planes (one pixel per sample)",
        one({ batch: 3, inChannels: 129, outChannels: 2, height: 1, width: 1 }),
      ],
      [
        "64 → 96 as the bench's 1×1",
        one({ batch: 2, inChannels: 64, outChannels: 96, height: 9, width: 9 }),
      ],
    ];
    const tiles = [undefined, SMALL_TILE, ...(device.hasSubgroups ? SUBGROUP_TILES : [])];
    // Split-K on every pass (the GPU default for small grids): the bias per row and the ReLU
    // in the partial sums' pass, the bias gradient in their tail; and a GPU tile of the core.
    const variants: [GemmTile | undefined, number | undefined][] = [
      ...tiles.map((t): [GemmTile | undefined, undefined] => [t, undefined]),
      [SMALL_TILE, 3],
      [HARDWARE_TILE, 2],
      ...(device.hasSubgroups ? [[SUBGROUP_TILES[1], 3] as [GemmTile, number]] : []),
    ];
    for (const [tile, splits] of variants) {
      for (const [i, [label, g]] of cases.entries()) {
        const a = pointwise(tile, splits);
        // Bias (and its gradient inside the weight gradient) on, and off every other case.
        const bias = i % 2 === 0;
        await check(device, `${algorithmName(a)} ${label}`, {
          g,
          bias,
          relu: bias,
          accumulate: true,
          noFusedBias: !bias,
          algorithms: { forward: a, gradInput: a, gradWeight: a },
        });
      }
    }
    // The kernels' gradients against finite differences of the float64 forward pass.
    for (const tile of tiles) {
      const g = one({ batch: 2, inChannels: 5, outChannels: 3, height: 3, width: 3 });
      const rng = ref.mulberry32(17);
      const X = ref.randn([2, 5, 3, 3], rng), W = ref.randn([3, 5, 1, 1], rng);
      const B = ref.randn([3], rng), DY = ref.randn([2, 3, 3, 3], rng);
      const x = upload(device, X.data), w = upload(device, W.data), dy = upload(device, DY.data);
      const [dx, dw, db] = [X, W, B].map((t) => device.alloc(t.data.length * 4));
      const algorithm = pointwise(tile);
      conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: dx, algorithm });
      conv2dBackwardWeight(device, g, { x, gradOut: dy, gradW: dw, gradB: db, algorithm });
      const f = ([a, b, c]: ref.F64[]) => ref.conv2d(a, b, c, { stride: [1, 1], padding: [0, 0] });
      const label = `pointwise ${tile ? tileName(tile) : "default"} vs finite differences`;
      for (const [i, buf] of [dx, dw, db].entries()) {
        const got = await download(device, buf, [X, W, B][i].data.length);
        const want = numericGrad(f, [X, W, B], i, DY).data;
        assert.ok(relativeError(got, want) < 1e-4, `${label}: input ${i}`);
      }
      for (const buf of [x, w, dy, dx, dw, db]) device.release(buf);
    }
    // Bindings of 2 KiB: matmul windows (of samples and pixels in the weight gradient).
    await check(device, "pointwise under a 2 KiB binding", {
      g: one({ batch: 5, inChannels: 9, outChannels: 11, height: 5, width: 6 }),
      bias: true,
      maxBindingBytes: 2048,
      algorithms: { forward: pointwise(), gradInput: pointwise(), gradWeight: pointwise() },
    });
    assert.throws(() => {
      const b = device.alloc(1 << 14);
      conv2d(device, one({ padH: 1 }), { x: b, w: b, out: b, algorithm: pointwise() });
    }, /pointwise algorithm needs a 1×1 kernel, stride 1, no padding/);
  });

  await t.step("Winograd F(2×2, 3×3) and F(2×2, 5×5): forward and input gradient", async () => {
    const winograd: ConvAlgorithm = { kind: "winograd" };
    const cases: [string, Conv2dGeometry][] = [
      ["pad 1, odd output", geometry({ padH: 1, padW: 1, height: 7, width: 9 })],
      ["pad 0, groups 2", geometry({ inChannels: 6, outChannels: 4, groups: 2 })],
      [
        "pad 2, one channel",
        geometry({ batch: 1, inChannels: 1, outChannels: 1, padH: 2, padW: 2 }),
      ],
      [
        "13×13 as conv3–5, 33 channels",
        geometry({ inChannels: 16, outChannels: 33, height: 13, width: 13, padH: 1, padW: 1 }),
      ],
    ];
    // F(2×2, 5×5) as conv2: padding 0, 2 and 4 (the input gradient's padding runs 4 to 0),
    // groups, odd sizes, 33 channels.
    const five = (o: Partial<Conv2dGeometry>) =>
      geometry({ kernelH: 5, kernelW: 5, height: 11, width: 9, ...o });
    cases.push(
      ["5×5 pad 2, odd output", five({ padH: 2, padW: 2, height: 7, width: 9 })],
      ["5×5 pad 0, groups 2", five({ inChannels: 6, outChannels: 4, groups: 2 })],
      [
        "5×5 pad 4, one channel",
        five({ batch: 1, inChannels: 1, outChannels: 1, padH: 4, padW: 4 }),
      ],
      [
        "5×5 27×27 as conv2, 33 channels",
        five({ inChannels: 16, outChannels: 33, height: 27, width: 27, padH: 2, padW: 2 }),
      ],
      ["5×5 pad 1, 1×1 output", five({ batch: 3, height: 5, width: 5, padH: 1, padW: 0 })],
    );
    for (const [label, g] of cases) {
      await check(device, `winograd ${label}`, {
        g,
        bias: true,
        relu: true,
        algorithms: { forward: winograd, gradInput: winograd },
      });
    }
    await check(device, "winograd on a GEMM tile, 1 sample per run", {
      // One sample's scratch (V, M) takes 6400 bytes: the batch is split in runs of one.
      g: geometry({ batch: 3, padH: 1, padW: 1 }),
      maxBindingBytes: 8192,
      algorithms: {
        forward: { kind: "winograd", tile: CONV_SMALL_TILE },
        gradInput: { kind: "winograd", tile: CONV_GPU_TILES[2] },
      },
    });
    assert.throws(
      () => {
        const g = geometry({ strideH: 2 }), b = device.alloc(1 << 14);
        conv2d(device, g, { x: b, w: b, out: b, algorithm: winograd });
      },
      /3×3 or 5×5 kernel at stride 1/,
    );
  });

  await t.step("AlexNet layer geometries, fewer channels", async () => {
    const layer = (o: Partial<Conv2dGeometry>) =>
      geometry({ batch: 2, padH: 1, padW: 1, height: 13, width: 13, ...o });
    await check(device, "conv1 227×227 11×11 s4", {
      g: layer({
        batch: 1,
        inChannels: 3,
        outChannels: 8,
        height: 227,
        width: 227,
        kernelH: 11,
        kernelW: 11,
        strideH: 4,
        strideW: 4,
        padH: 0,
        padW: 0,
      }),
      bias: true,
      relu: true,
    });
    await check(device, "conv2 27×27 5×5 p2 g2", {
      g: layer({
        inChannels: 16,
        outChannels: 32,
        height: 27,
        width: 27,
        kernelH: 5,
        kernelW: 5,
        padH: 2,
        padW: 2,
        groups: 2,
      }),
      bias: true,
      relu: true,
    });
    await check(device, "conv3 13×13 3×3 p1", {
      g: layer({ inChannels: 32, outChannels: 48 }),
      bias: true,
      relu: true,
    });
    await check(device, "conv4 3×3 p1 g2", {
      g: layer({ inChannels: 48, outChannels: 48, groups: 2 }),
      bias: true,
      relu: true,
    });
    await check(device, "conv5 3×3 p1 g2", {
      g: layer({ inChannels: 48, outChannels: 32, groups: 2 }),
      bias: true,
    });
  });

  await t.step("the ReLU mask in the Winograd and pointwise input gradients", async () => {
    // gradX with a mask is gradX without one where mask > 0, else 0, to the bit.
    const cases: [ConvAlgorithm, Conv2dGeometry][] = [
      [{ kind: "winograd" }, geometry({ padH: 1, padW: 1, inChannels: 5, outChannels: 7 })],
      [{ kind: "winograd" }, geometry({ kernelH: 5, kernelW: 5, height: 11, padH: 2, padW: 2 })],
      [{ kind: "pointwise" }, geometry({ kernelH: 1, kernelW: 1, inChannels: 7, outChannels: 9 })],
    ];
    for (const [algorithm, g] of cases) {
      const { outH, outW } = conv2dOutputSize(g);
      const rng = ref.mulberry32(31);
      const nx = g.batch * g.inChannels * g.height * g.width;
      const dy = upload(device, ref.randn([g.batch, g.outChannels, outH, outW], rng).data);
      const w = upload(
        device,
        ref.randn([g.outChannels, g.inChannels, g.kernelH, g.kernelW], rng).data,
      );
      const maskData = ref.randn([nx], rng).data;
      const mask = upload(device, maskData);
      const plain = device.alloc(nx * 4), masked = device.alloc(nx * 4);
      conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: plain, algorithm });
      conv2dBackwardInput(device, g, { gradOut: dy, w, gradX: masked, mask, algorithm });
      const [p, m] = [await download(device, plain, nx), await download(device, masked, nx)];
      const want = p.map((v, i) => (maskData[i] > 0 ? v : 0));
      assert.deepEqual(m, want, `${algorithmName(algorithm)} k${g.kernelH}: masked gradX`);
      for (const b of [dy, w, mask, plain, masked]) device.release(b);
    }
  });

  await t.step("identical bits on every run", async () => {
    const g = geometry({
      batch: 4,
      inChannels: 8,
      outChannels: 8,
      height: 12,
      width: 12,
      padH: 1,
      padW: 1,
    });
    const rng = ref.mulberry32(9);
    const x = upload(device, ref.randn([4, 8, 12, 12], rng).data);
    const dy = upload(device, ref.randn([4, 8, 12, 12], rng).data);
    const dw = device.alloc(8 * 8 * 9 * 4);
    const runs: Float32Array[] = [];
    for (let i = 0; i < 2; i++) {
      conv2dBackwardWeight(device, g, { x, gradOut: dy, gradW: dw, splits: 5 });
      runs.push(await download(device, dw, 8 * 8 * 9));
    }
    assert.deepEqual(new Uint32Array(runs[0].buffer), new Uint32Array(runs[1].buffer));
    for (const b of [x, dy, dw]) device.release(b);
  });

  await t.step("an output larger than one storage binding", async () => {
    // 8 samples × 96 channels × 227² = 158 MB of output (lavapipe binds at most 128 MiB), from a
    // 1×1 convolution so the work is small; samples spot-checked on the host.
    const g = geometry({
      batch: 8,
      inChannels: 1,
      outChannels: 96,
      height: 227,
      width: 227,
      kernelH: 1,
      kernelW: 1,
    });
    const plane = 227 * 227;
    const xs = Float32Array.from({ length: 8 * plane }, (_, i) => (i % 1013) / 1013 - 0.5);
    const ws = Float32Array.from({ length: 96 }, (_, i) => (i - 48) / 32);
    const x = upload(device, xs),
      w = upload(device, ws),
      bias = upload(device, ws.map((v) => v / 2));
    const out = device.alloc(8 * 96 * plane * 4);
    conv2d(device, g, { x, w, bias, out, relu: true });
    for (
      const [b, o, p] of [[0, 0, 0], [3, 95, 1234], [5, 40, plane - 1], [7, 95, plane - 1], [
        6,
        2,
        777,
      ]]
    ) {
      const at = (b * 96 + o) * plane + p;
      const [got] = new Float32Array(await device.read(out, at * 4, 4));
      const want = Math.max(0, xs[b * plane + p] * ws[o] + ws[o] / 2);
      assert.ok(
        Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)),
        `out[${b},${o},${p}] = ${got}, want ${want}`,
      );
    }
    for (const buf of [x, w, bias, out]) device.release(buf);
  });

  await t.step("argument checks", () => {
    const small = device.alloc(16), big = device.alloc(1 << 16);
    const g = geometry({});
    assert.throws(
      () => conv2d(device, { ...g, groups: 2 }, { x: big, w: big, out: big }),
      /divisible by groups 2/,
    );
    assert.throws(
      () => conv2d(device, g, { x: small, w: big, out: big }),
      /conv2d: x needs 1512 bytes/,
    );
    assert.throws(
      () => conv2dBackwardWeight(device, g, { x: big, gradOut: big, gradW: small }),
      /gradW needs/,
    );
    assert.throws(
      () => conv2d(device, { ...g, kernelH: 12 }, { x: big, w: big, out: big }),
      /does not fit/,
    );
    assert.throws(
      () => conv2d(device, { ...g, strideW: 0 }, { x: big, w: big, out: big }),
      /strideW must be a positive integer/,
    );
    assert.throws(
      () =>
        conv2dBackwardInput(device, g, { gradOut: big, w: big, gradX: big, maxBindingBytes: 256 }),
      /one sample takes 756 bytes/,
    );
    // A forced Winograd whose scratch for one sample exceeds the binding names itself.
    const winograd = { algorithm: { kind: "winograd" } as const, maxBindingBytes: 1024 };
    assert.throws(
      () => conv2d(device, g, { x: big, w: big, out: big, ...winograd }),
      /^RangeError: conv2d: Winograd forward of 2x3x9x7 o5 k3x3 s1x1 p0x0 g1: one sample's scratch takes 3840 bytes, more than the 1024-byte binding limit/,
    );
    assert.throws(
      () => conv2dBackwardInput(device, g, { gradOut: big, w: big, gradX: big, ...winograd }),
      /conv2dBackwardInput: Winograd input gradient of 2x3x9x7 .* takes 6400 bytes, more than the 1024-byte/,
    );
    device.release(small);
    device.release(big);
  });

  device.destroy();
});
