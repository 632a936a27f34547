/**
 * GPU timing of dispatches for `Device.startProfile`/`stopProfile`: two timestamp queries per
 * dispatch, resolved and read back at the end.
 *
 * @module
 */

import type { Dispatch } from "./_dispatch.ts";

const MAP_READ_USAGE = 0x01 /* MAP_READ */ | 0x08; /* COPY_DST */

/** One timed dispatch of a `Device.stopProfile` result. */
export interface ProfileRow {
  /** The kernel's name (with its sizes). */
  name: string;
  /** The variant (algorithm and tile), where the kernel names one. */
  variant: string;
  /** GPU milliseconds from the start to the end of its pass. */
  ms: number;
  /** Floating-point operations, where the kernel states them. */
  flops?: number;
  /** Bytes moved, where the kernel states them. */
  bytes?: number;
}

/** What `Device.stopProfile` returns. */
export interface ProfileResult {
  /** One row per timed dispatch, in recording order. */
  rows: ProfileRow[];
  /** GPU milliseconds from the first timed start to the last timed end. */
  spanMs: number;
  /** Dispatches that were not timed because the capacity was reached. */
  untimed: number;
}

/** Timestamp queries of a profiling session: two per dispatch, resolved at the end. */
export class Profile {
  #gpu: GPUDevice;
  #capacity: number;
  #querySet: GPUQuerySet;
  #resolved: GPUBuffer;
  #staging: GPUBuffer;
  #rows: { name: string; variant: string; flops?: number; bytes?: number }[] = [];
  #untimed = 0;

  constructor(gpu: GPUDevice, capacity: number) {
    this.#gpu = gpu;
    this.#capacity = capacity;
    this.#querySet = gpu.createQuerySet({ type: "timestamp", count: 2 * capacity });
    const bytes = 16 * capacity;
    this.#resolved = gpu.createBuffer({ size: bytes, usage: 0x200 /* QUERY_RESOLVE */ | 0x04 });
    this.#staging = gpu.createBuffer({ size: bytes, usage: MAP_READ_USAGE });
  }

  /** The timestamp writes of the next dispatch, or null once full. */
  record(dispatch: Dispatch): GPUComputePassTimestampWrites | null {
    const i = this.#rows.length;
    if (i >= this.#capacity) {
      this.#untimed++;
      return null;
    }
    this.#rows.push({
      name: dispatch.name,
      variant: dispatch.variant ?? "",
      flops: dispatch.cost?.flops,
      bytes: dispatch.cost?.bytes,
    });
    return {
      querySet: this.#querySet,
      beginningOfPassWriteIndex: 2 * i,
      endOfPassWriteIndex: 2 * i + 1,
    };
  }

  resolve(encoder: GPUCommandEncoder): void {
    const n = this.#rows.length;
    if (n === 0) return;
    encoder.resolveQuerySet(this.#querySet, 0, 2 * n, this.#resolved, 0);
    encoder.copyBufferToBuffer(this.#resolved, 0, this.#staging, 0, 16 * n);
  }

  async read(): Promise<ProfileResult> {
    const n = this.#rows.length;
    if (n === 0) return { rows: [], spanMs: 0, untimed: this.#untimed };
    await this.#staging.mapAsync(1, /* GPUMapMode.READ */ 0, 16 * n);
    const stamps = new BigUint64Array(this.#staging.getMappedRange(0, 16 * n).slice(0));
    this.#staging.unmap();
    // Timestamps are nanoseconds; a pass whose end precedes its start counts as 0.
    const ms = (a: bigint, b: bigint) => (b > a ? Number(b - a) / 1e6 : 0);
    const rows = this.#rows.map((r, i) => ({ ...r, ms: ms(stamps[2 * i], stamps[2 * i + 1]) }));
    return { rows, spanMs: ms(stamps[0], stamps[2 * n - 1]), untimed: this.#untimed };
  }

  destroy(): void {
    this.#querySet.destroy();
    this.#resolved.destroy();
    this.#staging.destroy();
  }
}
