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

/**
 * The kinds of device-side check one device has handed out codes for: code `n` (from 1; 0
 * means no fault) is the `n`-th kind asked for, and its message turns the fault words into text.
 */
export class FaultKinds {
  #codes = new Map<string, number>();
  #messages: FaultMessage[] = [];

  /** The code of `kind`, given on first use. */
  code(kind: string, message: FaultMessage): number {
    let code = this.#codes.get(kind);
    if (code === undefined) {
      this.#messages.push(message);
      code = this.#messages.length;
      this.#codes.set(kind, code);
    }
    return code;
  }

  /** The text of the fault a kernel recorded: its code, then its three words. */
  describe(fault: Uint32Array): string {
    const message = this.#messages[fault[0] - 1];
    return message ? message([fault[1], fault[2], fault[3]]) : `kernel fault ${fault[0]}`;
  }
}
