/**
 * What a kernel hands to `Device.dispatch`: its generated WGSL and its grid. Every kernel file
 * generates its WGSL from its parameters, so the WGSL text is the whole identity of the
 * pipeline (the device caches pipelines by it). This file imports nothing, so the device and
 * the kernels' shared helpers (`_program.ts`) both build on it without importing each other.
 *
 * @module
 */

/** One compute dispatch: the shader (entry point `main`, bind group 0) and its grid. */
export interface Dispatch {
  /** Names the kernel in error messages, with the sizes that matter. */
  readonly name: string;
  /**
   * Complete WGSL source: the pipeline's identity. Kernels keep sizes out of it (they travel
   * in `uniforms`), so one pipeline serves every shape of a variant.
   */
  readonly wgsl: string;
  /**
   * Values of the shader's uniform block (see `_uniforms.ts`), bound after the storage
   * bindings: at binding index `bindings.length`.
   */
  readonly uniforms?: Uint32Array;
  /** The kernel variant (algorithm and tile), shown by the profiler. */
  readonly variant?: string;
  /** Work of the dispatch, for the profiler's rates: floating-point operations and bytes moved. */
  readonly cost?: { readonly flops?: number; readonly bytes?: number };
  /**
   * The grid. A single number is a flat count of workgroups, folded over x, y and z when it
   * exceeds the per-dimension limit: the shader finds its flat index with `FLAT_WORKGROUP` (`_program.ts`).
   * A triple is used as is and must fit the limit.
   */
  readonly workgroups: number | readonly [number, number, number];
}

/**
 * Spreads a flat workgroup count over x, y and z so that no dimension exceeds `max`. The shader
 * recomputes the flat index and must ignore indices past the count (the grid may overshoot).
 */
export function foldWorkgroups(
  workgroups: number | readonly [number, number, number],
  max: number,
): [number, number, number] {
  if (typeof workgroups !== "number") {
    const [x, y, z] = workgroups;
    if (x > max || y > max || z > max) {
      throw new RangeError(`dispatch grid ${x}×${y}×${z} exceeds ${max} workgroups per dimension`);
    }
    return [x, y, z];
  }
  const total = Math.max(1, workgroups);
  if (total <= max) return [total, 1, 1];
  const y = Math.ceil(total / max);
  if (y <= max) return [max, y, 1];
  return [max, max, Math.ceil(total / (max * max))];
}
