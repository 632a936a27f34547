/**
 * The tiles of the GEMM core (`_gemm.ts`): the block of C a workgroup computes, the register
 * block of each invocation and the K slice staged per step, or with `lanes` the register
 * GEMM's layout; their names, sizes and whether a device can run them. Re-exported by
 * `_gemm.ts`.
 *
 * @module
 */

/** The work of one workgroup and of each invocation in it. */
export interface GemmTile {
  /** Output rows per workgroup; a multiple of `rowsPerThread`. */
  readonly tileM: number;
  /** Output columns per workgroup; a multiple of `colsPerThread`. */
  readonly tileN: number;
  /** Depth of the K slice staged in workgroup memory per step; a multiple of 4. */
  readonly tileK: number;
  /**
   * Output rows per invocation (its register block). A multiple of 4 reads A from workgroup
   * memory as vec4s, rows interleaved across the workgroup; otherwise (skinny products) an
   * invocation owns adjacent rows, read as scalars, and skips the arithmetic of rows past M.
   */
  readonly rowsPerThread: number;
  /** Output columns per invocation; a multiple of 4 (the accumulators are vec4). */
  readonly colsPerThread: number;
  /**
   * Set: the register GEMM of {@link subgroupGemmWgsl} instead of workgroup memory. One
   * workgroup is `lanes` invocations of one subgroup; each owns `colsPerThread` columns and all
   * `tileM` rows, whose A values the lanes load `lanes` at a time and broadcast.
   */
  readonly lanes?: number;
}

/** A {@link GemmTile} from its five numbers. */
export function gemmTile(
  tileM: number,
  tileN: number,
  tileK: number,
  rows: number,
  cols: number,
): GemmTile {
  return { tileM, tileN, tileK, rowsPerThread: rows, colsPerThread: cols };
}

/**
 * A register-GEMM tile (see {@link GemmTile.lanes}): `rows` × `lanes`·`cols` outputs per
 * subgroup of `lanes` invocations, K in steps of 4.
 */
export function subgroupTile(rows: number, cols: number, lanes = 8): GemmTile {
  return {
    tileM: rows,
    tileN: lanes * cols,
    tileK: 4,
    rowsPerThread: rows,
    colsPerThread: cols,
    lanes,
  };
}

/**
 * A short name of a tile, as the profiler and the autotuner show it: `128×128×8/8×8`, or
 * `16×64 sg8` for a register-GEMM tile.
 */
export function tileName(t: GemmTile): string {
  if (t.lanes) return `${t.tileM}×${t.tileN} sg${t.lanes}`;
  return `${t.tileM}×${t.tileN}×${t.tileK}/${t.rowsPerThread}×${t.colsPerThread}`;
}

/** Invocations per workgroup of a tile. */
export function tileThreads(t: GemmTile): number {
  return (t.tileM / t.rowsPerThread) * (t.tileN / t.colsPerThread);
}

/** Bytes of workgroup memory a tile stages (both operands, two buffers). */
export function tileSharedBytes(t: GemmTile): number {
  return t.lanes ? 0 : 2 * (t.tileM + t.tileN) * t.tileK * 4;
}

/** Whether `t` is well formed and fits a device's workgroup limits. */
export function tileFits(
  t: GemmTile,
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number },
): boolean {
  if (t.lanes) {
    return Number.isInteger(t.lanes) && t.lanes >= 1 && t.tileM % t.lanes === 0 &&
      t.rowsPerThread === t.tileM && t.colsPerThread % 4 === 0 && t.colsPerThread >= 4 &&
      t.tileN === t.lanes * t.colsPerThread && t.tileK === 4 &&
      t.lanes <= limits.maxComputeInvocationsPerWorkgroup;
  }
  const wy = t.tileM / t.rowsPerThread, wx = t.tileN / t.colsPerThread;
  return Number.isInteger(wx) && Number.isInteger(wy) && wx * wy >= 1 &&
    t.colsPerThread % 4 === 0 && t.tileK % 4 === 0 &&
    tileThreads(t) <= limits.maxComputeInvocationsPerWorkgroup &&
    tileSharedBytes(t) <= limits.maxComputeWorkgroupStorageSize;
}

/** Whether `device` runs `t`: the tile fits its limits, and a register tile has subgroups. */
export function tileRunsOn(
  t: GemmTile,
  device: { limits: Parameters<typeof tileFits>[1]; hasSubgroups: boolean },
): boolean {
  return tileFits(t, device.limits) && (!t.lanes || device.hasSubgroups);
}
