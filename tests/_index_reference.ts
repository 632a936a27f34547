/**
 * Float64 references of the indexing ops (gather, scatter, index-select), written as PyTorch
 * documents them, coordinate by coordinate: plain loops, no cleverness.
 *
 * @module
 */

import { type F64, type I32, numel, stridesOf } from "./_reference.ts";

/** The coordinates of flat index `i` in `shape`. */
export function coordsOf(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    out[a] = i % shape[a];
    i = Math.floor(i / shape[a]);
  }
  return out;
}

/** The flat index of `coords` in `shape`. */
export function flatOf(coords: readonly number[], shape: readonly number[]): number {
  const strides = stridesOf(shape);
  return coords.reduce((at, c, a) => at + c * strides[a], 0);
}

/** `out[c] = x[c with c[dim] = index[c]]`, shaped as the index. */
export function gather(x: F64, dim: number, index: I32): F64 {
  const data = new Float64Array(numel(index.shape));
  for (let i = 0; i < data.length; i++) {
    const c = coordsOf(i, index.shape);
    c[dim] = index.data[i];
    data[i] = x.data[flatOf(c, x.shape)];
  }
  return { shape: [...index.shape], data };
}

/** `x` with `src[c]` written to (or added into) `c with c[dim] = index[c]`, in index order. */
export function scatter(x: F64, dim: number, index: I32, src: F64, add: boolean): F64 {
  const data = x.data.slice();
  for (let i = 0; i < numel(index.shape); i++) {
    const c = coordsOf(i, index.shape);
    const value = src.data[flatOf(c, src.shape)];
    c[dim] = index.data[i];
    const at = flatOf(c, x.shape);
    data[at] = add ? data[at] + value : value;
  }
  return { shape: [...x.shape], data };
}

/** The slices of `x` at `index` along `dim`. */
export function indexSelect(x: F64, dim: number, index: Int32Array): F64 {
  const shape = x.shape.map((d, a) => (a === dim ? index.length : d));
  const data = new Float64Array(numel(shape));
  for (let i = 0; i < data.length; i++) {
    const c = coordsOf(i, shape);
    c[dim] = index[c[dim]];
    data[i] = x.data[flatOf(c, x.shape)];
  }
  return { shape, data };
}

/** Random indices in `[0, size)`, shaped `shape`. */
export function randomIndex(shape: readonly number[], size: number, rng: () => number): I32 {
  const data = Int32Array.from({ length: numel(shape) }, () => Math.floor(rng() * size));
  return { shape: [...shape], data };
}

/** Whether `a` sorts strictly before `b`: NaN the largest, as PyTorch's sort. */
function before(a: number, b: number, descending: boolean): boolean {
  if (descending) return !Number.isNaN(b) && (Number.isNaN(a) || a > b);
  return !Number.isNaN(a) && (Number.isNaN(b) || a < b);
}

/** The stable order of `x` along `dim` (an I32 shaped as `x`). */
export function argsort(
  x: { shape: number[]; data: ArrayLike<number> },
  dim: number,
  descending: boolean,
): I32 {
  const out = new Int32Array(numel(x.shape));
  const size = x.shape[dim];
  for (let i = 0; i < out.length; i++) {
    const c = coordsOf(i, x.shape);
    if (c[dim] !== 0) continue;
    const at = (k: number) => flatOf(c.map((v, a) => (a === dim ? k : v)), x.shape);
    const order = Array.from({ length: size }, (_, k) => k).sort((p, q) => {
      const [a, b] = [x.data[at(p)], x.data[at(q)]];
      return before(a, b, descending) ? -1 : before(b, a, descending) ? 1 : 0;
    });
    order.forEach((k, p) => (out[at(p)] = k));
  }
  return { shape: [...x.shape], data: out };
}

/** The first `k` along `dim` of `x`. */
export function leading(x: F64, dim: number, k: number): F64 {
  const shape = x.shape.map((d, a) => (a === dim ? k : d));
  const data = new Float64Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = x.data[flatOf(coordsOf(i, shape), x.shape)];
  return { shape, data };
}

/** `out[c] = x[source(c)]` over `shape` (a move of elements by coordinates), 0 where null. */
export function moved(
  x: F64,
  shape: readonly number[],
  source: (c: number[]) => number[] | null,
): F64 {
  const data = new Float64Array(numel(shape));
  for (let i = 0; i < data.length; i++) {
    const from = source(coordsOf(i, shape));
    data[i] = from === null ? 0 : x.data[flatOf(from, x.shape)];
  }
  return { shape: [...shape], data };
}

/** The running sum or product of `x` along `dim`, in order, in float64. */
export function cumulative(x: F64, dim: number, prod: boolean): F64 {
  const data = new Float64Array(x.data.length);
  const step = stridesOf(x.shape)[dim];
  for (let i = 0; i < data.length; i++) {
    if (coordsOf(i, x.shape)[dim] !== 0) continue;
    let acc = prod ? 1 : 0;
    for (let k = 0; k < x.shape[dim]; k++) {
      const at = i + k * step;
      acc = prod ? acc * x.data[at] : acc + x.data[at];
      data[at] = acc;
    }
  }
  return { shape: [...x.shape], data };
}

/** `torch.scatter_reduce` in float64: the entries reaching each element folded in index order. */
export function scatterReduce(
  x: F64,
  dim: number,
  index: I32,
  src: F64,
  reduce: "sum" | "prod" | "mean" | "amax" | "amin",
  includeSelf: boolean,
): F64 {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < numel(index.shape); i++) {
    const c = coordsOf(i, index.shape);
    const value = src.data[flatOf(c, src.shape)];
    c[dim] = index.data[i];
    const at = flatOf(c, x.shape);
    groups.set(at, [...(groups.get(at) ?? []), value]);
  }
  const data = x.data.slice();
  for (const [at, values] of groups) {
    const all = includeSelf ? [x.data[at], ...values] : values;
    data[at] = reduce === "sum"
      ? all.reduce((a, b) => a + b, 0)
      : reduce === "prod"
      ? all.reduce((a, b) => a * b, 1)
      : reduce === "mean"
      ? all.reduce((a, b) => a + b, 0) / all.length
      : reduce === "amax"
      ? Math.max(...all)
      : Math.min(...all);
  }
  return { shape: [...x.shape], data };
}

/**
 * `torch.cummax` / `torch.cummin` along `dim`, PyTorch's sequential rule: an element takes over
 * if it is NaN, or neither is NaN and it is at least as extreme. Returns values and indices.
 */
export function cumulativeExtremum(
  x: { shape: number[]; data: ArrayLike<number> },
  dim: number,
  max: boolean,
): { values: F64; indices: I32 } {
  const values = new Float64Array(numel(x.shape)), indices = new Int32Array(values.length);
  const step = stridesOf(x.shape)[dim];
  for (let i = 0; i < values.length; i++) {
    if (coordsOf(i, x.shape)[dim] !== 0) continue;
    let [best, at] = [x.data[i], 0];
    for (let k = 0; k < x.shape[dim]; k++) {
      const v = x.data[i + k * step];
      if (Number.isNaN(v) || (!Number.isNaN(best) && (max ? v >= best : v <= best))) {
        [best, at] = [v, k];
      }
      values[i + k * step] = best;
      indices[i + k * step] = at;
    }
  }
  return {
    values: { shape: [...x.shape], data: values },
    indices: { shape: [...x.shape], data: indices },
  };
}
