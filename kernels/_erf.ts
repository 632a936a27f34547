/**
 * The error function and its relatives in WGSL, which has none of them: `erfOf`, `erfcOf` and
 * `erfinvOf` (f32 → f32), for GELU, `erf`, `erfinv` and the truncated normal draw.
 *
 * - `erfOf(x)`: for |x| < 1, `x + x·q(x²)` (the leading `x` exact, so tiny `x` keeps full
 *   relative accuracy and −0 stays −0); elsewhere `±(1 − erfc|x|)`. Evaluated in f32 with fused
 *   multiply-adds and a correctly rounded `exp`, the largest error over [−6, 6] and down to
 *   1e-30 is 1.07 ulp; a device's `exp` (WGSL allows 3 + 2|x| ulp) adds at most what
 *   `erfc|x| < 0.16` passes on, well under an ulp of the result. NaN gives NaN, ±∞ gives ±1.
 * - `erfcOf(x)`: for x ≥ ½, `exp(−x²)·h(t)` with `t = 1/(1 + x/2)`, `h` a degree-9 fit (relative
 *   error 1e-9 in exact arithmetic) and `−x²` split into its f32 rounding and the exact error
 *   (one fma), so the large exponent costs no precision: relative error 3.2e-7 (about 5 ulp)
 *   with a correctly rounded `exp`, over x ∈ [−3, 9.2], where it underflows. For |x| < ½,
 *   `1 − erf(x)`; for x ≤ −½, `2 − erfc(−x)`. GELU's lower tail is `x·½·erfc(−x/√2)`, accurate
 *   where `1 + erf` would cancel to nothing.
 * - `erfinvOf(x)`: Giles's form (`w = −log(1 − x²)`, a polynomial in `w − 2.5` below 5 and in
 *   `√w − 3` above), refitted: relative error about 1e-7 from the fits, plus `log`'s error;
 *   ±1 gives ±∞, |x| > 1 and NaN give NaN.
 *
 * The coefficients were fitted (weighted least squares iterated toward minimax, each rounded to
 * f32 in turn with the rest refitted) against 40-digit values of erf, erfc and erfinv.
 *
 * @module
 */

import { f32Literal, IS_NAN } from "./_program.ts";

/** WGSL of `p(v)` by Horner's rule with fused multiply-adds, the coefficients lowest degree first. */
export function horner(v: string, coefficients: readonly number[]): string {
  let r = f32Literal(coefficients[coefficients.length - 1]);
  for (let k = coefficients.length - 2; k >= 0; k--) {
    r = `fma(${r}, ${v}, ${f32Literal(coefficients[k])})`;
  }
  return r;
}

/** erf(x)/x − 1 as a polynomial in s = x², for |x| < 1. */
const ERF_SMALL = [
  0.12837916612625122,
  -0.3761262595653534,
  0.1128358244895935,
  -0.026853643357753754,
  0.005187963135540485,
  -0.0008006803691387177,
  7.842346531106159e-05,
];

/** erfc(a)·exp(a²) as a polynomial in t = 1/(1 + a/2), for a ∈ [½, 9.3]. */
const ERFC_TAIL = [
  4.468490260478575e-06,
  0.28196147084236145,
  0.2838393747806549,
  0.2336631864309311,
  0.2396727204322815,
  -0.11819369345903397,
  0.4218531548976898,
  -0.6258451342582703,
  0.35937151312828064,
  -0.07633760571479797,
];

/** erfinv(x)/x as a polynomial in w − 2.5, for w = −log(1 − x²) < 5. */
const ERFINV_CENTRAL = [
  1.5014094114303589,
  0.24664072692394257,
  -0.004177682567387819,
  -0.001253710244782269,
  0.00021858589025214314,
  -4.39567384091788e-06,
  -3.5250675409770338e-06,
  3.4361389111836615e-07,
  2.824701361703319e-08,
];

/** erfinv(x)/x as a polynomial in √w − 3, for w ≥ 5. */
const ERFINV_TAIL = [
  2.832977056503296,
  1.0016744136810303,
  0.009433560073375702,
  -0.007629067171365023,
  0.0057739512994885445,
  -0.0036468207836151123,
  0.0012751087779179215,
  7.342639582930133e-05,
  -0.00014772856957279146,
];

const ERF_CORE = `
fn erfSmall(x: f32) -> f32 {
  let s = x * x;
  return fma(${horner("s", ERF_SMALL)}, x, x);
}
fn erfcTail(x: f32) -> f32 {
  // Beyond 10 the result is below f32's range: clamping keeps ∞ from making 0·∞.
  let a = min(x, 10.0);
  let t = 1.0 / fma(a, 0.5, 1.0);
  let h = ${horner("t", ERFC_TAIL)};
  let square = -a * a;
  let error = fma(-a, a, -square);
  return exp(square) * fma(h, error, h);
}`;

/** WGSL of `erfOf(x: f32) -> f32` and what it calls. */
export const ERF: readonly string[] = [
  IS_NAN,
  ERF_CORE,
  `
fn erfOf(x: f32) -> f32 {
  let a = abs(x);
  var r = erfSmall(x);
  if (a >= 1.0) {
    let e = 1.0 - erfcTail(a);
    r = select(-e, e, x > 0.0);
  }
  return select(r, x, isNan(x));
}`,
];

/** WGSL of `erfcOf(x: f32) -> f32` and what it calls. */
export const ERFC: readonly string[] = [
  IS_NAN,
  ERF_CORE,
  `
fn erfcOf(x: f32) -> f32 {
  if (abs(x) < 0.5) { return 1.0 - erfSmall(x); }
  let tail = erfcTail(abs(x));
  return select(select(2.0 - tail, tail, x > 0.0), x, isNan(x));
}`,
];

/** WGSL of `erfinvOf(x: f32) -> f32` and what it calls. */
export const ERFINV: readonly string[] = [
  IS_NAN,
  `
fn erfinvOf(x: f32) -> f32 {
  let w = -log((1.0 - x) * (1.0 + x));
  let u = w - 2.5;
  var p = ${horner("u", ERFINV_CENTRAL)};
  if (w >= 5.0) {
    let v = sqrt(w) - 3.0;
    p = ${horner("v", ERFINV_TAIL)};
  }
  let inf = bitcast<f32>(0x7f800000u);
  let r = select(p * x, select(-inf, inf, x > 0.0), abs(x) == 1.0);
  return select(r, bitcast<f32>(0x7fc00000u), abs(x) > 1.0 || isNan(x));
}`,
];
