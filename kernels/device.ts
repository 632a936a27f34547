/**
 * The narrow GPU backend: one {@link Device} wraps a WebGPU adapter and its device, and offers
 * exactly five things to the layers above it — alloc, write, read, dispatch and release — plus
 * the bookkeeping that makes them cheap: a buffer pool, a pipeline cache and batched submission.
 *
 * @module
 */

import { type Dispatch, foldWorkgroups } from "./_dispatch.ts";
import { isSoftwareAdapter } from "./adapters.ts";
import {
  type AcquireOptions,
  adapterKey,
  adaptersPerDevice,
  type DeviceLimits,
  openDevice,
} from "./_acquire.ts";
import { GpuStream } from "./_gpu_stream.ts";
import { BufferPool, type MemoryStats, sizeClass } from "./_buffer_pool.ts";
import { DeviceAssertionError, GpuError } from "./_errors.ts";
import { FAULT_BYTES, FaultKinds, type FaultMessage } from "./_fault.ts";
import { BoundedCache } from "./_bounded_cache.ts";
import {
  bindGroupEntries,
  type CacheLimits,
  cacheLimits,
  PipelineCache,
} from "./_pipeline_cache.ts";
import { Profile, type ProfileResult } from "./_profile.ts";
import { StagingBuffer, transfers } from "./_staging.ts";
import {
  combineAcross,
  copyAcross,
  type PortBuffer,
  readTogether,
  type TransferPort,
} from "./_transfers.ts";

export { DeviceAssertionError, GpuError } from "./_errors.ts";
export type { ProfileResult, ProfileRow } from "./_profile.ts";
export type { AcquireOptions, DeviceLimits, TightenableLimit } from "./_acquire.ts";
export type { MemoryStats } from "./_buffer_pool.ts";
export type { CacheLimits } from "./_pipeline_cache.ts";
export {
  resetTransferStats,
  StagingBuffer,
  type StagingDevice,
  type SyncPoint,
  traceSyncPoints,
  type TransferStats,
  transferStats,
} from "./_staging.ts";

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

/** Where a kernel records a failed check: bind `buffer`, pass `code` to `raiseFault`. */
export interface FaultSlot {
  /** The device's fault buffer. */
  readonly buffer: GpuBuffer;
  /** The code of this kind of fault (never 0). */
  readonly code: number;
}

/** The largest staging buffer {@link Device.read} keeps for later reads, in bytes. */
const SPARE_STAGING_BYTES = 1 << 20;
/** Staging buffers {@link Device.read} keeps for later reads, at most. */
const SPARE_STAGINGS = 8;

const BUFFER_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08; /* COPY_DST */

let deviceCounter = 0;

/**
 * One device of the library: its own label, buffers and placement checks, over a WebGPU device.
 * Acquire several for multi-device work ({@link Device.acquireMany}); on a machine with one GPU
 * they are logical devices that share one GPUDevice (a copy between them is a GPU copy), or,
 * with `separateDevices`, one GPUDevice each (a copy crosses through the host).
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

  #stream: GpuStream;
  #spareStaging: StagingBuffer[] = [];
  #faults: GpuBuffer | null = null;
  #faultKinds = new FaultKinds();
  #destroyed = false;
  /** Outgoing reads recorded and not yet over: they hold the resources past `destroy`. */
  #readsInFlight = 0;
  #stats: MemoryStats = {
    liveBytes: 0,
    pooledBytes: 0,
    peakBytes: 0,
    buffersCreated: 0,
    pipelines: 0,
    compileMs: 0,
    bindGroups: 0,
    submissions: 0,
    dispatches: 0,
    uniformBuffersCreated: 0,
  };
  #pool: BufferPool;
  #cache: PipelineCache;
  #constants: BoundedCache<string, GpuBuffer>;
  #port: TransferPort;
  #profile: Profile | null = null;

  private constructor(stream: GpuStream, label: string, bounds: CacheLimits) {
    const { gpu, info, isFallback, limits } = stream.opened;
    this.gpu = gpu;
    this.adapterInfo = info;
    this.isSoftware = isFallback || isSoftwareAdapter(info);
    this.limits = limits;
    this.label = label;
    this.#stream = stream;
    const afterSubmitted = (release: () => void) => stream.afterSubmitted(release);
    this.#pool = new BufferPool(this.#stats, bounds.poolIdleAllocations, afterSubmitted);
    this.#cache = new PipelineCache(
      gpu,
      this.#stats,
      (what) => stream.errors.watch(what),
      afterSubmitted,
      bounds,
    );
    // An evicted table goes back to the pool, whose reuse is ordered like any tensor's.
    this.#constants = new BoundedCache(bounds.constantBuffers, (buffer) => this.release(buffer));
    this.#port = this.#transferPort();
  }

  /** Acquires one device on the best adapter, with the adapter's own limits. */
  static async acquire(options: AcquireOptions = {}): Promise<Device> {
    const limits = cacheLimits(options.cacheLimits); // checked before a device is opened
    const opened = await openDevice(options);
    const label = options.label ?? `gpu${deviceCounter++}`;
    const stream = new GpuStream(opened, [label], options.dispatchesPerSubmit ?? 64);
    return new Device(stream, label, limits);
  }

  /**
   * Acquires `count` devices: one per physical adapter where the machine has `count` hardware
   * adapters (or where `options.adapter` lists one per device, `"0,1"`), otherwise `count`
   * logical devices of the one best adapter. Logical devices of one adapter share ONE
   * GPUDevice and its queue, so a transfer between them is a copy on the GPU, in program
   * order; with `options.separateDevices` each gets a GPUDevice of its own and transfers cross
   * through the host (as between physical adapters).
   *
   * @example Two logical devices of one adapter, one GPUDevice
   * ```ts
   * import { Device } from "./device.ts";
   * const [a, b] = await Device.acquireMany(2);
   * console.log(a === b, a.gpu === b.gpu); // false true (on a machine with one adapter)
   * ```
   */
  static async acquireMany(count: number, options: AcquireOptions = {}): Promise<Device[]> {
    const limits = cacheLimits(options.cacheLimits); // checked before a device is opened
    const perDevice = await adaptersPerDevice(count, options.adapter);
    const labels = perDevice.map((_, i) =>
      options.label ? `${options.label}${i}` : `gpu${deviceCounter++}`
    );
    // Devices on the same adapter form one group (one GPUDevice) unless asked to be separate.
    const groups = new Map<string, number[]>();
    perDevice.forEach((adapter, i) => {
      const key = options.separateDevices ? `#${i}` : `${adapter}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const devices: Device[] = [];
    for (const members of groups.values()) {
      const opened = await openDevice({ ...options, adapter: perDevice[members[0]] });
      const stream = new GpuStream(
        opened,
        members.map((i) => labels[i]),
        options.dispatchesPerSubmit ?? 64,
      );
      for (const i of members) devices[i] = new Device(stream, labels[i], limits);
    }
    return devices;
  }

  /**
   * How a set of devices maps onto hardware and how they exchange data, for `summary`, the run
   * log and the bench: `"2 logical devices sharing one GPUDevice of llvmpipe … (exchange on
   * the GPU)"`, `"2 GPUDevices of one adapter, … (exchange through the host)"` or `"2
   * GPUDevices on 2 physical adapters (…) (exchange through the host)"`.
   *
   * @example
   * ```ts
   * import { Device } from "./device.ts";
   * const devices = await Device.acquireMany(2);
   * console.log(Device.placementNote(devices)); // e.g. "2 logical devices sharing one GPUDevice of llvmpipe … (exchange on the GPU)"
   * ```
   */
  static placementNote(devices: readonly Device[]): string {
    if (devices.length < 2) return `one device (${devices[0]?.describe() ?? "none"})`;
    const n = devices.length;
    const adapter = devices[0].#adapterDescription();
    if (new Set(devices.map((d) => d.gpu)).size === 1) {
      return `${n} logical devices sharing one GPUDevice of ${adapter} (exchange on the GPU)`;
    }
    const adapters = new Set(devices.map((d) => adapterKey(d.adapterInfo)));
    return adapters.size === 1
      ? `${n} GPUDevices of one adapter, ${adapter} (exchange through the host)`
      : `${n} GPUDevices on ${adapters.size} physical adapters ` +
        `(${devices.map((d) => d.describe()).join(", ")}) (exchange through the host)`;
  }

  /** Whether `other` shares this device's GPUDevice (a copy between them stays on the GPU). */
  sharesGpuWith(other: Device): boolean {
    return other.#stream === this.#stream;
  }

  #adapterDescription(): string {
    const soft = this.isSoftware ? ", software" : "";
    return `${this.adapterInfo.description || this.adapterInfo.vendor}${soft}`;
  }

  /** A one-line description: label, adapter and whether it is software. */
  describe(): string {
    return `${this.label} (${this.#adapterDescription()})`;
  }

  /** Whether a profile ({@link startProfile}) is being taken. */
  get profiling(): boolean {
    return this.#profile !== null;
  }

  /**
   * Whether {@link destroy} was called. Work that runs on its own (background autotuning) asks
   * this to drop itself quietly rather than fail on a device its user let go.
   */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Whether the device can time passes on the GPU (`timestamp-query`). */
  get hasTimestamps(): boolean {
    return this.gpu.features.has("timestamp-query");
  }

  /**
   * Whether the device runs WGSL subgroup operations (the register GEMM of software adapters
   * broadcasts operands between the lanes of a subgroup).
   */
  get hasSubgroups(): boolean {
    return this.gpu.features.has("subgroups" as GPUFeatureName);
  }

  /** The names of the dispatches that compiled each pipeline so far, in order. */
  compiledKernels(): readonly string[] {
    return this.#cache.compiled;
  }

  /** Current memory counters. */
  memory(): MemoryStats {
    return { ...this.#stats, submissions: this.#stream.submits };
  }

  /**
   * Entries each cache holds now: compiled pipelines, uniform buffers, bind groups, constant
   * tables and pooled buffers. All but the pipelines (one per kernel variant) are bounded by
   * the device's {@link CacheLimits}, however long a run and however many shapes it meets.
   *
   * @example
   * ```ts
   * import { Device } from "./device.ts";
   * const device = await Device.acquire({ cacheLimits: { uniformBuffers: 64 } });
   * console.log(device.cacheSizes().uniformBuffers <= 64); // true
   * ```
   */
  cacheSizes(): CacheSizes {
    return { ...this.#cache.sizes, constantBuffers: this.#constants.size, pooled: this.#pool.size };
  }

  /**
   * A read-only buffer of `build()`'s words, built once per `key` and kept among the recently
   * used (a convolution's offset table per geometry): the caller must not write or release it.
   */
  constantBuffer(key: string, build: () => Uint32Array, label = "constant table"): GpuBuffer {
    let buffer = this.#constants.get(key);
    if (!buffer) {
      const data = build();
      buffer = this.alloc(data.byteLength, label);
      this.write(buffer, data);
      this.#constants.set(key, buffer);
    }
    return buffer;
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
    const buffer = this.#pool.take(capacity, () => {
      this.gpu.pushErrorScope("out-of-memory");
      const created = this.gpu.createBuffer({ size: capacity, usage: BUFFER_USAGE, label });
      this.#stream.errors.watch(`allocating ${capacity} bytes for ${label}`);
      return created;
    });
    return { buffer, capacity, device: this };
  }

  /** Returns a buffer to the pool. Commands already recorded that use it still see its data. */
  release(buffer: GpuBuffer): void {
    this.#pool.give(buffer.capacity, buffer.buffer);
  }

  /** Destroys every pooled buffer (after submitting what is pending), freeing GPU memory. */
  async trimPool(): Promise<void> {
    await this.sync();
    this.#pool.trim();
    this.#cache.forgetBindGroups();
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
    this.#stream.submissions.write(buffer.buffer, byteOffset, padded);
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
    return { buffer: this.#faults, code: this.#faultKinds.code(kind, message) };
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
      // Spares serve the next reads (a loss, a metric) without allocating; one grown by a large
      // read (a checkpoint's weights) is freed, not held for the rest of the run, and only as
      // many as reads ran at once in a small batch are kept.
      const small = staging.capacity <= SPARE_STAGING_BYTES;
      const kept = small && !this.#destroyed && this.#spareStaging.length < SPARE_STAGINGS;
      if (kept) this.#spareStaging.push(staging);
      else staging.destroy();
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
  static readTogether(reads: readonly ReadRequest[]): Promise<void> {
    return readTogether(reads.map((read) => ({
      source: Device.#end(read.source),
      offset: read.offset,
      bytes: read.bytes,
      staging: read.staging,
      consume: (bytes) => read.consume(bytes),
    })));
  }

  /**
   * Copies buffers to other devices without making the caller wait. Between devices that share
   * one GPUDevice ({@link Device.sharesGpuWith}) a copy is a GPU copy recorded in program order,
   * and `whileWaiting` simply runs; the rest of this note is about copies through the host. The
   * copies are recorded and every source device is submitted now; each destination device gets
   * a place in its submission order for the data, and work recorded on it afterwards is
   * submitted behind that place as soon as the data is written. So the caller records its next
   * layers while the maps wait (one host wait for all the moves). The promise settles when the
   * data is written; awaiting it is optional: a failure also stops the destination devices, and
   * their next read, write or sync raises it, naming the device that failed.
   *
   * `whileWaiting` records work that does not need the data (the part of the next layer that
   * reads only local inputs): it is submitted to every device of the copies as soon as the
   * maps are issued, ahead of the data's place, so it runs during the wait. (In Deno 2.9 a map
   * first waits until its device is idle, then sleeps ~10 ms; work submitted before the maps
   * would only lengthen the first part.)
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
  static copyAcross(
    copies: readonly CrossDeviceCopy[],
    whileWaiting?: () => void,
  ): Promise<void> {
    return copyAcross(
      copies.map((copy) => ({
        source: {
          source: Device.#end(copy.source),
          offset: copy.sourceOffset,
          bytes: copy.bytes,
          staging: copy.staging,
        },
        target: Device.#end(copy.target),
        targetOffset: copy.targetOffset,
      })),
      whileWaiting,
    );
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
    const end = (b: GpuBuffer) => Device.#end(b);
    return combineAcross(sources.map(end), bytes, targets.map(end), combine, staging);
  }

  /** A buffer as a transfer sees it: with its device's port. */
  static #end(buffer: GpuBuffer): PortBuffer {
    return { port: buffer.device.#port, buffer: buffer.buffer };
  }

  /** What a transfer may do with this device (see `_transfers.ts`). */
  #transferPort(): TransferPort {
    return {
      device: this,
      label: this.label,
      describe: () => this.describe(),
      checkAlive: (what) => this.#checkAlive(what),
      checkRunning: (what) => this.#checkRunning(what),
      holdForRead: () => this.#holdForRead(),
      encoderFor: (label) => this.#stream.recorder.encoderFor(label),
      flush: () => this.flush(),
      submissions: this.#stream.submissions,
      faults: () => this.#faults?.buffer ?? null,
      lost: () => this.#lost(),
      faultError: (fault) => this.#faultError(fault),
      raiseErrors: () => this.#stream.errors.raise(),
    };
  }

  /** The error for a fault a kernel recorded; clears the fault words for the next one. */
  #faultError(fault: Uint32Array): DeviceAssertionError {
    const message = this.#faultKinds.describe(fault);
    // A destroyed device finishing its last reads runs nothing that could fault again.
    if (!this.#destroyed) this.write(this.#faults!, new Uint32Array(FAULT_BYTES / 4));
    return new DeviceAssertionError(`${this.label}: ${message}`);
  }

  /** Waits until the GPU has finished everything submitted, and raises any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.#stream.submissions.submitted();
    await this.gpu.queue.onSubmittedWorkDone();
    await this.#stream.errors.raise();
    this.#checkAlive("sync");
  }

  /**
   * Records one compute dispatch. The pipeline is cached by its WGSL text, which holds every
   * constant the kernel was generated with, so a cache hit cannot run a stale shader.
   */
  dispatch(dispatch: Dispatch, bindings: readonly Binding[]): void {
    this.#checkAlive(dispatch.name);
    const entries = bindGroupEntries(
      dispatch,
      this.label,
      this.limits,
      bindings.map((b) => ({
        buffer: b.buffer.buffer,
        capacity: b.buffer.capacity,
        offset: b.offset,
        size: b.size,
        // A buffer of a device that shares this GPUDevice can be bound (a step guard's flag
        // serves both towers); tensors' placement is checked a layer up, before any dispatch.
        elsewhere: b.buffer.device.#stream === this.#stream ? null : b.buffer.device.label,
      })),
    );
    if (dispatch.uniforms && dispatch.uniforms.length > 0) {
      const buffer = this.#cache.uniformBuffer(dispatch.uniforms);
      entries.push({ binding: entries.length, resource: { buffer } });
    }
    const pipeline = this.#cache.pipeline(dispatch);
    const group = this.#cache.bindGroup(pipeline, entries);
    const workgroups = foldWorkgroups(
      dispatch.workgroups,
      this.limits.maxComputeWorkgroupsPerDimension,
    );
    const timed = this.#profile?.record(dispatch);
    this.#stats.dispatches++;
    this.#stream.recorder.dispatch(dispatch.name, pipeline, group, workgroups, timed);
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
    profile.resolve(this.#stream.recorder.encoderFor("profile"));
    this.flush();
    // The resolve may wait behind data arriving from another device: map it once submitted.
    await this.#stream.submissions.submitted();
    const result = await profile.read();
    profile.destroy();
    await this.#stream.errors.raise();
    return result;
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, bytes: number): void {
    this.#checkAlive("copy");
    this.#stream.recorder.encoderFor("copy")
      .copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /** Submits the recorded commands. Called by read and write, and every N dispatches. */
  flush(): void {
    this.#stream.recorder.flush();
  }

  /**
   * Releases everything: pooled buffers and the device. The device takes no new work from
   * then on. A device that shares its GPUDevice leaves it to the others; the last one destroys
   * it. A copy from this device to another GPUDevice may still be on its way when `to()` or
   * `transfer` has returned (the host does not wait for it): it still arrives, and the
   * resources are released once it has left (or failed).
   *
   * @example Free a device once a tensor has moved off it
   * ```ts
   * import { Device } from "./device.ts";
   * const [a, b] = await Device.acquireMany(2, { separateDevices: true });
   * const x = b.alloc(4), y = a.alloc(4);
   * b.write(x, new Float32Array([7]));
   * Device.copyAcross([{ source: x, target: y, bytes: 4 }]);
   * b.destroy(); // the copy in flight still arrives
   * console.log(new Float32Array(await a.read(y, 0, 4))); // Float32Array [7]
   * ```
   */
  destroy(): void {
    if (this.#destroyed) return;
    // Commands still in the encoder may use the pooled buffers destroyed below.
    if (!this.#stream.submissions.failure) this.flush();
    this.#destroyed = true;
    // A profile left open would keep `profiling` true for anyone waiting to take one.
    this.#profile?.destroy();
    this.#profile = null;
    if (this.#readsInFlight === 0) this.#releaseResources();
  }

  /** Counts an outgoing read until the returned function runs (`TransferPort.holdForRead`). */
  #holdForRead(): () => void {
    this.#readsInFlight++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#readsInFlight === 0 && this.#destroyed) this.#releaseResources();
    };
  }

  /** Destroys the buffers and lets the GPUDevice go: once destroyed and no read is in flight. */
  #releaseResources(): void {
    for (const staging of this.#spareStaging) staging.destroy();
    this.#spareStaging = [];
    // Commands of a device sharing the GPUDevice, held behind data still on its way, may bind
    // these buffers (a copy from this device): they go once those commands are submitted.
    this.#stream.afterSubmitted(() => {
      this.#pool.destroy();
      this.#cache.destroy();
    });
    this.#stream.release(new GpuError(`${this.label} was destroyed`));
  }

  /** Throws if the device is lost; used by the layers above before they record work. */
  checkAlive(what: string): void {
    this.#checkAlive(what);
  }

  /** Why the device takes no new work, or null. */
  #lost(): string | null {
    return this.#destroyed ? "destroyed" : this.#streamLost();
  }

  /** Why the GPUDevice under it was lost, or null. */
  #streamLost(): string | null {
    const lost = this.#stream.lost;
    if (lost === null) return null;
    return this.#stream.shared ? `${this.#stream.label}: ${lost}` : lost;
  }

  #checkAlive(what: string): void {
    this.#checkLost(this.#lost(), what);
  }

  #checkRunning(what: string): void {
    this.#checkLost(this.#streamLost(), what);
  }

  #checkLost(lost: string | null, what: string): void {
    if (lost !== null) {
      throw new GpuError(`${this.label} is lost (${lost}); cannot run ${what}`);
    }
    const failure = this.#stream.submissions.failure;
    if (failure) {
      throw new GpuError(`${this.label} cannot run ${what}: ${failure.message}`);
    }
  }
}

/** Entries a device's caches hold (see {@link Device.cacheSizes}). */
export interface CacheSizes {
  /** Compiled pipelines (one per kernel variant: never evicted). */
  pipelines: number;
  /** Uniform buffers, cached by content or spare for rewriting. */
  uniformBuffers: number;
  /** Bind groups cached. */
  bindGroups: number;
  /** Constant tables ({@link Device.constantBuffer}). */
  constantBuffers: number;
  /** Released buffers pooled for reuse. */
  pooled: number;
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

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}
