/**
 * The WGSL and uniforms of one window of a matrix multiply on the shared GEMM core: operands
 * addressed as `offset + Σ coef·index` (transposes, batch strides and windows are just
 * coefficients), and an epilogue with bias, ReLU, ReLU mask, accumulation and row sums, or
 * with split-K the partial products in scratch. Sizes, offsets and strides are uniforms.
 *
 * @module
 */

import { type gemmGrid, gemmSizeUniforms, type GemmTile, gemmWgsl } from "./_gemm.ts";
import { Uniforms } from "./_uniforms.ts";
import { relu, reluMasked } from "./_program.ts";

/** The four dimensions of a batched product, outermost first. */
export const DIMS = ["batch", "m", "n", "k"] as const;
/** A size, position or stride over the four dimensions of a product. */
export type Extents = Record<(typeof DIMS)[number], number>;

/**
 * The extents of the GEMM a window of `size` runs: itself, or with the batch summed one
 * product of depth batch·`depth` (see {@link MatmulSpec.sumBatch}; `depth` is K, or K padded
 * as {@link matrixDepth} gives it).
 */
export function gemmExtents(size: Extents, sumBatch: boolean, depth = size.k): Extents {
  return sumBatch ? { batch: 1, m: size.m, n: size.n, k: size.batch * depth } : size;
}

/** Whether the register GEMM reads A, and B, of a window along K from aligned vec4s (`quads`). */
function rolledAlongK(s: MatmulSpec): { a: boolean; b: boolean } {
  const lanes = s.tile.lanes !== undefined;
  return { a: lanes && !s.transA && !s.a.vec4, b: lanes && s.transB && !s.b.vec4 };
}

/**
 * The depth each matrix of a summed batch takes in the GEMM's depth index: K, or K rounded up
 * to a multiple of 4 where an operand is read along K from aligned vec4s, so that no step of 4
 * depths spans two matrices (the padding reads as zeros).
 */
export function matrixDepth(s: MatmulSpec): number {
  const rolled = rolledAlongK(s);
  return s.sumBatch && (rolled.a || rolled.b) ? Math.ceil(s.size.k / 4) * 4 : s.size.k;
}

/** Where one operand lives inside its binding, in elements. */
export interface Layout {
  /** Element offset of the window's first element from the binding's (aligned) start. */
  offset: number;
  /** The element index is `offset + Σ coef[d]·index[d]`. */
  coef: Extents;
  /** Bound as `array<vec4f>`. */
  vec4: boolean;
}

/** Everything one dispatch's shader and uniforms are generated from. */
export interface MatmulSpec {
  tile: GemmTile;
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
  /**
   * The products are summed over the batch: one GEMM of depth batch·K whose operands read
   * depth index k' at batch k' div K, depth k' mod K; `out` and `mask` hold one matrix.
   */
  sumBatch: boolean;
  splits: number;
}

/** Values per split in split-K scratch: the product, then the row sums from a multiple of 4. */
export function partialStride(spec: MatmulSpec): number {
  const { batch, m, n } = gemmExtents(spec.size, spec.sumBatch);
  return batch * m * n + (spec.rowSums !== null ? Math.ceil(m / 4) * 4 : 0);
}

/**
 * The WGSL and uniforms of one window: the text depends on the tile, the transposes, which
 * operands are read as vec4, the bias/ReLU/mask/accumulate flags and the row sums; sizes,
 * offsets and strides are uniforms.
 */
export function matmulWgsl(
  s: MatmulSpec,
  grid: ReturnType<typeof gemmGrid>,
): { wgsl: string; uniforms: Uint32Array } {
  const uf = new Uniforms();
  const depth = matrixDepth(s);
  const { batch, m, n, k } = gemmExtents(s.size, s.sumBatch, depth);
  const sizes = gemmSizeUniforms(uf, grid, m, n, k, batch);
  // `offset + Σ coef·index` over the dimensions an operand moves along (coefficient uniforms).
  const at = (name: string, o: Layout, terms: [keyof Extents, string][]): string => {
    const parts = [uf.u32(`${name}.offset`, o.offset)];
    for (const [d, e] of terms) parts.push(`${uf.u32(`${name}.${d}`, o.coef[d])} * (${e})`);
    return parts.join(" + ");
  };
  // The element index of (x, k); with the batch summed, depth k' is batch q, depth r of the
  // window (splitDepth).
  const index = (name: string, o: Layout, x: keyof Extents, xe: string, ke: string): string =>
    s.sumBatch
      ? `${at(name, o, [[x, xe]])} + dot(vec2u(${uf.u32(`${name}.batch`, o.coef.batch)}, ` +
        `${uf.u32(`${name}.k`, o.coef.k)}), splitDepth(${ke}))`
      : at(name, o, [["batch", "p"], [x, xe], ["k", ke]]);
  const read = (name: string, o: Layout, x: keyof Extents, xe: string, ke: string): string =>
    `${name}[${o.vec4 ? `(${index(name, o, x, xe, ke)}) / 4u` : index(name, o, x, xe, ke)}]`;
  // The register GEMM reads a B along N whose rows are not aligned to 4 as aligned vec4s all the
  // same (GemmOperand.quads), from 8 columns a lane (with 4 it ran no faster). Its binding, a
  // whole number of vec4s (see record), is then bound as vec4s.
  const bQuads = s.tile.lanes !== undefined && s.tile.colsPerThread >= 8 && !s.b.vec4 &&
    !s.transB;
  // Rows along K not aligned to 4: read from aligned vec4s too (GemmOperand.quads), one load
  // a row and step.
  const rolled = rolledAlongK(s);
  const quadsOf = (name: "a" | "b", o: Layout, x: keyof Extents) => ({
    index: (xe: string, ke: string) => index(name, o, x, xe, ke),
    quad: (i: string) => `${name}[${i}]`,
  });
  // A summed batch read along K from vec4s: rows restart at each matrix, and a matrix padded
  // to a multiple of 4 deep reads zeros past K.
  const summedRows = s.sumBatch && (rolled.a || rolled.b);
  const depthMap = summedRows
    ? {
      live: depth > s.size.k
        ? (kk: string) => `splitDepth(${kk}).y < ${uf.u32("depthLive", s.size.k)}`
        : undefined,
      restart: (k0: string) => `splitDepth(${k0}).y == 0u`,
    }
    : undefined;
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
  // A bias per row is loaded once per stored row (rowStart), not once per column.
  const rowBias = s.bias !== null && s.biasPerRow;
  const biasOf = (nn: string): string => (rowBias ? "rowBias" : biasAt(nn));
  const finish = (v: string, i: string, bias: string, type: string): string[] => {
    const out = [`var r = ${v};`];
    if (s.accumulate) out.push(`r = r + out[${i}];`);
    if (s.bias !== null) out.push(`r = r + ${bias};`);
    if (s.relu) out.push(`r = ${relu("r", type)};`);
    if (s.mask) out.push(`r = ${reluMasked("r", `mask[${i}]`, type)};`);
    return out;
  };
  const storeAt = (i: string, nn: string, v: string): string =>
    [...finish(v, i, biasOf(nn), "f32"), `out[${i}] = r;`].join(" ");
  const store = (mm: string, nn: string, v: string): string => storeAt(outAt(mm, nn), nn, v);
  // Columns nn … nn + 3 from one index: on a CPU every index is vector multiplies.
  const storeColumns = (mm: string, nn: string, v: string, limit: string): string => {
    const stores = [1, 2, 3].map((c) =>
      `if (${nn} + ${c}u < ${limit}) { ${storeAt(`i0 + ${c}u`, `${nn} + ${c}u`, `${v}[${c}]`)} }`
    );
    return [`let i0 = ${outAt(mm, nn)};`, `{ ${storeAt("i0", nn, `${v}[0]`)} }`, ...stores]
      .join(" ");
  };
  const store4 = (mm: string, nn: string, v: string): string => {
    const i = `(${outAt(mm, nn)}) / 4u`;
    const bias = rowBias
      ? "vec4f(rowBias)"
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
      quads: rolled.a ? quadsOf("a", s.a, "m") : undefined,
    },
    b: {
      vec4: s.b.vec4,
      kContig: s.transB,
      load: (x, kk) => read("b", s.b, "n", x, kk),
      quads: bQuads || rolled.b ? quadsOf("b", s.b, "n") : undefined,
    },
    sizes,
    depth: depthMap,
    store,
    store4: s.out.vec4 ? store4 : undefined,
    storeColumns,
    rowStart: rowBias ? (mm) => `let rowBias = ${biasAt(mm)};` : undefined,
    rowSum: s.rowSums !== null ? rowSum : undefined,
    declarations: () => {
      // Bound in this order after a, b and out (see record).
      const extra = [
        ...(s.bias !== null ? ["read> bias: array<f32>"] : []),
        ...(s.mask ? [`read> mask: ${arrayOf(s.out.vec4)}`] : []),
        ...(s.rowSums !== null && s.splits === 1 ? ["read_write> rowSums: array<f32>"] : []),
      ];
      return [
        `@group(0) @binding(0) var<storage, read> a: ${arrayOf(s.a.vec4 || rolled.a)};`,
        `@group(0) @binding(1) var<storage, read> b: ${arrayOf(s.b.vec4 || bQuads || rolled.b)};`,
        `@group(0) @binding(2) var<storage, read_write> out: ${arrayOf(s.out.vec4)};`,
        ...extra.map((e, i) => `@group(0) @binding(${3 + i}) var<storage, ${e};`),
        // Registers its uniforms before they are declared.
        ...(s.sumBatch ? [splitDepthWgsl(uf, depth)] : []),
        uf.declare(3 + extra.length),
      ].join("\n");
    },
  });
  return { wgsl, uniforms: uf.data() };
}

/** The most matrices a product summed over the batch may have (see `splitDepthWgsl`). */
export const MAX_SUMMED_BATCH = 2 ** 22;

/**
 * WGSL of `splitDepth(k) -> vec2u`, (k div depth, k mod depth) for the uniform `depth`, without
 * an integer division (a loop over the SIMD lanes on a CPU): a float estimate of the quotient,
 * then one correction step. The estimate trunc(f32(k)·f32(1/depth)) is within one of the
 * quotient while the quotient (a sample index) stays below 2²², for every u32 k.
 */
function splitDepthWgsl(uf: Uniforms, depth: number): string {
  const d = uf.u32("depth", depth), inv = uf.f32("depthInverse", 1 / depth);
  return `fn splitDepth(k: u32) -> vec2u {
  var q = u32(f32(k) * ${inv});
  let r = bitcast<i32>(k - q * ${d});
  q = select(select(q, q + 1u, r >= i32(${d})), q - 1u, r < 0);
  return vec2u(q, k - q * ${d});
}`;
}
