/**
 * The device's buffer pool: released buffers kept by size class for reuse (those left idle
 * for long are destroyed), and the device's memory counters (the pool keeps the buffer counts; the pipeline cache and the submissions
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
  /** Uniform buffers created (the rest were reused, or rewritten from a retired one). */
  uniformBuffersCreated: number;
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

/** A released buffer and the allocation count when it was released. */
interface Pooled {
  buffer: GPUBuffer;
  since: number;
}

/** Allocations between two sweeps of the pool for idle buffers. */
const SWEEP_EVERY = 1024;

/**
 * Released buffers by capacity; counts into the `stats` it is given. A buffer that stays in the
 * pool while `idleAllocations` allocations pass without taking it is destroyed: sizes that a
 * run stopped using (the shapes of an earlier model, an evaluation batch, a varying input
 * size) do not keep their memory for the life of the device, while a training loop, which
 * takes the same sizes every step, keeps its buffers.
 */
export class BufferPool {
  #free = new Map<number, Pooled[]>();
  #stats: MemoryStats;
  #idleAllocations: number;
  #afterSubmitted: (release: () => void) => void;
  #allocations = 0;

  /**
   * `afterSubmitted` runs a release once every command recorded so far has been submitted (a
   * pooled buffer may still be bound by one: see `GpuStream.afterSubmitted`).
   */
  constructor(
    stats: MemoryStats,
    idleAllocations: number,
    afterSubmitted: (release: () => void) => void,
  ) {
    this.#stats = stats;
    this.#idleAllocations = idleAllocations;
    this.#afterSubmitted = afterSubmitted;
  }

  /** Buffers pooled. */
  get size(): number {
    let n = 0;
    for (const list of this.#free.values()) n += list.length;
    return n;
  }

  /** A released buffer of `capacity` bytes, or a new one from `create`. */
  take(capacity: number, create: () => GPUBuffer): GPUBuffer {
    if (++this.#allocations % SWEEP_EVERY === 0) this.#sweep();
    let buffer = this.#free.get(capacity)?.pop()?.buffer;
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
    list.push({ buffer, since: this.#allocations });
    this.#free.set(capacity, list);
    this.#stats.liveBytes -= capacity;
    this.#stats.pooledBytes += capacity;
  }

  /**
   * Destroys the buffers pooled for longer than the idle bound. Each list is a stack (the most
   * recently released on top, taken first), so its idle buffers are a run at the bottom.
   */
  #sweep(): void {
    const before = this.#allocations - this.#idleAllocations;
    for (const [capacity, list] of this.#free) {
      let idle = 0;
      while (idle < list.length && list[idle].since < before) idle++;
      if (idle === 0) continue;
      const gone = list.splice(0, idle);
      if (list.length === 0) this.#free.delete(capacity);
      this.#stats.pooledBytes -= idle * capacity;
      this.#afterSubmitted(() => {
        for (const p of gone) p.buffer.destroy();
      });
    }
  }

  /** Destroys every pooled buffer, freeing its GPU memory. */
  trim(): void {
    this.destroy();
    this.#stats.pooledBytes = 0;
  }

  /** Destroys every pooled buffer (the counters stay as they were: the device is going). */
  destroy(): void {
    for (const list of this.#free.values()) for (const p of list) p.buffer.destroy();
    this.#free.clear();
  }
}
