/**
 * The blocked scans of `kernels/scan.ts` against sequential float64 (or exact integer)
 * references: rows shorter than a thread's run, rows that straddle tiles, many short rows packed
 * into one tile, one row of a million elements (three levels of tiles), forward and reversed,
 * f32 and i32; the running extremum's positions with ties and NaNs; each variant (the tiles,
 * and a row per thread where rows are short); and all of it again on a device whose small
 * binding and grid limits force windows of a single tile.
 */

import assert from "node:assert/strict";
import { autotune, setAutotune } from "../kernels/autotune.ts";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  cumulativeExtremumRows,
  type ScanOp,
  scanRows,
  type ScanVariant,
} from "../kernels/scan.ts";
import { mulberry32 } from "./_reference.ts";

const wide = await Device.acquire({ label: "wide" });
const narrow = await Device.acquire({
  label: "narrow",
  limits: {
    maxStorageBufferBindingSize: 8192,
    maxComputeWorkgroupsPerDimension: 16,
    minStorageBufferOffsetAlignment: 256,
  },
});

function upload(device: Device, data: Float32Array | Int32Array): GpuBuffer {
  const buffer = device.alloc(Math.max(data.byteLength, 4));
  device.write(buffer, data);
  return buffer;
}

/** Shapes `[rows, length]`: a tile is 2,048 elements on `wide`, 1,792 on `narrow`. */
const SHAPES: readonly (readonly [number, number])[] = [
  [1, 1],
  [5, 1],
  [3, 7],
  [40, 33],
  [2, 129],
  [1, 4097],
  [3, 2049],
  [1000, 7],
  [7, 1793],
  [1, 1_000_001],
];

/**
 * The variants each shape runs as in this test: the tiles always (on the narrow device only up
 * to 40,000 elements, its windows being small), a row per thread where rows are short enough
 * for it to be a candidate.
 */
function variantsOf(device: Device, [rows, length]: readonly [number, number]): ScanVariant[] {
  if (device === narrow && rows * length > 40_000) return [];
  return length <= 256 ? ["blocked", "rows"] : ["blocked"];
}

/** Every shape with every variant it runs as on `device`. */
const runs = (device: Device) =>
  SHAPES.flatMap((shape) => variantsOf(device, shape).map((variant) => ({ shape, variant })));

/** The sequential scan along rows in float64 (i32: wrapping), and each prefix's Σ|x|. */
function reference(
  op: ScanOp,
  type: "f32" | "i32",
  x: ArrayLike<number>,
  length: number,
  reverse: boolean,
): { want: Float64Array; scale: Float64Array } {
  const want = new Float64Array(x.length), scale = new Float64Array(x.length);
  for (let r = 0; r < x.length / length; r++) {
    let acc = 0, abs = 0;
    for (let k = 0; k < length; k++) {
      const at = r * length + (reverse ? length - 1 - k : k);
      const v = x[at];
      if (k === 0) acc = v;
      else if (op === "sum") acc = type === "i32" ? (acc + v) | 0 : acc + v;
      else if (op === "prod") acc = type === "i32" ? Math.imul(acc, v) : acc * v;
      else acc = Math.max(acc, v) + Math.log1p(Math.exp(-Math.abs(acc - v)));
      abs += op === "sum" ? Math.abs(v) : Math.abs(acc);
      want[at] = acc;
      scale[at] = abs;
    }
  }
  return { want, scale };
}

/** Inputs per op: products near 1 so a long row neither overflows nor vanishes. */
function input(
  op: ScanOp,
  type: "f32" | "i32",
  n: number,
  seed: number,
): Float32Array | Int32Array {
  const rng = mulberry32(seed);
  if (type === "i32") return Int32Array.from({ length: n }, () => Math.floor(rng() * 2e9) - 1e9);
  if (op === "prod") return Float32Array.from({ length: n }, () => 1 + (rng() - 0.5) * 1e-3);
  return Float32Array.from({ length: n }, () => (rng() - 0.5) * 8);
}

const CASES: readonly (readonly [ScanOp, "f32" | "i32"])[] = [
  ["sum", "f32"],
  ["sum", "i32"],
  ["prod", "f32"],
  ["prod", "i32"],
  ["logaddexp", "f32"],
];

for (const device of [wide, narrow]) {
  Deno.test(`scanRows on ${device.label}: every op, forward and reversed, against float64`, async () => {
    for (const { shape, variant } of runs(device)) {
      const [rows, length] = shape;
      const n = rows * length;
      for (const [op, type] of CASES) {
        const x = input(op, type, n, n + op.length);
        const buffer = upload(device, x), out = device.alloc(n * 4);
        for (const reverse of [false, true]) {
          scanRows(device, op, type, buffer, out, rows, length, reverse, variant);
          const bytes = await device.read(out, 0, n * 4);
          const got = type === "f32" ? new Float32Array(bytes) : new Int32Array(bytes);
          const { want, scale } = reference(op, type, x, length, reverse);
          const label = `${op} ${type} [${rows}, ${length}]${
            reverse ? " reversed" : ""
          } ${variant}`;
          if (type === "i32") {
            assert.deepEqual(Array.from(got), Array.from(want), label);
            continue;
          }
          // A blocked scan's rounding: a thread's run, a workgroup's tree and two steps per
          // level, far below the n steps of a sequential f32 sum (a row per thread: ≤ 256).
          const steps = variant === "rows" ? length + 8 : 64;
          for (let i = 0; i < n; i++) {
            const bound = steps * 2 ** -24 * scale[i] + 1e-30;
            if (!(Math.abs(got[i] - want[i]) <= bound)) {
              assert.fail(`${label} at ${i}: ${got[i]} against ${want[i]} (bound ${bound})`);
            }
          }
        }
        device.release(buffer);
        device.release(out);
      }
    }
  });

  Deno.test(`cumulativeExtremumRows on ${device.label}: ties to the later, NaN wins, i32`, async () => {
    for (const { shape, variant } of runs(device)) {
      const [rows, length] = shape;
      const n = rows * length;
      const rng = mulberry32(n);
      // Few distinct values, so ties are everywhere; a NaN now and then.
      const floats = Float32Array.from(
        { length: n },
        () => rng() < 1e-3 ? NaN : Math.floor(rng() * 9),
      );
      const ints = Int32Array.from(floats, (v) => (Number.isNaN(v) ? 100 : v));
      for (const [type, keys] of [["f32", floats], ["i32", ints]] as const) {
        const buffer = upload(device, keys), out = device.alloc(n * 4);
        for (const op of ["max", "min"] as const) {
          cumulativeExtremumRows(device, op, type, buffer, out, rows, length, variant);
          const got = new Int32Array(await device.read(out, 0, n * 4));
          const want = new Int32Array(n);
          for (let r = 0; r < rows; r++) {
            let best = 0;
            for (let k = 0; k < length; k++) {
              const [a, b] = [keys[r * length + best], keys[r * length + k]];
              const beats = op === "max" ? b >= a : b <= a;
              if (Number.isNaN(b) || (!Number.isNaN(a) && beats)) best = k;
              want[r * length + k] = best;
            }
          }
          assert.deepEqual(
            Array.from(got),
            Array.from(want),
            `cum${op} ${type} [${shape}] ${variant}`,
          );
        }
        device.release(buffer);
        device.release(out);
      }
    }
  });
}

Deno.test("scanRows: the autotuner times both variants of a short-row shape and keeps a correct one", async () => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("ALEXNET_AUTOTUNE_CACHE", `${dir}/autotune.json`);
  setAutotune(true);
  try {
    const [rows, length] = [300, 9];
    const x = Float32Array.from({ length: rows * length }, (_, i) => i % 5);
    const buffer = upload(wide, x), out = wide.alloc(x.byteLength);
    scanRows(wide, "sum", "f32", buffer, out, rows, length);
    const results = await autotune(wide, 1);
    const mine = results.find((r) => r.op === "scan")!;
    assert.equal(mine.key, `cumsum ${rows}x${length}`);
    assert.deepEqual(new Set(mine.times.map((t) => t.name)), new Set(["blocked", "rows"]));
    scanRows(wide, "sum", "f32", buffer, out, rows, length);
    const got = new Float32Array(await wide.read(out, 0, x.byteLength));
    const { want } = reference("sum", "f32", x, length, false);
    assert.deepEqual(Array.from(got), Array.from(want));
    wide.release(buffer);
    wide.release(out);
  } finally {
    setAutotune(undefined);
    Deno.env.delete("ALEXNET_AUTOTUNE_CACHE");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scans: the devices end", () => {
  wide.destroy();
  narrow.destroy();
});
