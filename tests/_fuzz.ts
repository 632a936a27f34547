/**
 * What the randomized sweeps share: the seeds (a fixed list, or `FUZZ_SEED` and `FUZZ_ITERS` to
 * run longer), random draws of sizes and options, and an elementwise comparison whose tolerance
 * follows from float32 accumulation.
 *
 * The tolerance. A float32 sum of K products, in any order (tiles, split-K, a tree), has an error
 * below γ_K · Σ|terms| with γ_K ≈ K·u (u = 2⁻²⁴, Higham, "Accuracy and Stability", §3.1). That
 * worst case assumes every rounding goes the same way; rounding errors are independent and of
 * mean zero, so with probability at least 1 − 2·exp(−λ²/2) per element the error stays below
 * λ·√K·u · Σ|terms| (Higham & Mary, "A new approach to probabilistic rounding error analysis",
 * SIAM J. Sci. Comput. 2019, theorem 2.4). With λ = 8 a false failure has probability below
 * 3e-14 per element. Σ|terms| is the same sum over absolute values, computed by the float64
 * reference from |inputs|, so the bound scales with the magnitudes an element was computed
 * from, not with the largest element of the tensor: an index off by one, a missing tap or a
 * term counted twice changes an element by about Σ|terms| / K, far above it for the depths
 * here.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { mulberry32 } from "./_reference.ts";

/** float32's unit roundoff. */
export const UNIT_ROUNDOFF = 2 ** -24;

/**
 * How much larger than Σ|x·w| Winograd F(2×2, r×r)'s intermediate values can be: with all
 * inputs and weights of one magnitude, |Aᵀ|(|G|·1 ⊙ |Bᵀ|·1) over r is 8/3 per axis for r = 3
 * and 173/15 for r = 5, squared for two axes.
 */
export const WINOGRAD_AMPLIFICATION: Record<number, number> = {
  3: (8 / 3) ** 2,
  5: (173 / 15) ** 2,
};

/** `FUZZ_VERBOSE=1` prints how much of its bound each comparison used. */
const VERBOSE = envInt("FUZZ_VERBOSE") === 1;

/** λ of the probabilistic bound (see the module doc). */
const LAMBDA = 8;

function envInt(name: string): number | undefined {
  try {
    const v = Deno.env.get(name);
    return v === undefined ? undefined : Number.parseInt(v, 10);
  } catch {
    return undefined;
  }
}

/** Whether `FUZZ_SEED` asks for seeds of its own instead of the fixed ones. */
export function fuzzing(): boolean {
  return envInt("FUZZ_SEED") !== undefined;
}

/**
 * The seeds of a sweep: `count` fixed ones (so CI always runs the same cases), or, with
 * `FUZZ_SEED=s`, `count · FUZZ_ITERS` (default 1) seeds from s on.
 */
export function fuzzSeeds(sweep: string, count: number): number[] {
  const first = envInt("FUZZ_SEED");
  const total = count * (envInt("FUZZ_ITERS") ?? 1);
  // Each sweep its own fixed seeds, so two sweeps never draw the same stream.
  const base = first ?? [...sweep].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 1e6;
  return Array.from({ length: first === undefined ? count : total }, (_, i) => base + i);
}

/** Random draws from one seeded stream. */
export class Draw {
  /** The uniform stream on [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/**
 * λ·√depth·u·amplification: the bound of the rounding error of a sum over `depth` roundings,
 * per unit of its sum of |terms| (see the module doc).
 */
export function roundingBound(depth: number, amplification = 1): number {
  return LAMBDA * Math.sqrt(Math.max(depth, 1)) * UNIT_ROUNDOFF * amplification;
}

/**
 * Asserts |got − want| ≤ λ·√depth·u·amplification·magnitude elementwise (plus u·|want| for the
 * final rounding), where `magnitude[i]` is element i's sum of |terms| (see the module doc) and
 * `depth` the number of roundings along its longest sum. `amplification` accounts for
 * intermediate values larger than the terms (Winograd's transforms). NaN or a missing element
 * always fails.
 */
export function assertAccumulated(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  magnitude: ArrayLike<number>,
  depth: number,
  amplification = 1,
): void {
  const scale = roundingBound(depth, amplification);
  const bound = Float64Array.from({ length: want.length }, (_, i) => scale * magnitude[i]);
  assertBounded(label, got, want, bound, `for depth ${depth}`);
}

/**
 * Asserts |got − want| ≤ bound + u·|want| elementwise (the bound of the errors made before the
 * final rounding, then that rounding) and returns the largest |got − want| as a fraction of
 * that. NaN or a missing element always fails; `what` describes the bound in the message.
 */
export function assertBounded(
  label: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  bound: ArrayLike<number>,
  what = "",
): number {
  if (got.length < want.length) {
    throw new AssertionError({ message: `${label}: ${got.length} values, want ${want.length}` });
  }
  let failures = 0, worst = -1, worstRatio = 0, largest = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const tol = bound[i] + UNIT_ROUNDOFF * Math.abs(want[i]) + Number.MIN_VALUE;
    const ratio = err / tol;
    largest = Math.max(largest, ratio);
    if (!(ratio <= 1)) {
      failures++;
      if (worst < 0 || !(ratio <= worstRatio)) [worst, worstRatio] = [i, ratio];
    }
  }
  if (VERBOSE) console.log(`${label.split("\n").at(-1)}: ${largest.toPrecision(2)} of the bound`);
  if (worst >= 0) {
    throw new AssertionError({
      message: `${label}: ${failures}/${want.length} elements off; worst [${worst}] = ` +
        `${got[worst]}, want ${want[worst]} (|error| ${Math.abs(got[worst] - want[worst])}, ` +
        `${worstRatio.toPrecision(3)}× the bound${what ? " " + what : ""})`,
    });
  }
  return largest;
}
