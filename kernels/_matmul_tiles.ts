/**
 * Which tile and split-K a matrix multiply runs with: the tiles of the shared GEMM core
 * (`_gemm.ts`) and the register GEMM, the default for a product on an adapter, and the
 * candidates the autotuner times. Public through `matmul.ts`.
 *
 * @module
 */

import type { Device } from "./device.ts";
import { type GemmTile, gemmTile, subgroupTile, tileName, tileRunsOn } from "./_gemm.ts";
import type { Candidate } from "./autotune.ts";
import type { Extents } from "./_matmul_wgsl.ts";

/** The work of one workgroup and of each invocation in it (see `_gemm.ts`). */
export type MatmulTile = GemmTile;

/**
 * Tile for software adapters (lavapipe). Its shared-memory and storage loads run one lane at a
 * time, about 30 cycles per lane and component, so speed follows the FMAs per loaded value,
 * rm·rn/(rm+rn): a 16×16 register block (8 per load) ran 3.5× faster than 4×4 (2 per load).
 */
export const SOFTWARE_TILE: MatmulTile = gemmTile(128, 128, 4, 16, 16);

/**
 * Tile for GPUs: 256 invocations of 4×4. On an H100 (Vulkan) it ran 16 TFLOP/s at 4096³, 7 %
 * behind 128×128 tiles of 8×8, but 1.6× faster on AlexNet's fc shapes (M = 128), whose grids
 * of larger tiles leave multiprocessors idle.
 */
export const HARDWARE_TILE: MatmulTile = gemmTile(64, 64, 16, 4, 4);

/**
 * Tile for small products on software adapters, where compiling the pipeline (0.5 s against
 * 3–4 s for {@link SOFTWARE_TILE}: LLVM spills the 256 accumulators) outweighs running it.
 */
export const SMALL_TILE: MatmulTile = gemmTile(32, 32, 4, 4, 4);

/**
 * Tile for mid-sized products on software adapters: 64×64 of 8×8 with K slices of 8 ran as fast
 * as {@link SOFTWARE_TILE} on 257×1023×511 (1.2–1.3 GFLOP/s on a loaded lavapipe) and compiles
 * in a quarter of its time.
 */
export const MID_TILE: MatmulTile = gemmTile(64, 64, 8, 8, 8);

/**
 * Tile for products of at most 8 rows (a linear layer on a small batch) on software adapters:
 * one block of 8 rows, 8 invocations of 8×8 (a workgroup barrier costs a switch per invocation
 * there, so few invocations with K slices of 8).
 */
export const SKINNY_TILE: MatmulTile = gemmTile(8, 64, 8, 8, 8);

/**
 * Tile for products of at most 8 rows on GPUs: a row per invocation with deep K slices (and
 * split-K to fill the device), so the invocations of rows past M skip their arithmetic.
 */
export const GPU_SKINNY_TILE: MatmulTile = gemmTile(8, 64, 32, 1, 4);

/**
 * Register-GEMM tiles for software adapters with subgroups (`subgroupGemmWgsl` in `_gemm.ts`):
 * 16 rows × 64 columns, 32 × 32, 8 × 64, 48 × 32, 64 × 32, 32 × 64, 48 × 64 and 64 × 64 per
 * subgroup of 8 (a lane owns 4 or 8 columns).
 */
export const SUBGROUP_TILES: readonly MatmulTile[] = [
  subgroupTile(16, 8),
  subgroupTile(32, 4),
  subgroupTile(8, 8),
  subgroupTile(48, 4),
  subgroupTile(64, 4),
  subgroupTile(32, 8),
  subgroupTile(48, 8),
  subgroupTile(64, 8),
];

/**
 * What loading one value of B costs on a software adapter, in a lane's multiply-adds: every
 * load is a loop over the SIMD lanes (bench/RESULTS.md). A register tile of R rows loads each
 * B value once per R rows, so its cost per useful multiply-add is about
 * (rows padded to tiles / rows) · (1 + B_LOAD_COST / R).
 */
const B_LOAD_COST = 24;

/**
 * The register tile for M > 8 rows. Columns: 8 a lane (64 a subgroup) unless that pads N by
 * more than a tenth over 4 a lane (129 columns: 192 against 160), since a lane's loads of A then
 * serve twice the multiply-adds: side by side (bench/RESULTS.md, "The register GEMM's column
 * tile") 64 columns ran 0.61–0.95× the time of 32 on 19 products, the 1×1 convolution's passes
 * included, and 1.06× on the one with N = 129. Rows: 32, or 48 or 64 where B is read as
 * scalars (`bVec4` false: odd N, or a transposed B of odd depth), they pad no more rows than 32
 * does, and their fewer loads of B clearly outweigh the workgroups they take from the cores
 * (`threads`: the adapter's, taken as the host's CPUs); the cheapest by that estimate. With
 * scalar B and no extra padding 48 rows ran 0.74–1.00× the time of 32 (96 × 729 × 64,
 * 257 × 1023 × 511, 384 × 511 × 128), 64 rows 0.74–0.97× (64, 100, 127 and 384 rows); with vec4 B
 * (a vec4 costs about half a scalar per element) 48 rows ran 0.97–1.13×. The wider tiles compile
 * longer (on a loaded lavapipe 32 × 32: 0.2 s, 32 × 64: 0.55 s, 48 × 64: 0.65 s, 64 × 64: 1 s),
 * once per machine with Mesa's shader cache.
 */
function registerTile(
  m: number,
  n: number,
  batch: number,
  threads: number,
  bVec4: boolean,
): MatmulTile {
  const paddedColumns = (lanes: number) => Math.ceil(n / (8 * lanes)) * 8 * lanes;
  const columns = paddedColumns(8) <= 1.1 * paddedColumns(4) ? 8 : 4;
  const tiles = [32, 48, 64].map((rows) =>
    SUBGROUP_TILES.find((t) => t.tileM === rows && t.colsPerThread === columns)!
  );
  const small = tiles[0];
  if (bVec4) return small;
  const cost = (t: MatmulTile): number => {
    const rows = Math.ceil(m / t.tileM), workgroups = rows * Math.ceil(n / t.tileN) * batch;
    const balance = workgroups / (Math.ceil(workgroups / threads) * threads);
    return (rows * t.tileM * (1 + B_LOAD_COST / t.tileM)) / balance;
  };
  // By a margin: the estimate is rough, and where it is close (98 rows: the Winograd products
  // of conv3–5 at batch 2) the two ran alike within the noise.
  const padded = (t: MatmulTile) => Math.ceil(m / t.tileM) * t.tileM;
  const wider = tiles.slice(1).filter((t) =>
    padded(t) <= padded(small) && cost(t) < 0.9 * cost(small)
  );
  return wider.reduce((best, t) => (cost(t) < cost(best) ? t : best), small);
}

/** The GPU tiles of the shared core that the autotuner tries: 128×128 and 128×64 of 8×8 and 8×4. */
export const GPU_TILES: readonly MatmulTile[] = [
  gemmTile(128, 128, 8, 8, 8),
  gemmTile(128, 64, 8, 8, 4),
  HARDWARE_TILE,
];

/** Workgroups a GPU wants in flight before split-K stops paying (about 2 per multiprocessor). */
const GPU_FILL = 256;

/**
 * Split-K on GPUs when the grid of tiles is too small to fill the device and K is deep: each
 * split keeps at least 32 slices of K.
 */
export function defaultSplits(device: Device, tile: MatmulTile, s: Extents): number {
  if (device.isSoftware) return 1;
  const tiles = s.batch * Math.ceil(s.m / tile.tileM) * Math.ceil(s.n / tile.tileN);
  const deep = Math.floor(s.k / (32 * tile.tileK));
  return Math.max(1, Math.min(Math.ceil(GPU_FILL / tiles), deep, 64));
}

/**
 * The tile {@link matmul} uses by default for `batch` M×N×K products on `device`. `bVec4`:
 * whether the GEMM reads B as vec4s (its contiguous extent and offsets multiples of 4; by
 * default N's, for a B stored [K, N] from the start of its buffer).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { matmulTile } from "./matmul.ts";
 * const device = await Device.acquire();
 * console.log(matmulTile(device, 128, 4096, 9216)); // a register (subgroup) tile on lavapipe
 * ```
 */
export function matmulTile(
  device: Device,
  m: number,
  n: number,
  k: number,
  batch = 1,
  bVec4: boolean = n % 4 === 0,
): MatmulTile {
  // Software adapters with subgroups: the register GEMM, 3–10× faster than the core's tiles
  // there (bench/RESULTS.md); 8 rows for a small batch. From 9 rows on, the register tile by
  // its cost: the 16-row tile's extra loads of B outweigh the rows it leaves unpadded (side by
  // side, bench/RESULTS.md "Default candidates on lavapipe": 33 × 517 × 1031 3.9–4.0 ms on 16
  // rows against 3.2 on 48; 32 × 512 × 512 1.37 against 1.14 on 32; 17, 24 and 50 rows
  // 1.1–1.4× slower than the tile this picks).
  if (device.isSoftware && device.hasSubgroups) {
    if (m <= 8) return SUBGROUP_TILES[2];
    return registerTile(m, n, batch, navigator.hardwareConcurrency || 2, bVec4);
  }
  // Few rows (a linear layer on a batch of 1–8): one row block, wide in N.
  if (m <= 8) return device.isSoftware ? SKINNY_TILE : GPU_SKINNY_TILE;
  if (!device.isSoftware) return HARDWARE_TILE;
  // Larger tiles run faster and compile slower (0.4 s, 2 s, 4–8 s on lavapipe): each pays once
  // the product is large enough. Judged by the two largest sizes: a layer's product keeps them
  // when only the batch (the smallest) changes, so the last, smaller batch of an epoch compiles
  // nothing new.
  // Fewer than 64 rows or columns would leave half of a larger tile idle.
  const [a, b] = [m, n, k].sort((x, y) => y - x);
  if (Math.min(m, n) < 64 || a * b < 2 ** 17) return SMALL_TILE;
  return a * b < 2 ** 22 ? MID_TILE : SOFTWARE_TILE;
}

/**
 * The candidates of a product, the default first: the default tile with the default split-K,
 * then the other tiles of the adapter's kind, and no split-K where the default splits. `bVec4`
 * as for {@link matmulTile}.
 */
export function matmulCandidates(
  device: Device,
  m: number,
  n: number,
  k: number,
  batch = 1,
  splits?: number,
  bVec4: boolean = n % 4 === 0,
): Candidate<{ tile: MatmulTile; splits?: number }>[] {
  const first = matmulTile(device, m, n, k, batch, bVec4);
  const tiles = device.isSoftware
    ? [...SUBGROUP_TILES, SMALL_TILE, SKINNY_TILE, MID_TILE, SOFTWARE_TILE]
    : [...GPU_TILES, ...(m <= 8 ? [GPU_SKINNY_TILE] : [])];
  const list = [first, ...tiles.filter((t) => t !== first && tileRunsOn(t, device))];
  const out = list.map((tile) => ({ tile, splits }));
  const full = { batch, m, n, k };
  if (splits === undefined && defaultSplits(device, first, full) > 1) {
    out.splice(1, 0, { tile: first, splits: 1 });
  }
  return out.map((value) => {
    const split = value.splits ?? defaultSplits(device, value.tile, full);
    return { name: `${tileName(value.tile)}${split > 1 ? ` split ${split}` : ""}`, value };
  });
}

/** Throws when `t` does not fit `device` (its limits, or subgroups for a register tile). */
export function checkTile(device: Device, t: MatmulTile, what: string): void {
  if (!tileRunsOn(t, device)) {
    throw new RangeError(`${what}: tile ${JSON.stringify(t)} does not fit this device`);
  }
}
