/**
 * Matrix multiply, `out = a·b (+ bias) (ReLU)`, batched (or summed over the batch, as one
 * deeper product) and with either operand transposed in place, on the shared GEMM core
 * (`_gemm.ts`): workgroup-memory K slices, double-buffered, a register block of outputs per
 * invocation, split-K for skinny products; on software adapters with subgroups, the core's
 * register GEMM (operands shared between lanes by broadcast, no workgroup memory). The row sums
 * of `a` (a linear layer's or a 1×1 convolution's bias gradient, beside its weight gradient)
 * come out of the same product on request. Sizes, offsets and strides are uniforms, so one pipeline serves every shape of a tile
 * and layout. The planner splits a problem whose buffers exceed one storage binding into windows
 * that each fit.
 *
 * This file holds the arguments, their checks and the windows; the tile choice lives in
 * `_matmul_tiles.ts` (re-exported here) and the WGSL in `_matmul_wgsl.ts`.
 *
 * @module
 */
import type { Binding, Device, GpuBuffer } from "./device.ts";
import { gemmGrid, tileName } from "./_gemm.ts";
import { memoised } from "./_memo.ts";
import { sumPartials } from "./_split_k.ts";
import { choose, withScratch } from "./autotune.ts";
import { checkTile, defaultSplits, matmulCandidates, type MatmulTile } from "./_matmul_tiles.ts";
import {
  DIMS,
  type Extents,
  gemmExtents,
  type Layout,
  type MatmulSpec,
  matmulWgsl,
  matrixDepth,
  MAX_SUMMED_BATCH,
  partialStride,
} from "./_matmul_wgsl.ts";

export {
  GPU_SKINNY_TILE,
  GPU_TILES,
  HARDWARE_TILE,
  matmulCandidates,
  type MatmulTile,
  matmulTile,
  MID_TILE,
  SKINNY_TILE,
  SMALL_TILE,
  SOFTWARE_TILE,
  SUBGROUP_TILES,
} from "./_matmul_tiles.ts";

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
   * Sums the products over the batch instead of keeping them apart: `out = Σ_p a[p]·b[p]`, one
   * [M, N] result. It runs as ONE product of depth batch·K whose operands map its depth index
   * k' to (p, k) = (k' div K, k' mod K) by index arithmetic: a 1×1 convolution's weight
   * gradient, Σ over samples of dy[p]·x[p]ᵀ, with no per-sample scratch, split-K as any deep
   * product, and the row sums (the bias gradient) summed over the batch as well.
   */
  sumBatch?: boolean;
  /**
   * Length-M vector receiving the row sums of `a` (Σ_k a[m, k], and Σ_p with `sumBatch`), from
   * the product's first column of tiles, which stages every row of `a` anyway; written, or
   * added to with `accumulate`. `xᵀ·dy` with it gives a linear layer's weight and bias
   * gradients in one pass. Unbatched products (or `sumBatch`) only.
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
  const sumBatch = args.sumBatch ?? false;
  const what = `matmul ${sumBatch ? "Σ" : ""}[${batch}×${m}×${k}]·[${k}×${n}]`;
  // Matrices in `out` (and `mask`): one when the batch is summed.
  const results = sumBatch ? 1 : batch;
  for (const [name, v] of Object.entries({ m, n, k, batch })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${name} must be ≥ 1`);
  }
  const oA = args.offsetA ?? 0, oB = args.offsetB ?? 0;
  const counts = { batchStrideA: sA, batchStrideB: sB, offsetA: oA, offsetB: oB };
  for (const [name, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${what}: ${name} must be ≥ 0`);
  }
  // The depth index's split into (matrix, depth) is exact below this many matrices (splitDepth).
  if (sumBatch && batch > MAX_SUMMED_BATCH) {
    throw new RangeError(`${what}: sumBatch sums at most ${MAX_SUMMED_BATCH} matrices`);
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
  need(args.out, results * m * n, "out");
  const perRow = !!args.biasPerRow;
  if (args.bias) need(args.bias, perRow ? m : n, "bias");
  if (args.mask) need(args.mask, results * m * n, "mask");
  if (args.rowSums) {
    if (results !== 1) {
      throw new RangeError(`${what}: rowSums needs an unbatched product (or sumBatch)`);
    }
    need(args.rowSums, m, "rowSums");
  }
  for (const [name, o] of Object.entries({ out: args.out, rowSums: args.rowSums })) {
    if (o && (o.buffer === args.a.buffer || o.buffer === args.b.buffer)) {
      throw new RangeError(`${what}: ${name} must not be the same buffer as a or b`);
    }
  }
  const full: Extents = { batch, m, n, k };
  // The product the GEMM runs: with the batch summed, one product of depth batch·K.
  const gemmFull = gemmExtents(full, sumBatch);
  const coefA: Extents = { batch: sA, m: transA ? 1 : k, n: 0, k: transA ? m : 1 };
  const coefB: Extents = { batch: sB, m: 0, n: transB ? k : 1, k: transB ? 1 : n };
  // Whether B reads as vec4s, for the default tile (windows keep the alignment where they can).
  const bVec4 = readsAsVec4(oB % 4, full, coefB, transB ? "k" : "n");
  const chosen = args.tile ? { tile: args.tile, splits: args.splits } : choose(
    device,
    "matmul",
    `${batch}x${m}x${n}x${k} t${+transA}${+transB} s${sA},${sB} o${oA % 4},${oB % 4} ` +
      `b${+!!args.bias}${perRow ? "r" : ""} ` +
      `r${+!!args.relu} a${+!!args.accumulate}${args.mask ? " m1" : ""}` +
      (args.rowSums ? " rowsums" : "") + (sumBatch ? " sumbatch" : "") +
      // Forced split-K (without a tile) sets every candidate's: a shape of its own.
      (args.splits !== undefined ? ` k${args.splits}` : ""),
    () =>
      matmulCandidates(
        device,
        gemmFull.m,
        gemmFull.n,
        gemmFull.k,
        gemmFull.batch,
        args.splits,
        bVec4,
      ),
    (v) =>
      withScratch(
        device,
        // Every buffer the timed run binds is scratch: it runs after the caller's step, when
        // the caller's buffers may have been released (and reused as one of these).
        [
          oA + (batch - 1) * sA + m * k,
          oB + (batch - 1) * sB + k * n,
          results * m * n,
          m + n,
          m,
          results * m * n,
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
  const outCoef: Extents = { batch: sumBatch ? 0 : m * n, m: n, n: 1, k: 0 };
  const buffers = [args.a, args.b, args.out];
  const coefs: Extents[] = [coefA, coefB, outCoef];
  const optional = (buffer: GpuBuffer | undefined, coef: Extents): number => {
    if (!buffer) return -1;
    buffers.push(buffer);
    coefs.push(coef);
    return buffers.length - 1;
  };
  const biasAt = optional(args.bias, { batch: 0, m: perRow ? 1 : 0, n: perRow ? 0 : 1, k: 0 });
  const maskAt = optional(args.mask, outCoef);
  const rowSumsAt = optional(args.rowSums, { batch: 0, m: 1, n: 0, k: 0 });
  const chunk = planWindows(full, coefs, budget, align);
  const whole = DIMS.every((d) => chunk[d] === full[d]);
  const splits = whole ? (chosen.splits ?? defaultSplits(device, tile, gemmFull)) : 1;

  const start: Extents = { batch: 0, m: 0, n: 0, k: 0 };
  for (start.batch = 0; start.batch < batch; start.batch += chunk.batch) {
    for (start.m = 0; start.m < m; start.m += chunk.m) {
      for (start.n = 0; start.n < n; start.n += chunk.n) {
        for (start.k = 0; start.k < k; start.k += chunk.k) {
          const size = { ...chunk };
          for (const d of DIMS) size[d] = Math.min(chunk[d], full[d] - start[d]);
          // Windows along a summed dimension (K, and the batch with sumBatch) add up in order.
          const last = start.k + size.k >= k && (!sumBatch || start.batch + size.batch >= batch);
          const summed = start.k > 0 || (sumBatch && start.batch > 0);
          // Binds each window from the aligned offset at or below its first element.
          const bindings: Binding[] = [];
          const layouts = buffers.map((buffer, i): Layout => {
            const cf = coefs[i];
            const base = i === 0 ? oA : i === 1 ? oB : 0;
            const first = DIMS.reduce((acc, d) => acc + cf[d] * start[d], base);
            const offset = Math.floor((first * 4) / align) * align, off = first - offset / 4;
            const bytes = Math.ceil((off + span(cf, size)) / 4) * 16;
            bindings.push({ buffer, offset, size: Math.min(bytes, buffer.capacity - offset) });
            const contig = i === 0 ? (transA ? "m" : "k") : i === 1 ? (transB ? "k" : "n") : "n";
            const vec4 = i < 3 && readsAsVec4(off, size, cf, contig);
            return { offset: off, coef: cf, vec4 };
          });
          // Bias and mask apply once, with the last K window; the row sums come from the first
          // N window.
          const withBias = last && biasAt >= 0, withMask = last && maskAt >= 0;
          const withRowSums = start.n === 0 && rowSumsAt >= 0;
          const spec: MatmulSpec = {
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
            accumulate: summed || (args.accumulate ?? false),
            sumBatch,
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

/** A window's WGSL and uniforms, generated once per spec and grid (a step repeats its shapes). */
const windowKernel = memoised(matmulWgsl);

/** Records one window: the GEMM, or with split-K the partial products and their sum. */
function record(device: Device, what: string, spec: MatmulSpec, bind: WindowBindings): void {
  const { size } = spec;
  const gemm = gemmExtents(size, spec.sumBatch, matrixDepth(spec));
  const grid = gemmGrid(spec.tile, gemm.m, gemm.n, gemm.k, gemm.batch, spec.splits);
  const flops = 2 * size.batch * size.m * size.n * size.k;
  const variant = `gemm ${tileName(spec.tile)}${grid.splits > 1 ? ` split ${grid.splits}` : ""}` +
    (spec.sumBatch ? " batch-sum" : "") + (spec.mask ? " relu-mask" : "") +
    (spec.rowSums !== null ? " +rowsums" : "");
  if (grid.splits === 1) {
    const { wgsl, uniforms } = windowKernel({ ...spec, splits: 1 }, grid);
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
  const n = gemm.batch * size.m * size.n, stride = partialStride(spec);
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
  const { wgsl, uniforms } = windowKernel(partialSpec, grid);
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

/**
 * Whether an operand's window of `size`, laid out by `coef` from `offset` elements past an
 * aligned binding, reads as vec4s along `contig`: every vector must start on a multiple of 4
 * and lie wholly inside or outside the window along that dimension (tiles start on multiples
 * of 4).
 */
function readsAsVec4(
  offset: number,
  size: Extents,
  coef: Extents,
  contig: keyof Extents,
): boolean {
  return offset % 4 === 0 && size[contig] % 4 === 0 &&
    DIMS.every((d) => d === contig || size[d] === 1 || coef[d] % 4 === 0);
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
