/**
 * Shapes as uniforms: a kernel generator names each size, offset and stride through a
 * {@link Uniforms} and writes the WGSL expression it returns instead of a literal. The WGSL
 * text then depends only on the kernel's variant (tile, unrolled structure, flags), so a
 * pipeline compiles once per variant and tile, and a new batch size or layer width reuses it;
 * the values travel in a small uniform buffer that the device caches by content.
 *
 * @module
 */

/**
 * The uniform values of one dispatch, packed as u32 in `array<vec4u, N>`. Negative values are
 * stored wrapped (two's complement): the kernels do wrapping u32 arithmetic with them.
 *
 * @example
 * ```ts
 * import { Uniforms } from "./_uniforms.ts";
 * const u = new Uniforms();
 * const width = u.u32("width", 227);
 * console.log(width); // u.v[0].x
 * console.log(u.data()); // Uint32Array(4) [227, 0, 0, 0]
 * ```
 */
export class Uniforms {
  #values: number[] = [];
  #names = new Map<string, number>();

  /** Registers `value` under `name` (once; a second call must agree) and returns its WGSL. */
  u32(name: string, value: number): string {
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 32) {
      throw new RangeError(`uniform ${name} = ${value} is not a 32-bit integer`);
    }
    const word = value >>> 0;
    let index = this.#names.get(name);
    if (index === undefined) {
      index = this.#values.length;
      this.#values.push(word);
      this.#names.set(name, index);
    } else if (this.#values[index] !== word) {
      throw new RangeError(`uniform ${name} given twice: ${this.#values[index]} and ${word}`);
    }
    return `u.v[${index >> 2}].${"xyzw"[index & 3]}`;
  }

  /** Registers several values at once; returns their WGSL expressions by name. */
  all<K extends string>(values: Record<K, number>): Record<K, string> {
    const out = {} as Record<K, string>;
    for (const name of Object.keys(values) as K[]) out[name] = this.u32(name, values[name]);
    return out;
  }

  /** The values, padded to whole vec4s (at least one). */
  data(): Uint32Array {
    const out = new Uint32Array(Math.max(4, Math.ceil(this.#values.length / 4) * 4));
    out.set(this.#values);
    return out;
  }

  /**
   * The declaration of the uniform block at `binding`. Call it after every value is
   * registered: the array length is part of the WGSL (and equal for every shape of a variant).
   */
  declare(binding: number): string {
    const n = Math.max(1, Math.ceil(this.#values.length / 4));
    return `struct Uniforms { v: array<vec4u, ${n}> }
@group(0) @binding(${binding}) var<uniform> u: Uniforms;`;
  }
}
