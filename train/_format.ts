/**
 * Numbers as the logs print them.
 *
 * @module
 */

export { plural } from "../tensor/shape.ts";

/**
 * A learning rate without float noise: decays by 1/10 make `1.5000000000000006e-9` of
 * `1.5e-9`; twelve significant digits keep every rate a user types.
 */
export function formatLr(lr: number): string {
  return Number.isFinite(lr) ? String(Number(lr.toPrecision(12))) : String(lr);
}

/**
 * A loss with four decimals, or four significant digits when it is huge (a diverging run's
 * `6.558e+34`, not `6.557666484056119e+34`); NaN and ±Infinity as they are.
 */
export function formatLoss(loss: number): string {
  if (!Number.isFinite(loss)) return String(loss);
  return Math.abs(loss) < 1e6 ? loss.toFixed(4) : loss.toPrecision(4);
}

/** A fraction as a percentage with `decimals` decimals (default two), or `n/a`. */
export function pct(x: number | undefined, decimals = 2): string {
  return x !== undefined && Number.isFinite(x) ? `${(x * 100).toFixed(decimals)}%` : "n/a";
}

/**
 * Whether top-5 error means anything: with five classes or fewer it is always 0, so the logs
 * leave it out.
 */
export function showsTop5(numClasses: number): boolean {
  return numClasses > 5;
}
