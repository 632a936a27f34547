/**
 * Float64 references of the error function and its relatives, for the tests of `erf`, `gelu`
 * and `erfinv`: accurate to about 1e-15 relative (erf by its series of positive terms below
 * |x| = 4, erfc by its continued fraction above, erfinv by bisection on erf).
 *
 * @module
 */

/** erf(x) in float64. */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 4) return Math.sign(x) * (1 - erfc64(a));
  // erf(a) = 2/√π·e^{−a²}·Σ 2ⁿa^{2n+1}/(1·3···(2n+1)): every term positive, no cancellation.
  let term = a, total = a;
  for (let n = 1; term > total * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    total += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * total;
}

/** erfc(x) = 1 − erf(x) in float64, accurate relative to itself in the upper tail. */
export function erfc64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 4) return 1 - erf64(x);
  // e^{−x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))).
  let k = x;
  for (let n = 80; n >= 1; n--) k = x + n / 2 / k;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / k;
}

/** erfinv(x) in float64, by bisection on {@link erf64}. */
export function erfinv64(x: number): number {
  if (Number.isNaN(x) || Math.abs(x) > 1) return NaN;
  if (Math.abs(x) === 1) return Math.sign(x) * Infinity;
  let [lo, hi] = [-7, 7];
  for (let i = 0; i < 200 && hi - lo > 0; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (erf64(mid) < x) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The distance from `actual` to `expected` in units of the f32 spacing at `expected`. */
export function ulpsOff(actual: number, expected: number): number {
  if (Number.isNaN(expected)) return Number.isNaN(actual) ? 0 : Infinity;
  if (actual === expected) return 0;
  const magnitude = Math.max(Math.abs(expected), 2 ** -126);
  const ulp = 2 ** (Math.floor(Math.log2(magnitude)) - 23);
  return Math.abs(actual - expected) / ulp;
}
