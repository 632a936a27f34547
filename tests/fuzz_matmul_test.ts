/**
 * A seeded randomized sweep of the matmul kernel: sizes 1–300 that are multiples of no tile,
 * either operand transposed, batches with broadcast (stride 0) or padded strides and unaligned
 * offsets, the batch summed as one deeper product, bias per column or per row, ReLU,
 * accumulation, the row sums, the ReLU mask, forced binding windows, and every tile that runs on
 * this adapter with split-K forced, each compared elementwise with float64 under the
 * accumulation bound of `_fuzz.ts`. `FUZZ_SEED=s FUZZ_ITERS=k` runs k times as many products.
 */

import { Device, type GpuBuffer } from "../kernels/device.ts";
import * as kernel from "../kernels/matmul.ts";
import { tileName, tileRunsOn } from "../kernels/_gemm.ts";
import { assertAccumulated, Draw, fuzzSeeds } from "./_fuzz.ts";
import { gaussian } from "./_reference.ts";

/** Largest multiply-adds of one drawn product. */
const MAX_MACS = 1_500_000;

type Options = Omit<kernel.MatmulArgs, "a" | "b" | "out" | "bias" | "rowSums" | "mask"> & {
  bias: boolean;
  rowSums: boolean;
  mask: boolean;
};

/** A random valid product and its options. */
function drawProduct(d: Draw): Options {
  for (;;) {
    const size = () => d.pick([d.int(1, 9), d.int(1, 70), d.int(1, 300)]);
    const m = size(), n = size(), k = size();
    const batch = d.chance(0.4) ? d.int(2, 4) : 1;
    if (batch * m * n * k > MAX_MACS) continue;
    const sumBatch = batch > 1 && d.chance(0.3);
    // A stride of 0 broadcasts one matrix; a larger one leaves a gap between matrices.
    const stride = (own: number) => (batch === 1 ? undefined : d.pick([own, 0, own + d.int(1, 5)]));
    const results = sumBatch ? 1 : batch;
    return {
      m,
      n,
      k,
      batch,
      sumBatch,
      transA: d.chance(0.5),
      transB: d.chance(0.5),
      offsetA: d.chance(0.3) ? d.int(1, 7) : 0,
      offsetB: d.chance(0.3) ? d.int(1, 7) : 0,
      batchStrideA: stride(m * k),
      batchStrideB: stride(k * n),
      bias: d.chance(0.4),
      biasPerRow: d.chance(0.3),
      relu: d.chance(0.3),
      accumulate: d.chance(0.3),
      rowSums: results === 1 && d.chance(0.3),
      mask: d.chance(0.2),
      // A few KiB per binding forces windows along every dimension.
      maxBindingBytes: d.chance(0.15) ? d.pick([2048, 4096, 16384]) : undefined,
    };
  }
}

/** Output element (p, i, j) of the product, its Σ|terms|, and a's row sums, in float64. */
function reference(o: Options, a: Float32Array, b: Float32Array, bias: Float32Array) {
  const { m, n, k, batch = 1 } = o;
  const sA = o.batchStrideA ?? m * k, sB = o.batchStrideB ?? k * n;
  const results = o.sumBatch ? 1 : batch;
  const out = new Float64Array(results * m * n), mag = new Float64Array(out.length);
  const rows = new Float64Array(m), rowsMag = new Float64Array(m);
  for (let p = 0; p < batch; p++) {
    const r = o.sumBatch ? 0 : p;
    for (let i = 0; i < m; i++) {
      for (let q = 0; q < k; q++) {
        const x = a[(o.offsetA ?? 0) + p * sA + (o.transA ? q * m + i : i * k + q)];
        rows[i] += x;
        rowsMag[i] += Math.abs(x);
        for (let j = 0; j < n; j++) {
          const y = b[(o.offsetB ?? 0) + p * sB + (o.transB ? j * k + q : q * n + j)];
          out[(r * m + i) * n + j] += x * y;
          mag[(r * m + i) * n + j] += Math.abs(x * y);
        }
      }
    }
  }
  if (o.bias) {
    for (let e = 0; e < out.length; e++) {
      const v = bias[o.biasPerRow ? Math.floor(e / n) % m : e % n];
      out[e] += v;
      mag[e] += Math.abs(v);
    }
  }
  return { out, mag, rows, rowsMag };
}

function upload(device: Device, data: Float32Array): GpuBuffer {
  const buf = device.alloc(Math.max(data.byteLength, 4));
  device.write(buf, data);
  return buf;
}

const normal = (count: number, d: Draw, std = 1) =>
  Float32Array.from({ length: count }, () => std * gaussian(d.next));

/**
 * The tiles this adapter runs: the autotuner's candidates for the product, and every named
 * tile (the software tiles, the register GEMM's, the GPU tiles).
 */
function tiles(device: Device, o: Options) {
  const { SUBGROUP_TILES, SMALL_TILE, SKINNY_TILE, MID_TILE, SOFTWARE_TILE, GPU_TILES } = kernel;
  const named = [...SUBGROUP_TILES, SMALL_TILE, SKINNY_TILE, MID_TILE, SOFTWARE_TILE, ...GPU_TILES];
  const candidates = kernel.matmulCandidates(device, o.m, o.n, o.k, o.batch).map((c) => c.value);
  const all = [...candidates.map((c) => c.tile), ...named, kernel.GPU_SKINNY_TILE];
  return [...new Set(all)].filter((t) => tileRunsOn(t, device));
}

async function checkProduct(device: Device, seed: number): Promise<string> {
  const d = new Draw(seed);
  const o = drawProduct(d);
  const { m, n, k, batch = 1 } = o;
  const sA = o.batchStrideA ?? m * k, sB = o.batchStrideB ?? k * n;
  const results = o.sumBatch ? 1 : batch;
  // Values of 1e4 too: the bound scales with them, and nothing may overflow or flush.
  const a = normal((o.offsetA ?? 0) + (batch - 1) * sA + m * k, d, d.pick([1, 1, 1e4]));
  const b = normal((o.offsetB ?? 0) + (batch - 1) * sB + k * n, d);
  const bias = normal(o.biasPerRow ? m : n, d);
  const out0 = normal(results * m * n, d), rows0 = normal(m, d);
  // A ReLU's output: zero (+0 or −0) where it cut.
  const maskValues = normal(results * m * n, d).map((v) => (v > 0 ? v : d.chance(0.5) ? 0 : -0));
  const tile = d.pick([undefined, ...tiles(device, o)]);
  const splits = d.pick([undefined, 1, 2, 3, d.int(4, 9)]);
  const label = `seed ${seed}: ${JSON.stringify(o)}, tile ${tile ? tileName(tile) : "default"}` +
    `, splits ${splits}`;

  const r = reference(o, a, b, bias);
  const want = r.out.map((v, e) => {
    let x = v + (o.accumulate ? out0[e] : 0);
    if (o.relu) x = Math.max(0, x);
    return o.mask && !(maskValues[e] > 0) ? 0 : x;
  });
  const mag = r.mag.map((v, e) => v + (o.accumulate ? Math.abs(out0[e]) : 0));
  const rows = r.rows.map((v, i) => v + (o.accumulate ? rows0[i] : 0));
  const rowsMag = r.rowsMag.map((v, i) => v + (o.accumulate ? Math.abs(rows0[i]) : 0));

  const nan = (count: number) => new Float32Array(count).fill(Number.NaN);
  const bufs = {
    a: upload(device, a),
    b: upload(device, b),
    out: upload(device, o.accumulate ? out0 : nan(results * m * n)),
    bias: o.bias ? upload(device, bias) : undefined,
    rowSums: o.rowSums ? upload(device, o.accumulate ? rows0 : nan(m)) : undefined,
    mask: o.mask ? upload(device, maskValues) : undefined,
  };
  try {
    kernel.matmul(device, { ...o, ...bufs, tile, splits: tile ? splits : undefined });
    const got = new Float32Array(await device.read(bufs.out, 0, want.length * 4));
    const depth = k * (o.sumBatch ? batch : 1) + 2;
    assertAccumulated(`${label}\n  out`, got, want, mag, depth);
    if (bufs.rowSums) {
      const sums = new Float32Array(await device.read(bufs.rowSums, 0, m * 4));
      assertAccumulated(`${label}\n  row sums`, sums, rows, rowsMag, depth);
    }
  } finally {
    for (const buf of Object.values(bufs)) if (buf) device.release(buf);
  }
  return tile ? tileName(tile) : "default";
}

Deno.test("fuzz: matmul on random shapes, layouts, epilogues and tiles against float64", async (t) => {
  const device = await Device.acquire();
  try {
    for (const seed of fuzzSeeds("matmul", 24)) {
      await t.step(`seed ${seed}`, () => checkProduct(device, seed).then(() => {}));
    }
  } finally {
    device.destroy();
  }
});
