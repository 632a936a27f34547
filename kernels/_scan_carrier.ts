/**
 * What a scan carries (`kernels/scan.ts`): the WGSL element type and combine of a running sum,
 * product or `log Σ exp`, or of a running extremum's value and position, and how an element is
 * read and written at each level of a blocked scan.
 *
 * @module
 */

import { IS_NAN } from "./_program.ts";
import { SMOOTH } from "./activation.ts";

/** The scans: a running sum, product, or `log Σ exp` (f32 only; `torch.logcumsumexp`). */
export type ScanOp = "sum" | "prod" | "logaddexp";

/**
 * WGSL of `combine(a, b)` per scan. `log(eᵃ + eᵇ)` is `max + log1p(e^−|a−b|)`: no overflow, and
 * exact where one side is −∞ (the difference is then infinite); two equal infinities give
 * themselves, a NaN propagates.
 */
const COMBINE: { readonly [K in ScanOp]: (type: string) => string } = {
  sum: (t) => `fn combine(a: ${t}, b: ${t}) -> ${t} { return a + b; }`,
  prod: (t) => `fn combine(a: ${t}, b: ${t}) -> ${t} { return a * b; }`,
  logaddexp: () =>
    `${IS_NAN}
${SMOOTH.join("\n")}
fn combine(a: f32, b: f32) -> f32 {
  if (isNan(a) || isNan(b)) { return a + b; }
  let m = max(a, b);
  let d = -abs(a - b);
  if (isNan(d)) { return m; }
  return m + log1pOf(exp(d));
}`,
};

/** Threads per tile. */
/**
 * What one scan carries and how: an element's WGSL type `E`, the combine, and the arrays an
 * element is read from and written to. A running sum's element is its value; a running
 * extremum's is the value with its position in the row, stored as two arrays (but at the first
 * level, where the positions are the elements' own and only the positions are output).
 */
export interface Carrier {
  /** WGSL: the element type `E` and `fn combine(a: E, b: E) -> E` (a earlier, b later). */
  readonly declarations: string;
  /** WGSL type of each array of a stored level after the first, in order. */
  readonly arrays: readonly string[];
  /** The first level's input and output array types. */
  readonly input: string;
  readonly output: string;
  /**
   * WGSL of the element at `at` of arrays named `name`, `name1`… (first level: input only; a
   * running extremum's first level takes its position from `positionInRow(j)`, which the shader
   * defines, with the element's flat index `j` in scope).
   */
  load(name: string, at: string, first: boolean): string;
  /** WGSL statements storing `e` at `at` of arrays named `name`… (first level: output only). */
  store(name: string, at: string, e: string, first: boolean): string;
  /** Names the dispatches. */
  readonly label: string;
}

/** A running sum's, product's or `log Σ exp`'s carrier: the element is its value. */
export function valueCarrier(op: ScanOp, type: "f32" | "i32", reverse: boolean): Carrier {
  return {
    declarations: `alias E = ${type};\n${COMBINE[op](type)}`,
    arrays: [type],
    input: type,
    output: type,
    load: (name, at) => `${name}[${at}]`,
    store: (name, at, e) => `${name}[${at}] = ${e};`,
    label: `cum${op}${reverse ? " reversed" : ""}`,
  };
}

/**
 * A running extremum's carrier. PyTorch's rule: a later element wins if it is NaN, or neither is
 * and it is at least as extreme (so ties go to the later index, and the first NaN stays until a
 * later one) — an associative choice, so any grouping gives the sequential answer.
 */
export function extremumCarrier(op: "max" | "min", type: "f32" | "i32"): Carrier {
  const beats = op === "max" ? ">=" : "<=";
  const wins = type === "f32"
    ? `isNan(b.v) || (!isNan(a.v) && b.v ${beats} a.v)`
    : `b.v ${beats} a.v`;
  return {
    declarations: `${type === "f32" ? IS_NAN : ""}
struct E { v: ${type}, at: i32 }
fn combine(a: E, b: E) -> E { if (${wins}) { return b; } return a; }`,
    arrays: [type, "i32"],
    input: type,
    output: "i32",
    load: (name, at, first) =>
      first ? `E(${name}[${at}], positionInRow(j))` : `E(${name}[${at}], ${name}1[${at}])`,
    store: (name, at, e, first) =>
      first
        ? `${name}[${at}] = (${e}).at;`
        : `${name}[${at}] = (${e}).v; ${name}1[${at}] = (${e}).at;`,
    label: `cum${op}`,
  };
}
