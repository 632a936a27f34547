/**
 * Opening a WebGPU device for `Device.acquire`: its options, choosing the adapter, and asking
 * for the adapter's own limits and the features the kernels use.
 *
 * @module
 */

import type { CacheLimits } from "./_pipeline_cache.ts";
import {
  type AdapterEntry,
  describeAdapters,
  listAdapters,
  matchAdapter,
  requestAdapter,
} from "./adapters.ts";
import { GpuError } from "./_errors.ts";

/** Options for `Device.acquire`. */
export interface AcquireOptions {
  /** Adapter preference passed to `navigator.gpu.requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /**
   * The adapter to use: an index into `listAdapters()` or part of its name (case-insensitive).
   * For `Device.acquireMany`, a comma-separated list names one per device.
   */
  adapter?: string | number;
  /** Dispatches recorded before the pending commands are submitted (default 64). */
  dispatchesPerSubmit?: number;
  /**
   * For `Device.acquireMany`: give every device a GPUDevice of its own even where they are on
   * one adapter, so that transfers between them cross through the host as between two physical
   * adapters (for measuring that path). By default logical devices of one adapter share one
   * GPUDevice and a transfer between them is a copy on the GPU.
   */
  separateDevices?: boolean;
  /** A label that names the device in error messages. */
  label?: string;
  /**
   * How many entries the device's caches keep (uniform buffers, bind groups, constant tables)
   * and how long an unused pooled buffer stays (each field's default is in its doc). Lower them
   * where memory is tight (or to watch eviction in a test).
   */
  cacheLimits?: Partial<CacheLimits>;
  /**
   * Stricter limits than the adapter's, for this device's kernels to plan against: a smaller
   * binding or grid, a coarser binding alignment (a power of two up to 256); a looser value is
   * an error. Tests use it to run the paths that split work over several bindings or fold a
   * grid on small tensors, as a 128 MiB binding limit or the 65,535 workgroups per dimension
   * would on huge ones, at the 256-byte alignment of many GPUs; it also emulates a smaller
   * device.
   */
  limits?: Partial<Pick<DeviceLimits, TightenableLimit>>;
}

/** The limits {@link AcquireOptions.limits} may tighten. */
export type TightenableLimit =
  | "maxStorageBufferBindingSize"
  | "maxComputeWorkgroupsPerDimension"
  | "minStorageBufferOffsetAlignment";

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

/** A WebGPU device and what its adapter said of itself. */
export interface OpenedDevice {
  /** The WebGPU device. */
  gpu: GPUDevice;
  /** The adapter's information. */
  info: GPUAdapterInfo;
  /** Whether the adapter called itself a fallback (software) adapter. */
  isFallback: boolean;
  /** The limits the device was created with. */
  limits: DeviceLimits;
}

/** Opens a device on the adapter `adapter` names, or on the preferred one. */
export async function openDevice(options: AcquireOptions): Promise<OpenedDevice> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuError("WebGPU is not available in this runtime (navigator.gpu is missing)");
  }
  const chosen = options.adapter === undefined ? undefined : await chooseAdapter(options.adapter);
  const adapter = await requestAdapter(
    chosen?.options ?? { powerPreference: options.powerPreference ?? "high-performance" },
  );
  if (!adapter) {
    throw new GpuError(
      "no WebGPU adapter found: install a GPU driver with Vulkan, Metal or Direct3D 12 support, " +
        "or Mesa's Vulkan driver (mesa-vulkan-drivers); OpenGL is used only where " +
        "DENO_WEBGPU_BACKEND names it",
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
  // and the autotuner. Subgroups are asked for even where unlisted (Deno's lavapipe grants
  // them without listing them); a device that refuses them is requested without.
  const requiredFeatures: GPUFeatureName[] = (["timestamp-query"] as const)
    .filter((f) => adapter.features.has(f));
  const subgroups = "subgroups" as GPUFeatureName;
  const gpu = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures: [...requiredFeatures, subgroups],
  }).catch(() => adapter.requestDevice({ requiredLimits, requiredFeatures }));
  const l = gpu.limits;
  const limits: DeviceLimits = {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    ...tightened(l, options.limits ?? {}),
  };
  return {
    gpu,
    info: adapter.info,
    limits,
    isFallback: (adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
  };
}

/** The limits `asked` tightens, checked against the device's own. */
function tightened(
  own: GPUSupportedLimits,
  asked: Partial<Pick<DeviceLimits, TightenableLimit>>,
): Partial<Pick<DeviceLimits, TightenableLimit>> {
  const out: Partial<Record<TightenableLimit, number>> = {};
  for (const [name, value] of Object.entries(asked) as [TightenableLimit, number | undefined][]) {
    if (value === undefined) continue;
    if (name === "minStorageBufferOffsetAlignment") {
      const power = Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
      if (!power || value < own[name] || value > 256) {
        throw new RangeError(
          `Device.acquire: limits.${name} must be a power of two in [${own[name]}, 256] (at ` +
            `least the adapter's own), got ${value}`,
        );
      }
    } else if (!Number.isInteger(value) || value < 1 || value > own[name]) {
      throw new RangeError(
        `Device.acquire: limits.${name} must be an integer in [1, ${own[name]}] (the ` +
          `adapter's own), got ${value}`,
      );
    }
    out[name] = value;
  }
  return out;
}

/**
 * The adapter of each of `count` devices: the ones `adapter` lists (`"0,1"`), else one per
 * hardware adapter where the machine has `count` of them, else the one `adapter` names (or
 * the default) for all.
 */
export async function adaptersPerDevice(
  count: number,
  adapter: string | number | undefined,
): Promise<(string | number | undefined)[]> {
  const named = adapter === undefined ? [] : String(adapter).split(",");
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
  return perDevice;
}

/** What tells adapters apart: the same key means the same hardware. */
export function adapterKey(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].join("|");
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
