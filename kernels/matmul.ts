/**
 * Matrix multiply, `out = a·b (+ bias) (ReLU)`, batched and with either operand transposed in
 * place, on the shared GEMM core (`_gemm.ts`): workgroup-memory K slices, double-buffered, a
 * register block of outputs per invocation, split-K for skinny products; on software adapters
 * with subgroups, the core's register GEMM (operands shared between lanes by broadcast, no
 * workgroup memory). The row sums of `a`
 * (a linear layer's bias gradient, beside its weight gradient) come out of the same product on
 * request. Sizes, offsets and strides are uniforms, so one pipeline serves every shape of a tile
 * and layout. The planner splits a problem whose buffers exceed one storage binding into windows
 * that each fit.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import {
  gemmGrid,
  type GemmTile,
  gemmTile,
  gemmWgsl,
  subgroupTile,
  tileFits,
  tileName,
} from "./_gemm.ts";
import { sumPartials } from "./_split_k.ts";
import { Uniforms } from "./_uniforms.ts";
import { reluMasked } from "./_program.ts";
import { type Candidate, choose, withScratch } from "./autotune.ts";

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
 * 16 rows × 64 columns, 32 × 32 and 8 × 64 per subgroup of 8.
 */
export const SUBGROUP_TILES: readonly MatmulTile[] = [
  subgroupTile(16, 8),
  subgroupTile(32, 4),
  subgroupTile(8, 8),
];

/** The GPU tiles of the shared core that the autotuner tries: 128×128 and 128×64 of 8×8 and 8×4. */
export const GPU_TILES: readonly MatmulTile[] = [
  gemmTile(128, 128, 8, 8, 8),
  gemmTile(128, 64, 8, 8, 4),
  HARDWARE_TILE,
];

/** Arguments of {@link matmul}. All buffers hold f32, row-major and contiguous. */
export interface MatmulArgs {
  /** Left operand: [batch?, M, K], or [batch?, K, M] if `transA`. */
  a: GpuBuffer;
  /** Right operand: [batch?, K, N], or [batch?, N, K] if `transB` (nn.Linear's weight). */
  b: GpuBuffer;
  /** Result [batch?, M, N]; a different buffer from `a` and `b`. */
  out: GpuBuffer;
  /** Rows of the product. */
  m: number;
  /** Columns of the product. */
  n: number;
  /** Depth of the product (the summed dimension). */
  k: number;
  /** Independent products (default 1); `out` holds them back to back. */
  batch?: number;
  /** Elements of `a` before its first matrix (default 0). */
  offsetA?: number;
  /** Elements of `b` before its first matrix (default 0). */
  offsetB?: number;
  /** Elements between consecutive matrices of `a`; 0 broadcasts one `a` (default m·k). */
  batchStrideA?: number;
  /** Elements between consecutive matrices of `b`; 0 broadcasts one `b` (default k·n). */
  batchStrideB?: number;
  /** `a` is stored as [K, M] and read as its transpose. */
  transA?: boolean;
  /** `b` is stored as [N, K] and read as its transpose: `x·Wᵀ`. */
  transB?: boolean;
  /** Length-N vector added to every row (length M, added to every column, if `biasPerRow`). */
  bias?: GpuBuffer;
  /** The bias holds one value per row (an output channel of a 1×1 convolution over NCHW). */
  biasPerRow?: boolean;
  /** Applies max(0, ·) to the result (after the bias). */
  relu?: boolean;
  /** `out += a·b (+ bias)` instead of `out = …`; ReLU applies to the sum. */
  accumulate?: boolean;
  /**
   * Length-M vector receiving the row sums of `a` (Σ_k a[m, k]), from the product's first
   * column of tiles, which stages every row of `a` anyway; written, or added to with
   * `accumulate`. `xᵀ·dy` with it gives a linear layer's weight and bias gradients in one
   * pass. Unbatched products only.
   */
  rowSums?: GpuBuffer;
  /**
   * A ReLU's output shaped as `out`: the result is multiplied by its mask (kept where
   * `mask > 0`, else 0) as it is stored, last. The input gradient of a linear layer whose
   * input a ReLU made is then the gradient of the ReLU's input, with no pass of its own.
   */
  mask?: GpuBuffer;
  /** Caps the bytes of one binding below the device's limit (tests force window splits). */
  maxBindingBytes?: number;
  /** Overrides the tile choice (benchmarks). */
  tile?: MatmulTile;
  /**
   * Split K into this many ranges whose partial products a second kernel adds in a fixed
   * order (default: 1 on software adapters; on GPUs enough to fill the device when the grid of
   * tiles is small, as for fc8 or a small batch). Ignored when the operands need windows.
   */
  splits?: number;
}

const DIMS = ["batch", "m", "n", "k"] as const;
/** A size, position or stride over the four dimensions of a product. */
type Extents = Record<(typeof DIMS)[number], number>;

/** Where one operand lives inside its binding, in elements. */
interface Layout {
  /** Element offset of the window's first element from the binding's (aligned) start. */
  offset: number;
  /** The element index is `offset + Σ coef[d]·index[d]`. */
  coef: Extents;
  /** Bound as `array<vec4f>`. */
  vec4: boolean;
}

/** Everything one dispatch's shader and uniforms are generated from. */
interface Spec {
  tile: MatmulTile;
  size: Extents;
  transA: boolean;
  transB: boolean;
  a: Layout;
  b: Layout;
  out: Layout;
  /** Offset of the bias in its binding, or null without one. */
  bias: number | null;
  /** The bias is indexed by row, not column. */
  biasPerRow: boolean;
  /** Offset of the row sums in their binding, or null when this window computes none. */
  rowSums: number | null;
  relu: boolean;
  /** The result is multiplied by the ReLU mask of the `mask` binding (laid out as `out`). */
  mask: boolean;
  accumulate: boolean;
  splits: number;
}

/** Workgroups a GPU wants in flight before split-K stops paying (about 2 per multiprocessor). */
const GPU_FILL = 256;

/**
 * Records `out = a·b` (plus the optional bias, ReLU and accumulation) on `device`. Buffers
 * larger than one storage binding are split into windows, several dispatches in all.
 *
 * @example x·Wᵀ + b with ReLU, as in a linear layer
 * ```ts
 * import { Device } from "./device.ts";
 * import { matmul } from "./matmul.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(2 * 3 * 4), w = device.alloc(4 * 3 * 4), y = device.alloc(2 * 4 * 4);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * device.write(w, new Float32Array(12).fill(1));
 * matmul(device, { a: x, b: w, out: y, m: 2, n: 4, k: 3, transB: true, relu: true });
 * console.log(new Float32Array(await device.read(y, 0, 32))); // [6, 6, 6, 6, 15, 15, 15, 15]
 * ```
 */
export function matmul(device: Device, args: MatmulArgs): void {
  const { m, n, k, batch = 1, transA = false, transB = false } = args;
  const sA = args.batchStrideA ?? m * k, sB = args.batchStrideB ?? k * n;
  const what = `matmul [${batch}×${m}×${k}]·[${k}×${n}]`;
  for (const [name, v] of Object.entries({ m, n, k, batch })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${name} must be ≥ 1`);
  }
  const oA = args.offsetA ?? 0, oB = args.offsetB ?? 0;
  const counts = { batchStrideA: sA, batchStrideB: sB, offsetA: oA, offsetB: oB };
  for (const [name, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${what}: ${name} must be ≥ 0`);
  }
  if (args.splits !== undefined && !(Number.isInteger(args.splits) && args.splits >= 1)) {
    throw new RangeError(`${what}: splits must be a positive integer, got ${args.splits}`);
  }
  const need = (buf: GpuBuffer, elements: number, name: string): void => {
    if (buf.capacity < elements * 4) {
      throw new RangeError(
        `${what}: ${name} needs ${elements} f32 (${elements * 4} bytes) but holds ${buf.capacity}`,
      );
    }
  };
  need(args.a, oA + (batch - 1) * sA + m * k, "a");
  need(args.b, oB + (batch - 1) * sB + k * n, "b");
  need(args.out, batch * m * n, "out");
  const perRow = !!args.biasPerRow;
  if (args.bias) need(args.bias, perRow ? m : n, "bias");
  if (args.mask) need(args.mask, batch * m * n, "mask");
  if (args.rowSums) {
    if (batch !== 1) throw new RangeError(`${what}: rowSums needs an unbatched product`);
    need(args.rowSums, m, "rowSums");
  }
  for (const [name, o] of Object.entries({ out: args.out, rowSums: args.rowSums })) {
    if (o && (o.buffer === args.a.buffer || o.buffer === args.b.buffer)) {
      throw new RangeError(`${what}: ${name} must not be the same buffer as a or b`);
    }
  }
  const chosen = args.tile ? { tile: args.tile, splits: args.splits } : choose(
    device,
    "matmul",
    `${batch}x${m}x${n}x${k} t${+transA}${+transB} s${sA},${sB} o${oA % 4},${oB % 4} ` +
      `b${+!!args.bias}${perRow ? "r" : ""} ` +
      `r${+!!args.relu} a${+!!args.accumulate}${args.mask ? " m1" : ""}` +
      (args.rowSums ? " rowsums" : ""),
    matmulCandidates(device, m, n, k, batch, args.splits),
    (v) =>
      withScratch(
        device,
        // Every buffer the timed run binds is scratch: it runs after the caller's step, when
        // the caller's buffers may have been released (and reused as one of these).
        [
          oA + (batch - 1) * sA + m * k,
          oB + (batch - 1) * sB + k * n,
          batch * m * n,
          m + n,
          m,
          batch * m * n,
        ],
        ([a, b, out, bias, rowSums, mask]) =>
          matmul(device, {
            ...args,
            a,
            b,
            out,
            bias: args.bias && bias,
            rowSums: args.rowSums && rowSums,
            mask: args.mask && mask,
            ...v,
          }),
      ),
  ).value;
  const tile = chosen.tile;
  checkTile(device, tile, what);

  const align = device.limits.minStorageBufferOffsetAlignment;
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, args.maxBindingBytes ?? 1e15);
  // Elements one binding may span, leaving room for an unaligned start and the vec4 round-up.
  const budget = Math.floor((limit - align - 16) / 4);
  if (budget < 1) throw new RangeError(`${what}: maxBindingBytes ${limit} is too small`);
  // The operands, then the optional bias (along N), mask (laid out as out: its windows and
  // layouts are out's) and row sums (along M).
  const outCoef: Extents = { batch: m * n, m: n, n: 1, k: 0 };
  const buffers = [args.a, args.b, args.out];
  const coefs: Extents[] = [
    { batch: sA, m: transA ? 1 : k, n: 0, k: transA ? m : 1 },
    { batch: sB, m: 0, n: transB ? k : 1, k: transB ? 1 : n },
    outCoef,
  ];
  const optional = (buffer: GpuBuffer | undefined, coef: Extents): number => {
    if (!buffer) return -1;
    buffers.push(buffer);
    coefs.push(coef);
    return buffers.length - 1;
  };
  const biasAt = optional(args.bias, { batch: 0, m: perRow ? 1 : 0, n: perRow ? 0 : 1, k: 0 });
  const maskAt = optional(args.mask, outCoef);
  const rowSumsAt = optional(args.rowSums, { batch: 0, m: 1, n: 0, k: 0 });
  const full: Extents = { batch, m, n, k };
  const chunk = planWindows(full, coefs, budget, align);
  const whole = DIMS.every((d) => chunk[d] === full[d]);
  const splits = whole ? (chosen.splits ?? defaultSplits(device, tile, full)) : 1;

  const start: Extents = { batch: 0, m: 0, n: 0, k: 0 };
  for (start.batch = 0; start.batch < batch; start.batch += chunk.batch) {
    for (start.m = 0; start.m < m; start.m += chunk.m) {
      for (start.n = 0; start.n < n; start.n += chunk.n) {
        for (start.k = 0; start.k < k; start.k += chunk.k) {
          const size = { ...chunk };
          for (const d of DIMS) size[d] = Math.min(chunk[d], full[d] - start[d]);
          const last = start.k + size.k >= k;
          // Binds each window from the aligned offset at or below its first element.
          const bindings: Binding[] = [];
          const layouts = buffers.map((buffer, i): Layout => {
            const cf = coefs[i];
            const base = i === 0 ? oA : i === 1 ? oB : 0;
            const first = DIMS.reduce((acc, d) => acc + cf[d] * start[d], base);
            const offset = Math.floor((first * 4) / align) * align, off = first - offset / 4;
            const bytes = Math.ceil((off + span(cf, size)) / 4) * 16;
            bindings.push({ buffer, offset, size: Math.min(bytes, buffer.capacity - offset) });
            // vec4 needs every vector to start on a multiple of 4 and to lie wholly inside or
            // outside the window along the contiguous dimension (tiles start on multiples of 4).
            const contig = i === 0 ? (transA ? "m" : "k") : i === 1 ? (transB ? "k" : "n") : "n";
            // The register GEMM reads A as vec4 along K only.
            const vec4 = i < 3 && off % 4 === 0 && size[contig] % 4 === 0 &&
              DIMS.every((d) => d === contig || size[d] === 1 || cf[d] % 4 === 0) &&
              !(i === 0 && tile.lanes && transA);
            return { offset: off, coef: cf, vec4 };
          });
          // Bias and mask apply once, with the last K window; the row sums come from the first
          // N window.
          const withBias = last && biasAt >= 0, withMask = last && maskAt >= 0;
          const withRowSums = start.n === 0 && rowSumsAt >= 0;
          const spec: Spec = {
            tile,
            size,
            transA,
            transB,
            a: layouts[0],
            b: layouts[1],
            out: layouts[2],
            bias: withBias ? layouts[biasAt].offset : null,
            biasPerRow: perRow,
            rowSums: withRowSums ? layouts[rowSumsAt].offset : null,
            relu: last && (args.relu ?? false),
            mask: withMask,
            accumulate: start.k > 0 || (args.accumulate ?? false),
            splits,
          };
          record(device, what, spec, {
            a: bindings[0],
            b: bindings[1],
            out: bindings[2],
            bias: withBias ? bindings[biasAt] : undefined,
            mask: withMask ? bindings[maskAt] : undefined,
            rowSums: withRowSums ? bindings[rowSumsAt] : undefined,
          });
        }
      }
    }
  }
}

/** The bindings of one window. */
interface WindowBindings {
  a: Binding;
  b: Binding;
  out: Binding;
  bias?: Binding;
  mask?: Binding;
  rowSums?: Binding;
}

/** Records one window: the GEMM, or with split-K the partial products and their sum. */
function record(device: Device, what: string, spec: Spec, bind: WindowBindings): void {
  const { size } = spec;
  const grid = gemmGrid(spec.tile, size.m, size.n, size.k, size.batch, spec.splits);
  const flops = 2 * size.batch * size.m * size.n * size.k;
  const variant = `gemm ${tileName(spec.tile)}${grid.splits > 1 ? ` split ${grid.splits}` : ""}` +
    (spec.mask ? " relu-mask" : "") + (spec.rowSums !== null ? " +rowsums" : "");
  if (grid.splits === 1) {
    const { wgsl, uniforms } = matmulWgsl({ ...spec, splits: 1 }, grid);
    const cost = { flops };
    const bindings = [bind.a, bind.b, bind.out, bind.bias, bind.mask, bind.rowSums];
    device.dispatch(
      { name: what, wgsl, uniforms, workgroups: grid.workgroups, variant, cost },
      bindings.filter((b) => b !== undefined),
    );
    return;
  }
  // Partial products go to scratch laid out as [splits][batch][m][n] (then, with row sums, the
  // split's m row sums, from a multiple of 4 on); the sum applies the accumulation, bias and
  // ReLU.
  const n = size.batch * size.m * size.n, stride = partialStride(spec);
  const bytes = grid.splits * stride * 4;
  const scratch = device.alloc(bytes, "matmul partials");
  const partialOut: Layout = {
    offset: 0,
    coef: { batch: size.m * size.n, m: size.n, n: 1, k: 0 },
    vec4: size.n % 4 === 0,
  };
  const partialSpec = {
    ...spec,
    out: partialOut,
    bias: null,
    relu: false,
    mask: false,
    accumulate: false,
    splits: grid.splits,
  };
  const { wgsl, uniforms } = matmulWgsl(partialSpec, grid);
  const partial = { buffer: scratch, size: bytes };
  device.dispatch(
    { name: what, wgsl, uniforms, workgroups: grid.workgroups, variant, cost: { flops } },
    [bind.a, bind.b, partial],
  );
  sumPartials(device, {
    name: what,
    partial,
    dst: bind.out,
    n,
    splits: grid.splits,
    accumulate: spec.accumulate,
    bias: bind.bias &&
      { binding: bind.bias, columns: size.n, rows: spec.biasPerRow ? size.m : undefined },
    relu: spec.relu,
    mask: bind.mask,
    tail: bind.rowSums && { dst: bind.rowSums, n: size.m },
    stride,
  });
  device.release(scratch);
}

/** Values per split in split-K scratch: the product, then the row sums from a multiple of 4. */
function partialStride(spec: Spec): number {
  const { batch, m, n } = spec.size;
  return batch * m * n + (spec.rowSums !== null ? Math.ceil(m / 4) * 4 : 0);
}

/**
 * Split-K on GPUs when the grid of tiles is too small to fill the device and K is deep: each
 * split keeps at least 32 slices of K.
 */
function defaultSplits(device: Device, tile: MatmulTile, s: Extents): number {
  if (device.isSoftware) return 1;
  const tiles = s.batch * Math.ceil(s.m / tile.tileM) * Math.ceil(s.n / tile.tileN);
  const deep = Math.floor(s.k / (32 * tile.tileK));
  return Math.max(1, Math.min(Math.ceil(GPU_FILL / tiles), deep, 64));
}

/** Elements from an operand's first to its last element in a window of `size`. */
function span(coef: Extents, size: Extents): number {
  return 1 + DIMS.reduce((acc, d) => acc + coef[d] * (size[d] - 1), 0);
}

/**
 * The window size along each dimension such that every operand's window spans at most
 * `budget` elements. Each operand cuts its outermost dimension first, so a window stays one
 * contiguous range (rows of Wᵀ, K-rows of a [K, N] b, rows of out) where one exists.
 */
function planWindows(full: Extents, coefs: Extents[], budget: number, align: number): Extents {
  const chunk = { ...full };
  for (const cf of coefs) {
    const order = DIMS.filter((d) => cf[d] > 0).sort((x, y) => cf[y] - cf[x]);
    for (const d of order) {
      if (span(cf, chunk) <= budget) break;
      let lo = 1, hi = chunk[d];
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (span(cf, { ...chunk, [d]: mid }) <= budget) lo = mid;
        else hi = mid - 1;
      }
      // Rounded down so that every operand's windows start aligned (one pipeline serves them
      // all, and vec4 loads stay possible), and to whole 64-wide tiles when large.
      const unit = coefs.reduce((u, c) => (c[d] ? lcm(u, align / gcd(align, 4 * c[d])) : u), 1);
      const round = lo >= 64 ? lcm(64, unit) : unit;
      chunk[d] = lo >= round ? lo - (lo % round) : lo;
    }
  }
  return chunk;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/**
 * The tile {@link matmul} uses by default for an M×N×K product on `device`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { matmulTile } from "./matmul.ts";
 * const device = await Device.acquire();
 * console.log(matmulTile(device, 128, 4096, 9216)); // a register (subgroup) tile on lavapipe
 * ```
 */
export function matmulTile(device: Device, m: number, n: number, k: number): MatmulTile {
  // Software adapters with subgroups: the register GEMM, 3–10× faster than the core's tiles
  // there (bench/RESULTS.md); 8 rows for a small batch, 16 when a 32-row tile would be
  // half empty.
  if (device.isSoftware && device.hasSubgroups) {
    return SUBGROUP_TILES[m <= 8 ? 2 : m < 64 ? 0 : 1];
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
 * then the other tiles of the adapter's kind, and no split-K where the default splits.
 */
export function matmulCandidates(
  device: Device,
  m: number,
  n: number,
  k: number,
  batch = 1,
  splits?: number,
): Candidate<{ tile: MatmulTile; splits?: number }>[] {
  const first = matmulTile(device, m, n, k);
  const tiles = device.isSoftware
    ? [...SUBGROUP_TILES, SMALL_TILE, SKINNY_TILE, MID_TILE, SOFTWARE_TILE]
    : [...GPU_TILES, ...(m <= 8 ? [GPU_SKINNY_TILE] : [])];
  const usable = (t: MatmulTile) => tileFits(t, device.limits) && (!t.lanes || device.hasSubgroups);
  const list = [first, ...tiles.filter((t) => t !== first && usable(t))];
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

function checkTile(device: Device, t: MatmulTile, what: string): void {
  if (!tileFits(t, device.limits) || (t.lanes && !device.hasSubgroups)) {
    throw new RangeError(`${what}: tile ${JSON.stringify(t)} does not fit this device`);
  }
}

/**
 * The WGSL and uniforms of one window: the text depends on the tile, the transposes, which
 * operands are read as vec4, the bias/ReLU/mask/accumulate flags and the row sums; sizes,
 * offsets and strides are uniforms.
 */
function matmulWgsl(
  s: Spec,
  grid: ReturnType<typeof gemmGrid>,
): { wgsl: string; uniforms: Uint32Array } {
  const uf = new Uniforms();
  const { batch, m, n, k } = s.size;
  const sizes = {
    ...uf.all({ m, n, k, batch, tilesM: grid.tilesM, tilesN: grid.tilesN }),
    ...uf.all({ splits: grid.splits, kPerSplit: grid.kPerSplit, workgroups: grid.workgroups }),
  };
  // `offset + Σ coef·index` over the dimensions an operand moves along (coefficient uniforms).
  const at = (name: string, o: Layout, terms: [keyof Extents, string][]): string => {
    const parts = [uf.u32(`${name}.offset`, o.offset)];
    for (const [d, e] of terms) parts.push(`${uf.u32(`${name}.${d}`, o.coef[d])} * (${e})`);
    return parts.join(" + ");
  };
  const read = (name: string, o: Layout, x: keyof Extents, xe: string, ke: string): string => {
    const idx = at(name, o, [["batch", "p"], [x, xe], ["k", ke]]);
    return `${name}[${o.vec4 ? `(${idx}) / 4u` : idx}]`;
  };
  const split = s.splits > 1 ? ` + s * ${uf.u32("splitStride", partialStride(s))}` : "";
  const outAt = (mm: string, nn: string): string =>
    at("out", s.out, [["batch", "p"], ["m", mm], ["n", nn]]) + split;
  // Row sums: their own binding, or (split) after the product in the split's block of scratch.
  const rowSumAt = s.splits > 1
    ? (mm: string) => `${uf.u32("rowSums.partial", batch * m * n)} + ${mm}${split}`
    : (mm: string) => `${uf.u32("rowSums.offset", s.rowSums ?? 0)} + ${mm}`;
  const rowSum = (mm: string, v: string): string => {
    const i = rowSumAt(mm);
    if (s.splits > 1) {
      return s.out.vec4 ? `out[(${i}) / 4u][(${i}) % 4u] = ${v};` : `out[${i}] = ${v};`;
    }
    return s.accumulate ? `rowSums[${i}] = rowSums[${i}] + ${v};` : `rowSums[${i}] = ${v};`;
  };
  const biasAt = (nn: string): string => `bias[${uf.u32("bias.offset", s.bias ?? 0)} + ${nn}]`;
  const biasOf = (mm: string, nn: string): string => biasAt(s.biasPerRow ? mm : nn);
  const finish = (v: string, i: string, bias: string, type: string): string[] => {
    const out = [`var r = ${v};`];
    if (s.accumulate) out.push(`r = r + out[${i}];`);
    if (s.bias !== null) out.push(`r = r + ${bias};`);
    if (s.relu) out.push(`r = max(r, ${type}(0.0));`);
    if (s.mask) out.push(`r = ${reluMasked("r", `mask[${i}]`, type)};`);
    return out;
  };
  const store = (mm: string, nn: string, v: string): string => {
    const i = outAt(mm, nn);
    return [...finish(v, i, biasOf(mm, nn), "f32"), `out[${i}] = r;`].join(" ");
  };
  const store4 = (mm: string, nn: string, v: string): string => {
    const i = `(${outAt(mm, nn)}) / 4u`;
    const bias = s.biasPerRow
      ? `vec4f(${biasAt(mm)})`
      : `vec4f(${[0, 1, 2, 3].map((c) => biasAt(`${nn} + ${c}u`)).join(", ")})`;
    return [...finish(v, i, bias, "vec4f"), `out[${i}] = r;`].join(" ");
  };
  const arrayOf = (vec4: boolean): string => `array<${vec4 ? "vec4f" : "f32"}>`;
  const wgsl = gemmWgsl({
    tile: s.tile,
    a: {
      vec4: s.a.vec4,
      kContig: !s.transA,
      load: (x, kk) => read("a", s.a, "m", x, kk),
    },
    b: {
      vec4: s.b.vec4,
      kContig: s.transB,
      load: (x, kk) => read("b", s.b, "n", x, kk),
    },
    sizes,
    store,
    store4: s.out.vec4 ? store4 : undefined,
    rowSum: s.rowSums !== null ? rowSum : undefined,
    declarations: () => {
      // Bound in this order after a, b and out (see record).
      const extra = [
        ...(s.bias !== null ? ["read> bias: array<f32>"] : []),
        ...(s.mask ? [`read> mask: ${arrayOf(s.out.vec4)}`] : []),
        ...(s.rowSums !== null && s.splits === 1 ? ["read_write> rowSums: array<f32>"] : []),
      ];
      return [
        `@group(0) @binding(0) var<storage, read> a: ${arrayOf(s.a.vec4)};`,
        `@group(0) @binding(1) var<storage, read> b: ${arrayOf(s.b.vec4)};`,
        `@group(0) @binding(2) var<storage, read_write> out: ${arrayOf(s.out.vec4)};`,
        ...extra.map((e, i) => `@group(0) @binding(${3 + i}) var<storage, ${e};`),
        uf.declare(3 + extra.length),
      ].join("\n");
    },
  });
  return { wgsl, uniforms: uf.data() };
}
