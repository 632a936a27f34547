/**
 * The matmul kernel against a float64 triple loop: ragged sizes, every transpose, batching with
 * broadcast strides, the fused epilogue, accumulation, forced window splits and a real
 * 151 MB fc6 weight (more than one storage binding on lavapipe).
 */

import assert from "node:assert/strict";
import { Device, type GpuBuffer } from "../kernels/device.ts";
import {
  GPU_SKINNY_TILE,
  GPU_TILES,
  HARDWARE_TILE,
  matmul,
  type MatmulArgs,
  matmulCandidates,
  matmulTile,
  MID_TILE,
  SKINNY_TILE,
  SMALL_TILE,
  SOFTWARE_TILE,
  SUBGROUP_TILES,
} from "../kernels/matmul.ts";
import { mulberry32 } from "./_reference.ts";
import { gemmTile, subgroupTile, tileName } from "../kernels/_gemm.ts";

type Host = Omit<MatmulArgs, "a" | "b" | "out" | "bias" | "rowSums"> & {
  a: Float32Array;
  b: Float32Array;
  bias?: Float32Array;
  out0?: Float32Array;
  /** Also asks for the row sums of a (added to `rowSums0` when accumulating). */
  rowSums?: boolean;
  rowSums0?: Float32Array;
};

function uniform(count: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: count }, () => rng() * 2 - 1);
}

/**
 * out[p, i, j] = Σ a·b in float64, with the same layout rules as the kernel (one matrix summed
 * over p with `sumBatch`).
 */
function reference(h: Host): Float64Array {
  const { m, n, k } = h;
  const batch = h.batch ?? 1, sA = h.batchStrideA ?? m * k, sB = h.batchStrideB ?? k * n;
  const results = h.sumBatch ? 1 : batch;
  const out = new Float64Array(results * m * n);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) {
          const a = h.a[p * sA + (h.transA ? q * m + i : i * k + q)];
          const b = h.b[p * sB + (h.transB ? j * k + q : q * n + j)];
          sum += a * b;
        }
        out[((h.sumBatch ? 0 : p) * m + i) * n + j] += sum;
      }
    }
  }
  for (let e = 0; e < out.length; e++) {
    let v = out[e] + (h.accumulate && h.out0 ? h.out0[e] : 0);
    if (h.bias) v += h.bias[e % n];
    out[e] = h.relu ? Math.max(0, v) : v;
  }
  return out;
}

function upload(device: Device, data: Float32Array): GpuBuffer {
  const buf = device.alloc(data.byteLength);
  device.write(buf, data);
  return buf;
}

/** Row sums of a in float64, over the batch too (plus `rowSums0` when accumulating). */
function rowSumsReference(h: Host): Float64Array {
  const { m, k } = h;
  const batch = h.batch ?? 1, sA = h.batchStrideA ?? m * k;
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let sum = h.accumulate && h.rowSums0 ? h.rowSums0[i] : 0;
    for (let p = 0; p < batch; p++) {
      for (let q = 0; q < k; q++) sum += h.a[p * sA + (h.transA ? q * m + i : i * k + q)];
    }
    out[i] = sum;
  }
  return out;
}

/** Fails unless `got` is within 1e-5·√K relative error of `want`. */
function near(got: Float32Array, want: Float64Array, k: number, label: string): void {
  const tol = 1e-5 * Math.sqrt(k);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(err <= tol)) {
      assert.fail(`${label}[${i}] = ${got[i]}, want ${want[i]} (rel err ${err})`);
    }
  }
}

/** Runs one product on the GPU and checks it (and the row sums asked for). */
async function check(device: Device, h: Host, label: string): Promise<void> {
  const count = (h.sumBatch ? 1 : h.batch ?? 1) * h.m * h.n;
  const a = upload(device, h.a), b = upload(device, h.b);
  const bias = h.bias ? upload(device, h.bias) : undefined;
  const out = upload(device, h.out0 ?? new Float32Array(count).fill(Number.NaN));
  const rowSums = h.rowSums
    ? upload(device, h.rowSums0 ?? new Float32Array(h.m).fill(Number.NaN))
    : undefined;
  matmul(device, { ...h, a, b, out, bias, rowSums });
  const got = new Float32Array(await device.read(out, 0, count * 4));
  const sums = rowSums && new Float32Array(await device.read(rowSums, 0, h.m * 4));
  for (const buf of [a, b, out, bias, rowSums]) if (buf) device.release(buf);
  const depth = h.k * (h.sumBatch ? h.batch ?? 1 : 1);
  near(got, reference(h), depth, `${label}: out`);
  if (sums) near(sums, rowSumsReference(h), depth, `${label}: row sums`);
}

/** Host operands for a product, sized from its layout. */
function operands(
  o: Omit<Host, "a" | "b">,
  seed: number,
): Host {
  const batch = o.batch ?? 1;
  const sA = o.batchStrideA ?? o.m * o.k, sB = o.batchStrideB ?? o.k * o.n;
  return {
    ...o,
    a: uniform((batch - 1) * sA + o.m * o.k, seed),
    b: uniform((batch - 1) * sB + o.k * o.n, seed + 1),
  };
}

/** Runs `body` with the WGSL of every dispatch it records collected in `shaders`. */
async function withShaders(
  device: Device,
  body: (shaders: string[]) => Promise<void>,
): Promise<void> {
  const shaders: string[] = [];
  const dispatch = device.dispatch.bind(device);
  device.dispatch = (d, bindings) => {
    shaders.push(d.wgsl);
    dispatch(d, bindings);
  };
  try {
    await body(shaders);
  } finally {
    device.dispatch = dispatch;
  }
}

Deno.test("matmul kernel", async (t) => {
  const device = await Device.acquire();

  await t.step("ragged sizes, all four transposes", async () => {
    // Scalar loads everywhere (odd sizes), vec4 loads everywhere (multiples of 4 that still
    // leave ragged tiles), and few rows (the few-rows tile on GPUs).
    let seed = 1;
    for (const [m, n, k] of [[65, 31, 17], [36, 68, 40], [7, 9, 5]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const h = operands({ m, n, k, transA, transB }, seed += 2);
          await check(device, h, `${m}×${n}×${k} tA=${transA} tB=${transB}`);
        }
      }
    }
    for (const [m, n, k] of [[1, 1, 1], [1, 129, 33], [129, 1, 7]]) {
      await check(device, operands({ m, n, k, transB: m > 1 }, seed += 2), `${m}×${n}×${k}`);
    }
    await check(device, operands({ m: 129, n: 129, k: 129, transA: true }, 7), "129³");
  });

  await t.step("batched, with broadcast strides", async () => {
    await check(device, operands({ m: 9, n: 13, k: 5, batch: 4, batchStrideA: 0 }, 12), "bcast a");
    await check(
      device,
      operands({ m: 33, n: 8, k: 20, batch: 3, batchStrideB: 0, transB: true }, 13),
      "bcast b",
    );
    // A stride larger than one matrix (every other slice of a bigger tensor), transA.
    await check(
      device,
      operands({ m: 12, n: 7, k: 5, batch: 3, batchStrideA: 61, transA: true }, 14),
      "strided a",
    );
    // 76 800 workgroups of a 4×4 tile: more than one grid dimension holds (65 535), so the
    // device folds the grid and the kernel recovers the flat index.
    const tile = { tileM: 4, tileN: 4, tileK: 4, rowsPerThread: 4, colsPerThread: 4 };
    const folded = operands({ m: 64, n: 64, k: 1, batch: 300, batchStrideB: 0, tile }, 15);
    await check(device, folded, "folded grid");
  });

  await t.step("bias and ReLU epilogue, accumulate", async () => {
    for (const [m, n, k] of [[5, 6, 7], [70, 44, 9]]) {
      const h = operands({ m, n, k, transB: true, relu: true }, m + n);
      await check(device, { ...h, bias: uniform(n, 99) }, `bias+relu ${m}×${n}×${k}`);
    }
    const acc = operands({ m: 40, n: 68, k: 16, accumulate: true }, 21);
    await check(device, { ...acc, out0: uniform(40 * 68, 22) }, "accumulate");
    const all = { ...operands({ m: 3, n: 5, k: 7, accumulate: true, relu: true }, 23) };
    await check(device, { ...all, bias: uniform(5, 24), out0: uniform(15, 25) }, "acc+bias+relu");
  });

  await t.step("window splitting under a 4 KiB binding limit", async () => {
    const maxBindingBytes = 4096;
    const cases: [string, Omit<Host, "a" | "b">, boolean][] = [
      // Rows of Wᵀ (N windows of b) and rows of out (M windows); K odd, so windows start
      // unaligned and bind from the aligned offset below with an element offset.
      ["transB: N windows, unaligned starts", { m: 3, n: 7, k: 333, transB: true }, true],
      ["transB: N and M windows", { m: 40, n: 24, k: 64, transB: true }, false],
      // Non-transposed b: contiguous K-row windows, summed with accumulate; epilogue on the last.
      ["b [K,N]: K windows", { m: 12, n: 20, k: 256, relu: true }, true],
      // One row of a is larger than a binding: M windows of one row, then K windows.
      ["a [M,K] with K > limit", { m: 9, n: 8, k: 1024 }, false],
      // Transposed a [K, M]: K windows.
      ["transA: K windows", { m: 30, n: 6, k: 200, transA: true }, false],
      // Out alone too large: M windows of one row, then N windows.
      ["out: M and N windows", { m: 9, n: 1024, k: 8, transB: true }, false],
      // Batches: batch windows, with b broadcast.
      ["batch windows", { m: 16, n: 20, k: 4, batch: 5, batchStrideB: 0 }, false],
    ];
    let seed = 100;
    for (const [label, o, epilogue] of cases) {
      const h = operands({ ...o, maxBindingBytes }, seed += 2);
      await check(device, h, label);
      // Row sums of a (unbatched): from the first N window of each M and K window.
      if (!o.batch) await check(device, { ...h, rowSums: true }, `${label} (+row sums)`);
      if (!epilogue) continue;
      const out0 = uniform(o.n * o.m * (o.batch ?? 1), seed + 7);
      const withBias = { ...h, bias: uniform(o.n, seed), accumulate: true, out0 };
      await check(device, withBias, `${label} (+bias, accumulate)`);
      if (o.batch) continue;
      const rowSums0 = uniform(o.m, seed + 9);
      const label2 = `${label} (+bias, row sums, accumulate)`;
      await check(device, { ...withBias, rowSums: true, rowSums0 }, label2);
    }
  });

  await t.step("the large-product tiles", async () => {
    for (
      const [m, tile] of [[130, SOFTWARE_TILE], [130, HARDWARE_TILE], [3, SKINNY_TILE]] as const
    ) {
      const h = operands({ m, n: 260, k: 33, transA: true, tile }, 5);
      await check(device, { ...h, bias: uniform(260, 6), relu: true }, JSON.stringify(tile));
    }
  });

  await t.step("every tile and split-K at sizes 1, 7, 33, 129 and ragged ones", async () => {
    // Each variant forced explicitly, so none goes untested because no default picks it here.
    // Scalar-row tiles too: rows per invocation 1 (GPU_SKINNY_TILE) and 2.
    const scalarRows = [GPU_SKINNY_TILE, gemmTile(4, 32, 4, 2, 4)];
    const tiles = [...GPU_TILES, SMALL_TILE, SKINNY_TILE, MID_TILE, ...scalarRows];
    const shapes = [[1, 7, 33], [129, 33, 7], [7, 129, 129], [33, 1, 70], [70, 45, 1]];
    let seed = 300;
    for (const tile of tiles) {
      for (const [m, n, k] of shapes) {
        for (const splits of k >= 33 ? [1, 3] : [1]) {
          const h = operands({ m, n, k, transB: (m + k) % 2 === 0, tile, splits }, seed++);
          const label = `${JSON.stringify(tile)} ${m}×${n}×${k} splits ${splits}`;
          await check(device, { ...h, bias: uniform(n, seed), relu: splits > 1 }, label);
          // A linear layer's weight and bias gradients: dyᵀ·x and the row sums of dyᵀ.
          const dyT = operands({ m, n, k, transA: true, tile, splits, rowSums: true }, seed++);
          await check(device, dyT, `${label}, transA + row sums`);
        }
      }
    }
    const acc = operands({ m: 33, n: 20, k: 129, splits: 4, tile: GPU_TILES[1] }, 9);
    await check(device, { ...acc, accumulate: true, out0: uniform(33 * 20, 10) }, "split acc");
    const rows = { rowSums: true, rowSums0: uniform(33, 11), transA: true };
    await check(device, { ...acc, ...rows, accumulate: true, out0: uniform(33 * 20, 10) }, "rows");
  });

  await t.step("register (subgroup) tiles: transposes, sizes 1, 7, 33, 129, split-K", async () => {
    assert.ok(device.hasSubgroups || !device.isSoftware, "lavapipe grants subgroups");
    if (!device.hasSubgroups) return;
    let seed = 500;
    for (const tile of SUBGROUP_TILES) {
      for (
        const [m, n, k] of [[1, 7, 33], [129, 33, 7], [7, 129, 129], [33, 1, 70], [36, 68, 40]]
      ) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const splits = k >= 33 && transA !== transB ? 3 : 1;
            // transA with row sums: a linear layer's weight and bias gradients.
            const h = operands({ m, n, k, transA, transB, tile, splits, rowSums: transA }, seed++);
            const label = `${tileName(tile)} ${m}×${n}×${k} tA=${transA} tB=${transB} s${splits}`;
            await check(device, { ...h, bias: uniform(n, seed), relu: transA }, label);
          }
        }
      }
      const batched = operands({ m: 12, n: 9, k: 8, batch: 3, batchStrideA: 0, tile }, seed++);
      await check(device, batched, `${tileName(tile)} batched`);
      const acc = operands({ m: 33, n: 20, k: 129, tile }, seed++);
      const rows = { rowSums: true, rowSums0: uniform(33, 11) };
      await check(device, { ...acc, ...rows, accumulate: true, out0: uniform(33 * 20, 10) }, "acc");
    }
  });

  await t.step(
    "register tiles: rows not aligned to 4 read as aligned vec4s, along K and along N",
    async () => {
      if (!device.hasSubgroups) return;
      // Rows along K of odd depth (A; B transposed) keep their last aligned vec4 and load the
      // next; B along N of odd width, 8 columns a lane, loads the aligned vec4s covering them
      // (GemmOperand.quads). A summed batch restarts the rows at each matrix and pads each to a
      // multiple of 4 deep. The operands are followed by NaNs: what a lane reads past a row's
      // end feeds only columns past N, and depths past K are zeroed.
      const nanTail = (x: Float32Array) => {
        const out = new Float32Array(x.length + 13).fill(Number.NaN);
        out.set(x);
        return out;
      };
      await withShaders(device, async (shaders) => {
        let seed = 1300;
        for (const tile of SUBGROUP_TILES) {
          const cases: [Omit<Host, "a" | "b">, string][] = [
            [{ m: 37, n: 131, k: 9, batch: 3, batchStrideA: 0 }, "batched"],
            [{ m: 9, n: 70, k: 13, batch: 2, sumBatch: true, rowSums: true }, "Σ"],
            [
              { m: 10, n: 19, k: 13, batch: 3, sumBatch: true, transB: true, rowSums: true },
              "Σ tB",
            ],
            [{
              m: 6,
              n: 9,
              k: 8,
              batch: 3,
              sumBatch: true,
              transB: true,
              batchStrideA: 51,
              batchStrideB: 75,
            }, "Σ odd strides"],
            [{ m: 20, n: 203, k: 50, maxBindingBytes: 4096 }, "windows"],
            [{ m: 33, n: 7, k: 129, splits: 3, transB: true }, "split tB"],
            [{ m: 5, n: 11, k: 21, batch: 4, sumBatch: true, transB: true, splits: 5 }, "Σ split"],
            [{ m: 7, n: 6, k: 9, batch: 5, sumBatch: true, maxBindingBytes: 512 }, "Σ windows"],
            [{ m: 1, n: 1, k: 1 }, "1×1×1"],
          ];
          for (const [o, name] of cases) {
            const label = `${tileName(tile)} ${o.m}×${o.n}×${o.k} ${name}`;
            const h = operands({ ...o, tile }, seed++);
            const acc = seed % 2 === 0
              ? {
                accumulate: true,
                out0: uniform((o.sumBatch ? 1 : o.batch ?? 1) * o.m * o.n, seed),
                rowSums0: uniform(o.m, seed),
              }
              : {};
            shaders.length = 0;
            const operandsWithNaN = { ...h, a: nanTail(h.a), b: nanTail(h.b) };
            await check(device, { ...operandsWithNaN, ...acc, bias: uniform(o.n, seed) }, label);
            assert.ok(shaders.some((w) => /read> a: array<vec4f>/.test(w)), `${label}: A as vec4s`);
            if (tile.colsPerThread === 8 || o.transB) {
              assert.ok(shaders.some((w) => /read> b: array<vec4f>/.test(w)), `${label}: B`);
            }
          }
        }
      });
    },
  );

  await t.step("register tiles: A stored transposed, read as vec4s along M", async () => {
    if (!device.hasSubgroups) return;
    // Taken where M is a multiple of 4: the WGSL binds a as vec4s (the scalar loads of odd M
    // are the step above). Rows 8, 16, 32, 48 and 64 map the units to lanes differently.
    await withShaders(device, async (shaders) => {
      let seed = 900;
      for (const tile of SUBGROUP_TILES) {
        for (const [m, n, k] of [[4, 7, 1], [8, 1, 33], [36, 33, 7], [132, 9, 129], [68, 13, 6]]) {
          for (const transB of [false, true]) {
            for (const splits of k >= 33 ? [1, 3] : [1]) {
              const label = `${tileName(tile)} ${m}×${n}×${k} tA tB=${transB} s${splits}`;
              const h = operands(
                { m, n, k, transA: true, transB, tile, splits, rowSums: true },
                seed++,
              );
              // Accumulating every other case: a row summed twice (by two tiles) would show.
              const acc = seed % 2 === 0
                ? { accumulate: true, out0: uniform(m * n, seed), rowSums0: uniform(m, seed) }
                : {};
              shaders.length = 0;
              await check(device, { ...h, ...acc, bias: uniform(n, seed), relu: true }, label);
              assert.match(shaders[0], /read> a: array<vec4f>/, `${label}: A read as vec4s`);
            }
          }
        }
        const batched = operands({ m: 12, n: 9, k: 8, batch: 3, transA: true, tile }, seed++);
        await check(device, batched, `${tileName(tile)} tA batched`);
        const summed = { m: 8, n: 5, k: 7, batch: 3, sumBatch: true, transA: true, tile };
        const rows = { rowSums: true, rowSums0: uniform(8, seed), accumulate: true };
        await check(device, { ...operands(summed, seed++), ...rows, out0: uniform(40, seed) }, "Σ");
      }
    });
  });

  await t.step(
    "the register tile by default: 8 columns a lane, 48 or 64 rows only where B is scalars",
    async () => {
      if (!(device.isSoftware && device.hasSubgroups)) return;
      const tile = (m: number, n: number, k: number, batch = 1, bVec4?: boolean) =>
        tileName(matmulTile(device, m, n, k, batch, bVec4));
      // A 1×1 convolution 64 → 96 on 27² planes, batch 2: forward (B = x, 729 columns: scalars),
      // input and weight gradients (B = xᵀ, of depth 729: scalars).
      assert.deepEqual(
        [tile(96, 729, 64, 2), tile(64, 729, 96, 2), tile(96, 64, 1458, 1, false)],
        ["48×64 sg8", "64×64 sg8", "48×64 sg8"],
      );
      // Scalar B: 48 or 64 rows where they idle no more rows than 32-row ones; 4 columns a lane
      // where 8 would pad N by more than a tenth (129 or 31 columns); few rows keep 8 or 16.
      assert.deepEqual(
        [tile(257, 1023, 511), tile(384, 511, 128), tile(129, 33, 7), tile(65, 31, 17)],
        ["48×64 sg8", "64×64 sg8", "48×64 sg8", "48×32 sg8"],
      );
      assert.deepEqual(
        [tile(100, 1023, 128), tile(127, 253, 129), tile(127, 129, 253, 1, false)],
        ["64×64 sg8", "64×64 sg8", "64×32 sg8"],
      );
      // B read as vec4s: 32 rows, padded or not (fc6/fc7's weight gradients, 384 and 257 rows).
      assert.deepEqual(
        [tile(512, 512, 32), tile(512, 128, 256), tile(384, 512, 32), tile(257, 1024, 511)],
        ["32×64 sg8", "32×64 sg8", "32×64 sg8", "32×64 sg8"],
      );
      assert.deepEqual([tile(96, 728, 64, 2), tile(96, 64, 1458, 1, true)], [
        "32×64 sg8",
        "32×64 sg8",
      ]);
      // At most 8 rows: 8; more: by the cost, never the 16-row tile (33 rows: 48 with scalar B,
      // 32 with 4 columns a lane for one column; 32 rows of vec4 B: 32).
      assert.deepEqual(
        [tile(64, 64, 64), tile(7, 9, 5), tile(33, 1, 1), tile(33, 517, 1031), tile(32, 512, 512)],
        ["32×64 sg8", "8×64 sg8", "32×32 sg8", "48×64 sg8", "32×64 sg8"],
      );
      // The default leads the candidates, and every register tile is one.
      const names = matmulCandidates(device, 96, 729, 64, 2).map((c) => c.name);
      assert.equal(names[0], tileName(subgroupTile(48, 8)));
      for (const tile of SUBGROUP_TILES) assert.ok(names.includes(tileName(tile)), tileName(tile));
      // matmul passes B's layout: the same 96×64×1458 product with B stored [N, K] of odd depth
      // per sample (a 1×1 weight gradient) and stored [K, N].
      const variants: string[] = [];
      const dispatch = device.dispatch.bind(device);
      device.dispatch = (d, bindings) => {
        variants.push(d.variant ?? "");
        dispatch(d, bindings);
      };
      const [a, b, out] = [96 * 1458, 1458 * 64, 96 * 64].map((n) => device.alloc(n * 4));
      try {
        matmul(device, { a, b, out, m: 96, n: 64, k: 729, batch: 2, transB: true, sumBatch: true });
        matmul(device, { a, b, out, m: 96, n: 64, k: 1458 });
        await device.sync();
      } finally {
        device.dispatch = dispatch;
        for (const buffer of [a, b, out]) device.release(buffer);
      }
      assert.equal(variants.length, 2);
      assert.ok(variants[0].startsWith(`gemm ${tileName(subgroupTile(48, 8))}`), variants[0]);
      assert.ok(variants[1].startsWith(`gemm ${tileName(subgroupTile(32, 8))}`), variants[1]);
    },
  );

  await t.step(
    "summed over the batch (sumBatch): every tile, sizes 1, 7, 33, 129, split-K",
    async () => {
      // One product of depth batch·K whose depth index splits into (sample, depth): K of 1 and 3
      // put several samples into one step of 4, K multiple of 4 keeps the vec4 loads.
      const shapes = [
        [1, 1, 1, 1],
        [1, 7, 1, 5],
        [7, 33, 3, 4],
        [33, 7, 129, 2],
        [129, 33, 7, 3],
        [9, 129, 33, 2],
        [36, 68, 40, 3],
        [65, 31, 17, 1],
      ];
      const tiles = [
        undefined,
        SMALL_TILE,
        HARDWARE_TILE,
        ...(device.hasSubgroups ? SUBGROUP_TILES : []),
      ];
      let seed = 700;
      for (const tile of tiles) {
        for (const [m, n, k, batch] of shapes) {
          for (const splits of k * batch >= 33 ? [1, 3] : [1]) {
            // A 1×1 convolution's weight gradient: dy [O, HW] · xᵀ per sample, x as [C, HW].
            const transA = seed % 3 === 0, transB = seed % 2 === 0;
            const label = `${tile ? tileName(tile) : "default"} Σ${batch}×${m}×${n}×${k} ` +
              `tA=${transA} tB=${transB} splits ${splits}`;
            const h = operands(
              { m, n, k, batch, sumBatch: true, transA, transB, tile, splits, rowSums: true },
              seed++,
            );
            await check(device, h, `${label} +row sums`);
            const acc = {
              accumulate: true,
              out0: uniform(m * n, seed),
              rowSums0: uniform(m, seed),
            };
            await check(device, { ...h, ...acc, bias: uniform(n, seed++), relu: true }, label);
          }
        }
      }
      // Strides larger than one matrix (every other slice), and b broadcast.
      const strided = { m: 6, n: 5, k: 9, batch: 3, batchStrideA: 61, batchStrideB: 0 };
      await check(device, operands({ ...strided, sumBatch: true, rowSums: true }, 9), "strided");
    },
  );

  await t.step("summed over the batch under a 4 KiB binding: batch and K windows", async () => {
    const maxBindingBytes = 4096;
    const cases: [string, Omit<Host, "a" | "b">][] = [
      ["batch windows", { m: 12, n: 10, k: 40, batch: 7, transB: true }],
      ["batch and K windows", { m: 3, n: 7, k: 333, batch: 3, transB: true }],
      ["M windows of a transposed a", { m: 40, n: 3, k: 30, batch: 2, transA: true }],
    ];
    let seed = 800;
    for (const [label, o] of cases) {
      const h = operands({ ...o, sumBatch: true, rowSums: true, maxBindingBytes }, seed += 2);
      await check(device, h, label);
      const acc = { accumulate: true, out0: uniform(o.m * o.n, seed), rowSums0: uniform(o.m, 3) };
      await check(device, { ...h, ...acc, bias: uniform(o.n, seed), relu: true }, `${label}, acc`);
    }
  });

  await t.step("argument checks", () => {
    const small = device.alloc(16), big = device.alloc(4096);
    assert.throws(
      () => matmul(device, { a: small, b: big, out: big, m: 4, n: 4, k: 4 }),
      /matmul.*a needs 16 f32/,
    );
    assert.throws(
      () => matmul(device, { a: big, b: big, out: big, m: 4, n: 4, k: 4 }),
      /out must not be the same buffer/,
    );
    assert.throws(() => matmul(device, { a: big, b: big, out: small, m: 0, n: 4, k: 4 }), /m must/);
    const out = device.alloc(4096);
    assert.throws(
      () => matmul(device, { a: big, b: big, out, m: 2, n: 2, k: 2, batch: 2, rowSums: small }),
      /rowSums needs an unbatched product \(or sumBatch\)/,
    );
    assert.throws(
      () => matmul(device, { a: big, b: small, out, m: 2, n: 2, k: 2, rowSums: big }),
      /rowSums must not be the same buffer/,
    );
    assert.throws(
      () =>
        matmul(device, {
          a: big,
          b: big,
          out,
          m: 1,
          n: 1,
          k: 1,
          batch: 2 ** 22 + 1,
          sumBatch: true,
        }),
      /sumBatch sums at most 4194304 matrices/,
    );
    device.release(out);
    const tile = { tileM: 6, tileN: 8, tileK: 4, rowsPerThread: 4, colsPerThread: 4 };
    assert.throws(
      () => matmul(device, { a: big, b: big, out: small, m: 1, n: 1, k: 1, tile }),
      /tile/,
    );
    device.release(small);
    device.release(big);
  });

  await t.step("fc6: x [2, 9216] · Wᵀ with a 151 MB W [4096, 9216]", async () => {
    const m = 2, n = 4096, k = 9216;
    // A cheap seeded pattern, recomputable on the host for the sampled columns.
    const wAt = (i: number): number => ((Math.imul(i, 0x9e3779b1) >>> 8) / 2 ** 24 - 0.5) * 0.02;
    const w = device.alloc(n * k * 4, "fc6 weight");
    const rows = 256;
    const chunk = new Float32Array(rows * k);
    for (let r0 = 0; r0 < n; r0 += rows) {
      for (let i = 0; i < chunk.length; i++) chunk[i] = wAt(r0 * k + i);
      device.write(w, chunk, r0 * k * 4);
    }
    const x = uniform(m * k, 5);
    const xb = upload(device, x);
    const bias = uniform(n, 6);
    const bb = upload(device, bias);
    const out = device.alloc(m * n * 4);
    assert.ok(n * k * 4 > device.limits.maxStorageBufferBindingSize || !device.isSoftware);
    matmul(device, { a: xb, b: w, out, bias: bb, m, n, k, transB: true });
    const got = new Float32Array(await device.read(out, 0, m * n * 4));
    for (const buf of [w, xb, bb, out]) device.release(buf);
    const rng = mulberry32(8);
    const cols = [
      0,
      1,
      3583,
      3584,
      3585,
      n - 1,
      ...Array.from({ length: 26 }, () => Math.floor(rng() * n)),
    ];
    for (const j of cols) {
      for (let i = 0; i < m; i++) {
        let want = bias[j];
        for (let q = 0; q < k; q++) want += x[i * k + q] * Math.fround(wAt(j * k + q));
        const err = Math.abs(got[i * n + j] - want) / Math.max(1, Math.abs(want));
        assert.ok(
          err <= 1e-5 * Math.sqrt(k),
          `fc6 out[${i}, ${j}] = ${got[i * n + j]}, want ${want}`,
        );
      }
    }
  });

  device.destroy();
});
