/**
 * Per-parameter step counts kept on the device, as the multi-tensor optimiser kernels read and
 * advance them: one 1-D f32 tensor per device, a slot per parameter on it. The guarded kernels
 * advance them only when a step is applied, so a step the guard skips on the GPU leaves them as
 * they were (Adam's bias corrections, SGD's "has a momentum buffer"), and the host never waits
 * on them. Parameters can join later (`add`), as PyTorch's `add_param_group` allows.
 *
 * @module
 */

import { concat } from "../tensor/ops_shape.ts";
import { fromTypedArray, zeros } from "../tensor/creation.ts";
import { keep } from "../tensor/memory.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** The device a parameter lives on. */
type Device = Tensor["device"];

/** A parameter's place in the counts: its device's count tensor and its slot there. */
export interface StepSlot {
  /** The counts of the parameters on its device (f32, one a slot). */
  counts: Tensor;
  /** Its index in `counts`. */
  slot: number;
}

/** The step counts of a set of parameters, on their devices (see the module notes). */
export class StepCounts {
  readonly #byDevice = new Map<Device, { counts: Tensor; slots: Map<Tensor, number> }>();

  /** Counts of zero for `params`. */
  constructor(params: Iterable<Tensor>) {
    this.add(params);
  }

  /** Adds `params` with counts of zero (the counts already held stay on the device). */
  add(params: Iterable<Tensor>): void {
    const added = new Map<Device, number>();
    for (const p of params) {
      const entry = this.#byDevice.get(p.device) ??
        { counts: undefined as unknown as Tensor, slots: new Map<Tensor, number>() };
      entry.slots.set(p, entry.slots.size);
      this.#byDevice.set(p.device, entry);
      added.set(p.device, (added.get(p.device) ?? 0) + 1);
    }
    for (const [device, count] of added) {
      const entry = this.#byDevice.get(device)!;
      const fresh = zeros([count], { device });
      if (entry.counts) {
        const grown = keep(concat([entry.counts, fresh], 0));
        fresh.dispose();
        entry.counts.dispose();
        entry.counts = grown;
      } else {
        entry.counts = keep(fresh);
      }
    }
  }

  /** Where `param`'s count lives. */
  slotOf(param: Tensor): StepSlot {
    const entry = this.#byDevice.get(param.device)!;
    return { counts: entry.counts, slot: entry.slots.get(param)! };
  }

  /** Every parameter's count, read back from the devices. */
  async read(): Promise<Map<Tensor, number>> {
    const out = new Map<Tensor, number>();
    for (const { counts, slots } of this.#byDevice.values()) {
      const data = await counts.data() as Float32Array;
      for (const [p, slot] of slots) out.set(p, data[slot]);
    }
    return out;
  }

  /** Replaces every count: `counts.get(p)`, or 0 for a parameter it does not hold. */
  load(counts: ReadonlyMap<Tensor, number>): void {
    for (const [device, entry] of this.#byDevice) {
      const data = new Float32Array(entry.slots.size);
      for (const [p, slot] of entry.slots) data[slot] = counts.get(p) ?? 0;
      entry.counts.dispose();
      entry.counts = keep(fromTypedArray(data, [data.length], { device }));
    }
  }

  /** Frees the counts. */
  dispose(): void {
    for (const entry of this.#byDevice.values()) entry.counts.dispose();
    this.#byDevice.clear();
  }
}
