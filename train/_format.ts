/**
 * Numbers as the logs print them.
 *
 * @module
 */

/** `n word` or `n words`: "1 epoch", "2 epochs", "3 classes". */
export function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/**
 * A learning rate without float noise: decays by 1/10 make `1.5000000000000006e-9` of
 * `1.5e-9`; twelve significant digits keep every rate a user types.
 */
export function formatLr(lr: number): string {
  return Number.isFinite(lr) ? String(Number(lr.toPrecision(12))) : String(lr);
}

/** A fraction as a percentage with two decimals, or `n/a`. */
export function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : "n/a";
}

/**
 * Whether top-5 error means anything: with five classes or fewer it is always 0, so the logs
 * leave it out.
 */
export function showsTop5(numClasses: number): boolean {
  return numClasses > 5;
}
