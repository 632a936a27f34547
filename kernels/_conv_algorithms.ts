/**
 * Which kernel runs a convolution pass, and the candidates the autotuner times: the
 * register-patch kernel (`conv2d.ts`), the GEMM core (`_conv_gemm.ts`) with its tiles and
 * split-K, Winograd (`_winograd.ts`) and the 1×1 batched matmul (`_pointwise.ts`), the
 * deterministic default first.
 *
 * @module
 */

import type { Device } from "./device.ts";
import { type GemmTile, gemmTile, subgroupTile, tileFits, tileName } from "./_gemm.ts";
import { isDilated, type Resolved } from "./_conv_geometry.ts";
import { winogradApplies } from "./_winograd.ts";
import { pointwiseApplies } from "./_pointwise.ts";

/** The GEMM variant of a convolution pass: a core tile and, for the weight gradient, split-K. */
export interface ConvGemm {
  tile: GemmTile;
  /** K ranges of the weight gradient summed in a fixed order (default 1). */
  splits?: number;
}
/**
 * Which kernel runs a convolution pass: the register-patch kernel, the GEMM core, (3×3
 * or 5×5 stride 1, forward and input gradient) Winograd F(2×2, r×r) around batched GEMMs, or (1×1,
 * stride 1, no padding, one group) a plain batched matmul (`_pointwise.ts`).
 */
export type ConvAlgorithm =
  | { kind: "direct" }
  | ({ kind: "gemm" } & ConvGemm)
  | { kind: "winograd"; tile?: GemmTile }
  | { kind: "pointwise"; tile?: GemmTile; splits?: number };

/** The three passes of a convolution that have candidates. */
export type ConvPass = "forward" | "gradInput" | "gradWeight";

/** The GPU tiles the candidates draw on: 128×128 of 8×8, 128×64 of 8×4, 64×64 of 4×4. */
export const CONV_GPU_TILES: readonly GemmTile[] = [
  gemmTile(128, 128, 8, 8, 8),
  gemmTile(128, 64, 8, 8, 4),
  gemmTile(64, 64, 16, 4, 4),
];

/** The register-GEMM tiles (software adapters with subgroups): 32 × 32 and 16 × 64. */
export const CONV_SUBGROUP_TILES: readonly GemmTile[] = [subgroupTile(32, 4), subgroupTile(16, 8)];

/** A small tile of the core, for software adapters and small problems. */
export const CONV_SMALL_TILE: GemmTile = gemmTile(32, 32, 4, 4, 4);

/** Work per sample from which Winograd is the default on software adapters (see below). */
const WINOGRAD_SOFTWARE_FLOPS = 30e6;

/** Workgroups a GPU wants in flight before split-K stops paying. */
const GPU_FILL = 256;

/** The name of an algorithm, as the profiler, the bench and the autotuner's cache show it. */
export function algorithmName(a: ConvAlgorithm): string {
  if (a.kind === "direct") return "direct";
  if (a.kind === "winograd" || a.kind === "pointwise") {
    const split = a.kind === "pointwise" && (a.splits ?? 1) > 1 ? ` split ${a.splits}` : "";
    return `${a.kind}${a.tile ? ` ${tileName(a.tile)}` : ""}${split}`;
  }
  return `gemm ${tileName(a.tile)}${(a.splits ?? 1) > 1 ? ` split ${a.splits}` : ""}`;
}

/**
 * The candidates of a pass, the deterministic default first: on software adapters Winograd
 * (from 30 MFLOP per sample) or the 1×1 GEMM where they apply (with subgroups), the register
 * GEMM by the channels per group (with subgroups; see `registerGemmFirst`), else the direct
 * kernel; on GPUs the GEMM core with a tile by the size of the product
 * (split-K for the weight gradient, to fill the device), except the input gradient of a
 * strided convolution: its GEMMs (one per stride phase, no zero taps) are candidates the
 * autotuner times, but the default stays the direct kernel until a GPU has measured them
 * (conv1's 3 input channels fill 3 of a tile's 64–128 columns). A dilated convolution has
 * the GEMMs and the direct kernels (the register GEMM first).
 */
export function convCandidates(
  device: Device,
  pass: ConvPass,
  g: Resolved,
): { name: string; value: ConvAlgorithm }[] {
  const [M, N, K] = pass === "forward"
    ? [g.batch * g.outH * g.outW, g.og, g.wk]
    : pass === "gradInput"
    ? [g.batch * g.height * g.width, g.cg, g.og * g.kernelH * g.kernelW]
    : [g.og, g.wk, g.batch * g.outH * g.outW];
  const fit = CONV_GPU_TILES.filter((t) => tileFits(t, device.limits));
  const splitsFor = (t: GemmTile): number => {
    if (pass !== "gradWeight") return 1;
    const tiles = Math.ceil(M / t.tileM) * Math.ceil(N / t.tileN) * g.groups;
    const deep = Math.floor(K / (32 * t.tileK));
    return Math.max(1, Math.min(Math.ceil(GPU_FILL / tiles), deep, 64));
  };
  const gemm = (t: GemmTile): ConvAlgorithm => ({ kind: "gemm", tile: t, splits: splitsFor(t) });
  const rule = pass === "gradWeight"
    ? (M >= 128 ? fit[0] : fit.at(-1))
    : N > 64
    ? fit[0]
    : M >= 16384
    ? fit[1]
    : fit.at(-1);
  const direct: ConvAlgorithm = { kind: "direct" };
  const strided = pass === "gradInput" && (g.strideH > 1 || g.strideW > 1);
  let list: ConvAlgorithm[];
  if (device.isSoftware || !rule) {
    const registerTiles = device.hasSubgroups ? CONV_SUBGROUP_TILES.map(gemm) : [];
    const first = registerTiles.length > 0 && registerGemmFirst(pass, g);
    // The register GEMM's weight gradient unsplit (split-K only adds a pass on a CPU), on 16
    // rows where 32 would be half empty: its M is the output channels per group (16 → 32
    // 1.31 ms against 1.68 on 32 rows and 1.55 direct; 15 and 7 outputs 0.61 and 0.41 against
    // 0.82 and 0.47, bench/RESULTS.md).
    const rows = g.og <= 16 ? registerTiles[1] : registerTiles[0];
    const lead = first && pass === "gradWeight" ? [{ ...rows, splits: 1 }] : [];
    list = first
      ? [...lead, ...registerTiles, direct, gemm(CONV_SMALL_TILE), ...fit.map(gemm)]
      : [direct, ...registerTiles, gemm(CONV_SMALL_TILE), ...fit.map(gemm)];
  } else {
    const others = fit.filter((t) => t !== rule).map(gemm);
    list = strided ? [direct, gemm(rule), ...others] : [gemm(rule), ...others, direct];
  }
  // Winograd and the 1×1 GEMM over NCHW run their products on matmul: on software adapters
  // with subgroups (the register GEMM) they ran 1.6–3× faster than the direct kernel
  // (bench/RESULTS.md), so they come first there. Winograd's four dispatches pay from about
  // 30 MFLOP per sample (a 5×5 layer of 35 MFLOP per sample broke even, conv2–5's 75–450 ran
  // 1.6–2× faster); judged per sample, so a new batch size never switches the algorithm.
  const registerGemm = device.isSoftware && device.hasSubgroups;
  const perSample = 2 * g.outChannels * g.outH * g.outW * g.wk;
  const add = (a: ConvAlgorithm, first: boolean) => (first ? list.unshift(a) : list.push(a));
  if (pass !== "gradWeight" && winogradApplies(g, pass)) {
    add({ kind: "winograd" }, registerGemm && perSample >= WINOGRAD_SOFTWARE_FLOPS);
  }
  if (pointwiseApplies(g)) add({ kind: "pointwise" }, registerGemm);
  // Split-K alternatives of the weight gradient: none, and the default's.
  if (pass === "gradWeight") {
    list = list.flatMap((a) =>
      a.kind === "gemm" && (a.splits ?? 1) > 1 ? [a, { ...a, splits: 1 }] : [a]
    );
  }
  const named = list.map((value) => ({ name: algorithmName(value), value }));
  return named.filter((a, i) => named.findIndex((b) => b.name === a.name) === i);
}

/**
 * Channels per group from which the register GEMM's N (output channels for the forward pass,
 * input channels for the input gradient) fills its tile.
 */
const REGISTER_GEMM_CHANNELS = 16;

/**
 * Whether a pass runs on the register GEMM first (software adapters with subgroups): an input
 * gradient (whose GEMM has the input channels as its N) from 16 input channels per group; the
 * forward pass and weight gradient of a strided convolution always; of a stride-1 one (where
 * Winograd or the 1×1 GEMM does not lead) from 16 input channels per group and 16 output
 * channels (weight gradient) or more than 16 (forward pass).
 *
 * Strided: the direct kernels slide a patch of (tile − 1)·stride + taps input columns: at
 * stride s about s times the loads per multiply-add of stride 1, and the weight gradient's
 * window loads s new columns per output column; the GEMM's gathers do not depend on the
 * stride. CPU ms per run on lavapipe (bench/RESULTS.md, "Stride-2 ops: strided passes on the
 * register GEMM"): forward 3×3 s2 48→64 28² 1.7 against 5.3, 7×7 s2 5→29 33² 1.0 against
 * 1.3, conv1 33 against 65; weight gradient 2.2 against 2.6, 1.0–1.2 against 1.1–1.2, 39
 * against 43.
 * An input gradient's GEMM has the input channels as its N (3×3 s2 28², 64 outputs): 96, 48
 * and 16 of them ran in 4.3, 3.3 and 2.3 against 10.3, 5.7 and 3.1, but 8 in 1.7 against
 * 1.0, and 5 (7×7 s2) in 4.9 against 1.5, conv1's 3 in 357 against 109.
 *
 * Stride 1: the GEMM's rows of the weight gradient are the output channels and its K of the
 * forward pass the input channels times the taps, so few channels on either side leave its
 * tile half idle while the direct kernel's register patch does not care. Side by side
 * (bench/RESULTS.md, "Default candidates on lavapipe"), CPU ms direct against register GEMM
 * (forward, input gradient, weight gradient): 32→48 5² 3×3 batch 32 (the default `train`'s
 * conv3) 4.6/4.6/4.3 against 3.1/2.6/3.1; 24→24 per group (conv4) 2.3/2.3/2.2 against
 * 1.6/1.7/1.8; 72→85 13² 4×4 9.5/6.7/6.2 against 5.1/5.6/5.1; 78→50 25² 6×6 53/68/42 against
 * 36/52/36; 24→16 per group (conv5) 1.6/1.55 against 1.2/1.3 (16 rows) in the gradients, but
 * its forward pass ran 0.85 GPU ms direct against 1.17; 3→12 24² 5×5 (conv1) and 6→16 per
 * group 11² (conv2) ran faster direct, as did 50→9 24² 6×6's forward pass and weight gradient
 * (3.7 and 3.2 against 5.7 and 4.2; its input gradient 3.9 against 3.3).
 */
function registerGemmFirst(pass: ConvPass, g: Resolved): boolean {
  // Dilated, Winograd (which leads a stride-1 3×3 or 5×5 there) is out, and the direct kernels
  // cost at least what they cost undilated (3×3 64→64 33² batch 2 at dilation 2: 19–25 ms a
  // pass against the register GEMM's 9–11, bench/RESULTS.md): the register GEMM leads.
  if (isDilated(g)) return true;
  const inputs = g.cg >= REGISTER_GEMM_CHANNELS;
  if (pass === "gradInput") return inputs;
  if (g.strideH > 1 || g.strideW > 1) return true;
  // Stride 1: the weight gradient's rows are the output channels (a 16-row tile for 16), the
  // forward pass's columns (a 32-column tile: 16 leave half of it idle).
  const outputs = pass === "forward"
    ? g.og > REGISTER_GEMM_CHANNELS
    : g.og >= REGISTER_GEMM_CHANNELS;
  return inputs && outputs;
}
