/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
 * counter-based generator behind every random number on the GPU: the output for a counter and
 * key is a pure function, so results do not depend on dispatch order or workgroup size.
 *
 * @module
 */

/**
 * WGSL defining `philox(counter: vec4u, key: vec2u) -> vec4u`, `uniform01(x: u32) -> f32`
 * (in [0, 1), 24 bits) and `uniformOpen01(x: u32) -> f32` (in (0, 1], safe for `log`).
 */
export const PHILOX_WGSL = `
fn mulhilo32(a: u32, b: u32) -> vec2u {
  // 32×32 → 64-bit product from 16-bit halves (WGSL has no 64-bit integers).
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let hi_lo = a_hi * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_hi = a_hi * b_hi;
  let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + lo_hi;
  let hi = hi_hi + (hi_lo >> 16u) + (cross >> 16u);
  let lo = (cross << 16u) | (lo_lo & 0xffffu);
  return vec2u(hi, lo);
}

fn philox(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = mulhilo32(0xD2511F53u, c.x);
    let p1 = mulhilo32(0xCD9E8D57u, c.z);
    c = vec4u(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

fn uniform01(x: u32) -> f32 {
  return f32(x >> 8u) * 5.9604644775390625e-8;
}

fn uniformOpen01(x: u32) -> f32 {
  return f32((x >> 8u) + 1u) * 5.9604644775390625e-8;
}
`;

/** The same generator on the CPU, for tests and for reproducing GPU draws. */
export function philoxCpu(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((x) => x >>> 0);
  let [k0, k1] = key.map((x) => x >>> 0);
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(0xD2511F53, c0);
    const [hi1, lo1] = mulhilo(0xCD9E8D57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9E3779B9) >>> 0;
    k1 = (k1 + 0xBB67AE85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

function mulhilo(a: number, b: number): [number, number] {
  const product = BigInt(a) * BigInt(b);
  return [Number(product >> 32n) >>> 0, Number(product & 0xffffffffn) >>> 0];
}
