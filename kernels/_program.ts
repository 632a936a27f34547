/**
 * What a kernel hands to {@link Device.dispatch}: its generated WGSL and its grid. Every kernel
 * file generates its WGSL from its parameters, so the WGSL text is the whole identity of the
 * pipeline (the device caches pipelines by it).
 *
 * @module
 */

/** One compute dispatch: the shader (entry point `main`, bind group 0) and its grid. */
export interface Dispatch {
  /** Names the kernel in error messages, with the sizes that matter. */
  readonly name: string;
  /** Complete WGSL source. Constants are baked in as text. */
  readonly wgsl: string;
  /**
   * The grid. A single number is a flat count of workgroups, folded over x, y and z when it
   * exceeds the per-dimension limit: the shader finds its flat index with {@link FLAT_WORKGROUP}.
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

/**
 * WGSL that defines `flatWorkgroup(wid, nwg)`, the flat index of a workgroup in a folded grid.
 * Kernels declare `@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u`.
 */
export const FLAT_WORKGROUP = `
fn flatWorkgroup(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}`;

/** Formats a number as a WGSL f32 literal (always with a decimal point or exponent). */
export function f32Literal(x: number): string {
  if (Number.isNaN(x)) throw new RangeError("NaN cannot be a WGSL literal");
  if (x === Infinity) return "bitcast<f32>(0x7f800000u)";
  if (x === -Infinity) return "bitcast<f32>(0xff800000u)";
  const s = Math.fround(x).toString();
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** The WGSL element type of a dtype. */
export function wgslType(dtype: "f32" | "i32"): string {
  return dtype;
}

/** Rounds `n` up to a multiple of `m`. */
export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Splits `count` elements of `bytesPerElement` into windows that each fit in one binding and
 * start at an aligned byte offset. Kernels over huge buffers dispatch once per window.
 */
export function windows(
  count: number,
  bytesPerElement: number,
  maxBindingBytes: number,
  alignment: number,
): { start: number; count: number }[] {
  const total = count * bytesPerElement;
  if (total <= maxBindingBytes) return [{ start: 0, count }];
  // Largest element count whose byte size is a multiple of the alignment and fits the limit.
  const unit = lcm(bytesPerElement, alignment) / bytesPerElement;
  const per = Math.floor(maxBindingBytes / bytesPerElement / unit) * unit;
  if (per === 0) {
    throw new RangeError(
      `one aligned unit of ${unit * bytesPerElement} bytes exceeds the binding limit ${maxBindingBytes}`,
    );
  }
  const out: { start: number; count: number }[] = [];
  for (let start = 0; start < count; start += per) {
    out.push({ start, count: Math.min(per, count - start) });
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
