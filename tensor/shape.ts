/**
 * Shapes at the type level and at run time. A shape type is a tuple of dimensions: literal
 * numbers where they are known (`784`), names where they are not (`"batch"`), or `number`.
 * Literal mismatches are compile errors; everything else is checked at run time.
 *
 * @module
 */

/** One dimension of a shape type: a literal size, a name such as `"batch"`, or `number`. */
export type Dim = number | string;

/** A shape type: a tuple of dimensions (or `readonly Dim[]` when even the rank is unknown). */
export type Shape = readonly Dim[];

/** Element types a tensor can hold. */
export type DType = "f32" | "i32";

/** The run-time value of a shape type: the same rank, every dimension a number. */
export type ShapeValue<S extends Shape> = { readonly [I in keyof S]: number };

/** `true` when a dimension is not a literal number (a name or `number`): known only at run time. */
export type IsWide<D> = number extends D ? true : D extends string ? true : false;

/** Whether two dimensions can be equal: literals must match; wide dimensions always can. */
export type DimsAgree<A, B> = IsWide<A> extends true ? true
  : IsWide<B> extends true ? true
  : [A] extends [B] ? true
  : false;

/**
 * Intersected into a parameter type: `unknown` when the check holds, otherwise an object type
 * whose property names the problem, so the compile error says what is wrong.
 */
export type Check<Condition, Message extends string> = Condition extends true ? unknown
  : { readonly shapeError: Message };

/** A tuple of `N` copies of `T`. */
export type TupleOf<T, N extends number, Acc extends T[] = []> = number extends N ? T[]
  : Acc["length"] extends N ? Acc
  : TupleOf<T, N, [...Acc, T]>;

/** One broadcast dimension: the other side of a 1, else the literal side of a wide pair. */
export type BroadcastDim<A, B> = A extends 1 ? B : B extends 1 ? A : IsWide<A> extends true ? B : A;

/** The shape type of broadcasting `A` against `B` (NumPy rules, right-aligned). */
export type Broadcast<A extends Shape, B extends Shape> = number extends A["length"] ? Shape
  : number extends B["length"] ? Shape
  : A extends readonly [...infer AR extends Dim[], infer AL extends Dim]
    ? B extends readonly [...infer BR extends Dim[], infer BL extends Dim]
      ? [...Broadcast<AR, BR>, BroadcastDim<AL, BL>]
    : A
  : B;

/** Whether `A` and `B` broadcast: each aligned pair agrees or one of them is 1. */
export type Broadcastable<A extends Shape, B extends Shape> = number extends A["length"] ? true
  : number extends B["length"] ? true
  : A extends readonly [...infer AR extends Dim[], infer AL extends Dim]
    ? B extends readonly [...infer BR extends Dim[], infer BL extends Dim]
      ? AL extends 1 ? Broadcastable<AR, BR>
      : BL extends 1 ? Broadcastable<AR, BR>
      : DimsAgree<AL, BL> extends true ? Broadcastable<AR, BR>
      : false
    : true
  : true;

/**
 * The shape type of `torch.matmul(A, B)`: the broadcast batch axes (all but the last two),
 * then `M` unless `A` is 1-D (a row) and `N` unless `B` is 1-D (a column).
 */
export type MatmulShape<A extends Shape, B extends Shape> = number extends A["length"] ? Shape
  : number extends B["length"] ? Shape
  : A extends readonly [Dim] ? B extends readonly [Dim] ? []
    : B extends readonly [...infer BB extends Dim[], Dim, infer N] ? [...BB, N]
    : Shape
  : A extends readonly [...infer AB extends Dim[], infer M, Dim]
    ? B extends readonly [Dim] ? [...AB, M]
    : B extends readonly [...infer BB extends Dim[], Dim, infer N] ? [...Broadcast<AB, BB>, M, N]
    : Shape
  : Shape;

/** Whether `torch.matmul`'s inner dimensions can agree: `A`'s last, `B`'s last but one. */
export type MatmulInnerAgree<A extends Shape, B extends Shape> = number extends A["length"] ? true
  : number extends B["length"] ? true
  : A extends readonly [...Dim[], infer K] ? B extends readonly [infer K2] ? DimsAgree<K, K2>
    : B extends readonly [...Dim[], infer K2, Dim] ? DimsAgree<K, K2>
    : false
  : false;

/** Whether `torch.matmul`'s batch axes broadcast, and neither operand is 0-d. */
export type MatmulBatchesAgree<A extends Shape, B extends Shape> = number extends A["length"] ? true
  : number extends B["length"] ? true
  : A extends readonly [] ? false
  : B extends readonly [] ? false
  : Broadcastable<
    A extends readonly [...infer AB extends Dim[], Dim, Dim] ? AB : [],
    B extends readonly [...infer BB extends Dim[], Dim, Dim] ? BB : []
  >;

/** Number of elements of a run-time shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Whether two run-time shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Row-major strides of a run-time shape, in elements (the kernels' own definition). */
export { stridesOf as contiguousStrides } from "../kernels/elementwise.ts";

/** Broadcasts two run-time shapes, or throws naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: shapes [${a}] and [${b}] do not broadcast (axis ${i}: ${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Resolves negative axes and checks bounds; returns the axes sorted. An axis named twice (as
 * `[0, -2]` of a matrix) is an error, as in PyTorch and NumPy: it is likely a mistake.
 */
export function normalizeAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
  op: string,
): number[] {
  // null as omitted: PyTorch's dim=None, every axis.
  if (axes === undefined || axes === null) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  if (!Array.isArray(list)) {
    // An options object ({ dim: 1 }) where the API is positional would otherwise fail inside.
    throw new TypeError(
      `${op}: the axes are a number or an array of numbers, given positionally (as ` +
        `${op}(1)), got ${describeValue(axes)}`,
    );
  }
  const out = list.map((a) => {
    if (!Number.isInteger(a)) {
      const given = typeof a === "number" ? a : describeValue(a);
      throw new TypeError(`${op}: axis ${given} is not an integer`);
    }
    const axis = a < 0 ? a + rank : a;
    if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
      throw new ShapeError(`${op}: axis ${a} is out of range for a tensor of rank ${rank}`);
    }
    return axis;
  });
  const twice = out.find((axis, i) => out.indexOf(axis) !== i);
  if (twice !== undefined) {
    throw new ShapeError(`${op}: axis ${twice} is named twice in [${list}] (rank ${rank})`);
  }
  return out.sort((x, y) => x - y);
}

/**
 * The one axis `dim` names, of a tensor of rank `rank` (negative from the end), for the ops
 * whose axis is required: omitted, it would otherwise be read as every axis.
 */
export function normalizeAxis(dim: number, rank: number, op: string): number {
  if (typeof dim !== "number") {
    throw new TypeError(`${op}: dim must be one axis (a number), got ${describeValue(dim)}`);
  }
  return normalizeAxes(dim, rank, op)[0];
}

/**
 * The axes a reduction (or a flip) names, as {@link normalizeAxes}, except that a 0-d tensor
 * takes axis 0 or −1 as PyTorch does (`torch.tensor(2.).sum(0)`): its one element is already
 * reduced, so no axis is named.
 */
export function reductionAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
  op: string,
): number[] {
  if (rank > 0 || axes == null || (typeof axes !== "number" && !Array.isArray(axes))) {
    return normalizeAxes(axes, rank, op); // (which names a list that is none)
  }
  const list = typeof axes === "number" ? [axes] : axes;
  const outside = list.find((a) => a !== 0 && a !== -1);
  if (outside !== undefined) {
    throw new ShapeError(`${op}: axis ${outside} is out of range for a tensor of rank 0`);
  }
  normalizeAxes(list, 1, op); // refuses [0, −1], one axis named twice
  return [];
}

/** Checks that a run-time shape is a list of non-negative integers. */
export function validateShape(shape: readonly number[], op: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid shape [${shape}]: dimensions must be integers ≥ 0`);
    }
  }
}

/** A value as an error message names it: `the number 3`, `an array [2, 3]`, `a Tensor [2, 3]`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value !== "object") return `the ${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `an array [${value.slice(0, 8)}${value.length > 8 ? ",…" : ""}]`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  const shape = (value as { shape?: unknown }).shape;
  if (name && name !== "Object") return `a ${name}${Array.isArray(shape) ? ` [${shape}]` : ""}`;
  return `an object with keys ${Object.keys(value).join(", ") || "(none)"}`;
}

/**
 * A shape mismatch found at run time; its message names the op and the shapes.
 *
 * @example
 * ```ts
 * import { defaultDevice, ShapeError, tensor } from "../mod.ts";
 * await defaultDevice();
 * try {
 *   tensor([1, 2, 3]).reshape([2, 2]);
 * } catch (error) {
 *   console.log(error instanceof ShapeError); // true: "reshape: cannot view [3] (3 elements) as [2,2]"
 * }
 * ```
 */
export class ShapeError extends Error {
  /** `"ShapeError"`. */
  override name = "ShapeError";
}

/**
 * `n word` or `n words`, for messages from every layer: "1 epoch", "2 epochs", "3 classes".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plural } from "./shape.ts";
 * assert.equal(plural(1, "channel"), "1 channel");
 * assert.equal(plural(3, "axis", "axes"), "3 axes");
 * ```
 */
export function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}
