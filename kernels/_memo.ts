/**
 * Memoised kernel generators. Generating a kernel's WGSL (and its uniforms) from its
 * parameters costs tens to hundreds of microseconds of string building, paid on every dispatch
 * although a training step repeats the same shapes step after step. A generator that is a pure
 * function of plain data (numbers, booleans, strings, arrays and objects of them) is wrapped
 * once and then answers repeated parameters from a map keyed by their JSON, which is cheap
 * next to the generation it replaces.
 *
 * @module
 */

/**
 * The most results one memo keeps; past it, it starts over (shapes come and go). A step holds
 * a few dozen; a result is up to 20 kB of WGSL (about 10 kB typical): at most about 10 MB.
 */
const LIMIT = 512;

/**
 * Wraps `generate`, a pure function of plain data, so that repeated arguments return the
 * result of the first call (the same object: callers must not modify it).
 *
 * @example
 * ```ts
 * import { memoised } from "./_memo.ts";
 * let calls = 0;
 * const square = memoised((x: { n: number }) => (calls++, { wgsl: `${x.n * x.n}` }));
 * console.log(square({ n: 3 }) === square({ n: 3 }), calls); // true 1
 * ```
 */
export function memoised<A extends unknown[], R>(generate: (...args: A) => R): (...args: A) => R {
  const results = new Map<string, R>();
  return (...args: A): R => {
    const key = JSON.stringify(args);
    let result = results.get(key);
    if (result === undefined) {
      if (results.size >= LIMIT) results.clear();
      result = generate(...args);
      results.set(key, result);
    }
    return result;
  };
}
