/**
 * What a dispatch binds, compiled and created once: pipelines by their WGSL text, uniform
 * buffers by their values, bind groups by pipeline and binding ranges; and the check of a
 * dispatch's bindings against the device's limits.
 *
 * @module
 */

import type { Dispatch } from "./_dispatch.ts";
import { GpuError } from "./_errors.ts";

/** The counters the cache keeps (a `MemoryStats` is one). */
export interface CompileStats {
  /** Pipelines compiled (distinct shaders). */
  pipelines: number;
  /** Milliseconds spent creating shader modules and pipelines. */
  compileMs: number;
  /** Bind groups created (the rest were reused from the cache). */
  bindGroups: number;
}

/** The pipeline, uniform and bind-group caches of one GPU device. */
export class PipelineCache {
  #gpu: GPUDevice;
  #stats: CompileStats;
  #watch: (what: string) => void;
  #pipelines = new Map<string, GPUComputePipeline>();
  #pipelineIds = new Map<GPUComputePipeline, number>();
  #compiled: string[] = [];
  #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 0;
  #uniformBuffers = new Map<string, GPUBuffer>();
  #bindGroups = new Map<string, GPUBindGroup>();

  /**
   * `watch` pops the validation error scope pushed before each compile, naming what failed in
   * the error it raises later.
   */
  constructor(gpu: GPUDevice, stats: CompileStats, watch: (what: string) => void) {
    this.#gpu = gpu;
    this.#stats = stats;
    this.#watch = watch;
  }

  /** The names of the dispatches that compiled each pipeline so far, in order. */
  get compiled(): readonly string[] {
    return this.#compiled;
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
   * The uniform buffer holding `values`, one per distinct content and never written again, so
   * commands recorded earlier keep their values and no write has to flush them.
   */
  uniformBuffer(values: Uint32Array): GPUBuffer {
    const key = values.join(",");
    let buffer = this.#uniformBuffers.get(key);
    if (buffer) return buffer;
    buffer = this.#gpu.createBuffer({
      size: Math.max(16, values.byteLength),
      usage: 0x40, /* UNIFORM */
      mappedAtCreation: true,
    });
    new Uint32Array(buffer.getMappedRange()).set(values);
    buffer.unmap();
    this.#uniformBuffers.set(key, buffer);
    return buffer;
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
    // Bounded: a program that binds ever-new ranges must not grow the cache without end.
    if (this.#bindGroups.size >= 16384) this.#bindGroups.clear();
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
    for (const b of this.#uniformBuffers.values()) b.destroy();
    this.#uniformBuffers.clear();
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
