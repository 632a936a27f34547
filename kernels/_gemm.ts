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

/** A short name of a tile, as the profiler and the autotuner show it: `128×128×8/8×8`. */
export function tileName(t: GemmTile): string {
  return `${t.tileM}×${t.tileN}×${t.tileK}/${t.rowsPerThread}×${t.colsPerThread}`;
}

/** Invocations per workgroup of a tile. */
export function tileThreads(t: GemmTile): number {
  return (t.tileM / t.rowsPerThread) * (t.tileN / t.colsPerThread);
}

/** Bytes of workgroup memory a tile stages (both operands, two buffers). */
export function tileSharedBytes(t: GemmTile): number {
  return 2 * (t.tileM + t.tileN) * t.tileK * 4;
}

/** Whether `t` is well formed and fits a device's workgroup limits. */
export function tileFits(
  t: GemmTile,
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number },
): boolean {
  const wy = t.tileM / t.rowsPerThread, wx = t.tileN / t.colsPerThread;
  return Number.isInteger(wx) && Number.isInteger(wy) && wx * wy >= 1 &&
    t.colsPerThread % 4 === 0 && t.tileK % 4 === 0 &&
    tileThreads(t) <= limits.maxComputeInvocationsPerWorkgroup &&
    tileSharedBytes(t) <= limits.maxComputeWorkgroupStorageSize;
}

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
   * `prep` value. Called only in bounds: x < extent, k < K.
   */
  load: (x: string, k: string, prep: string) => string;
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

/**
 * The WGSL of a GEMM dispatch. The loop keeps one workgroup barrier per K slice: slice t is read
 * from buffer t mod 2 while slice t + 1, fetched into registers before the product, is written
 * to the other buffer, which nobody reads until after the barrier.
 */
export function gemmWgsl(spec: GemmSpec): string {
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
    `fn flatWorkgroup(wid: vec3u, nwg: vec3u) -> u32 {`,
    `  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;`,
    `}`,
    `@compute @workgroup_size(${threads})`,
    `fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,`,
    `        @builtin(local_invocation_index) lid: u32) {`,
    // Per workgroup, so the early return keeps the barriers below in uniform control flow.
    `  let flat = flatWorkgroup(wid, nwg);`,
    `  if (flat >= ${S.workgroups}) { return; }`,
    `  let n0 = (flat % ${S.tilesN}) * ${TN}u;`,
    `  let m0 = ((flat / ${S.tilesN}) % ${S.tilesM}) * ${TM}u;`,
    `  let rest = flat / (${S.tilesN} * ${S.tilesM});`,
    `  let p = rest % ${S.batch};`,
    `  let s = rest / ${S.batch};`,
    `  let kBegin = s * ${S.kPerSplit};`,
    `  let kEnd = min(${S.k}, kBegin + ${S.kPerSplit});`,
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
    if (rowSums) {
      const sum = aVec ? `rs${i >> 2}[${i & 3}]` : `rs${i}`;
      L.push(`  if (sumRows && tx == 0u) { ${spec.rowSum!("gm", sum)} }`);
    }
    for (let j = 0; j < rn4; j++) {
      L.push(`  {`, `  let gn = n0 + (tx + ${j * wx}u) * 4u;`, `  let v = c${i}_${j};`);
      if (spec.store4) {
        L.push(`  if (gn < ${S.n}) { ${spec.store4("gm", "gn", "v")} }`);
      } else {
        for (let c = 0; c < 4; c++) {
          L.push(`  if (gn + ${c}u < ${S.n}) { ${spec.store("gm", `gn + ${c}u`, `v[${c}]`)} }`);
        }
      }
      L.push(`  }`);
    }
    L.push(`  }`, `  }`);
  }
  L.push(`}`);
  return spec.declarations() + "\n" + L.join("\n") + "\n";
}
