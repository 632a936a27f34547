/**
 * Matrix multiply, `out = a·b (+ bias) (ReLU)`, batched and with either operand transposed in
 * place: a tiled kernel (shared-memory K slices, a register block of outputs per invocation,
 * inner loops unrolled in the WGSL text) plus the planner that splits a problem whose buffers
 * exceed one storage binding into windows that each fit.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { flatMainHead } from "./_program.ts";

/** The work of one workgroup and of each invocation in it. */
export interface MatmulTile {
  /** Output rows per workgroup; a multiple of `rowsPerThread`. */
  readonly tileM: number;
  /** Output columns per workgroup; a multiple of `colsPerThread`. */
  readonly tileN: number;
  /** Depth of the K slice staged in shared memory per step; a multiple of 4. */
  readonly tileK: number;
  /** Output rows per invocation (its register block). */
  readonly rowsPerThread: number;
  /** Output columns per invocation; a multiple of 4 (the accumulators are vec4). */
  readonly colsPerThread: number;
}

function tile(tileM: number, tileN: number, tileK: number, rows: number, cols: number): MatmulTile {
  return { tileM, tileN, tileK, rowsPerThread: rows, colsPerThread: cols };
}

/**
 * Tile for software adapters (lavapipe). Its shared-memory and storage loads run one lane at a
 * time, about 30 cycles per lane and component, so speed follows the FMAs per loaded value,
 * rm·rn/(rm+rn): a 16×16 register block (8 per load) ran 3.5× faster than 4×4 (2 per load).
 */
export const SOFTWARE_TILE: MatmulTile = tile(128, 128, 4, 16, 16);

/**
 * Tile for GPUs: 256 invocations of 4×4. On an H100 (Vulkan) it ran 16 TFLOP/s at 4096³, 7 %
 * behind 128×128 tiles of 8×8, but 1.6× faster on AlexNet's fc shapes (M = 128), whose grids
 * of larger tiles leave multiprocessors idle.
 */
export const HARDWARE_TILE: MatmulTile = tile(64, 64, 16, 4, 4);

/**
 * Tile for small products on software adapters, where compiling the pipeline (0.5 s against
 * 3–4 s for {@link SOFTWARE_TILE}: LLVM spills the 256 accumulators) outweighs running it.
 */
export const SMALL_TILE: MatmulTile = tile(32, 32, 4, 4, 4);

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
  /** Elements between consecutive matrices of `a`; 0 broadcasts one `a` (default m·k). */
  batchStrideA?: number;
  /** Elements between consecutive matrices of `b`; 0 broadcasts one `b` (default k·n). */
  batchStrideB?: number;
  /** `a` is stored as [K, M] and read as its transpose. */
  transA?: boolean;
  /** `b` is stored as [N, K] and read as its transpose: `x·Wᵀ`. */
  transB?: boolean;
  /** Length-N vector added to every row. */
  bias?: GpuBuffer;
  /** Applies max(0, ·) to the result (after the bias). */
  relu?: boolean;
  /** `out += a·b (+ bias)` instead of `out = …`; ReLU applies to the sum. */
  accumulate?: boolean;
  /** Caps the bytes of one binding below the device's limit (tests force window splits). */
  maxBindingBytes?: number;
  /** Overrides the tile choice (benchmarks). */
  tile?: MatmulTile;
}

const DIMS = ["batch", "m", "n", "k"] as const;
/** A size, position or stride over the four dimensions of a product. */
type Extents = Record<(typeof DIMS)[number], number>;

/** Where one operand lives inside its binding, in elements, as baked into the shader. */
interface Layout {
  /** Element offset of the window's first element from the binding's (aligned) start. */
  offset: number;
  /** The element index is `offset + Σ coef[d]·index[d]`. */
  coef: Extents;
  /** Bound as `array<vec4f>`. */
  vec4: boolean;
}

/** Everything one dispatch's shader is generated from. */
interface Spec {
  tile: MatmulTile;
  size: Extents;
  transA: boolean;
  transB: boolean;
  a: Layout;
  b: Layout;
  out: Layout;
  bias: number | null;
  relu: boolean;
  accumulate: boolean;
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
  const what = `matmul [${batch}×${m}×${k}]·[${k}×${n}]`;
  for (const [name, v] of Object.entries({ m, n, k, batch })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${name} must be ≥ 1`);
  }
  for (const [name, v] of Object.entries({ batchStrideA: sA, batchStrideB: sB })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${what}: ${name} must be ≥ 0`);
  }
  const need = (buf: GpuBuffer, elements: number, name: string): void => {
    if (buf.capacity < elements * 4) {
      throw new RangeError(
        `${what}: ${name} needs ${elements} f32 (${elements * 4} bytes) but holds ${buf.capacity}`,
      );
    }
  };
  need(args.a, (batch - 1) * sA + m * k, "a");
  need(args.b, (batch - 1) * sB + k * n, "b");
  need(args.out, batch * m * n, "out");
  if (args.bias) need(args.bias, n, "bias");
  if (args.out.buffer === args.a.buffer || args.out.buffer === args.b.buffer) {
    throw new RangeError(`${what}: out must not be the same buffer as a or b`);
  }
  const tile = args.tile ?? matmulTile(device, m, n, k);
  checkTile(device, tile, what);

  const align = device.limits.minStorageBufferOffsetAlignment;
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, args.maxBindingBytes ?? 1e15);
  // Elements one binding may span, leaving room for an unaligned start and the vec4 round-up.
  const budget = Math.floor((limit - align - 16) / 4);
  if (budget < 1) throw new RangeError(`${what}: maxBindingBytes ${limit} is too small`);
  const buffers = [args.a, args.b, args.out, ...(args.bias ? [args.bias] : [])];
  const coefs: Extents[] = [
    { batch: sA, m: transA ? 1 : k, n: 0, k: transA ? m : 1 },
    { batch: sB, m: 0, n: transB ? k : 1, k: transB ? 1 : n },
    { batch: m * n, m: n, n: 1, k: 0 },
    { batch: 0, m: 0, n: 1, k: 0 },
  ].slice(0, buffers.length);
  const full: Extents = { batch, m, n, k };
  const chunk = planWindows(full, coefs, budget, align);

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
            const first = DIMS.reduce((acc, d) => acc + cf[d] * start[d], 0);
            const offset = Math.floor((first * 4) / align) * align, off = first - offset / 4;
            const bytes = Math.ceil((off + span(cf, size)) / 4) * 16;
            bindings.push({ buffer, offset, size: Math.min(bytes, buffer.capacity - offset) });
            // vec4 needs every vector to start on a multiple of 4 and to lie wholly inside or
            // outside the window along the contiguous dimension (tiles start on multiples of 4).
            const contig = i === 0 ? (transA ? "m" : "k") : i === 1 ? (transB ? "k" : "n") : "n";
            const vec4 = i < 3 && off % 4 === 0 && size[contig] % 4 === 0 &&
              (contig !== "m" || tile.tileM % 4 === 0) &&
              DIMS.every((d) => d === contig || size[d] === 1 || cf[d] % 4 === 0);
            return { offset: off, coef: cf, vec4 };
          });
          if (!last && args.bias) bindings.pop();
          const spec: Spec = {
            tile,
            size,
            transA,
            transB,
            a: layouts[0],
            b: layouts[1],
            out: layouts[2],
            bias: args.bias && last ? layouts[3].offset : null,
            relu: last && (args.relu ?? false),
            accumulate: start.k > 0 || (args.accumulate ?? false),
          };
          const count = size.batch * Math.ceil(size.m / tile.tileM) *
            Math.ceil(size.n / tile.tileN);
          device.dispatch({ name: what, wgsl: matmulWgsl(spec), workgroups: count }, bindings);
        }
      }
    }
  }
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
 * console.log(matmulTile(device, 128, 4096, 9216)); // SOFTWARE_TILE on lavapipe
 * ```
 */
export function matmulTile(device: Device, m: number, n: number, k: number): MatmulTile {
  if (device.isSoftware && m * n * k < 2 ** 24) return SMALL_TILE;
  if (m <= 8) {
    // Few rows (a linear layer on a batch of 1–8): one row block, wide in N; each loaded value
    // of b feeds only m FMAs, so more columns per invocation barely help.
    const rows = m <= 1 ? 1 : m <= 2 ? 2 : m <= 4 ? 4 : 8;
    // On a GPU, one row per invocation and deep K slices keep enough workgroups in flight.
    return device.isSoftware ? tile(rows, 64, 4, rows, 4) : tile(rows, 64, 32, 1, 4);
  }
  return device.isSoftware ? SOFTWARE_TILE : HARDWARE_TILE;
}

function checkTile(device: Device, t: MatmulTile, what: string): void {
  const wy = t.tileM / t.rowsPerThread, wx = t.tileN / t.colsPerThread, threads = wx * wy;
  const shared = (t.tileM + t.tileN) * t.tileK * 4;
  if (
    !(Number.isInteger(wx) && Number.isInteger(wy) && threads >= 1) ||
    t.colsPerThread % 4 !== 0 || t.tileK % 4 !== 0 || t.tileK < 4 ||
    threads > device.limits.maxComputeInvocationsPerWorkgroup ||
    shared > device.limits.maxComputeWorkgroupStorageSize
  ) {
    throw new RangeError(`${what}: tile ${JSON.stringify(t)} does not fit this device`);
  }
}

/** `c0 + Σ coef·expr` as WGSL u32, skipping zero terms. */
function lin(c0: number, terms: [number, string][]): string {
  const parts = terms.filter(([c]) => c !== 0).map(([c, e]) => (c === 1 ? e : `${c}u * ${e}`));
  if (c0 !== 0 || parts.length === 0) parts.unshift(`${c0}u`);
  return parts.join(" + ");
}

/** The WGSL of one dispatch: every size, offset and flag is a literal in the text. */
function matmulWgsl(s: Spec): string {
  const { tileM: TM, tileN: TN, tileK: TK, rowsPerThread: RM, colsPerThread: RN } = s.tile;
  const { batch, m, n, k } = s.size;
  const wx = TN / RN, threads = wx * (TM / RM), tn4 = TN / 4, rn4 = RN / 4;
  const tilesN = Math.ceil(n / TN), tilesM = Math.ceil(m / TM);
  const L: string[] = [];
  const index = (o: Layout, terms: [keyof Extents, string][]): string =>
    lin(o.offset, terms.map(([d, e]) => [o.coef[d], e]));

  // A is staged as As[k][m], B as Bs[k][n], so that an invocation's rows and columns at one k
  // are adjacent: vec4 reads where the register block allows (always for B).
  const aVec = RM % 4 === 0, tm4 = TM / 4, rm4 = RM / 4;
  const shared = (isA: boolean, k: string, x: string): string =>
    isA && !aVec
      ? `As[(${k}) * ${TM}u + ${x}]`
      : `${isA ? "As" : "Bs"}[(${k}) * ${isA ? tm4 : tn4}u + (${x}) / 4u][(${x}) % 4u]`;
  const stage = (isA: boolean): void => {
    const op = isA ? s.a : s.b, arr = isA ? "a" : "b", xd = isA ? "m" : "n";
    const xExt = isA ? TM : TN, xLim = isA ? m : n;
    const kContig = isA ? !s.transA : s.transB;
    const w = op.vec4 ? 4 : 1;
    const cExt = (kContig ? TK : xExt) / w, units = cExt * (kContig ? xExt : TK);
    const conds = [
      ...(xLim % xExt !== 0 ? [`gx < ${xLim}u`] : []),
      ...(k % TK !== 0 ? [`gk < ${k}u`] : []),
    ];
    const idx = index(op, [["batch", "p"], [xd, "gx"], ["k", "gk"]]);
    const load = `${arr}[${w === 4 ? `(${idx}) / 4u` : idx}]`;
    const [xi, ki] = kContig ? ["oi", "ci"] : ["ci", "oi"];
    // Each invocation loads `units / threads` vectors (or scalars) of the slice.
    for (let i = 0; i < Math.ceil(units / threads); i++) {
      L.push(`  {`, `  let u = lid + ${i * threads}u;`);
      if (units % threads !== 0) L.push(`  if (u < ${units}u) {`);
      L.push(`  let ci = (u % ${cExt}u) * ${w}u;`, `  let oi = u / ${cExt}u;`);
      L.push(`  let gx = ${xd}0 + ${xi};`, `  let gk = k0 + ${ki};`);
      L.push(`  var v = ${w === 4 ? "vec4f(0.0)" : "0.0"};`);
      L.push(conds.length ? `  if (${conds.join(" && ")}) { v = ${load}; }` : `  v = ${load};`);
      if (w === 4 && !kContig && (aVec || !isA)) {
        L.push(`  ${isA ? "As" : "Bs"}[${ki} * ${isA ? tm4 : tn4}u + ${xi} / 4u] = v;`);
      } else {
        for (let c = 0; c < w; c++) {
          const [xe, ke] = kContig ? [xi, `${ki} + ${c}u`] : [`${xi} + ${c}u`, ki];
          L.push(`  ${shared(isA, ke, xe)} = ${w === 4 ? `v[${c}]` : "v"};`);
        }
      }
      L.push(units % threads !== 0 ? `  }}` : `  }`);
    }
  };

  const arrayOf = (vec4: boolean): string => `array<${vec4 ? "vec4f" : "f32"}>`;
  L.push(
    `@group(0) @binding(0) var<storage, read> a: ${arrayOf(s.a.vec4)};`,
    `@group(0) @binding(1) var<storage, read> b: ${arrayOf(s.b.vec4)};`,
    `@group(0) @binding(2) var<storage, read_write> out: ${arrayOf(s.out.vec4)};`,
    ...(s.bias !== null ? [`@group(0) @binding(3) var<storage, read> bias: array<f32>;`] : []),
    `var<workgroup> As: array<${aVec ? "vec4f" : "f32"}, ${aVec ? TK * tm4 : TK * TM}>;`,
    `var<workgroup> Bs: array<vec4f, ${TK * tn4}>;`,
    // Per workgroup, so the early return keeps the barriers below in uniform control flow.
    flatMainHead(threads, batch * tilesM * tilesN, { index: "flat", perWorkgroup: true }),
    `  let n0 = (flat % ${tilesN}u) * ${TN}u;`,
    `  let m0 = ((flat / ${tilesN}u) % ${tilesM}u) * ${TM}u;`,
    `  let p = flat / ${tilesN * tilesM}u;`,
    `  let tr = (lid / ${wx}u) * ${RM}u;`,
    `  let tc = (lid % ${wx}u) * ${rn4}u;`,
  );
  for (let i = 0; i < RM; i++) {
    for (let j = 0; j < rn4; j++) L.push(`  var c${i}_${j} = vec4f(0.0);`);
  }
  L.push(`  for (var k0 = 0u; k0 < ${k}u; k0 = k0 + ${TK}u) {`);
  stage(true);
  stage(false);
  L.push(`  workgroupBarrier();`);
  // The unrolled product of the staged slices: RM scalars of A times RN/4 vectors of B per k.
  for (let kk = 0; kk < TK; kk++) {
    for (let j = 0; j < rn4; j++) L.push(`  let b${kk}_${j} = Bs[tc + ${kk * tn4 + j}u];`);
    for (let i = 0; aVec && i < rm4; i++) {
      L.push(`  let a${kk}v${i} = As[tr / 4u + ${kk * tm4 + i}u];`);
    }
    for (let i = 0; i < RM; i++) {
      const ai = aVec ? `a${kk}v${i >> 2}[${i & 3}]` : `As[tr + ${kk * TM + i}u]`;
      L.push(`  let a${kk}_${i} = vec4f(${ai});`);
      for (let j = 0; j < rn4; j++) {
        L.push(`  c${i}_${j} = fma(a${kk}_${i}, b${kk}_${j}, c${i}_${j});`);
      }
    }
  }
  L.push(`  workgroupBarrier();`, `  }`);

  // Epilogue: accumulate, bias and ReLU, with bounds checks only where the edges are ragged.
  const at = index(s.out, [["batch", "p"], ["m", "gm"], ["n", "gn"]]);
  const biasAt = (c: number): string => `bias[${lin(s.bias ?? 0, [[1, "gn"]])} + ${c}u]`;
  const raggedN = n % TN !== 0;
  for (let i = 0; i < RM; i++) {
    L.push(`  {`, `  let gm = m0 + tr + ${i}u;`);
    if (m % TM !== 0) L.push(`  if (gm < ${m}u) {`);
    for (let j = 0; j < rn4; j++) {
      L.push(`  {`, `  let gn = n0 + tc * 4u + ${j * 4}u;`, `  var v = c${i}_${j};`);
      if (s.out.vec4) {
        if (raggedN) L.push(`  if (gn < ${n}u) {`);
        if (s.accumulate) L.push(`  v = v + out[(${at}) / 4u];`);
        if (s.bias !== null) L.push(`  v = v + vec4f(${[0, 1, 2, 3].map(biasAt).join(", ")});`);
        if (s.relu) L.push(`  v = max(v, vec4f(0.0));`);
        L.push(`  out[(${at}) / 4u] = v;`, raggedN ? `  }}` : `  }`);
        continue;
      }
      for (let c = 0; c < 4; c++) {
        L.push(raggedN ? `  if (gn + ${c}u < ${n}u) {` : `  {`, `  var e = v[${c}];`);
        if (s.accumulate) L.push(`  e = e + out[${at} + ${c}u];`);
        if (s.bias !== null) L.push(`  e = e + ${biasAt(c)};`);
        if (s.relu) L.push(`  e = max(e, 0.0);`);
        L.push(`  out[${at} + ${c}u] = e;`, `  }`);
      }
      L.push(`  }`);
    }
    L.push(m % TM !== 0 ? `  }}` : `  }`);
  }
  L.push(`}`);
  return L.join("\n") + "\n";
}
