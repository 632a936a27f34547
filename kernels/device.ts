/**
 * The narrow GPU backend: one {@link Device} wraps a WebGPU adapter and its device, and offers
 * exactly five things to the layers above it — alloc, write, read, dispatch and release — plus
 * the bookkeeping that makes them cheap: a buffer pool, a pipeline cache and batched submission.
 *
 * @module
 */

import { type Dispatch, foldWorkgroups } from "./_dispatch.ts";
import {
  type AdapterEntry,
  describeAdapters,
  isSoftwareAdapter,
  listAdapters,
  matchAdapter,
  requestAdapter,
} from "./adapters.ts";
import { FAULT_BYTES, type FaultMessage } from "./_fault.ts";
import { type Slot, SubmissionQueue } from "./_submission_queue.ts";
import { reportSyncPoint, StagingBuffer, transfers } from "./_staging.ts";

export {
  resetTransferStats,
  StagingBuffer,
  type StagingDevice,
  type SyncPoint,
  traceSyncPoints,
  type TransferStats,
  transferStats,
} from "./_staging.ts";

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
  /** Milliseconds spent creating shader modules and pipelines (the host's share of compiling). */
  compileMs: number;
  /** Bind groups created (the rest were reused from the cache). */
  bindGroups: number;
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
  /**
   * The adapter to use: an index into `listAdapters()` or part of its name (case-insensitive).
   * For {@link Device.acquireMany}, a comma-separated list names one per device.
   */
  adapter?: string | number;
  /** Dispatches recorded before the pending commands are submitted (default 64). */
  dispatchesPerSubmit?: number;
  /** A label that names the device in error messages. */
  label?: string;
}

/**
 * Raised for any failure on the GPU: a validation error, out of memory, or a lost device.
 *
 * @example
 * ```ts
 * import { Device, GpuError } from "../mod.ts";
 * const device = await Device.acquire();
 * device.destroy();
 * try {
 *   device.checkAlive("a step");
 * } catch (error) {
 *   console.log(error instanceof GpuError); // true: "gpu0 is lost (destroyed); cannot run a step"
 * }
 * ```
 */
export class GpuError extends Error {
  /** `"GpuError"`. */
  override name = "GpuError";
}

/**
 * A check inside a kernel failed (see `kernels/_fault.ts`), e.g. a class label out of range.
 * Raised by the first read from the device after the kernel ran.
 *
 * @example A label outside the classes, found on the GPU
 * ```ts
 * import { crossEntropy, defaultDevice, DeviceAssertionError, tensor } from "../mod.ts";
 * await defaultDevice();
 * const loss = crossEntropy(tensor([[0, 0]]), tensor([5], { dtype: "i32" }));
 * try {
 *   await loss.item();
 * } catch (error) {
 *   console.log(error instanceof DeviceAssertionError); // true: "label 5 of sample 0 is outside…"
 * }
 * ```
 */
export class DeviceAssertionError extends GpuError {
  /** `"DeviceAssertionError"`. */
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
  #spareStaging: StagingBuffer[] = [];
  #submissions: SubmissionQueue;
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
    compileMs: 0,
    bindGroups: 0,
    submissions: 0,
  };
  #pipelineIds = new Map<GPUComputePipeline, number>();
  #compiled: string[] = [];
  #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 0;
  #uniformBuffers = new Map<string, GPUBuffer>();
  #bindGroups = new Map<string, GPUBindGroup>();
  #profile: Profile | null = null;

  private constructor(
    gpu: GPUDevice,
    info: GPUAdapterInfo,
    isFallback: boolean,
    label: string,
    dispatchesPerSubmit: number,
  ) {
    this.gpu = gpu;
    this.adapterInfo = info;
    this.isSoftware = isFallback || isSoftwareAdapter(info);
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
    this.#submissions = new SubmissionQueue(gpu.queue, (buffers, labels) => {
      gpu.pushErrorScope("validation");
      gpu.queue.submit(buffers);
      this.#watch(`a batch of ${labels.length} commands (${summarise(labels)})`);
      this.#stats.submissions++;
    });
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
    const chosen = options.adapter === undefined ? undefined : await chooseAdapter(options.adapter);
    const adapter = await requestAdapter(
      chosen?.options ?? { powerPreference: options.powerPreference ?? "high-performance" },
    );
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
    // Features the kernels use where the adapter has them: GPU timestamps for the profiler
    // and the autotuner.
    const requiredFeatures = (["timestamp-query"] as const).filter((f) => adapter.features.has(f));
    const gpu = await adapter.requestDevice({ requiredLimits, requiredFeatures });
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
   * Acquires `count` devices: one per physical adapter where the machine has `count` hardware
   * adapters (or where `options.adapter` lists one per device, `"0,1"`), otherwise `count`
   * logical devices of the one best adapter, which share its hardware.
   */
  static async acquireMany(count: number, options: AcquireOptions = {}): Promise<Device[]> {
    const named = options.adapter === undefined ? [] : String(options.adapter).split(",");
    if (named.length > 1 && named.length !== count) {
      throw new GpuError(`--adapter names ${named.length} adapters for ${count} devices`);
    }
    let perDevice: (string | number | undefined)[] = Array.from(
      { length: count },
      (_, i) => named[named.length > 1 ? i : 0],
    );
    if (named.length === 0 && count > 1) {
      const hardware = (await listAdapters()).filter((a) => !a.software);
      if (hardware.length >= count) perDevice = hardware.slice(0, count).map((a) => a.index);
    }
    const devices: Device[] = [];
    for (let i = 0; i < count; i++) {
      devices.push(
        await Device.acquire({
          ...options,
          adapter: perDevice[i],
          label: options.label && `${options.label}${i}`,
        }),
      );
    }
    return devices;
  }

  /**
   * How a set of devices maps onto hardware, for logs: `"2 physical adapters"` or `"2 logical
   * devices of one adapter (llvmpipe …)"`.
   *
   * @example
   * ```ts
   * import { Device } from "./device.ts";
   * const devices = await Device.acquireMany(2);
   * console.log(Device.placementNote(devices)); // e.g. "2 logical devices of one adapter (gpu0 (llvmpipe …))"
   * ```
   */
  static placementNote(devices: readonly Device[]): string {
    const names = new Set(devices.map((d) => adapterKey(d.adapterInfo)));
    if (devices.length < 2) return `one device (${devices[0]?.describe() ?? "none"})`;
    return names.size === devices.length
      ? `${devices.length} physical adapters (${devices.map((d) => d.describe()).join(", ")})`
      : `${devices.length} logical devices of one adapter (${devices[0].describe()})`;
  }

  /** A one-line description: label, adapter and whether it is software. */
  describe(): string {
    const soft = this.isSoftware ? ", software" : "";
    return `${this.label} (${this.adapterInfo.description || this.adapterInfo.vendor}${soft})`;
  }

  /** Whether a profile ({@link startProfile}) is being taken. */
  get profiling(): boolean {
    return this.#profile !== null;
  }

  /** Whether the device can time passes on the GPU (`timestamp-query`). */
  get hasTimestamps(): boolean {
    return this.gpu.features.has("timestamp-query");
  }

  /** The names of the dispatches that compiled each pipeline so far, in order. */
  compiledKernels(): readonly string[] {
    return this.#compiled;
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
    await this.sync();
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
    this.#bindGroups.clear();
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
    this.#submissions.write(buffer.buffer, byteOffset, padded);
    transfers.bytesWritten += data.byteLength;
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
    const staging = this.#spareStaging.pop() ?? new StagingBuffer(this, "read");
    let out = new ArrayBuffer(0);
    try {
      await Device.readTogether([{
        source: buffer,
        offset: byteOffset,
        bytes: byteLength,
        staging,
        consume: (bytes) => (out = bytes.slice().buffer),
      }]);
    } finally {
      this.#spareStaging.push(staging);
    }
    return out;
  }

  /**
   * Reads several buffers, of one device or several, with ONE host wait: records every copy,
   * submits each device once, maps all staging buffers together and waits for them at once
   * (Deno's maps resolve through a polling loop of about 10 ms, which maps issued together
   * share). If a device fails, the other maps are released before the error, which names it.
   *
   * @example Two devices' buffers, one wait
   * ```ts
   * import { Device } from "./device.ts";
   * const [a, b] = await Device.acquireMany(2);
   * const x = a.alloc(4), y = b.alloc(4);
   * a.write(x, new Float32Array([1]));
   * b.write(y, new Float32Array([2]));
   * const got: number[] = [];
   * const consume = (bytes: Uint8Array) => got.push(new Float32Array(bytes.slice().buffer)[0]);
   * await Device.readTogether([{ source: x, bytes: 4, consume }, { source: y, bytes: 4, consume }]);
   * console.log(got); // [1, 2]
   * ```
   */
  static async readTogether(reads: readonly ReadRequest[]): Promise<void> {
    const taken: Taken[] = [];
    try {
      for (const read of reads) {
        const device = read.source.device;
        device.#checkAlive("read");
        const staging = read.staging ?? new StagingBuffer(device, "read");
        if (staging.device !== device) {
          throw new GpuError(
            `${staging.label} belongs to ${staging.device.label}, not ${device.label}`,
          );
        }
        const size = Math.ceil(read.bytes / 4) * 4;
        // A device's fault words ride along after its first read's data: no extra copy or map.
        const faults = taken.some((t) => t.read.source.device === device) ? null : device.#faults;
        const total = Math.max(size + (faults ? FAULT_BYTES : 0), 4);
        const buffer = staging._take(total);
        taken.push({ read, staging, buffer, size, total, faults });
        device.#endPass();
        device.#encoder ??= device.gpu.createCommandEncoder();
        const encoder = device.#encoder;
        if (size > 0) {
          encoder.copyBufferToBuffer(read.source.buffer, read.offset ?? 0, buffer, 0, size);
        }
        if (faults) encoder.copyBufferToBuffer(faults.buffer, 0, buffer, size, FAULT_BYTES);
        device.#pendingLabels.push("read");
      }
      const devices = [...new Set(taken.map((t) => t.read.source.device))];
      for (const device of devices) device.flush();
      // The copies may wait behind data still arriving from another device (a transfer's slot).
      await Promise.all(devices.map((device) => device.#submissions.submitted()));
      const start = performance.now();
      const mapped = await Promise.allSettled(
        taken.map((t) => t.buffer.mapAsync(1, /* GPUMapMode.READ */ 0, t.total)),
      );
      const waitMs = performance.now() - start;
      transfers.mapWaitMs += waitMs;
      reportSyncPoint({ labels: taken.map((t) => t.staging.label), issuedAt: start, waitMs });
      transfers.syncPoints++;
      transfers.maps += taken.length;
      // Every mapped buffer is unmapped whatever fails, so neither side is left holding a map.
      let failure: GpuError | null = null;
      const fail = (device: Device, what: unknown): void => {
        failure ??= what instanceof GpuError
          ? what
          : new GpuError(`${device.describe()}: reading back failed: ${what}`);
      };
      taken.forEach((t, i) => {
        const device = t.read.source.device;
        const outcome = mapped[i];
        if (outcome.status === "rejected") {
          return fail(
            device,
            device.#lost === null
              ? outcome.reason
              : new GpuError(`${device.label} is lost (${device.#lost}); its read cannot finish`),
          );
        }
        try {
          if (failure) return;
          device.#checkAlive("read");
          const range = t.buffer.getMappedRange(0, t.total);
          const fault = t.faults ? new Uint32Array(range, t.size, FAULT_BYTES / 4) : null;
          if (fault && fault[0] !== 0) return fail(device, device.#faultError(fault));
          t.read.consume(new Uint8Array(range, 0, t.read.bytes));
          transfers.bytesRead += t.read.bytes;
        } catch (error) {
          fail(device, error);
        } finally {
          try {
            t.buffer.unmap();
          } catch { /* the device is gone: nothing is mapped any more */ }
        }
      });
      for (const device of devices) await device.#raiseErrors();
      if (failure) throw failure;
    } finally {
      for (const t of taken) {
        if (t.read.staging) t.staging._free();
        else t.staging.destroy();
      }
    }
  }

  /**
   * Copies buffers to other devices through the host without making the caller wait. The
   * copies are recorded and every source device is submitted now; each destination device gets
   * a place in its submission order for the data, and work recorded on it afterwards is
   * submitted behind that place as soon as the data is written. So the caller records its next
   * layers while the maps wait (one host wait for all the moves). The promise settles when the
   * data is written; awaiting it is optional: a failure also stops the destination devices, and
   * their next read, write or sync raises it, naming the device that failed.
   *
   * @example
   * ```ts
   * import { Device } from "./device.ts";
   * const [a, b] = await Device.acquireMany(2);
   * const x = a.alloc(4), y = b.alloc(4);
   * a.write(x, new Float32Array([42]));
   * Device.copyAcross([{ source: x, target: y, bytes: 4 }]); // no await needed
   * console.log(new Float32Array(await b.read(y, 0, 4))); // Float32Array [42]
   * ```
   */
  static copyAcross(copies: readonly CrossDeviceCopy[]): Promise<void> {
    Device.#checkEnds(copies.map((c) => c.source), copies.map((c) => c.target));
    const slots = new Map<Device, Slot>();
    const done = Device.readTogether(copies.map((copy) => ({
      source: copy.source,
      offset: copy.sourceOffset,
      bytes: copy.bytes,
      staging: copy.staging,
      consume: (bytes) => {
        slots.get(copy.target.device)!.write(copy.target.buffer, copy.targetOffset ?? 0, bytes);
        transfers.bytesWritten += bytes.byteLength;
      },
    })));
    Device.#reserveSlots(copies.map((c) => c.target.device), slots);
    return Device.#closeSlots(slots, done);
  }

  /**
   * Reads the first `bytes` of each source (one host wait), combines them on the host and
   * writes the result to every target, each at its place in its device's submission order, as
   * {@link Device.copyAcross} does: the caller does not wait, and work recorded on the targets
   * afterwards runs once the result is there. A step guard's verdict across devices (every
   * device's flag up) is made this way.
   *
   * @example Every device learns whether all flags are up
   * ```ts
   * import { Device } from "./device.ts";
   * const [a, b] = await Device.acquireMany(2);
   * const fa = a.alloc(4), fb = b.alloc(4);
   * a.write(fa, new Uint32Array([1]));
   * b.write(fb, new Uint32Array([0]));
   * const all = (parts: readonly Uint8Array[]) =>
   *   Uint32Array.of(parts.every((p) => p.some((x) => x !== 0)) ? 1 : 0);
   * Device.combineAcross([fa, fb], 4, [fa, fb], (parts) => new Uint8Array(all(parts).buffer));
   * console.log(new Uint32Array(await a.read(fa, 0, 4))[0]); // 0
   * ```
   */
  static combineAcross(
    sources: readonly GpuBuffer[],
    bytes: number,
    targets: readonly GpuBuffer[],
    combine: (parts: readonly Uint8Array[]) => Uint8Array,
    staging?: readonly StagingBuffer[],
  ): Promise<void> {
    Device.#checkEnds(sources, targets);
    const parts: Uint8Array[] = [];
    const done = Device.readTogether(sources.map((source, i) => ({
      source,
      bytes,
      staging: staging?.[i],
      consume: (got: Uint8Array) => (parts[i] = got.slice()),
    })));
    const slots = new Map<Device, Slot>();
    Device.#reserveSlots(targets.map((t) => t.device), slots);
    return Device.#closeSlots(
      slots,
      done.then(() => {
        const result = combine(parts);
        for (const target of targets) {
          slots.get(target.device)!.write(target.buffer, 0, result);
          transfers.bytesWritten += result.byteLength;
        }
      }),
    );
  }

  static #checkEnds(sources: readonly GpuBuffer[], targets: readonly GpuBuffer[]): void {
    for (const source of sources) source.device.#checkAlive("a transfer from it");
    for (const target of targets) target.device.#checkAlive("a transfer into it");
  }

  /**
   * A place for incoming data in each device's submission order. Reserved after the reads were
   * recorded and submitted: a device that both sends and receives must not hold its own
   * outgoing copy behind the data it waits for.
   */
  static #reserveSlots(devices: readonly Device[], slots: Map<Device, Slot>): void {
    for (const device of devices) {
      if (slots.has(device)) continue;
      device.flush();
      slots.set(device, device.#submissions.reserve());
    }
  }

  /** Closes the slots once `done` settles; with its error, the devices stop. */
  static #closeSlots(slots: Map<Device, Slot>, done: Promise<void>): Promise<void> {
    return done.then(
      () => slots.forEach((slot) => slot.close()),
      (error: Error) => {
        slots.forEach((slot) => slot.close(error));
        throw error;
      },
    );
  }

  /** The error for a fault a kernel recorded; clears the fault words for the next one. */
  #faultError(fault: Uint32Array): DeviceAssertionError {
    const words = [fault[1], fault[2], fault[3]] as const;
    const message = this.#faultMessages[fault[0] - 1];
    this.write(this.#faults!, new Uint32Array(FAULT_BYTES / 4));
    return new DeviceAssertionError(
      `${this.label}: ${message ? message(words) : `kernel fault ${fault[0]}`}`,
    );
  }

  /** Waits until the GPU has finished everything submitted, and raises any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.#submissions.submitted();
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
    if (dispatch.uniforms && dispatch.uniforms.length > 0) {
      const buffer = this.#uniformBuffer(dispatch.uniforms);
      entries.push({ binding: entries.length, resource: { buffer } });
    }
    const pipeline = this.#pipeline(dispatch);
    const group = this.#bindGroup(pipeline, entries);
    const timed = this.#profile?.record(dispatch);
    if (timed) this.#endPass();
    if (!this.#pass) {
      this.#encoder ??= this.gpu.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass(
        timed ? { timestampWrites: timed } : undefined,
      );
    }
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    const [x, y, z] = foldWorkgroups(
      dispatch.workgroups,
      this.limits.maxComputeWorkgroupsPerDimension,
    );
    this.#pass.dispatchWorkgroups(x, y, z);
    if (timed) this.#endPass();
    this.#pendingLabels.push(dispatch.name);
    if (this.#pendingLabels.length >= this.#dispatchesPerSubmit) this.flush();
  }

  /**
   * Starts timing every dispatch on the GPU, each in its own pass with timestamps (the device
   * needs `timestamp-query`; see {@link hasTimestamps}). At most `capacity` dispatches are timed
   * (WebGPU caps a query set at 4096 queries: 2048 dispatches).
   */
  startProfile(capacity = 2048): void {
    capacity = Math.max(1, Math.min(capacity, 2048));
    if (!this.hasTimestamps) {
      throw new GpuError(`${this.label}: the adapter offers no timestamp-query; cannot profile`);
    }
    this.flush();
    this.#profile?.destroy();
    this.#profile = new Profile(this.gpu, capacity);
  }

  /**
   * Stops timing and returns one row per timed dispatch, in order, with the GPU time between
   * the first dispatch's start and the last one's end (`spanMs`).
   */
  async stopProfile(): Promise<ProfileResult> {
    const profile = this.#profile;
    if (!profile) throw new GpuError(`${this.label}: stopProfile without startProfile`);
    this.#profile = null;
    this.#endPass();
    this.#encoder ??= this.gpu.createCommandEncoder();
    profile.resolve(this.#encoder);
    this.#pendingLabels.push("profile");
    this.flush();
    // The resolve may wait behind data arriving from another device: map it once submitted.
    await this.#submissions.submitted();
    const result = await profile.read();
    profile.destroy();
    await this.#raiseErrors();
    return result;
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
    const buffer = this.#encoder.finish();
    this.#encoder = null;
    this.#pendingLabels = [];
    this.#submissions.commands(buffer, labels);
  }

  /** Releases everything: pooled buffers and the device. The device is unusable afterwards. */
  destroy(): void {
    if (!this.#submissions.failure) this.flush();
    this.#submissions.drop(new GpuError(`${this.label} was destroyed`));
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    for (const staging of this.#spareStaging) staging.destroy();
    this.#pool.clear();
    for (const b of this.#uniformBuffers.values()) b.destroy();
    this.#uniformBuffers.clear();
    this.#bindGroups.clear();
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
    const start = performance.now();
    this.gpu.pushErrorScope("validation");
    const module = this.gpu.createShaderModule({ code: dispatch.wgsl, label: dispatch.name });
    pipeline = this.gpu.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: dispatch.name,
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
  #uniformBuffer(values: Uint32Array): GPUBuffer {
    const key = values.join(",");
    let buffer = this.#uniformBuffers.get(key);
    if (buffer) return buffer;
    buffer = this.gpu.createBuffer({
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
  #bindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
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
    group = this.gpu.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.#bindGroups.set(key, group);
    this.#stats.bindGroups++;
    return group;
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  #watch(what: string): void {
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
    const failure = this.#submissions.failure;
    if (failure) {
      throw new GpuError(`${this.label} cannot run ${what}: ${failure.message}`);
    }
  }
}

/** The adapter `selector` names, or an error that lists the adapters there are. */
async function chooseAdapter(selector: string | number): Promise<AdapterEntry> {
  const adapters = await listAdapters();
  const found = matchAdapter(adapters, selector);
  if (!found) {
    throw new GpuError(
      `no WebGPU adapter matches --adapter ${JSON.stringify(String(selector))}; ` +
        `available: ${describeAdapters(adapters)}`,
    );
  }
  return found;
}

function adapterKey(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].join("|");
}

/** One read of {@link Device.readTogether}. */
export interface ReadRequest {
  /** The buffer to read. */
  source: GpuBuffer;
  /** Start of the range in bytes (a multiple of 4; default 0). */
  offset?: number;
  /** Length of the range in bytes. */
  bytes: number;
  /** The staging buffer to carry it (default: a spare one of the source's device). */
  staging?: StagingBuffer;
  /**
   * Receives the bytes while they are mapped: write them to their destination or copy them out
   * here, since the view is detached when the call returns.
   */
  consume(bytes: Uint8Array): void;
}

/** One copy of {@link Device.copyAcross}. */
export interface CrossDeviceCopy {
  /** The buffer to copy from. */
  source: GpuBuffer;
  /** Start in the source, in bytes (a multiple of 4; default 0). */
  sourceOffset?: number;
  /** The buffer to copy to, on another device. */
  target: GpuBuffer;
  /** Start in the target, in bytes (default 0). */
  targetOffset?: number;
  /** Bytes to copy. */
  bytes: number;
  /** The staging buffer to carry it (default: a new one). */
  staging?: StagingBuffer;
}

/** One read of {@link Device.readTogether} in flight. */
interface Taken {
  read: ReadRequest;
  staging: StagingBuffer;
  buffer: GPUBuffer;
  /** Bytes of data copied (the read's bytes rounded up to 4). */
  size: number;
  /** Bytes mapped: the data, then the fault words when `faults` is set. */
  total: number;
  faults: GpuBuffer | null;
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

/** One timed dispatch of a {@link Device.stopProfile} result. */
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

/** What {@link Device.stopProfile} returns. */
export interface ProfileResult {
  /** One row per timed dispatch, in recording order. */
  rows: ProfileRow[];
  /** GPU milliseconds from the first timed start to the last timed end. */
  spanMs: number;
  /** Dispatches that were not timed because the capacity was reached. */
  untimed: number;
}

/** Timestamp queries of a profiling session: two per dispatch, resolved at the end. */
class Profile {
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
