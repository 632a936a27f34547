/**
 * Inclusive scans along rows: `torch.cumsum`, `torch.cumprod` and `torch.logcumsumexp`, forward
 * or from the end of each row (the gradient of a cumulative sum is one from the end), and the
 * positions of `torch.cummax` and `torch.cummin`.
 *
 * A blocked, work-efficient scan (reduce, then scan: `_scan_blocked.ts`), as GPU libraries
 * without forward-progress guarantees do it: tiles of a few thousand elements, their totals
 * scanned recursively, then each tile scanned again from the total before it. So a
 * million-element row takes five dispatches and about three passes over memory, where the
 * Hillis–Steele scan this replaces took ⌈log₂ n⌉ full passes and `n log n` work, and a long
 * sum's rounding error grows with its tree depth over a few thousand elements rather than with
 * the row. Rows need not align with tiles: the scan is segmented, an element starting a row
 * drops what came before it, so many short rows pack into one tile and one row may span
 * thousands. No atomics, no inter-workgroup waits: the same result on every run. Lengths are
 * uniforms. Many short rows may instead run a row per thread (`_scan_rows.ts`): the autotuner
 * chooses per adapter.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { choose, withScratch } from "./autotune.ts";
import { scanLevel, threadRun } from "./_scan_blocked.ts";
import { type Carrier, extremumCarrier, type ScanOp, valueCarrier } from "./_scan_carrier.ts";
import { scanEachRow } from "./_scan_rows.ts";

export type { ScanOp } from "./_scan_carrier.ts";

/**
 * How a scan runs: `"blocked"`, the tiles of `_scan_blocked.ts` (any shape); `"rows"`, one
 * thread per row in sequence (`_scan_rows.ts`), one pass reading and writing each element once,
 * which wins for many short rows.
 */
export type ScanVariant = "blocked" | "rows";

/**
 * Rows up to this long may scan a row per thread: a sequential f32 sum's rounding grows with
 * the row, and on a GPU so does each thread's chain of dependent loads.
 */
const SHORT_ROW = 256;
/** Rows a GPU needs before a row per thread is worth timing (a few threads per core). */
const GPU_ROWS = 4096;

/**
 * The variants a shape may run as, the default first. On lavapipe, a row per thread is 3 to 4
 * times faster than the tiles at every row length up to 256 (`bench/scan.ts --variants`: a
 * million elements in rows of 7 to 256, 15–18 ms against 43–74 ms), the CPU's lanes each
 * streaming a row; a GPU wants the tiles' coalesced loads and parallelism unless rows are many,
 * so there the tiles come first and the autotuner times both.
 */
function variantsFor(device: Device, rows: number, length: number): ScanVariant[] {
  if (length > SHORT_ROW) return ["blocked"];
  if (device.isSoftware) return ["rows", "blocked"];
  // A GPU's row-per-thread pass needs rows enough to fill it before it can win.
  return rows >= GPU_ROWS ? ["blocked", "rows"] : ["blocked"];
}

/**
 * The variant a scan runs as: `variant` when given, else the autotuner's choice among the
 * shape's candidates (the default without tuning, as on software adapters).
 */
function chooseVariant(
  device: Device,
  carrier: Carrier,
  rows: number,
  length: number,
  timed: (variant: ScanVariant) => void,
): ScanVariant {
  return choose(
    device,
    "scan",
    `${carrier.label} ${rows}x${length}`,
    () => variantsFor(device, rows, length).map((v) => ({ name: v, value: v })),
    timed,
  ).value;
}

/** Runs a scan of `n` elements in rows of `length` from `x` into `out`. */
function runScan(
  device: Device,
  carrier: Carrier,
  x: GpuBuffer,
  out: GpuBuffer,
  n: number,
  length: number,
  reverse: boolean,
  variant: ScanVariant | undefined,
): void {
  const rows = n / length;
  const how = variant ??
    chooseVariant(
      device,
      carrier,
      rows,
      length,
      (v) =>
        withScratch(
          device,
          [n, n],
          ([a, b]) => runScan(device, carrier, a, b, n, length, reverse, v),
        ),
    );
  if (how === "rows") {
    scanEachRow(device, carrier, x, out, rows, length, reverse);
    return;
  }
  const plan = { device, carrier, n, length, perThread: threadRun(device) };
  scanLevel(plan, { count: n, span: 1, mirror: reverse, input: [x] }, [out], true);
}

/**
 * The running sum, product or `log Σ exp` along each row of a contiguous `[rows, length]` matrix
 * `x` (f32, or i32 wrapping on overflow for a sum or product) into `out`:
 * `out[r, j] = x[r, 0] ⊕ … ⊕ x[r, j]`, or with `reverse`, `x[r, j] ⊕ … ⊕ x[r, length − 1]`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { scanRows } from "./scan.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(24), out = device.alloc(24);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * scanRows(device, "sum", "f32", x, out, 2, 3);
 * console.log(new Float32Array(await device.read(out, 0, 24))); // [1, 3, 6, 4, 9, 15]
 * ```
 */
export function scanRows(
  device: Device,
  op: ScanOp,
  type: "f32" | "i32",
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  reverse = false,
  variant?: ScanVariant,
): void {
  const n = rows * length;
  if (n === 0) return;
  if (op === "logaddexp" && type !== "f32") throw new TypeError("scanRows: logcumsumexp of i32");
  runScan(device, valueCarrier(op, type, reverse), x, out, n, length, reverse, variant);
}

/**
 * The i32 position of the running maximum or minimum along each row of a contiguous
 * `[rows, length]` matrix `keys` (f32 or i32) into `out`, as `torch.cummax`'s and
 * `torch.cummin`'s indices: the later position on ties, a NaN the extremum from where it
 * stands (the latest NaN so far).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { cumulativeExtremumRows } from "./scan.ts";
 * const device = await Device.acquire();
 * const keys = device.alloc(20), out = device.alloc(20);
 * device.write(keys, new Float32Array([1, 3, 2, 3, 0]));
 * cumulativeExtremumRows(device, "max", "f32", keys, out, 1, 5);
 * console.log(new Int32Array(await device.read(out, 0, 20))); // [0, 1, 1, 3, 3]
 * ```
 */
export function cumulativeExtremumRows(
  device: Device,
  op: "max" | "min",
  type: "f32" | "i32",
  keys: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  variant?: ScanVariant,
): void {
  const n = rows * length;
  if (n === 0) return;
  runScan(device, extremumCarrier(op, type), keys, out, n, length, false, variant);
}
