/**
 * Nested number arrays, the form in which `Tensor.toArray()` hands data back: a flat row-major
 * list cut into one level of arrays per axis.
 *
 * @module
 */

import { numel } from "./shape.ts";

/** Nested number arrays, as `toArray()` returns them. */
export type NestedArray = number | NestedArray[];

/** The row-major `flat` as nested arrays of `shape` (a number for a scalar). */
export function nest(flat: readonly number[], shape: readonly number[]): NestedArray {
  if (shape.length === 0) return flat[0];
  const [first, ...rest] = shape;
  const inner = numel(rest);
  return Array.from(
    { length: first },
    (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), rest),
  );
}
