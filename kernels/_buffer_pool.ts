/**
 * The device's buffer pool: released buffers kept by size class for reuse, and the device's
 * memory counters (the pool keeps the buffer counts; the pipeline cache and the submissions
 * count the rest).
 *
 * @module
 */

/** Memory counters of one device, in bytes. */
export interface MemoryStats {
  /** Bytes held by live buffers (handed out and not yet released). */
  liveBytes: number;
  /** Bytes of released buffers kept for reuse. */
  pooledBytes: number;
  /** Highest `liveBytes + pooledBytes` seen. */
  peakBytes: number;
  /** Buffers created since the device was acquired. */
  buffersCreated: number;
  /** Pipelines compiled (distinct shaders). */
  pipelines: number;
  /** Milliseconds spent creating shader modules and pipelines (the host's share of compiling). */
  compileMs: number;
  /** Bind groups created (the rest were reused from the cache). */
  bindGroups: number;
  /** `queue.submit` calls on the device's GPUDevice (shared with the devices that share it). */
  submissions: number;
  /** Compute dispatches recorded on this device. */
  dispatches: number;
}

/**
 * Size classes: four per power of two, so a reused buffer wastes at most 25 %, and a
 * training loop that allocates the same sizes each step reuses the same buffers.
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 256) return b;
  const pow = 2 ** Math.floor(Math.log2(b));
  const step = pow / 4;
  return Math.ceil(b / step) * step;
}

/** Released buffers by capacity; counts into the `stats` it is given. */
export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  #stats: MemoryStats;

  constructor(stats: MemoryStats) {
    this.#stats = stats;
  }

  /** A released buffer of `capacity` bytes, or a new one from `create`. */
  take(capacity: number, create: () => GPUBuffer): GPUBuffer {
    let buffer = this.#free.get(capacity)?.pop();
    if (buffer) {
      this.#stats.pooledBytes -= capacity;
    } else {
      buffer = create();
      this.#stats.buffersCreated++;
    }
    this.#stats.liveBytes += capacity;
    this.#stats.peakBytes = Math.max(
      this.#stats.peakBytes,
      this.#stats.liveBytes + this.#stats.pooledBytes,
    );
    return buffer;
  }

  /** Keeps a buffer of `capacity` bytes for reuse. */
  give(capacity: number, buffer: GPUBuffer): void {
    const list = this.#free.get(capacity) ?? [];
    list.push(buffer);
    this.#free.set(capacity, list);
    this.#stats.liveBytes -= capacity;
    this.#stats.pooledBytes += capacity;
  }

  /** Destroys every pooled buffer, freeing its GPU memory. */
  trim(): void {
    this.destroy();
    this.#stats.pooledBytes = 0;
  }

  /** Destroys every pooled buffer (the counters stay as they were: the device is going). */
  destroy(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
  }
}
