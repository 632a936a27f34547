/**
 * The narrow GPU backend: one {@link Device} wraps a WebGPU adapter and its device, and offers
 * exactly five things to the layers above it — alloc, write, read, dispatch and release — plus
 * the bookkeeping that makes them cheap: a buffer pool, a pipeline cache and batched submission.
 *
 * @module
 */

import { type Dispatch, foldWorkgroups } from "./_program.ts";
import { FAULT_BYTES, type FaultMessage } from "./_fault.ts";

/** Limits this device was created with: the adapter's own, not WebGPU's defaults. */
export interface DeviceLimits {
  /** Largest byte range one storage binding may cover. */
  readonly maxStorageBufferBindingSize: number;
  /** Largest buffer the device can allocate. */
  readonly maxBufferSize: number;
  /** Workgroup (shared) memory per workgroup, in bytes. */
  readonly maxComputeWorkgroupStorageSize: number;
  /** Invocations per workgroup. */
  readonly maxComputeInvocationsPerWorkgroup: number;
  /** Workgroups per dispatch dimension; larger grids are folded into y and z. */
  readonly maxComputeWorkgroupsPerDimension: number;
  /** Byte alignment of a binding's offset. */
  readonly minStorageBufferOffsetAlignment: number;
  /** Storage buffers one shader may bind. */
  readonly maxStorageBuffersPerShaderStage: number;
}

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
  /** Command buffers submitted. */
  submissions: number;
}

/** A GPU buffer handed out by {@link Device.alloc}; its capacity is a pool size class. */
export interface GpuBuffer {
  /** The WebGPU buffer. */
  readonly buffer: GPUBuffer;
  /** Capacity in bytes (its size class; at least the requested size). */
  readonly capacity: number;
  /** The device that owns it. */
  readonly device: Device;
}

/** A byte range of a buffer to bind at one `@binding` slot. */
export interface Binding {
  /** The buffer. */
  buffer: GpuBuffer;
  /** Start of the range in bytes; a multiple of `minStorageBufferOffsetAlignment`. */
  offset?: number;
  /** Length of the range in bytes (default: from `offset` to the capacity). */
  size?: number;
}

/** Options for {@link Device.acquire}. */
export interface AcquireOptions {
  /** Adapter preference passed to `navigator.gpu.requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Dispatches recorded before the pending commands are submitted (default 64). */
  dispatchesPerSubmit?: number;
  /** A label that names the device in error messages. */
  label?: string;
}

/** Raised for any failure on the GPU: a validation error, out of memory, or a lost device. */
export class GpuError extends Error {
  override name = "GpuError";
}

/**
 * A check inside a kernel failed (see `kernels/_fault.ts`), e.g. a class label out of range.
 * Raised by the first read from the device after the kernel ran.
 */
export class DeviceAssertionError extends GpuError {
  override name = "DeviceAssertionError";
}

/** Where a kernel records a failed check: bind `buffer`, pass `code` to `raiseFault`. */
export interface FaultSlot {
  /** The device's fault buffer. */
  readonly buffer: GpuBuffer;
  /** The code of this kind of fault (never 0). */
  readonly code: number;
}

const BUFFER_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */
const MAP_READ_USAGE = 0x01 /* MAP_READ */ | 0x08; /* COPY_DST */

/**
 * Size classes: four per power of two, so a reused buffer wastes at most 25 %, and a
 * training loop that allocates the same sizes each step reuses the same buffers.
 */
function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 256) return b;
  const pow = 2 ** Math.floor(Math.log2(b));
  const step = pow / 4;
  return Math.ceil(b / step) * step;
}

let deviceCounter = 0;

/**
 * One WebGPU device. Acquire several for multi-device work; on a machine with one GPU, each
 * acquisition is a separate logical device of the same adapter.
 *
 * @example Allocate, write, read back
 * ```ts
 * import { Device } from "./device.ts";
 * const device = await Device.acquire();
 * const buf = device.alloc(16);
 * device.write(buf, new Float32Array([1, 2, 3, 4]));
 * const back = new Float32Array(await device.read(buf, 0, 16));
 * console.log(back); // Float32Array [1, 2, 3, 4]
 * device.release(buf);
 * ```
 */
export class Device {
  /** The WebGPU device. */
  readonly gpu: GPUDevice;
  /** Adapter information (vendor, description). */
  readonly adapterInfo: GPUAdapterInfo;
  /** Whether the adapter is a software rasteriser (lavapipe/llvmpipe, SwiftShader, WARP). */
  readonly isSoftware: boolean;
  /** The limits this device was created with. */
  readonly limits: DeviceLimits;
  /** Names the device in messages: `gpu0`, `gpu1`, … unless given. */
  readonly label: string;

  #pool = new Map<number, GPUBuffer[]>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pendingLabels: string[] = [];
  #dispatchesPerSubmit: number;
  #errors: Promise<GpuError | null>[] = [];
  #faults: GpuBuffer | null = null;
  #faultKinds = new Map<string, number>();
  #faultMessages: FaultMessage[] = [];
  #lost: string | null = null;
  #stats: MemoryStats = {
    liveBytes: 0,
    pooledBytes: 0,
    peakBytes: 0,
    buffersCreated: 0,
    pipelines: 0,
    submissions: 0,
  };

  private constructor(
    gpu: GPUDevice,
    info: GPUAdapterInfo,
    isFallback: boolean,
    label: string,
    dispatchesPerSubmit: number,
  ) {
    this.gpu = gpu;
    this.adapterInfo = info;
    const desc = `${info.description} ${info.vendor} ${info.architecture}`.toLowerCase();
    this.isSoftware = isFallback || /llvmpipe|lavapipe|swiftshader|warp|software/.test(desc);
    const l = gpu.limits;
    this.limits = {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    };
    this.label = label;
    this.#dispatchesPerSubmit = dispatchesPerSubmit;
    gpu.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
    gpu.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.#errors.push(Promise.resolve(new GpuError(`${this.label}: ${error.message}`)));
    });
  }

  /** Acquires one device on the best adapter, with the adapter's own limits. */
  static async acquire(options: AcquireOptions = {}): Promise<Device> {
    if (!("gpu" in navigator) || !navigator.gpu) {
      throw new GpuError("WebGPU is not available in this runtime (navigator.gpu is missing)");
    }
    const adapter = await navigator.gpu.requestAdapter({
      powerPreference: options.powerPreference ?? "high-performance",
    });
    if (!adapter) {
      throw new GpuError(
        "no WebGPU adapter found: install a GPU driver or Mesa's Vulkan driver (mesa-vulkan-drivers)",
      );
    }
    const want = [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupSizeY",
      "maxComputeWorkgroupSizeZ",
      "maxComputeWorkgroupsPerDimension",
      "maxStorageBuffersPerShaderStage",
      "minStorageBufferOffsetAlignment",
    ] as const;
    const requiredLimits: Record<string, number> = {};
    for (const name of want) requiredLimits[name] = adapter.limits[name];
    const gpu = await adapter.requestDevice({ requiredLimits });
    const index = deviceCounter++;
    return new Device(
      gpu,
      adapter.info,
      (adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      options.label ?? `gpu${index}`,
      options.dispatchesPerSubmit ?? 64,
    );
  }

  /**
   * Acquires `count` devices. WebGPU gives one device per adapter request, so on a machine with
   * one GPU these are independent logical devices of the same physical adapter.
   */
  static async acquireMany(count: number, options: AcquireOptions = {}): Promise<Device[]> {
    const devices: Device[] = [];
    for (let i = 0; i < count; i++) {
      devices.push(
        await Device.acquire({ ...options, label: options.label && `${options.label}${i}` }),
      );
    }
    return devices;
  }

  /** A one-line description: label, adapter and whether it is software. */
  describe(): string {
    const soft = this.isSoftware ? ", software" : "";
    return `${this.label} (${this.adapterInfo.description || this.adapterInfo.vendor}${soft})`;
  }

  /** Current memory counters. */
  memory(): MemoryStats {
    return { ...this.#stats };
  }

  /** Hands out a buffer of at least `bytes` bytes, reusing a released one of its size class. */
  alloc(bytes: number, label = "tensor"): GpuBuffer {
    this.#checkAlive(label);
    const capacity = sizeClass(bytes);
    if (capacity > this.limits.maxBufferSize) {
      throw new GpuError(
        `${this.label}: cannot allocate ${bytes} bytes for ${label}: ` +
          `the device's maxBufferSize is ${this.limits.maxBufferSize}`,
      );
    }
    const free = this.#pool.get(capacity);
    let buffer = free?.pop();
    if (buffer) {
      this.#stats.pooledBytes -= capacity;
    } else {
      this.gpu.pushErrorScope("out-of-memory");
      buffer = this.gpu.createBuffer({ size: capacity, usage: BUFFER_USAGE, label });
      this.#watch(`allocating ${capacity} bytes for ${label}`);
      this.#stats.buffersCreated++;
    }
    this.#stats.liveBytes += capacity;
    this.#stats.peakBytes = Math.max(
      this.#stats.peakBytes,
      this.#stats.liveBytes + this.#stats.pooledBytes,
    );
    return { buffer, capacity, device: this };
  }

  /** Returns a buffer to the pool. Commands already recorded that use it still see its data. */
  release(buffer: GpuBuffer): void {
    const list = this.#pool.get(buffer.capacity) ?? [];
    list.push(buffer.buffer);
    this.#pool.set(buffer.capacity, list);
    this.#stats.liveBytes -= buffer.capacity;
    this.#stats.pooledBytes += buffer.capacity;
  }

  /** Destroys every pooled buffer (after submitting what is pending), freeing GPU memory. */
  async trimPool(): Promise<void> {
    this.flush();
    await this.gpu.queue.onSubmittedWorkDone();
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
    this.#stats.pooledBytes = 0;
  }

  /** Writes host data into a buffer, after every command recorded so far. */
  write(buffer: GpuBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.#checkAlive("write");
    if (byteOffset + data.byteLength > buffer.capacity) {
      throw new GpuError(
        `${this.label}: write of ${data.byteLength} bytes at ${byteOffset} overflows a ` +
          `${buffer.capacity}-byte buffer`,
      );
    }
    // queue.writeBuffer runs before any command buffer submitted later, so pending commands
    // (which may still read the old contents of a recycled buffer) must be submitted first.
    this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
    this.gpu.queue.writeBuffer(buffer.buffer, byteOffset, padded as Uint8Array<ArrayBuffer>);
  }

  /**
   * The fault buffer and the code of one kind of device-side check (`kind` names it; `message`
   * turns the three words the kernel records into the error's text). The buffer is created on
   * first use; every later {@link Device.read} also reads it and throws a
   * {@link DeviceAssertionError} when a kernel recorded a fault.
   */
  faultSlot(kind: string, message: FaultMessage): FaultSlot {
    if (!this.#faults) {
      const buffer = this.gpu.createBuffer({ size: FAULT_BYTES, usage: BUFFER_USAGE });
      this.#faults = { buffer, capacity: FAULT_BYTES, device: this };
    }
    let code = this.#faultKinds.get(kind);
    if (code === undefined) {
      this.#faultMessages.push(message);
      code = this.#faultMessages.length;
      this.#faultKinds.set(kind, code);
    }
    return { buffer: this.#faults, code };
  }

  /**
   * Reads `byteLength` bytes back to the host; waits for every command recorded so far. Throws
   * a {@link DeviceAssertionError} if a kernel recorded a fault since the last read.
   */
  async read(buffer: GpuBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
    this.#checkAlive("read");
    const size = Math.ceil(byteLength / 4) * 4;
    // The fault words ride along after the data: one copy, one map.
    const faults = this.#faults;
    const total = size + (faults ? FAULT_BYTES : 0);
    const staging = this.gpu.createBuffer({ size: Math.max(total, 4), usage: MAP_READ_USAGE });
    this.#endPass();
    this.#encoder ??= this.gpu.createCommandEncoder();
    if (size > 0) this.#encoder.copyBufferToBuffer(buffer.buffer, byteOffset, staging, 0, size);
    if (faults) this.#encoder.copyBufferToBuffer(faults.buffer, 0, staging, size, FAULT_BYTES);
    this.#pendingLabels.push("read");
    this.flush();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */);
    } catch (error) {
      staging.destroy();
      await this.#raiseErrors();
      this.#checkAlive("read");
      throw new GpuError(`${this.label}: reading ${byteLength} bytes failed: ${error}`);
    }
    const mapped = staging.getMappedRange(0, Math.max(total, 4));
    const out = mapped.slice(0, byteLength);
    const fault = faults ? new Uint32Array(mapped.slice(size, total)) : null;
    staging.unmap();
    staging.destroy();
    await this.#raiseErrors();
    if (fault && fault[0] !== 0) {
      this.write(faults!, new Uint32Array(FAULT_BYTES / 4));
      const message = this.#faultMessages[fault[0] - 1];
      const words = [fault[1], fault[2], fault[3]] as const;
      throw new DeviceAssertionError(
        `${this.label}: ${message ? message(words) : `kernel fault ${fault[0]}`}`,
      );
    }
    return out;
  }

  /** Waits until the GPU has finished everything submitted, and raises any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.gpu.queue.onSubmittedWorkDone();
    await this.#raiseErrors();
    this.#checkAlive("sync");
  }

  /**
   * Records one compute dispatch. The pipeline is cached by its WGSL text, which holds every
   * constant the kernel was generated with, so a cache hit cannot run a stale shader.
   */
  dispatch(dispatch: Dispatch, bindings: readonly Binding[]): void {
    this.#checkAlive(dispatch.name);
    const limit = this.limits.maxStorageBufferBindingSize;
    const entries: GPUBindGroupEntry[] = bindings.map((b, i) => {
      if (b.buffer.device !== this) {
        throw new GpuError(
          `${dispatch.name}: binding ${i} lives on ${b.buffer.device.label}, not ${this.label}`,
        );
      }
      const offset = b.offset ?? 0;
      const size = b.size ?? b.buffer.capacity - offset;
      if (size > limit) {
        throw new GpuError(
          `${dispatch.name}: binding ${i} covers ${size} bytes, more than this device's ` +
            `maxStorageBufferBindingSize (${limit}); the kernel must split the work`,
        );
      }
      if (offset % this.limits.minStorageBufferOffsetAlignment !== 0) {
        throw new GpuError(`${dispatch.name}: binding ${i} offset ${offset} is misaligned`);
      }
      return { binding: i, resource: { buffer: b.buffer.buffer, offset, size } };
    });
    const pipeline = this.#pipeline(dispatch);
    const group = this.gpu.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (!this.#pass) {
      this.#encoder ??= this.gpu.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    const [x, y, z] = foldWorkgroups(
      dispatch.workgroups,
      this.limits.maxComputeWorkgroupsPerDimension,
    );
    this.#pass.dispatchWorkgroups(x, y, z);
    this.#pendingLabels.push(dispatch.name);
    if (this.#pendingLabels.length >= this.#dispatchesPerSubmit) this.flush();
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, bytes: number): void {
    this.#checkAlive("copy");
    this.#endPass();
    this.#encoder ??= this.gpu.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
    this.#pendingLabels.push("copy");
  }

  /** Submits the recorded commands. Called by read and write, and every N dispatches. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const labels = this.#pendingLabels;
    this.gpu.pushErrorScope("validation");
    this.gpu.queue.submit([this.#encoder.finish()]);
    this.#watch(`a batch of ${labels.length} commands (${summarise(labels)})`, "validation");
    this.#encoder = null;
    this.#pendingLabels = [];
    this.#stats.submissions++;
  }

  /** Releases everything: pooled buffers and the device. The device is unusable afterwards. */
  destroy(): void {
    this.flush();
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
    this.#lost ??= "destroyed";
    this.gpu.destroy();
  }

  /** Throws if the device is lost; used by the layers above before they record work. */
  checkAlive(what: string): void {
    this.#checkAlive(what);
  }

  #pipeline(dispatch: Dispatch): GPUComputePipeline {
    let pipeline = this.#pipelines.get(dispatch.wgsl);
    if (pipeline) return pipeline;
    this.gpu.pushErrorScope("validation");
    const module = this.gpu.createShaderModule({ code: dispatch.wgsl, label: dispatch.name });
    pipeline = this.gpu.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: dispatch.name,
    });
    this.#watch(`compiling the ${dispatch.name} kernel`, "validation");
    this.#pipelines.set(dispatch.wgsl, pipeline);
    this.#stats.pipelines++;
    return pipeline;
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  #watch(what: string, _kind = "out-of-memory"): void {
    this.#errors.push(
      this.gpu.popErrorScope().then((error) =>
        error ? new GpuError(`${this.label}: ${what} failed: ${error.message}`) : null
      ),
    );
  }

  async #raiseErrors(): Promise<void> {
    if (this.#errors.length === 0) return;
    const pending = this.#errors;
    this.#errors = [];
    const errors = (await Promise.all(pending)).filter((e): e is GpuError => e !== null);
    if (errors.length > 0) throw errors[0];
  }

  #checkAlive(what: string): void {
    if (this.#lost !== null) {
      throw new GpuError(`${this.label} is lost (${this.#lost}); cannot run ${what}`);
    }
  }
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}

function summarise(labels: string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => (n > 1 ? `${l}×${n}` : l)).join(", ");
}
