/**
 * What a dispatch binds, compiled and created once: pipelines by their WGSL text, uniform
 * buffers by their values, bind groups by pipeline and binding ranges (the last two bounded
 * by recent use); and the check of a dispatch's bindings against the device's limits.
 *
 * @module
 */

import type { Dispatch } from "./_dispatch.ts";
import { GpuError } from "./_errors.ts";
import { BoundedCache } from "./_bounded_cache.ts";

/** The counters the cache keeps (a `MemoryStats` is one). */
export interface CompileStats {
  /** Pipelines compiled (distinct shaders). */
  pipelines: number;
  /** Milliseconds spent creating shader modules and pipelines. */
  compileMs: number;
  /** Bind groups created (the rest were reused from the cache). */
  bindGroups: number;
  /** Uniform buffers created (the rest were reused, or rewritten from a retired one). */
  uniformBuffersCreated: number;
}

/** How many entries each of a device's caches keeps (see {@link PipelineCache}). */
export interface CacheLimits {
  /** Uniform buffers kept by content (default 1024, of 16–256 bytes each). */
  uniformBuffers: number;
  /** Bind groups kept (default 4096). */
  bindGroups: number;
  /** Read-only tables kept by key, such as the convolutions' offset tables (default 256). */
  constantBuffers: number;
  /**
   * Allocations after which a pooled buffer that none of them reused is destroyed (default
   * 200000: some 3000 training steps of AlexNet on one device, which allocates 66 buffers a
   * step; so a shape met once an epoch, such as an evaluation's batch, does not keep its
   * buffers between epochs, while the step's own are reused every step).
   */
  poolIdleAllocations: number;
}

/** The limits a device's caches keep by default. */
export const DEFAULT_CACHE_LIMITS: Readonly<CacheLimits> = {
  uniformBuffers: 1024,
  bindGroups: 4096,
  constantBuffers: 256,
  poolIdleAllocations: 200_000,
};

/**
 * The limits in force: `given` over the defaults, each checked (a cache keeps at least 2
 * entries, its two generations; the pool's idle bound is at least 1 allocation).
 */
export function cacheLimits(given: Partial<CacheLimits> = {}): CacheLimits {
  const limits = { ...DEFAULT_CACHE_LIMITS, ...given };
  for (const [name, value] of Object.entries(limits)) {
    const least = name === "poolIdleAllocations" ? 1 : 2;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new RangeError(`cacheLimits.${name} must be an integer ≥ ${least}, got ${value}`);
    }
  }
  return limits;
}

/**
 * The pipeline, uniform and bind-group caches of one GPU device. Pipelines are kept for the
 * device's life: their number is bounded by the kernels' variants, since shapes travel as
 * uniforms. Uniform buffers and bind groups are kept by recent use up to {@link CacheLimits}:
 * values that change every step (a learning-rate schedule) or shapes met once would otherwise
 * add one of each per step, for ever.
 */
export class PipelineCache {
  #gpu: GPUDevice;
  #stats: CompileStats;
  #watch: (what: string) => void;
  #pipelines = new Map<string, GPUComputePipeline>();
  #pipelineIds = new Map<GPUComputePipeline, number>();
  #compiled: string[] = [];
  #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 0;
  #uniformBuffers: BoundedCache<string, GPUBuffer>;
  /** Evicted uniform buffers that no submitted-later command uses, by size: rewritten on a miss. */
  #spareUniforms = new Map<number, GPUBuffer[]>();
  #spareCount = 0;
  /** Evicted uniform buffers waiting for the commands that bind them to be submitted. */
  #retiring = 0;
  /**
   * Spares kept at most: one generation of the cache (half its capacity), so that values that
   * change every step reuse every buffer the cache drops; past it they are destroyed.
   */
  #spareLimit: number;
  #bindGroups: BoundedCache<string, GPUBindGroup>;
  #destroyed = false;

  /**
   * `watch` pops the validation error scope pushed before each compile, naming what failed in
   * the error it raises later; `afterSubmitted` runs a release once every command recorded so
   * far has been submitted (`GpuStream.afterSubmitted`).
   */
  constructor(
    gpu: GPUDevice,
    stats: CompileStats,
    watch: (what: string) => void,
    afterSubmitted: (release: () => void) => void,
    limits: CacheLimits = DEFAULT_CACHE_LIMITS,
  ) {
    this.#gpu = gpu;
    this.#stats = stats;
    this.#watch = watch;
    this.#spareLimit = Math.ceil(limits.uniformBuffers / 2);
    // An evicted uniform buffer may be bound by commands not yet submitted: it becomes a spare
    // only after them.
    this.#uniformBuffers = new BoundedCache(
      limits.uniformBuffers,
      (buffer) => {
        this.#retiring++;
        afterSubmitted(() => {
          this.#retiring--;
          this.#spare(buffer);
        });
      },
    );
    // A bind group owns no memory of its own: dropping it is enough.
    this.#bindGroups = new BoundedCache(limits.bindGroups);
  }

  /** The names of the dispatches that compiled each pipeline so far, in order. */
  get compiled(): readonly string[] {
    return this.#compiled;
  }

  /** Entries held: pipelines, uniform buffers (cached, spare or retiring) and bind groups. */
  get sizes(): { pipelines: number; uniformBuffers: number; bindGroups: number } {
    return {
      pipelines: this.#pipelines.size,
      uniformBuffers: this.#uniformBuffers.size + this.#spareCount + this.#retiring,
      bindGroups: this.#bindGroups.size,
    };
  }

  /**
   * The pipeline of a dispatch, cached by its WGSL text, which holds every constant the kernel
   * was generated with, so a cache hit cannot run a stale shader.
   */
  pipeline(dispatch: Dispatch): GPUComputePipeline {
    let pipeline = this.#pipelines.get(dispatch.wgsl);
    if (pipeline) return pipeline;
    const start = performance.now();
    this.#gpu.pushErrorScope("validation");
    // The variant in the label tells a compile's tile apart in driver messages and traces.
    const label = dispatch.variant ? `${dispatch.name} (${dispatch.variant})` : dispatch.name;
    const module = this.#gpu.createShaderModule({ code: dispatch.wgsl, label });
    pipeline = this.#gpu.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label,
    });
    this.#watch(`compiling the ${dispatch.name} kernel`);
    this.#pipelines.set(dispatch.wgsl, pipeline);
    this.#pipelineIds.set(pipeline, this.#pipelineIds.size);
    this.#compiled.push(dispatch.name);
    this.#stats.pipelines++;
    this.#stats.compileMs += performance.now() - start;
    return pipeline;
  }

  /**
   * The uniform buffer holding `values`, one per distinct content among the recently used and
   * never written while cached, so commands recorded earlier keep their values and no write
   * has to flush them. A miss rewrites a spare (an evicted buffer whose commands were all
   * submitted: the write reaches only commands submitted later), so a step whose values
   * change every time (a learning-rate schedule) creates no buffer once the cache is full.
   */
  uniformBuffer(values: Uint32Array): GPUBuffer {
    const key = values.join(",");
    let buffer = this.#uniformBuffers.get(key);
    if (buffer) return buffer;
    const size = Math.max(16, values.byteLength);
    buffer = this.#spareUniforms.get(size)?.pop();
    if (buffer) {
      this.#spareCount--;
      this.#gpu.queue.writeBuffer(buffer, 0, values as Uint32Array<ArrayBuffer>);
    } else {
      buffer = this.#gpu.createBuffer({
        size,
        usage: 0x40 /* UNIFORM */ | 0x08, /* COPY_DST */
        mappedAtCreation: true,
      });
      new Uint32Array(buffer.getMappedRange()).set(values);
      buffer.unmap();
      this.#stats.uniformBuffersCreated++;
    }
    this.#uniformBuffers.set(key, buffer);
    return buffer;
  }

  /** Keeps an evicted uniform buffer for rewriting, or destroys it past the spares' bound. */
  #spare(buffer: GPUBuffer): void {
    if (this.#destroyed || this.#spareCount >= this.#spareLimit) return buffer.destroy();
    const list = this.#spareUniforms.get(buffer.size) ?? [];
    list.push(buffer);
    this.#spareUniforms.set(buffer.size, list);
    this.#spareCount++;
  }

  /** A bind group per pipeline and binding ranges, reused while the buffers repeat. */
  bindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    const parts = [this.#pipelineIds.get(pipeline)];
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      let id = this.#bufferIds.get(r.buffer);
      if (id === undefined) this.#bufferIds.set(r.buffer, id = this.#nextBufferId++);
      parts.push(id, r.offset ?? 0, r.size ?? -1);
    }
    const key = parts.join(",");
    let group = this.#bindGroups.get(key);
    if (group) return group;
    group = this.#gpu.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.#bindGroups.set(key, group);
    this.#stats.bindGroups++;
    return group;
  }

  /** Forgets the bind groups (their buffers are being destroyed). */
  forgetBindGroups(): void {
    this.#bindGroups.clear();
  }

  /** Destroys the uniform buffers and forgets the bind groups. */
  destroy(): void {
    this.#destroyed = true;
    for (const b of this.#uniformBuffers.values()) b.destroy();
    for (const list of this.#spareUniforms.values()) for (const b of list) b.destroy();
    this.#uniformBuffers.clear();
    this.#spareUniforms.clear();
    this.#spareCount = 0;
    this.#bindGroups.clear();
  }
}

/** One binding of a dispatch, as {@link bindGroupEntries} checks it. */
export interface BindingRange {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Its capacity in bytes. */
  capacity: number;
  /** Start of the range in bytes (default 0). */
  offset?: number;
  /** Length of the range in bytes (default: from `offset` to the capacity). */
  size?: number;
  /** The label of the device the buffer lives on, when that is not the dispatching one. */
  elsewhere: string | null;
}

/**
 * The bind-group entries of a dispatch's bindings on the device `label`, checked against its
 * limits.
 */
export function bindGroupEntries(
  dispatch: Dispatch,
  label: string,
  limits: { maxStorageBufferBindingSize: number; minStorageBufferOffsetAlignment: number },
  bindings: readonly BindingRange[],
): GPUBindGroupEntry[] {
  const limit = limits.maxStorageBufferBindingSize;
  return bindings.map((b, i) => {
    if (b.elsewhere !== null) {
      throw new GpuError(`${dispatch.name}: binding ${i} lives on ${b.elsewhere}, not ${label}`);
    }
    const offset = b.offset ?? 0;
    const size = b.size ?? b.capacity - offset;
    if (size > limit) {
      throw new GpuError(
        `${dispatch.name}: binding ${i} covers ${size} bytes, more than this device's ` +
          `maxStorageBufferBindingSize (${limit}); the kernel must split the work`,
      );
    }
    if (offset % limits.minStorageBufferOffsetAlignment !== 0) {
      throw new GpuError(`${dispatch.name}: binding ${i} offset ${offset} is misaligned`);
    }
    return { binding: i, resource: { buffer: b.buffer, offset, size } };
  });
}
