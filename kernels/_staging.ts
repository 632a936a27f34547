/**
 * Carrying data from a device to the host: reusable map-read staging buffers, the host-transfer
 * counters and the trace of sync points (the reads themselves are `Device.readTogether` and
 * `Device.copyAcross`).
 *
 * @module
 */

/** What a staging buffer needs of its device (a `Device` is one). */
export interface StagingDevice {
  /** Names the device in errors. */
  readonly label: string;
  /** The WebGPU device. */
  readonly gpu: GPUDevice;
}

const MAP_READ_USAGE = 0x01 /* MAP_READ */ | 0x08; /* COPY_DST */

/** Host transfers of all devices together, counted since start (or {@link resetTransferStats}). */
export interface TransferStats {
  /** Host waits on the GPU: one wait for several maps, on one device or several, counts once. */
  syncPoints: number;
  /** Buffers mapped for reading. */
  maps: number;
  /** Milliseconds from issuing each sync point's maps to their resolution, summed (waits that
   * overlap each other or the host's recording all count). */
  mapWaitMs: number;
  /** Milliseconds the host spent blocked on a staging buffer still in use by a transfer. */
  hostBlockedMs: number;
  /** Bytes read back to the host. */
  bytesRead: number;
  /** Bytes written from the host. */
  bytesWritten: number;
  /** Bytes copied on the GPU between devices that share one GPUDevice (no host involved). */
  bytesCopied: number;
  /** Staging buffers allocated (a steady training loop allocates none). */
  stagingAllocated: number;
}

/** The counters, updated by the device layer. */
export const transfers: TransferStats = {
  syncPoints: 0,
  maps: 0,
  mapWaitMs: 0,
  hostBlockedMs: 0,
  bytesRead: 0,
  bytesWritten: 0,
  bytesCopied: 0,
  stagingAllocated: 0,
};

/**
 * The host-transfer counters: how often the host waited on the GPU, for how long, and how many
 * bytes crossed. A multi-device step's cost is mostly these waits.
 *
 * @example
 * ```ts
 * import { Device, resetTransferStats, transferStats } from "./device.ts";
 * const device = await Device.acquire();
 * const buf = device.alloc(16);
 * resetTransferStats();
 * await device.read(buf, 0, 16);
 * console.log(transferStats().syncPoints, transferStats().bytesRead); // 1 16
 * ```
 */
export function transferStats(): TransferStats {
  return { ...transfers };
}

/**
 * Zeroes the counters of {@link transferStats}.
 *
 * @example
 * ```ts
 * import { resetTransferStats, transferStats } from "../mod.ts";
 * resetTransferStats();
 * console.log(transferStats().syncPoints); // 0
 * ```
 */
export function resetTransferStats(): void {
  for (const key of Object.keys(transfers) as (keyof TransferStats)[]) transfers[key] = 0;
}

/** One host sync point, as {@link traceSyncPoints} reports it. */
export interface SyncPoint {
  /** The staging buffers read (they name the cut and direction). */
  readonly labels: readonly string[];
  /** `performance.now()` when the maps were issued. */
  readonly issuedAt: number;
  /** Milliseconds until they resolved. */
  readonly waitMs: number;
}

let tracer: ((point: SyncPoint) => void) | null = null;

/**
 * Calls `onSync` for every host sync point from now on (`null` stops): the timeline of a step's
 * waits, for finding where a multi-device step's time goes.
 *
 * @example
 * ```ts
 * import { Device, traceSyncPoints } from "./device.ts";
 * const device = await Device.acquire();
 * const seen: string[] = [];
 * traceSyncPoints((p) => seen.push(`${p.labels} ${p.waitMs.toFixed(0)} ms`));
 * await device.read(device.alloc(4), 0, 4);
 * traceSyncPoints(null);
 * console.log(seen.length); // 1
 * ```
 */
export function traceSyncPoints(onSync: ((point: SyncPoint) => void) | null): void {
  tracer = onSync;
}

/** Internal: reports a sync point to the tracer, if any. */
export function reportSyncPoint(point: SyncPoint): void {
  tracer?.(point);
}

/**
 * A map-read buffer for one recurring readback (one cut and direction of a split model, say),
 * kept across steps so that a step allocates no staging memory. It grows when a larger read
 * needs it, and serves one read at a time.
 *
 * @example Read the same buffer every step through one staging buffer
 * ```ts
 * import { Device, StagingBuffer } from "./device.ts";
 * const device = await Device.acquire();
 * const buf = device.alloc(8);
 * device.write(buf, new Float32Array([1, 2]));
 * const staging = new StagingBuffer(device, "loss readback");
 * let seen: number[] = [];
 * const consume = (bytes: Uint8Array) => (seen = [...new Float32Array(bytes.slice().buffer)]);
 * await Device.readTogether([{ source: buf, bytes: 8, staging, consume }]);
 * console.log(seen); // [1, 2]
 * staging.destroy();
 * ```
 */
export class StagingBuffer {
  /** The device whose buffers it reads. */
  readonly device: StagingDevice;
  /** Names it in errors. */
  readonly label: string;
  #buffer: GPUBuffer | null = null;
  #busy = false;
  #freed: Promise<void> = Promise.resolve();
  #markFree = (): void => {};

  /** A staging buffer of `device`; memory is allocated by the first read. */
  constructor(device: StagingDevice, label = "staging") {
    this.device = device;
    this.label = label;
  }

  /** Bytes of its GPU buffer (0 before the first read). */
  get capacity(): number {
    return this.#buffer?.size ?? 0;
  }

  /** Whether a read is using it now. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Resolves when no read uses it (counting the time waited as host-blocked time). */
  async ready(): Promise<void> {
    if (!this.#busy) return;
    const start = performance.now();
    while (this.#busy) await this.#freed;
    transfers.hostBlockedMs += performance.now() - start;
  }

  /** Internal: the mapped-read buffer for `bytes` bytes, held until {@link StagingBuffer._free}. */
  _take(bytes: number): GPUBuffer {
    if (this.#busy) {
      throw new Error(`${this.device.label}: ${this.label} is already in use by another read`);
    }
    if (!this.#buffer || this.#buffer.size < bytes) {
      this.#buffer?.destroy();
      this.#buffer = this.device.gpu.createBuffer({
        size: Math.max(bytes, 4),
        usage: MAP_READ_USAGE,
        label: this.label,
      });
      transfers.stagingAllocated++;
    }
    this.#busy = true;
    this.#freed = new Promise((resolve) => (this.#markFree = resolve));
    return this.#buffer;
  }

  /** Internal: ends the read that {@link StagingBuffer._take} started. */
  _free(): void {
    this.#busy = false;
    this.#markFree();
  }

  /** Frees the GPU memory; the next read allocates again. */
  destroy(): void {
    this.#buffer?.destroy();
    this.#buffer = null;
    this._free();
  }
}
