/**
 * Sorting and searching as functions: `sort(x, options)` is `x.sort(options)`. One stable merge sort
 * (`kernels/sort.ts`) gives each row's order; the values are a gather through it, so their
 * gradient goes back to where each came from. NaN sorts as the largest value, as PyTorch's.
 *
 * @module
 */

import { type DType, sameShape, type Shape, ShapeError } from "./shape.ts";
import { searchSorted } from "./_primitives_index.ts";
import { fromTypedArray, tensor } from "./creation.ts";
import { tidy } from "./memory.ts";
import { maskedSelect } from "./ops_index.ts";
import { concat } from "./ops_shape.ts";
import { checkSearch } from "./_tensor_index_args.ts";
import { checkOptions, optionNames } from "./options.ts";
import {
  fromRaw,
  rawOf,
  type SortOptions,
  type Tensor,
  tensorArgument,
  type TopkOptions,
  type ValuesAndIndices,
} from "./tensor.ts";

/**
 * The i32 order of `x` along `options.dim` (default last), as `torch.argsort`: ascending unless
 * `descending`, stable, NaN the largest. No gradient.
 *
 * @example
 * ```ts
 * import { argsort, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await argsort(tensor([[3, 1, 2], [0, NaN, -1]])).toArray()); // [[1, 2, 0], [2, 0, 1]]
 * ```
 */
export function argsort<S extends Shape>(
  x: Tensor<S, DType>,
  options: SortOptions = {},
): Tensor<S, "i32"> {
  return tensorArgument("argsort", x).argsort(options);
}

/**
 * The elements of `x` sorted along `options.dim` (default last) and the i32 indices they came
 * from, as `torch.sort`: stable, NaN the largest (last ascending, first descending).
 *
 * @example
 * ```ts
 * import { defaultDevice, sort, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = sort(tensor([2, 9, 2, 4]), { descending: true });
 * console.log(await values.toArray(), await indices.toArray()); // [9, 4, 2, 2] [1, 3, 0, 2]
 * ```
 */
export function sort<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
  options: SortOptions = {},
): ValuesAndIndices<S, D> {
  return tensorArgument("sort", x).sort(options);
}

/**
 * The `k` largest elements of `x` along `options.dim` (default last; the smallest when
 * `largest` is false) and their i32 indices, in order, as `torch.topk`.
 *
 * @example The top-2 classes of each row
 * ```ts
 * import { defaultDevice, tensor, topk } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = topk(tensor([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]), 2);
 * console.log(await indices.toArray()); // [[1, 2], [0, 2]]
 * console.log(await values.toArray()); // [[0.6, 0.3], [0.5, 0.3]]
 * ```
 */
export function topk<D extends DType>(
  x: Tensor<Shape, D>,
  k: number,
  options: TopkOptions = {},
): ValuesAndIndices<Shape, D> {
  return tensorArgument("topk", x).topk(k, options);
}

/**
 * The `k`-th smallest element of `x` along `dim` (default last) and its i32 index, as
 * `torch.kthvalue` (`k` from 1, NaN the largest).
 *
 * @example
 * ```ts
 * import { defaultDevice, kthvalue, tensor } from "../mod.ts";
 * await defaultDevice();
 * const { values, indices } = kthvalue(tensor([[5, 1, 4], [2, 8, 3]]), 2);
 * console.log(await values.toArray(), await indices.toArray()); // [4, 3] [2, 2]
 * ```
 */
export function kthvalue<D extends DType>(
  x: Tensor<Shape, D>,
  k: number,
  dim = -1,
  keepdim = false,
): ValuesAndIndices<Shape, D> {
  return tensorArgument("kthvalue", x).kthvalue(k, dim, keepdim);
}

/**
 * The lower median of `x` along `dim` and its i32 index, as `torch.median(x, dim)` (NaN where
 * a row has one); without `dim`, of all elements as a 0-d tensor.
 *
 * @example
 * ```ts
 * import { defaultDevice, median, tensor } from "../mod.ts";
 * await defaultDevice();
 * const x = tensor([[5, 1, 4, 2], [2, NaN, 3, 0]]);
 * const { values, indices } = median(x, 1);
 * console.log(await values.toArray(), await indices.toArray()); // [2, NaN] [3, 1]
 * console.log(await median(tensor([3, 1, 2])).item()); // 2
 * ```
 */
export function median<D extends DType>(
  x: Tensor<Shape, D>,
  dim: number,
  keepdim?: boolean,
): ValuesAndIndices<Shape, D>;
/** The lower median of all elements of `x`, as `torch.median(x)`. */
export function median<D extends DType>(x: Tensor<Shape, D>): Tensor<[], D>;
export function median<D extends DType>(
  x: Tensor<Shape, D>,
  dim?: number,
  keepdim = false,
): ValuesAndIndices<Shape, D> | Tensor<[], D> {
  tensorArgument("median", x);
  return dim === undefined ? x.median() : x.median(dim, keepdim);
}

/** The options of {@link searchsorted} and {@link bucketize}. */
export interface SearchOptions {
  /**
   * `false` (default): the first position whose element is not below the value (`side="left"`);
   * `true`: the first whose element is above it (`side="right"`).
   */
  right?: boolean;
  /** PyTorch's other spelling of `right`: `"left"` or `"right"`; it may not contradict `right`. */
  side?: "left" | "right";
  /**
   * {@link searchsorted} only: the i32 order that sorts an unsorted `sortedSequence` along its
   * last axis (its `argsort`), shaped as it, as `torch.searchsorted`'s `sorter`.
   */
  sorter?: Tensor<Shape, "i32">;
}

/** Whether `options` search from the right (`right: true` or `side: "right"`), checked. */
function searchesRight(op: string, options: SearchOptions): boolean {
  const { right = false, side } = options;
  if (side === undefined) return right;
  if (side !== "left" && side !== "right") {
    throw new RangeError(`${op}: side must be "left" or "right", got ${JSON.stringify(side)}`);
  }
  if (right && side === "left") {
    throw new RangeError(`${op}: side "left" contradicts right: true`);
  }
  return side === "right";
}

const SEARCH_OPTIONS = optionNames<SearchOptions>({ right: true, side: true, sorter: true });

/**
 * The i32 positions at which `values` would be inserted into the ascending `sortedSequence` to
 * keep it sorted, as `torch.searchsorted`: a 1-D sequence serves every value; an N-D one is
 * searched along its last axis, one row per row of `values` (the leading axes shared). Shaped
 * as `values`; NaN sorts as the largest value. No gradient.
 *
 * @example
 * ```ts
 * import { defaultDevice, searchsorted, tensor } from "../mod.ts";
 * await defaultDevice();
 * const edges = tensor([1, 3, 5, 7]);
 * console.log(await searchsorted(edges, tensor([3, 6, 9])).toArray()); // [1, 3, 4]
 * console.log(await searchsorted(edges, tensor([3, 6, 9]), { right: true }).toArray()); // [2, 3, 4]
 * console.log(await searchsorted(edges, 6, { side: "right" }).item()); // 3
 * // An unsorted sequence with the order that sorts it.
 * const shuffled = tensor([5, 1, 7, 3]);
 * const sorter = tensor([1, 3, 0, 2], { dtype: "i32" });
 * console.log(await searchsorted(shuffled, tensor([3, 6]), { sorter }).toArray()); // [1, 3]
 * ```
 */
export function searchsorted<S extends Shape, D extends DType>(
  sortedSequence: Tensor<Shape, D>,
  values: Tensor<S, D> | number,
  options: SearchOptions = {},
): Tensor<S, "i32"> {
  tensorArgument("searchsorted", sortedSequence);
  checkOptions("searchsorted", options, SEARCH_OPTIONS);
  const right = searchesRight("searchsorted", options);
  return tidy(() => {
    // A number is a 0-d value, as PyTorch's Python scalar.
    const searched = typeof values === "number"
      ? tensor(values, { device: sortedSequence.device, dtype: sortedSequence.dtype })
      : values;
    let sorted = sortedSequence;
    if (options.sorter !== undefined) {
      const { sorter } = options;
      if (!sameShape(sorter.shape, sortedSequence.shape)) {
        throw new ShapeError(
          `searchsorted: the sorter [${sorter.shape}] must be shaped as the sequence ` +
            `[${sortedSequence.shape}]`,
        );
      }
      sorted = sortedSequence.gather(-1, sorter);
    }
    checkSearch("searchsorted", sorted, searched);
    return fromRaw<S, "i32">(searchSorted(rawOf(sorted), rawOf(searched), right));
  });
}

/**
 * The i32 index of the bucket of each element of `input` among the ascending 1-D `boundaries`,
 * as `torch.bucketize`: `i` such that `boundaries[i−1] < x ≤ boundaries[i]`, or with `right`,
 * `boundaries[i−1] ≤ x < boundaries[i]`. No gradient.
 *
 * @example
 * ```ts
 * import { bucketize, defaultDevice, tensor } from "../mod.ts";
 * await defaultDevice();
 * console.log(await bucketize(tensor([[0, 1], [4, 9]]), tensor([1, 5])).toArray()); // [[0, 0], [1, 2]]
 * ```
 */
export function bucketize<S extends Shape, D extends DType>(
  input: Tensor<S, D>,
  boundaries: Tensor<Shape, D>,
  options: SearchOptions = {},
): Tensor<S, "i32"> {
  tensorArgument("bucketize", input);
  checkOptions("bucketize", options, SEARCH_OPTIONS);
  if (boundaries.rank !== 1) {
    throw new RangeError(`bucketize: the boundaries must be 1-D, got shape [${boundaries.shape}]`);
  }
  if (options.sorter !== undefined) {
    throw new TypeError("bucketize: takes no sorter (torch.searchsorted does)");
  }
  checkSearch("bucketize", boundaries, input);
  const right = searchesRight("bucketize", options);
  return fromRaw<S, "i32">(searchSorted(rawOf(boundaries), rawOf(input), right));
}

/** What {@link unique} gives. */
export interface UniqueResult<S extends Shape, D extends DType> {
  /**
   * The distinct values, ascending. Each NaN is a value of its own, last, as in PyTorch; the
   * inverse and count of every NaN go to the first of them.
   */
  values: Tensor<[number], D>;
  /** For each element of the input, the i32 index of its value in `values` (input's shape). */
  inverse: Tensor<S, "i32">;
  /** How many elements of the input have each value (i32). */
  counts: Tensor<[number], "i32">;
}

/**
 * The distinct values of `x` in ascending order, where each element's value is among them, and
 * how often each occurs, as `torch.unique(x, sorted=True, return_inverse=True,
 * return_counts=True)`. Asynchronous: the number of distinct values is read back. No gradient.
 *
 * @example Classes present in a batch of labels
 * ```ts
 * import { defaultDevice, tensor, unique } from "../mod.ts";
 * await defaultDevice();
 * const { values, inverse, counts } = await unique(tensor([3, 1, 3, 7, 1, 3], { dtype: "i32" }));
 * console.log(await values.toArray(), await inverse.toArray(), await counts.toArray());
 * // [1, 3, 7] [1, 0, 1, 2, 0, 1] [2, 3, 1]
 * ```
 */
export async function unique<S extends Shape, D extends DType>(
  x: Tensor<S, D>,
): Promise<UniqueResult<S, D>> {
  tensorArgument("unique", x);
  const n = x.size;
  const { sorted, firsts } = tidy(() => {
    const sorted = x.reshape([n]).sort().values.detach();
    // 1 where a sorted value differs from the one before it (the first always counts).
    const one = fromTypedArray(Float32Array.of(1), [1], { device: x.device });
    const changes = n === 0
      ? one.slice(0, 0, 0)
      : sorted.slice(0, 1, n).ne(sorted.slice(0, 0, n - 1));
    return { sorted, firsts: n === 0 ? changes : concat([one, changes], 0) };
  });
  try {
    const values = await maskedSelect(sorted, firsts) as Tensor<[number], D>;
    return tidy(() => {
      const inverse = searchsorted(values, x.reshape([n]) as Tensor<Shape, D>);
      const options = { device: x.device, dtype: "i32" as const };
      const ones = fromTypedArray(new Int32Array(n).fill(1), [n], options);
      const zeros = fromTypedArray(new Int32Array(values.size), [values.size], options);
      const counts = zeros.scatterAdd(0, inverse, ones) as Tensor<[number], "i32">;
      return { values, inverse: inverse.reshape(x.shape) as Tensor<S, "i32">, counts };
    });
  } finally {
    sorted.dispose();
    firsts.dispose();
  }
}
