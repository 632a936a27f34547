/**
 * Device-side assertions: a kernel that finds bad input (a class label out of range) records a
 * fault code and three words in its device's fault buffer, and carries on. The host learns of
 * it at the next read from that device, which copies the fault words along with the data (no
 * extra wait), throws a `DeviceAssertionError` naming the problem and clears them — the
 * behaviour of CUDA's device-side asserts, without a readback per step.
 *
 * @module
 */

/**
 * WGSL declaring the fault buffer at `binding` of group 0 and `raiseFault(code, a, b, c)`,
 * which keeps the first fault recorded since the last read.
 */
export function faultWgsl(binding: number): string {
  return `
@group(0) @binding(${binding}) var<storage, read_write> faults: array<atomic<u32>, 4>;
fn raiseFault(code: u32, a: u32, b: u32, c: u32) {
  loop {
    let r = atomicCompareExchangeWeak(&faults[0], 0u, code);
    if (r.exchanged) {
      atomicStore(&faults[1], a);
      atomicStore(&faults[2], b);
      atomicStore(&faults[3], c);
      break;
    }
    if (r.old_value != 0u) { break; }
  }
}`;
}

/** Bytes of a device's fault buffer: the code and three words. */
export const FAULT_BYTES = 16;

/** Turns the three words of a fault into its message. */
export type FaultMessage = (words: readonly [number, number, number]) => string;
