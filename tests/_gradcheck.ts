/**
 * Gradient checks and tolerant comparisons for kernel tests.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import type { F64 } from "./_reference.ts";

/**
 * Central-difference gradient of L = Σ f(inputs) ⊙ upstream with respect to
 * `inputs[wrt]`, in float64. Inputs are not modified (the perturbed one is copied).
 */
export function numericGrad(
  f: (inputs: F64[]) => F64,
  inputs: F64[],
  wrt: number,
  upstream: F64,
  eps = 1e-6,
): F64 {
  const target = inputs[wrt];
  if (target === undefined) throw new Error(`numericGrad: no input ${wrt}`);
  const probe: F64 = { shape: [...target.shape], data: target.data.slice() };
  const args = inputs.slice();
  args[wrt] = probe;
  const loss = (): number => {
    const y = f(args);
    if (y.data.length !== upstream.data.length) {
      throw new Error(
        `numericGrad: f gives ${y.data.length} values, upstream has ${upstream.data.length}`,
      );
    }
    let l = 0;
    for (let i = 0; i < y.data.length; i++) l += y.data[i] * upstream.data[i];
    return l;
  };
  const grad: F64 = { shape: [...target.shape], data: new Float64Array(target.data.length) };
  for (let i = 0; i < probe.data.length; i++) {
    const x0 = probe.data[i];
    probe.data[i] = x0 + eps;
    const lPlus = loss();
    probe.data[i] = x0 - eps;
    const lMinus = loss();
    probe.data[i] = x0;
    grad.data[i] = (lPlus - lMinus) / (2 * eps);
  }
  return grad;
}

/** Tolerances of {@linkcode assertClose}; defaults rtol 1e-5, atol 1e-6. */
export interface CloseOptions {
  rtol?: number;
  atol?: number;
  /** Names the quantity in the failure message. */
  label?: string;
}

/**
 * Asserts |a − e| ≤ atol + rtol·|e| elementwise (NaN only matches NaN, ±∞ only
 * itself) and that the lengths agree. On failure the message gives the label,
 * the worst index, actual, expected, the error and how many elements failed.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: CloseOptions = {},
): void {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-6;
  const label = opts.label ?? "values";
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${label}: length ${actual.length} != expected length ${expected.length}`,
    });
  }
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let excess: number;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      excess = Number.isNaN(a) && Number.isNaN(e) ? 0 : Infinity;
    } else if (!Number.isFinite(a) || !Number.isFinite(e)) {
      excess = a === e ? 0 : Infinity;
    } else {
      excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    }
    if (excess > 0) {
      failures++;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (worst >= 0) {
    const a = actual[worst];
    const e = expected[worst];
    throw new AssertionError({
      message: `${label}: ${failures}/${actual.length} elements not close ` +
        `(rtol ${rtol}, atol ${atol}); worst at index ${worst}: actual ${a}, ` +
        `expected ${e}, |error| ${Math.abs(a - e)}`,
    });
  }
}

/** max|a − e| / max(max|e|, tiny): one number summarising a whole tensor's error. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) {
    throw new Error(`relativeError: length ${actual.length} != ${expected.length}`);
  }
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    maxErr = Math.max(maxErr, err); // NaN propagates
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxErr / Math.max(maxRef, 1e-30);
}
