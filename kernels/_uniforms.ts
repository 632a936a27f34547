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
 * console.log(width); // uni.v[0].x
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
    return `uni.v[${index >> 2}].${"xyzw"[index & 3]}`;
  }

  /** Registers an f32 `value` (by its bits) under `name` and returns its WGSL expression. */
  f32(name: string, value: number): string {
    const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
    return `bitcast<f32>(${this.u32(name, bits)})`;
  }

  /** Registers several values at once; returns their WGSL expressions by name. */
  all<K extends string>(values: Record<K, number>): Record<K, string> {
    const out = {} as Record<K, string>;
    for (const name of Object.keys(values) as K[]) out[name] = this.u32(name, values[name]);
    return out;
  }

  /**
   * The registered names in their order: with the values' count, all that the WGSL expressions
   * and the block's declaration depend on (a memo of generated WGSL keys on it).
   */
  get layout(): string {
    return [...this.#names.keys()].join(",");
  }

  /** The values, padded to whole vec4s; empty when none is registered (nothing is bound). */
  data(): Uint32Array {
    const out = new Uint32Array(Math.ceil(this.#values.length / 4) * 4);
    out.set(this.#values);
    return out;
  }

  /**
   * The declaration of the uniform block at `binding`. Call it after every value is
   * registered: the array length is part of the WGSL (and equal for every shape of a variant).
   * Every registered value must be read by the shader, or the block may be dropped.
   */
  declare(binding: number): string {
    // A block no expression reads would be dropped from the pipeline's layout: none at all.
    if (this.#values.length === 0) return "";
    const n = Math.ceil(this.#values.length / 4);
    return `struct Uniforms { v: array<vec4u, ${n}> }
@group(0) @binding(${binding}) var<uniform> uni: Uniforms;`;
  }
}

/**
 * The WGSL u32 expression of the element that flat index `i` (row-major over `shape`) reads in
 * a strided view: `offset + Σ ((i / inner) % d) · stride` over the axes that move it. Which
 * axes move is the WGSL's structure; sizes, strides and the offset are uniforms under `name`.
 */
export function stridedIndex(
  uf: Uniforms,
  name: string,
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): string {
  const terms = [uf.u32(`${name}.offset`, offset)];
  let inner = 1;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const d = shape[axis];
    if (d !== 1 && strides[axis] !== 0) {
      const i = uf.u32(`inner${axis}`, inner), size = uf.u32(`size${axis}`, d);
      terms.push(`((i / ${i}) % ${size}) * ${uf.u32(`${name}.stride${axis}`, strides[axis])}`);
    }
    inner *= d;
  }
  return terms.join(" + ");
}
