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

import { BoundedCache } from "./_bounded_cache.ts";
import { Uniforms } from "./_uniforms.ts";

/**
 * The most results one memo keeps, the least recently used dropped first (shapes come and go:
 * a run meeting ever-new ones keeps its current step's). A step holds a few dozen; a result
 * is up to 20 kB of WGSL (about 10 kB typical): at most about 10 MB.
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
  return memoisedBy((...args: A) => JSON.stringify(args), generate);
}

/**
 * Wraps `generate` as {@link memoised} does, keyed by `keyOf(...args)` instead of the arguments'
 * JSON: for generators that take objects that are not plain data (or plain data that does not
 * all matter), `keyOf` must name everything the result depends on.
 *
 * @example
 * ```ts
 * import { memoisedBy } from "./_memo.ts";
 * let calls = 0;
 * const label = memoisedBy((x: { n: number; at: Date }) => `${x.n}`, (x) => (calls++, `n = ${x.n}`));
 * console.log(label({ n: 3, at: new Date() }) === label({ n: 3, at: new Date() }), calls); // true 1
 * ```
 */
export function memoisedBy<A extends unknown[], R>(
  keyOf: (...args: A) => string,
  generate: (...args: A) => R,
): (...args: A) => R {
  const results = new BoundedCache<string, R>(LIMIT);
  return (...args: A): R => {
    const key = keyOf(...args);
    let result = results.get(key);
    if (result === undefined) {
      result = generate(...args);
      results.set(key, result);
    }
    return result;
  };
}

/** A kernel's WGSL and the packed values of its uniforms, as `Device.dispatch` takes them. */
export interface UniformKernel {
  wgsl: string;
  uniforms: Uint32Array;
}

/**
 * Memoises a kernel whose WGSL is generated from plain `params` (its variant: what the text
 * depends on) and whose sizes are uniforms: `generate` gets the WGSL expressions of `values`
 * (registered in their order) and the {@link Uniforms} to register more or declare the block.
 * Repeated params and values answer with the first call's result (do not modify it).
 *
 * @example
 * ```ts
 * import { memoisedKernel } from "./_memo.ts";
 * const scale = memoisedKernel((p: { factor: number }, u: Record<"n", string>, uniforms) =>
 *   `${uniforms.declare(0)}\n// ${u.n} values times ${p.factor}`
 * );
 * const k = scale({ factor: 2 }, { n: 300 });
 * console.log(k === scale({ factor: 2 }, { n: 300 }), k.uniforms[0]); // true 300
 * ```
 */
export function memoisedKernel<P, K extends string>(
  generate: (params: P, u: Record<K, string>, uniforms: Uniforms) => string,
): (params: P, values: Record<K, number>) => UniformKernel {
  return memoised((params: P, values: Record<K, number>): UniformKernel => {
    const uniforms = new Uniforms();
    const u = uniforms.all(values);
    const wgsl = generate(params, u, uniforms);
    return { wgsl, uniforms: uniforms.data() };
  });
}
