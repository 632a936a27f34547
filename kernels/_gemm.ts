/**
 * The one GEMM core that matmul and the implicit-GEMM convolutions share: a workgroup computes a
 * `tileM × tileN` block of `C[p] = A[p]·B[p]` (p a batch or group index) over its share of K
 * (split-K), staging K slices of both operands in workgroup memory, double-buffered, while the
 * next slice is fetched into registers; each invocation owns a `rowsPerThread × colsPerThread`
 * register block, interleaved across the workgroup so that neighbouring invocations read
 * neighbouring vec4s of workgroup memory. The operands come through loaders (WGSL snippets):
 * strided reads for matmul, gathers through offset tables for convolutions, so no im2col
 * buffer exists. Every size is a uniform: the WGSL depends on the tile and the loaders only.
 *
 * The tiles themselves are defined in `_gemm_tile.ts` and re-exported here.
 *
 * @module
 */

import type { Uniforms } from "./_uniforms.ts";
import type { GemmTile } from "./_gemm_tile.ts";

export {
  type GemmTile,
  gemmTile,
  subgroupTile,
  tileFits,
  tileName,
  tileRunsOn,
  tileSharedBytes,
  tileThreads,
} from "./_gemm_tile.ts";

/**
 * How the core reads one operand. A load unit is one element (or four consecutive ones along
 * the operand's contiguous dimension) at row-or-column `x` (m for A, n for B) and depth `k`.
 * A unit's `x` is the same in every K slice, so `prep` (a `vec4u` computed from `x` and the
 * batch index `p`) is hoisted out of the K loop: the gathers put their divisions there.
 */
export interface GemmOperand {
  /** Loads 4 consecutive elements (a `vec4f`) along the contiguous dimension. */
  vec4: boolean;
  /** The contiguous dimension is k (else x). */
  kContig: boolean;
  /** WGSL `vec4u` expression of `x` (and `p`), computed once per unit; omitted if unneeded. */
  prep?: (x: string) => string;
  /**
   * WGSL expression of the value (f32, or vec4f when `vec4`) at `x`, `k`, given the unit's
   * `prep` value. Called only in bounds: x < extent, k < K. The register GEMM also passes `kk`,
   * the depth's offset in its step of 4 (a constant), where the value is for one depth.
   */
  load: (x: string, k: string, prep: string, kk?: number) => string;
  /**
   * Register GEMM only (subgroups of at least 4 lanes): WGSL statements run once per step of 4
   * along K (`k0` its first depth, `lane` the subgroup lane), before the loads, defining values
   * the step's loads share (a gather's table entries: lane kk loads depth k0 + kk's and a
   * broadcast serves every lane, rather than every lane loading each). A and B's statements
   * are emitted once when equal.
   */
  step?: (k0: string) => string;
  /**
   * Register GEMM only, for an operand whose contiguous rows do not start on multiples of 4 (so
   * `vec4` is false: a 1×1 convolution's 27² pixels), bound as vec4s all the same: `index` is
   * the WGSL u32 element index of (x, k) given the unit's `prep`, `quad(i)` the vec4f of
   * elements 4i … 4i + 3. On a CPU every load is a loop over the SIMD lanes, and a vec4 costs
   * about half of four scalars, so the aligned vec4s covering what a lane needs are loaded and
   * shifted into place in registers (`shiftQuads`) rather than every element on its own. Along
   * K (`kContig`): a row keeps the aligned vec4 it loaded last, one load a row and step of 4
   * depths. Along N (B only): a lane owns consecutive vec4s of columns and loads, per depth,
   * the aligned vec4s covering them, one more than its vec4s of columns (so it pays from 2).
   */
  quads?: { index: (x: string, k: string, prep: string) => string; quad: (i: string) => string };
}

/** Everything a GEMM dispatch's WGSL is generated from. */
export interface GemmSpec {
  tile: GemmTile;
  a: GemmOperand;
  b: GemmOperand;
  /** WGSL uniform expressions of the sizes (see `_uniforms.ts`). */
  sizes: {
    m: string;
    n: string;
    k: string;
    /** Independent products (batch or groups): the grid's p. */
    batch: string;
    /** K ranges of split-K: the grid's s. */
    splits: string;
    /** Depth of one split's K range, a multiple of tileK. */
    kPerSplit: string;
    /** Workgroups in all: tilesM · tilesN · batch · splits. */
    workgroups: string;
    tilesM: string;
    tilesN: string;
  };
  /**
   * Bindings, the uniform block and helper functions; called after the loaders and stores
   * have registered their uniforms.
   */
  declarations: () => string;
  /** WGSL statement storing f32 `v` at row `m`, column `n` (also sees `p` and `s`). */
  store: (m: string, n: string, v: string) => string;
  /**
   * WGSL statement storing vec4f `v` at row `m`, columns `n`..`n+3`; used when the caller
   * guarantees that N is a multiple of 4 and the row is contiguous and aligned.
   */
  store4?: (m: string, n: string, v: string) => string;
  /**
   * WGSL statements storing vec4f `v` at row `m`, columns `n`..`n+3` where rows are not aligned
   * to 4, each column only while below `limit` (N; column `n` is known to be): one element
   * index for the four, where `store` would compute it per column.
   */
  storeColumns?: (m: string, n: string, v: string, limit: string) => string;
  /**
   * Register GEMM only: a depth mapping other than plain 0 … K − 1, shared by both operands.
   * `live(k)`: WGSL bool, whether depth k (below kEnd) holds data (a summed batch whose matrices
   * are padded to a multiple of 4 deep: false in the padding); `restart(k0)`: WGSL bool, whether
   * the step from depth k0 (a multiple of 4) starts a new run of contiguous rows (the next
   * matrix of a summed batch), where operands read with `quads` along K reload.
   */
  depth?: { live?: (k: string) => string; restart: (k0: string) => string };
  /**
   * WGSL statements run once per stored row `m`, before its stores and in their scope: values
   * every column's store of the row shares (a bias per row, loaded once rather than per column).
   */
  rowStart?: (m: string) => string;
  /**
   * WGSL statement storing f32 `v`, the sum of row `m` of A over this workgroup's K range
   * (also sees `p` and `s`). When given, the workgroups of the first column tile add up the A
   * slices they stage anyway: a weight gradient's A is dY, whose row sums are the bias
   * gradient, so it costs no pass of its own.
   */
  rowSum?: (m: string, v: string) => string;
}

/** The grid a {@link GemmSpec} needs, in workgroups, and its parts (for the uniforms). */
export function gemmGrid(
  tile: GemmTile,
  m: number,
  n: number,
  k: number,
  batch: number,
  splits: number,
): { tilesM: number; tilesN: number; kPerSplit: number; splits: number; workgroups: number } {
  const tilesM = Math.ceil(m / tile.tileM), tilesN = Math.ceil(n / tile.tileN);
  const kPerSplit = Math.ceil(Math.ceil(k / splits) / tile.tileK) * tile.tileK;
  const used = Math.ceil(k / kPerSplit);
  return { tilesM, tilesN, kPerSplit, splits: used, workgroups: tilesM * tilesN * batch * used };
}

/** The sizes of a {@link GemmSpec} registered as uniforms, for a product on `grid`. */
export function gemmSizeUniforms(
  uf: Uniforms,
  grid: ReturnType<typeof gemmGrid>,
  m: number,
  n: number,
  k: number,
  batch: number,
) {
  return {
    ...uf.all({ m, n, k, batch, tilesM: grid.tilesM, tilesN: grid.tilesN }),
    ...uf.all({ splits: grid.splits, kPerSplit: grid.kPerSplit, workgroups: grid.workgroups }),
  };
}

/**
 * The entry point's head both generators share: the flat workgroup index (an early return past
 * the grid, per workgroup, so barriers stay in uniform control flow), the tile's corner m0, n0,
 * the batch index p, the split s and its K range [kBegin, kEnd). `index` completes the third
 * builtin parameter (`builtin name) variable`).
 */
function gridHead(
  S: GemmSpec["sizes"],
  tileM: number,
  tileN: number,
  workgroupSize: number,
  index: string,
): string[] {
  return [
    `fn flatWorkgroup(wid: vec3u, nwg: vec3u) -> u32 {`,
    `  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;`,
    `}`,
    `@compute @workgroup_size(${workgroupSize})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,`,
    `        @builtin(${index}: u32) {`,
    `  let flat = flatWorkgroup(wid, nwg);`,
    `  if (flat >= ${S.workgroups}) { return; }`,
    `  let n0 = (flat % ${S.tilesN}) * ${tileN}u;`,
    `  let m0 = ((flat / ${S.tilesN}) % ${S.tilesM}) * ${tileM}u;`,
    `  let rest = flat / (${S.tilesN} * ${S.tilesM});`,
    `  let p = rest % ${S.batch};`,
    `  let s = rest / ${S.batch};`,
    `  let kBegin = s * ${S.kPerSplit};`,
    `  let kEnd = min(${S.k}, kBegin + ${S.kPerSplit});`,
  ];
}

/**
 * The WGSL of a GEMM dispatch. The loop keeps one workgroup barrier per K slice: slice t is read
 * from buffer t mod 2 while slice t + 1, fetched into registers before the product, is written
 * to the other buffer, which nobody reads until after the barrier.
 */
export function gemmWgsl(spec: GemmSpec): string {
  if (spec.tile.lanes) return subgroupGemmWgsl(spec);
  const { tileM: TM, tileN: TN, tileK: TK, rowsPerThread: RM, colsPerThread: RN } = spec.tile;
  const { sizes: S } = spec;
  const wx = TN / RN, wy = TM / RM, threads = wx * wy;
  const tn4 = TN / 4, rm4 = RM / 4, rn4 = RN / 4;
  // A is staged as vec4s of 4 rows when the register block is, else as scalars.
  const aVec = RM % 4 === 0;
  const tm4 = aVec ? TM / 4 : TM;
  const aSize = TK * tm4, bSize = TK * tn4;
  const L: string[] = [];

  // Load units of one operand: per unit, its x (fixed), its k offset in the slice, a register.
  const units = (isA: boolean) => {
    const op = isA ? spec.a : spec.b;
    const ext = isA ? TM : TN, w = op.vec4 ? 4 : 1;
    const cExt = (op.kContig ? TK : ext) / w, total = cExt * (op.kContig ? ext : TK);
    return { op, w, cExt, total, count: Math.ceil(total / threads), ext };
  };
  const declareUnits = (isA: boolean): void => {
    const { op, w, cExt, total, count } = units(isA);
    const name = isA ? "a" : "b", x0 = isA ? "m0" : "n0", lim = isA ? S.m : S.n;
    for (let i = 0; i < count; i++) {
      const u = `${name}u${i}`;
      L.push(`  let ${u} = lid + ${i * threads}u;`);
      const [xi, ki] = op.kContig
        ? [`${u} / ${cExt}u`, `(${u} % ${cExt}u) * ${w}u`]
        : [`(${u} % ${cExt}u) * ${w}u`, `${u} / ${cExt}u`];
      L.push(`  let ${name}x${i} = ${x0} + ${xi};`, `  let ${name}k${i} = ${ki};`);
      const live = total % threads !== 0 ? ` && ${u} < ${total}u` : "";
      L.push(`  let ${name}ok${i} = ${name}x${i} < ${lim}${live};`);
      if (op.prep) L.push(`  let ${name}p${i} = ${op.prep(`${name}x${i}`)};`);
      L.push(`  var ${name}r${i} = ${w === 4 ? "vec4f(0.0)" : "0.0"};`);
    }
  };
  const fetch = (isA: boolean, k0: string): string[] => {
    const { op, w, count } = units(isA);
    const name = isA ? "a" : "b", out: string[] = [];
    for (let i = 0; i < count; i++) {
      const k = `(${k0} + ${name}k${i})`;
      const v = op.load(`${name}x${i}`, k, op.prep ? `${name}p${i}` : "");
      out.push(
        `    ${name}r${i} = ${w === 4 ? "vec4f(0.0)" : "0.0"};`,
        `    if (${name}ok${i} && ${k} < kEnd) { ${name}r${i} = ${v}; }`,
      );
    }
    return out;
  };
  const stash = (isA: boolean, buf: string): string[] => {
    const { op, w, count } = units(isA);
    const name = isA ? "a" : "b", arr = isA ? "As" : "Bs", x4 = isA ? tm4 : tn4;
    const base = `(${buf}) * ${isA ? aSize : bSize}u`;
    const x0 = isA ? "m0" : "n0", out: string[] = [];
    const scalar = isA && !aVec;
    for (let i = 0; i < count; i++) {
      const x = `(${name}x${i} - ${x0})`, k = `${name}k${i}`;
      const total = units(isA).total;
      const guard = total % threads !== 0 ? `${name}u${i} < ${total}u` : "true";
      const body: string[] = [];
      if (scalar) {
        for (let c = 0; c < w; c++) {
          const kc = w === 4 ? `${k} + ${c}u` : k, v = w === 4 ? `ar${i}[${c}]` : `ar${i}`;
          const at = op.kContig || w === 1
            ? `(${kc}) * ${x4}u + ${x}`
            : `${k} * ${x4}u + ${x} + ${c}u`;
          body.push(`As[${base} + ${at}] = ${v};`);
        }
      } else if (w === 4 && !op.kContig) {
        body.push(`${arr}[${base} + ${k} * ${x4}u + ${x} / 4u] = ${name}r${i};`);
      } else {
        for (let c = 0; c < w; c++) {
          const kc = w === 4 ? `${k} + ${c}u` : k;
          const v = w === 4 ? `${name}r${i}[${c}]` : `${name}r${i}`;
          body.push(`${arr}[${base} + (${kc}) * ${x4}u + ${x} / 4u][${x} % 4u] = ${v};`);
        }
      }
      out.push(`    if (${guard}) { ${body.join(" ")} }`);
    }
    return out;
  };

  L.push(
    `var<workgroup> As: array<${aVec ? "vec4f" : "f32"}, ${2 * aSize}>;`,
    `var<workgroup> Bs: array<vec4f, ${2 * bSize}>;`,
    ...gridHead(S, TM, TN, threads, "local_invocation_index) lid"),
    `  let tx = lid % ${wx}u;`,
    `  let ty = lid / ${wx}u;`,
  );
  declareUnits(true);
  declareUnits(false);
  for (let i = 0; i < RM; i++) {
    for (let j = 0; j < rn4; j++) L.push(`  var c${i}_${j} = vec4f(0.0);`);
  }
  // Row sums of A (vec4s of 4 rows, or one scalar per row), kept by the first column tile:
  // a branch uniform over the workgroup, so the other tiles pay nothing in their loop.
  const rowSums = spec.rowSum !== undefined, sums = aVec ? rm4 : RM;
  if (rowSums) {
    L.push(`  let sumRows = n0 == 0u;`);
    for (let i = 0; i < sums; i++) L.push(`  var rs${i} = ${aVec ? "vec4f(0.0)" : "0.0"};`);
  }
  L.push(...fetch(true, "kBegin"), ...fetch(false, "kBegin"));
  L.push(...stash(true, "0u"), ...stash(false, "0u"), `  workgroupBarrier();`);
  L.push(`  var buf = 0u;`, `  for (var k0 = kBegin; k0 < kEnd; k0 += ${TK}u) {`);
  L.push(`    let more = k0 + ${TK}u < kEnd;`, `    if (more) {`);
  L.push(...fetch(true, `k0 + ${TK}u`), ...fetch(false, `k0 + ${TK}u`), `    }`);
  L.push(`    let ab = buf * ${aSize}u;`, `    let bb = buf * ${bSize}u;`);
  // The product of the staged slices: RM/4 vec4s (or RM scalars) of A and RN/4 vec4s of B
  // per k. Scalar rows belong to one invocation, which skips them all past M: in a skinny
  // product (a small batch) most of the tile's rows are padding.
  if (!aVec) L.push(`    if (m0 + ty * ${RM}u < ${S.m}) {`);
  for (let kk = 0; kk < TK; kk++) {
    for (let j = 0; j < rn4; j++) {
      L.push(`    let b${kk}_${j} = Bs[bb + ${kk * tn4}u + tx + ${j * wx}u];`);
    }
    for (let i = 0; aVec && i < rm4; i++) {
      L.push(`    let a${kk}_${i} = As[ab + ${kk * tm4}u + ty + ${i * wy}u];`);
    }
    for (let i = 0; i < RM; i++) {
      const a = aVec
        ? `vec4f(a${kk}_${i >> 2}[${i & 3}])`
        : `vec4f(As[ab + ${kk * tm4}u + ty * ${RM}u + ${i}u])`;
      for (let j = 0; j < rn4; j++) {
        L.push(`    c${i}_${j} = fma(${a}, b${kk}_${j}, c${i}_${j});`);
      }
    }
  }
  if (!aVec) L.push(`    }`);
  if (rowSums) {
    L.push(`    if (sumRows) {`);
    for (let kk = 0; kk < TK; kk++) {
      for (let i = 0; i < sums; i++) {
        const a = aVec ? `a${kk}_${i}` : `As[ab + ${kk * tm4}u + ty * ${RM}u + ${i}u]`;
        L.push(`      rs${i} += ${a};`);
      }
    }
    L.push(`    }`);
  }
  L.push(`    if (more) {`, ...stash(true, "1u - buf"), ...stash(false, "1u - buf"), `    }`);
  L.push(`    workgroupBarrier();`, `    buf = 1u - buf;`, `  }`);

  // Epilogue: row i of the block is row (ty + (i/4)·wy)·4 + i%4 (or ty·RM + i for scalar
  // rows), column vector j is tx + j·wx.
  for (let i = 0; i < RM; i++) {
    const row = aVec ? `(ty + ${(i >> 2) * wy}u) * 4u + ${i & 3}u` : `ty * ${RM}u + ${i}u`;
    L.push(`  {`, `  let gm = m0 + ${row};`);
    L.push(`  if (gm < ${S.m}) {`);
    if (spec.rowStart) L.push(`  ${spec.rowStart("gm")}`);
    if (rowSums) {
      const sum = aVec ? `rs${i >> 2}[${i & 3}]` : `rs${i}`;
      L.push(`  if (sumRows && tx == 0u) { ${spec.rowSum!("gm", sum)} }`);
    }
    for (let j = 0; j < rn4; j++) {
      L.push(`  {`, `  let gn = n0 + (tx + ${j * wx}u) * 4u;`, `  let v = c${i}_${j};`);
      L.push(...storeVec4(spec, S.n, "  "));
      L.push(`  }`);
    }
    L.push(`  }`, `  }`);
  }
  L.push(`}`);
  return spec.declarations() + "\n" + L.join("\n") + "\n";
}

/**
 * The register GEMM for software adapters (lavapipe), where every load from storage or
 * workgroup memory is a loop over the SIMD lanes (tens of cycles per lane and component) while
 * a multiply-add costs about one, and a workgroup barrier switches between every invocation.
 * So: no workgroup memory and no barrier. A workgroup is one subgroup of `lanes` invocations;
 * lane l owns columns n0 + 4·(l + lanes·j) … + 3 and every one of the tile's rows. Per step of
 * 4 along K, lane l loads the A values of rows m0 + l + lanes·i only, and the lanes share them
 * with `subgroupBroadcast` (an extract and a splat on a SIMD CPU): each A value is loaded once
 * per subgroup instead of once per lane. A tile of 16 rows × 8 columns does 512 multiply-adds
 * per lane for 10 vec4 loads (the workgroup-memory core's 8×8 blocks: 64 for 4 loads plus the
 * staging). A lane is its subgroup invocation id: correct wherever the `lanes` invocations of
 * a workgroup form one subgroup (a workgroup smaller than the subgroup size fills part of one;
 * subgroups of fewer than `lanes` would break it, so only software adapters, whose subgroups
 * are their 8 or 16 SIMD lanes, use it by default).
 *
 * A's loader is read as vec4 along either dimension; B's too. Along K (a row's 4 depths) lane l
 * loads rows l + lanes·i, as above. Along M (A stored transposed, as Wᵀ in a 1×1 convolution's
 * input gradient: 4 rows at one depth) lane l loads the row blocks q ≡ l (mod lanes) of 4 rows
 * at each of the step's 4 depths, and a broadcast serves a block at one depth: as many loads
 * and broadcasts per step as along K (from 16 rows up), where scalar loads would take 4 times
 * the loads. Every accumulator, and every row sum, sees the same additions in the same order
 * either way.
 */
export function subgroupGemmWgsl(spec: GemmSpec): string {
  const { tileM: R, colsPerThread: RN } = spec.tile, lanes = spec.tile.lanes!;
  const { sizes: S, a, b } = spec;
  const cv = RN / 4, TN = lanes * RN;
  // Along M, lane l's unit i is depth k0 + i mod 4 of row block l + lanes·⌊i/4⌋ (rows from
  // ax⌊i/4⌋ on); `groups` counts a lane's rows (along K) or row blocks (along M).
  const alongM = a.vec4 && !a.kContig;
  if (alongM && R % 4 !== 0) throw new RangeError("register GEMM: A along M needs 4 | rows");
  const groups = alongM ? Math.ceil(R / 4 / lanes) : R / lanes;
  const units = alongM ? 4 * groups : groups;
  const L = gridHead(S, R, TN, lanes, "subgroup_invocation_id) lane");
  const zero = "vec4f(0.0)";
  // A: this lane's rows (along M: the first of each of its blocks), their bounds and preps.
  for (let i = 0; i < groups; i++) {
    const x = alongM ? `m0 + (lane + ${i * lanes}u) * 4u` : `m0 + lane + ${i * lanes}u`;
    // Along M in a tile of fewer than 4·lanes rows, the lanes past its blocks load nothing.
    const inTile = alongM && (i + 1) * lanes * 4 > R ? ` && lane + ${i * lanes}u < ${R / 4}u` : "";
    L.push(`  let ax${i} = ${x};`, `  let aok${i} = ax${i} < ${S.m}${inTile};`);
    if (a.prep) L.push(`  let ap${i} = ${a.prep(`ax${i}`)};`);
  }
  // B: this lane's columns (a vec4 unit along N, else each column on its own); with `quads`,
  // its vec4s of columns are consecutive, so that they share their aligned vec4s.
  const bQuads = !b.vec4 && !b.kContig && b.quads !== undefined;
  const bCols = (b.vec4 || bQuads) && !b.kContig ? [""] : ["_0", "_1", "_2", "_3"];
  for (let j = 0; j < cv; j++) {
    const column = bQuads ? `lane * ${cv}u + ${j}u` : `lane + ${j * lanes}u`;
    L.push(`  let bx${j} = n0 + (${column}) * 4u;`);
    bCols.forEach((c, ci) => {
      if (c) L.push(`  let bx${j}${c} = bx${j} + ${ci}u;`);
      L.push(`  let bok${j}${c} = bx${j}${c} < ${S.n};`);
      if (b.prep) L.push(`  let bp${j}${c} = ${b.prep(`bx${j}${c}`)};`);
    });
  }
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < cv; j++) L.push(`  var c${r}_${j} = ${zero};`);
  }
  // Row sums of A: each lane adds up the rows it loads, in the first column tile only.
  const rowSums = spec.rowSum !== undefined;
  if (rowSums) L.push(`  let sumRows = n0 == 0u;`);
  for (let i = 0; rowSums && i < groups; i++) L.push(`  var rs${i} = ${alongM ? zero : "0.0"};`);
  // Loads are unconditional, their out-of-range values replaced by zero with a select: WebGPU
  // bounds every access, and LLVM compiles a select far faster than a branch around a gather
  // (a 16-row tile's pipeline: about 0.45 s against 0.28 s).
  const load = (type: "f32" | "vec4f", value: string, inRange: string) =>
    `select(${type}(0.0), ${value}, ${inRange})`;
  // Whether depth k holds data.
  const live = (k: string) => {
    const padded = spec.depth?.live;
    return padded ? `(${k} < kEnd && ${padded(k)})` : `${k} < kEnd`;
  };
  // Operands read along K from quads: each row (of A, or column of B) keeps its last vec4.
  const aRolled = !a.vec4 && a.kContig && a.quads !== undefined;
  const bRolled = !b.vec4 && b.kContig && b.quads !== undefined;
  for (let i = 0; aRolled && i < groups; i++) L.push(`  var ar${i}lo = ${zero};`);
  for (let j = 0; bRolled && j < cv; j++) {
    for (const c of bCols) L.push(`  var br${j}${c}lo = ${zero};`);
  }
  L.push(`  for (var k0 = kBegin; k0 < kEnd; k0 += 4u) {`);
  if (aRolled || bRolled) {
    const depths = [0, 1, 2, 3].map((kk) => live(`k0 + ${kk}u`));
    L.push(`    let liveK = vec4<bool>(${depths.join(", ")});`);
  }
  // The 4 depths from k0 of row x of a rolled operand: the aligned vec4 holding depth k0 (kept
  // from the step before, loaded at kBegin and where a row restarts) and the next, shifted.
  const rolled = (name: string, op: GemmOperand, x: string, prep: string, ok: string) => {
    const q = op.quads!, at = `${name}f`, restart = spec.depth?.restart("k0");
    L.push(`    let ${at} = ${q.index(x, "k0", prep)};`);
    L.push(`    if (k0 == kBegin${restart ? ` || ${restart}` : ""}) {`);
    L.push(`      ${name}lo = ${q.quad(`${at} / 4u`)};`, `    }`);
    L.push(`    let ${name}hi = ${q.quad(`${at} / 4u + 1u`)};`);
    const value = `shiftQuads(${name}lo, ${name}hi, ${at} % 4u)`;
    L.push(`    let ${name}v = select(${zero}, ${value}, vec4<bool>(${ok}) & liveK);`);
    L.push(`    ${name}lo = ${name}hi;`);
    return `${name}v`;
  };
  // The operands' per-step statements, where a lane of the subgroup serves each of 4 depths.
  const stepped = lanes >= 4;
  const steps = stepped ? [a.step?.("k0"), b.step?.("k0")] : [];
  for (const [i, st] of steps.entries()) if (st && steps.indexOf(st) === i) L.push(`    ${st}`);
  const depth = (kk: number) => (stepped ? kk : undefined);
  for (let i = 0; alongM && i < units; i++) {
    const g = i >> 2, k = `k0 + ${i & 3}u`, ap = a.prep ? `ap${g}` : "";
    const value = a.load(`ax${g}`, k, ap, depth(i & 3));
    L.push(`    let av${i} = ${load("vec4f", value, `aok${g} && ${live(k)}`)};`);
  }
  for (let i = 0; !alongM && i < groups; i++) {
    const ap = a.prep ? `ap${i}` : "";
    if (a.vec4) {
      L.push(`    let av${i} = ${load("vec4f", a.load(`ax${i}`, "k0", ap), `aok${i}`)};`);
    } else if (aRolled) {
      L.push(`    let av${i} = ${rolled(`ar${i}`, a, `ax${i}`, ap, `aok${i}`)};`);
    } else {
      const parts = [0, 1, 2, 3].map((kk) => {
        const k = `k0 + ${kk}u`;
        return load("f32", a.load(`ax${i}`, k, ap, depth(kk)), `aok${i} && ${live(k)}`);
      });
      L.push(`    let av${i} = vec4f(${parts.join(", ")});`);
    }
  }
  // A row's depths in order: along K the components of its vec4, along M its block's units.
  const depths = (i: number) =>
    [0, 1, 2, 3].map((kk) => (alongM ? `rs${i} += av${4 * i + kk};` : `rs${i} += av${i}[${kk}];`));
  for (let i = 0; rowSums && i < groups; i++) {
    L.push(`    if (sumRows) { ${depths(i).join(" ")} }`);
  }
  // With quads, depth kk's cv + 1 aligned vec4s from the one holding column bx0 on, shifted by
  // that column's place in its vec4 (the same for every lane: columns start on multiples of 4).
  for (let kk = 0; bQuads && kk < 4; kk++) {
    const k = `k0 + ${kk}u`, at = `bf${kk}`, q = b.quads!;
    L.push(`    let ${at} = ${q.index("bx0", k, b.prep ? "bp0" : "")};`);
    for (let t = 0; t <= cv; t++) L.push(`    let bw${kk}_${t} = ${q.quad(`${at} / 4u + ${t}u`)};`);
    for (let j = 0; j < cv; j++) {
      const value = `shiftQuads(bw${kk}_${j}, bw${kk}_${j + 1}, ${at} % 4u)`;
      L.push(`    let b${kk}_${j} = ${load("vec4f", value, live(k))};`);
    }
  }
  for (let j = 0; !bQuads && j < cv; j++) {
    for (let kk = 0; kk < 4; kk++) L.push(`    var b${kk}_${j} = ${zero};`);
    const bp = (c: string) => (b.prep ? `bp${j}${c}` : "");
    if (b.vec4 && !b.kContig) {
      for (let kk = 0; kk < 4; kk++) {
        const k = `k0 + ${kk}u`;
        const value = b.load(`bx${j}`, k, bp(""), depth(kk));
        L.push(`    b${kk}_${j} = ${load("vec4f", value, `bok${j} && ${live(k)}`)};`);
      }
    } else if (bRolled) {
      bCols.forEach((c, ci) => {
        const v = rolled(`br${j}${c}`, b, `bx${j}${c}`, bp(c), `bok${j}${c}`);
        for (let kk = 0; kk < 4; kk++) L.push(`    b${kk}_${j}[${ci}] = ${v}[${kk}];`);
      });
    } else if (b.vec4) {
      // Four columns' vec4s along K, transposed in registers.
      bCols.forEach((c, ci) => {
        const value = load("vec4f", b.load(`bx${j}${c}`, "k0", bp(c)), `bok${j}${c}`);
        L.push(`    let bv${j}${c} = ${value};`);
        for (let kk = 0; kk < 4; kk++) L.push(`    b${kk}_${j}[${ci}] = bv${j}${c}[${kk}];`);
      });
    } else {
      bCols.forEach((c, ci) => {
        for (let kk = 0; kk < 4; kk++) {
          const k = `k0 + ${kk}u`;
          const value = b.load(`bx${j}${c}`, k, bp(c), depth(kk));
          L.push(`    b${kk}_${j}[${ci}] = ${load("f32", value, `bok${j}${c} && ${live(k)}`)};`);
        }
      });
    }
  }
  // Row r's value at depth k0 + kk: along K component kk of lane r mod lanes's unit r / lanes
  // (a broadcast per row), along M component r mod 4 of the unit of block q = r / 4 at depth
  // kk, which lane q mod lanes holds (a broadcast per block and depth).
  for (let q = 0; alongM && q < R / 4; q++) {
    for (let kk = 0; kk < 4; kk++) {
      const unit = 4 * Math.floor(q / lanes) + kk;
      L.push(`    let g${q}_${kk} = subgroupBroadcast(av${unit}, ${q % lanes}u);`);
    }
  }
  for (let r = 0; r < R; r++) {
    if (!alongM) {
      L.push(`    let a${r} = subgroupBroadcast(av${Math.floor(r / lanes)}, ${r % lanes}u);`);
    }
    for (let kk = 0; kk < 4; kk++) {
      const ar = alongM ? `g${r >> 2}_${kk}[${r & 3}]` : `a${r}[${kk}]`;
      for (let j = 0; j < cv; j++) {
        L.push(`    c${r}_${j} = fma(vec4f(${ar}), b${kk}_${j}, c${r}_${j});`);
      }
    }
  }
  L.push(`  }`);
  for (let i = 0; rowSums && i < groups; i++) {
    const sums = alongM
      ? [0, 1, 2, 3].map((j) => spec.rowSum!(`ax${i} + ${j}u`, `rs${i}[${j}]`)).join(" ")
      : spec.rowSum!(`ax${i}`, `rs${i}`);
    L.push(`  if (sumRows && aok${i}) { ${sums} }`);
  }
  // The stores loop over blocks of 4 rows, picking a block's accumulators by a switch, rather
  // than being unrolled R times: LLVM spent most of such a pipeline's compile time (0.8–1.5 s
  // of a 16-row tile's, against 0.3 s looped) on the unrolled bounds-checked stores. A SIMD CPU
  // runs every case of the switch under a mask, so a switch per row cost R² picks a tile (a
  // tenth of a 1×1 convolution's forward pass, 48 rows); per block of 4 it costs R²/4.
  const block = 4;
  L.push(`  for (var rb = 0u; rb < ${R}u; rb += ${block}u) {`);
  L.push(`    if (m0 + rb >= ${S.m}) { break; }`);
  for (let q = 0; q < block; q++) {
    for (let j = 0; j < cv; j++) L.push(`    var v${q}_${j} = ${zero};`);
  }
  L.push(`    switch rb {`);
  for (let r = 0; r < R; r += block) {
    const pick = Array.from(
      { length: block * cv },
      (_, i) => `v${Math.floor(i / cv)}_${i % cv} = c${r + Math.floor(i / cv)}_${i % cv};`,
    );
    L.push(`      case ${r}u: { ${pick.join(" ")} }`);
  }
  L.push(`      default: {}`, `    }`);
  for (let q = 0; q < block; q++) {
    L.push(`    {`, `    let gm = m0 + rb + ${q}u;`, `    if (gm < ${S.m}) {`);
    if (spec.rowStart) L.push(`    ${spec.rowStart("gm")}`);
    for (let j = 0; j < cv; j++) {
      L.push(`    {`, `    let gn = bx${j};`, `    let v = v${q}_${j};`);
      L.push(...storeVec4(spec, S.n, "    "));
      L.push(`    }`);
    }
    L.push(`    }`, `    }`);
  }
  L.push(`  }`, `}`);
  const helpers = bQuads || aRolled || bRolled ? SHIFT_QUADS : "";
  return spec.declarations() + "\n" + helpers + L.join("\n") + "\n";
}

/**
 * WGSL of `shiftQuads(lo, hi, s)`: the 4 elements from element s (< 4) of the 8 in `lo` then
 * `hi`, by selects (a dynamic index into a vector is a loop over the lanes on a CPU).
 */
const SHIFT_QUADS = `fn shiftQuads(lo: vec4f, hi: vec4f, s: u32) -> vec4f {
  let s1 = vec4f(lo.yzw, hi.x);
  let s2 = vec4f(lo.zw, hi.xy);
  let s3 = vec4f(lo.w, hi.xyz);
  return select(select(select(lo, s1, s == 1u), s2, s == 2u), s3, s == 3u);
}
`;

/**
 * The epilogue's stores of the vec4 `v` of C at row `gm`, columns `gn`.. `gn + 3` (N = `n`):
 * one `store4` where the caller has it, else its `storeColumns`, else one bounds-checked
 * `store` per column. Both cores end this way.
 */
function storeVec4(spec: GemmSpec, n: string, indent: string): string[] {
  if (spec.store4) return [`${indent}if (gn < ${n}) { ${spec.store4("gm", "gn", "v")} }`];
  if (spec.storeColumns) {
    return [`${indent}if (gn < ${n}) { ${spec.storeColumns("gm", "gn", "v", n)} }`];
  }
  return [0, 1, 2, 3].map((c) =>
    `${indent}if (gn + ${c}u < ${n}) { ${spec.store("gm", `gn + ${c}u`, `v[${c}]`)} }`
  );
}
